/**
 * Rate-limit policy shared by every run on one credential: named constants with units and pure
 * functions, so it can be read and tested apart from any timer or HTTP (the state lives in limiter.ts).
 *
 * - Adaptive concurrency (AIMD): a 429 burst halves the requests in flight, each full round of
 *   successes adds one back.
 * - Pacing: once CloMan has answered 429 twice, the rate it accepts is known: every request that
 *   got through between two moments at which its quota was used up (two 429s) was paid for by what
 *   the quota refilled in between, so accepted / time between is the rate. Request starts are then
 *   spaced at that rate, and the rate is raised a little now and then while no 429 comes, so a
 *   raised quota gets used.
 */

/** Shortest time between two 429s that gives a rate estimate (one request more or less is then ≤ 1/window). */
export const ESTIMATE_MIN_WINDOW_MS = 1_000;
/** Fewest accepted requests between two 429s that give a rate estimate. */
export const ESTIMATE_MIN_ACCEPTED = 2;
/** How long accepted request starts are remembered for estimates. */
export const ACCEPTED_MEMORY_MS = 10 * 60_000;
/** Most accepted request starts remembered per credential (bounds the memory at a high rate). */
export const ACCEPTED_MEMORY_MAX = 8_192;
/** While requests wait for their paced slot and no 429 comes, the pace is raised after this long… */
export const PROBE_INTERVAL_MS = 2_000;
/** …first by this fraction, then each time by twice the step before (a pace that reads low recovers fast)… */
export const PROBE_FIRST_STEP = 0.02;
/** …up to this step. The steps start over whenever a 429 sets the pace. */
export const PROBE_MAX_STEP = 0.64;
/** Lowest pace we settle on, in requests per second (one per minute). */
export const MIN_RATE_PER_SECOND = 1 / 60;
/**
 * A credential with nothing in flight and nobody waiting (outside a pause) for this long may have had
 * its quota refilled unseen: the next 429 starts a new estimate window instead of closing the old one.
 */
export const IDLE_RESET_MS = 1_000;

/**
 * The rate CloMan accepted between two 429s that started at `fromMs` and `toMs` (epoch ms), from the
 * start times of the requests it accepted. Undefined when the window is too short or too empty to say.
 */
export function estimateRate(accepted: readonly number[], fromMs: number, toMs: number): number | undefined {
	const windowMs = toMs - fromMs;
	if (windowMs < ESTIMATE_MIN_WINDOW_MS) return undefined;
	let count = 0;
	for (const at of accepted) if (at > fromMs && at <= toMs) count++;
	if (count < ESTIMATE_MIN_ACCEPTED) return undefined;
	return Math.max(MIN_RATE_PER_SECOND, (count * 1000) / windowMs);
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
 * The pace after `sinceChangeMs` without a 429 or raise: raised by `step` once PROBE_INTERVAL_MS has
 * passed, but only when the pace was what held requests back (raising an unused pace proves nothing);
 * the next raise is then twice as large, up to PROBE_MAX_STEP.
 */
export function probedRate(
	pace: { ratePerSecond: number; step: number },
	sinceChangeMs: number,
	paceWasBinding: boolean,
): { ratePerSecond: number; step: number } {
	if (!paceWasBinding || sinceChangeMs < PROBE_INTERVAL_MS) return pace;
	return { ratePerSecond: pace.ratePerSecond * (1 + pace.step), step: Math.min(PROBE_MAX_STEP, pace.step * 2) };
}

/**
 * When the next request may start: not before `now`, not before the pause ends, and `intervalMs`
 * after the previous start (the slowest of the learned pace and Max Requests per Minute).
 */
export function nextSlot(now: number, pausedUntil: number, lastSlotAt: number, intervalMs: number): number {
	return Math.max(now, pausedUntil, lastSlotAt + intervalMs);
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
