/**
 * Rate-limit policy of one credential in one process: named constants with units and pure functions,
 * so it can be read and tested apart from any timer or HTTP (the state lives in limiter.ts).
 *
 * The quota of an API key may be shared with other processes (queue-mode workers, other n8n
 * instances) that this one cannot see; all it sees is its own requests, the 429s it gets, their
 * Retry-After and the time. So it treats the key as a congested link (AIMD on the rate, like TCP):
 *
 * - Start: at most SLOW_START_LIMIT requests in flight, one more per answer (doubling per round trip)
 *   until the first 429, so W processes starting together do not each send a full Concurrency at once;
 *   and request starts spaced (slowStartSpacing: SLOW_START_SPACING_MS, narrowing with each accepted
 *   answer), so the first 429 comes back before the next request leaves: a process that starts after
 *   the quota is used up meets one 429, not a whole flight of them. The spacing ends with the slow start.
 * - The first 429 sets a pace: PROVISIONAL_FRACTION of what got through since the first request, and
 *   every run on the credential in this process waits the Retry-After (the bucket refills meanwhile).
 * - After that a 429 is a congestion signal, not a stop: a 429 for a request sent since the last cut
 *   cuts the pace by CUT_FRACTION (the ones sent before it were sent at the old pace), at most once per
 *   CUT_HOLD_INTERVALS of its intervals; the refused request alone waits its Retry-After, the others
 *   skip a jittered slot or two. Retry-After comes in whole seconds, far coarser than a pace of tens per
 *   second: stalling every request for it on each 429 would waste most of a second of quota each time.
 * - While the pace is what holds requests back it grows two ways:
 *   - per accepted answer by ANSWER_GROWTH (more the longer no 429 came, up to ANSWER_GROWTH_MAX): with
 *     the cut per 429 this aims at a share of 429s of about ANSWER_GROWTH / (ANSWER_GROWTH + CUT_FRACTION)
 *     of the requests, which every process sharing the key sees alike, however many there are;
 *   - per second by GROWTH_PER_SECOND, doubling every GROWTH_DOUBLING_MS without a cut (up to
 *     GROWTH_MAX_PER_SECOND): the same for a small pace as for a large one, so a process that holds a
 *     small share (it started late) catches up, and quota another process stopped using is taken up
 *     within seconds.
 * - Rate-limit headers, when a server sends them (CloMan documents none): an answer saying nothing is left
 *   of the quota is taken as a 429 to come — it sets the first pace, or cuts the pace by the smaller
 *   QUOTA_USED_UP_CUT_FRACTION under the same rule — so processes sharing a key slow down before they
 *   overdraw it; an answer saying at least QUOTA_LEFT_FRACTION of it is left, while the pace holds
 *   requests back, grows the pace by QUOTA_LEFT_GROWTH — quota another process stopped using is taken up
 *   at once instead of after seconds without a 429 (without the headers, that absence is all a process
 *   learns of it). Without such headers nothing changes.
 * - Request starts are spaced by the pace with ±PACE_JITTER: evenly spaced requests of a large pace
 *   would take each token as it comes and leave the 429s to a smaller one; jittered, every process
 *   meets 429s in proportion to its requests.
 */

/** Requests in flight before the first answer; one more per accepted answer until the first 429. */
export const SLOW_START_LIMIT = 3;
/**
 * Before the first 429, request starts at least this far apart at first (longer than a 429 takes to
 * come back from a nearby server to a busy process: 7–43 ms, median ~20, with 8 n8n processes on 2 cores)…
 */
export const SLOW_START_SPACING_MS = 40;
/** …this much less for each accepted answer… */
export const SLOW_START_SPACING_STEP_MS = 5;
/** …down to this; no spacing once the slow start has ended (SLOW_START_END in flight without a 429). */
export const SLOW_START_SPACING_MIN_MS = 10;
/** Above this many in flight the slow start ends (no limit but Concurrency). */
export const SLOW_START_END = 64;
/** The first pace: this fraction of the rate accepted from the first request to the first 429… */
export const PROVISIONAL_FRACTION = 0.7;
/** …over at least this long (a quick first 429 says little about the rate)… */
export const PROVISIONAL_WINDOW_MS = 500;
/** …and at least this many requests per second (a process that got nothing through yet starts here). */
export const PROVISIONAL_MIN_PER_SECOND = 1;
/** Once a pace is known, a 429 for a request sent since the last cut cuts it by this fraction. */
export const CUT_FRACTION = 0.3;
/** …at most once per this many of the pace's intervals. */
export const CUT_HOLD_INTERVALS = 2;
/**
 * An answer whose rate-limit header says nothing is left of the quota (CloMan documents none; used when a
 * server sends them) cuts the pace by this fraction, under the same rule as a 429 (cutsPace), and holds
 * nobody back: the request got through, and the next 429 is only near. Smaller than CUT_FRACTION because
 * it comes before the quota is overdrawn, on many answers of a key used to its limit.
 */
export const QUOTA_USED_UP_CUT_FRACTION = 0.1;
/**
 * An answer whose rate-limit headers say at least this share of the quota is left (the key has room that
 * nobody uses: in a key used to its limit the bucket stays near empty)…
 */
