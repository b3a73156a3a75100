/**
 * Rate-limit policy of one credential in one process: named constants with units and pure functions,
 * so it can be read and tested apart from any timer or HTTP (the state lives in limiter.ts).
 *
 * The quota of an API key may be shared with other processes (queue-mode workers, other n8n
 * instances) that this one cannot see; all it sees is its own requests, the 429s it gets, their
 * Retry-After and the time. So it treats the key as a congested link (AIMD on the rate, like TCP):
 *
 * - Start: at most SLOW_START_LIMIT requests in flight, one more per answer (doubling per round trip)
 *   until the first 429, so W processes starting together do not each send a full Concurrency at once.
 * - The first 429 sets a pace: PROVISIONAL_FRACTION of what got through in the second before it, and
 *   every run on the credential in this process waits the Retry-After (the bucket refills meanwhile).
 * - After that a 429 is a congestion signal, not a stop: the pace is cut by CUT_FRACTION (at most once
 *   per hold), the refused request alone waits its Retry-After, the others skip a jittered slot or two.
 *   Retry-After comes in whole seconds, far coarser than a pace of tens per second: stalling every
 *   request for it on each 429 would waste most of a second of quota each time.
 * - While the pace is what holds requests back, it grows by GROWTH_PER_SECOND, and the longer no 429
 *   comes the faster (doubling every GROWTH_DOUBLING_MS, up to GROWTH_MAX_PER_SECOND): near the pace
 *   last cut it probes gently, and quota another process stopped using is taken up within seconds.
 *   Fair shares come from the 429s themselves: a sender's chance of meeting one grows with its pace.
 */

/** Requests in flight before the first answer; one more per accepted answer until the first 429. */
export const SLOW_START_LIMIT = 8;
/** Above this many in flight the slow start ends (no limit but Concurrency). */
export const SLOW_START_END = 64;
/** The first pace: this fraction of the rate accepted from the first request to the first 429… */
export const PROVISIONAL_FRACTION = 0.7;
/** …over at least this long (a quick first 429 says little about the rate)… */
export const PROVISIONAL_WINDOW_MS = 1_000;
/** …and at least this many requests per second (a process that got nothing through yet starts here). */
export const PROVISIONAL_MIN_PER_SECOND = 1;
/** Once a pace is known, a 429 cuts it by this fraction… */
export const CUT_FRACTION = 0.3;
/** …at most once per this many of the pace's intervals (the bucket needs time to refill after a cut)… */
export const CUT_HOLD_INTERVALS = 4;
/** …or this long, whichever is longer. */
export const CUT_HOLD_MIN_MS = 500;
/** After such a 429 the other requests skip 1 to 1 + SKIP_JITTER intervals of the new pace (jittered, so processes do not come back in step). */
export const SKIP_JITTER = 3;
/** While the pace holds requests back, it grows this fraction per second just after a cut… */
export const GROWTH_PER_SECOND = 0.03;
/** …twice that after this long without a cut, four times after twice as long… */
export const GROWTH_DOUBLING_MS = 4_000;
/** …up to this fraction per second. */
export const GROWTH_MAX_PER_SECOND = 1;
/** The pace grows in steps at least this far apart, and at least this many of its intervals… */
export const GROWTH_STEP_MS = 500;
export const GROWTH_STEP_INTERVALS = 3;
/** …and only when requests took at least this fraction of its slots in the step: the pace was what held them back, not Concurrency or a lack of items. */
export const PACE_USED_FRACTION = 0.8;
/** Lowest pace we settle on, in requests per second (one per minute). */
export const MIN_RATE_PER_SECOND = 1 / 60;

/** The first pace, from the requests accepted in the `elapsedMs` from the first request to the first 429. */
export function provisionalRate(accepted: number, elapsedMs: number): number {
	return Math.max(PROVISIONAL_MIN_PER_SECOND, (PROVISIONAL_FRACTION * accepted * 1000) / Math.max(PROVISIONAL_WINDOW_MS, elapsedMs));
}

/** Whether `slots` request slots in `elapsedMs` used up a pace of `ratePerSecond` (PACE_USED_FRACTION). */
export function paceUsedUp(slots: number, ratePerSecond: number, elapsedMs: number): boolean {
	return slots >= (PACE_USED_FRACTION * ratePerSecond * elapsedMs) / 1000;
}

/** The pace after a 429 that may cut it. */
export function cutRate(ratePerSecond: number): number {
	return Math.max(MIN_RATE_PER_SECOND, ratePerSecond * (1 - CUT_FRACTION));
}

/** Whether a 429 at `now` may cut the pace again, the last cut (or the first pace) having been at `lastCutAt`. */
export function mayCut(now: number, lastCutAt: number, ratePerSecond: number): boolean {
	return now - lastCutAt >= Math.max(CUT_HOLD_MIN_MS, CUT_HOLD_INTERVALS * intervalForRate(ratePerSecond));
}

/** How long the other requests hold back after a 429 once a pace is known: a jittered slot or two, never more than the Retry-After. */
export function skipAfterRateLimit(ratePerSecond: number, retryAfterMs: number, random: number): number {
	return Math.min(retryAfterMs, intervalForRate(ratePerSecond) * (1 + SKIP_JITTER * random));
}

/** The growth per second of a pace last cut `sinceCutMs` ago (see GROWTH_DOUBLING_MS). */
export function growthPerSecond(sinceCutMs: number): number {
	return Math.min(GROWTH_MAX_PER_SECOND, GROWTH_PER_SECOND * 2 ** (Math.max(0, sinceCutMs) / GROWTH_DOUBLING_MS));
}

/** The pace after `elapsedMs` in which requests used it up, last cut `sinceCutMs` ago. */
export function grownRate(ratePerSecond: number, elapsedMs: number, sinceCutMs: number): number {
	return ratePerSecond * (1 + growthPerSecond(sinceCutMs)) ** (elapsedMs / 1000);
}

/** Milliseconds between request starts at `ratePerSecond`; 0 = not paced. */
export function intervalForRate(ratePerSecond: number | undefined): number {
	return ratePerSecond !== undefined && ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
}

/** Milliseconds between request starts for Max Requests per Minute; 0 = no client-side limit. */
export function intervalForPerMinute(perMinute: number): number {
	return perMinute > 0 ? 60_000 / perMinute : 0;
}

/**
 * When the next request may start: not before `now`, not before the pause ends, and `intervalMs`
 * after the previous start (the slowest of the learned pace and Max Requests per Minute).
 */
export function nextSlot(now: number, pausedUntil: number, lastSlotAt: number, intervalMs: number): number {
	return Math.max(now, pausedUntil, lastSlotAt + intervalMs);
}

/** Slow start: one more in flight per accepted answer, no limit (Infinity) from SLOW_START_END on. */
export function slowStartLimit(limit: number): number {
	return limit + 1 >= SLOW_START_END ? Number.POSITIVE_INFINITY : limit + 1;
}

/** AIMD, multiplicative decrease: half of what was in flight (or of the limit, if lower), at least 1. */
export function halvedLimit(limit: number, inFlight: number): number {
	return Math.max(1, Math.floor(Math.min(limit, inFlight + 1) / 2));
}

/** AIMD, additive increase: one more after `limit` successes since the last change. */
export function grownLimit(limit: number, successesSinceChange: number): { limit: number; successes: number } {
	if (!Number.isFinite(limit)) return { limit, successes: 0 };
	return successesSinceChange >= limit ? { limit: limit + 1, successes: 0 } : { limit, successes: successesSinceChange };
}