export const QUOTA_LEFT_FRACTION = 0.5;
/** …grows the pace by this fraction, while the pace holds requests back and what is left lasts at the grown pace until the quota resets (when the reset is named). */
export const QUOTA_LEFT_GROWTH = 0.15;
/** After such a 429 the other requests skip 1 to 1 + SKIP_JITTER intervals of the new pace (jittered, so processes do not come back in step). */
export const SKIP_JITTER = 3;
/** While the pace holds requests back, each accepted answer grows it by this fraction just after a cut… */
export const ANSWER_GROWTH = 0.005;
/** …twice that after this many accepted answers without a cut, four times after twice as many… */
export const ANSWER_GROWTH_DOUBLING = 40;
/** …up to this fraction per answer. */
export const ANSWER_GROWTH_MAX = 0.1;
/** The pace counts as holding requests back when it delayed a request start within this many of its intervals (plus PACE_HELD_SLACK_MS). */
export const PACE_HELD_INTERVALS = 2;
export const PACE_HELD_SLACK_MS = 300;
/** Request starts are spaced by the pace's interval times 1 ± this (uniformly). */
export const PACE_JITTER = 0.5;
/** While the pace holds requests back, it grows this fraction per second just after a cut… */
export const GROWTH_PER_SECOND = 0.02;
/** …twice that after this long without a cut, four times after twice as long… */
export const GROWTH_DOUBLING_MS = 1_500;
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

/** The pace after a cut: by CUT_FRACTION for a 429, QUOTA_USED_UP_CUT_FRACTION for a "nothing left" header. */
export function cutRate(ratePerSecond: number, fraction: number = CUT_FRACTION): number {
	return Math.max(MIN_RATE_PER_SECOND, ratePerSecond * (1 - fraction));
}

/**
 * Whether a 429 at `now` for the request started at `startedAt` cuts the pace last cut (or first set)
 * at `lastCutAt`: only a request sent since then (at the current pace), and at most once per
 * CUT_HOLD_INTERVALS of its intervals (so a run of 429s, as in an outage, does not cut at every one).
 */
export function cutsPace(startedAt: number, lastCutAt: number, now: number, ratePerSecond: number): boolean {
	return startedAt > lastCutAt && now - lastCutAt >= CUT_HOLD_INTERVALS * intervalForRate(ratePerSecond);
}

/** How long the other requests hold back after a 429 once a pace is known: a jittered slot or two, never more than the Retry-After. */
export function skipAfterRateLimit(ratePerSecond: number, retryAfterMs: number, random: number): number {
	return Math.min(retryAfterMs, intervalForRate(ratePerSecond) * (1 + SKIP_JITTER * random));
}

/** Whether rate-limit headers saying `fractionLeft` of the quota is left show room nobody uses (QUOTA_LEFT_FRACTION). */
export function quotaLeftOver(fractionLeft: number | undefined): boolean {
	return fractionLeft !== undefined && fractionLeft >= QUOTA_LEFT_FRACTION;
}

/** The growth per second of a pace last cut `sinceCutMs` ago (see GROWTH_DOUBLING_MS). */
export function growthPerSecond(sinceCutMs: number): number {
	return Math.min(GROWTH_MAX_PER_SECOND, GROWTH_PER_SECOND * 2 ** (Math.max(0, sinceCutMs) / GROWTH_DOUBLING_MS));
}

/** The pace after `elapsedMs` in which requests used it up, last cut `sinceCutMs` ago. */
export function grownRate(ratePerSecond: number, elapsedMs: number, sinceCutMs: number): number {
	return ratePerSecond * (1 + growthPerSecond(sinceCutMs)) ** (elapsedMs / 1000);
}

/** The pace after an accepted answer, the `answersSinceCut`-th since the last cut, while the pace holds requests back. */
export function answerGrownRate(ratePerSecond: number, answersSinceCut: number): number {
	return ratePerSecond * (1 + Math.min(ANSWER_GROWTH_MAX, ANSWER_GROWTH * 2 ** (answersSinceCut / ANSWER_GROWTH_DOUBLING)));
}

/** Whether the pace delayed a request start recently enough (at `heldAt`) to count as what holds requests back. */
export function paceHolding(now: number, heldAt: number, ratePerSecond: number): boolean {
	return now - heldAt <= PACE_HELD_INTERVALS * intervalForRate(ratePerSecond) + PACE_HELD_SLACK_MS;
}

/** The interval to the next request start: the pace's, jittered by ±PACE_JITTER with `random` in [0, 1). */
export function jitteredInterval(intervalMs: number, random: number): number {
	return intervalMs * (1 - PACE_JITTER + 2 * PACE_JITTER * random);
}

/**
 * Before the first 429, the spacing of request starts after `accepted` accepted answers: wide at first,
 * so that a process starting on a key whose quota others already use meets one 429 (the first one
 * comes back before the next request leaves), narrowing as answers show the key has room.
 */
export function slowStartSpacing(accepted: number): number {
	return Math.max(SLOW_START_SPACING_MIN_MS, SLOW_START_SPACING_MS - SLOW_START_SPACING_STEP_MS * accepted);
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
