import { createHash } from 'crypto';
import { sleep } from 'n8n-workflow';

import {
	answerGrownRate,
	cutRate,
	cutsPace,
	grownLimit,
	grownRate,
	GROWTH_STEP_MS,
	halvedLimit,
	intervalForPerMinute,
	intervalForRate,
	jitteredInterval,
	nextSlot,
	paceHolding,
	paceUsedUp,
	GROWTH_STEP_INTERVALS,
	provisionalRate,
	QUOTA_LEFT_GROWTH,
	QUOTA_USED_UP_CUT_FRACTION,
	quotaLeftOver,
	skipAfterRateLimit,
	SLOW_START_LIMIT,
	slowStartLimit,
	slowStartSpacing,
} from './pacing';
import type { QuotaReport } from './retry';

/** Most requests in flight at once, whatever the user asks. */
export const MAX_CONCURRENCY = 64;
/** Default requests in flight: see README "Batch runs" for why. */
export const DEFAULT_CONCURRENCY = 5;
/** Default of Options → Max Rate-Limit Wait per Item, in seconds. */
export const DEFAULT_MAX_RATE_LIMIT_WAIT_S = 300;
/** A credential's shared state is forgotten after this long without a request. */
export const IDLE_EXPIRY_MS = 10 * 60_000;
/** Most credentials remembered at once; the least recently used idle one goes first. */
export const MAX_SHARED_STATES = 256;
/** How long a run's Max Requests per Minute keeps holding for the credential after its last request. */
export const PER_MINUTE_HOLD_MS = 5_000;

export class CancelledError extends Error {
	constructor() {
		super('The execution was cancelled');
		this.name = 'CancelledError';
	}
}

/** A timer: n8n-workflow's `sleep`, or a simulated clock's (bench/sim.js). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Wait `ms`, or stop at once when `signal` aborts. Works whether or not the installed n8n-workflow's
 * `sleep` takes a signal itself (n8n 1.x does not).
 */
export async function wait(ms: number, signal?: AbortSignal, sleepFor: Sleep = sleep): Promise<void> {
	if (signal?.aborted) throw new CancelledError();
	if (ms <= 0) return;
	if (!signal) return await sleepFor(ms);
	let onAbort: (() => void) | undefined;
	const aborted = new Promise<never>((_resolve, reject) => {
		onAbort = () => reject(new CancelledError());
		signal.addEventListener('abort', onAbort, { once: true });
	});
	try {
		await Promise.race([sleepFor(ms, signal).catch(() => undefined), aborted]);
	} finally {
		if (onAbort) signal.removeEventListener('abort', onAbort);
	}
	if (signal.aborted) throw new CancelledError();
}

/** How a request ended, as the server's rate limit sees it. */
export type RequestOutcome = 'accepted' | 'rate-limited' | 'no-answer';

/**
 * The rate-limit state of one credential (base URL + API key) in this n8n process, shared by every
 * run that uses it: pauses, the limit on requests in flight, the pace learned from 429s and the
 * strictest Max Requests per Minute of the runs using it. Other processes on the same key share
 * nothing with it; the policy (pacing.ts) works from what this process sees.
 */
export class SharedRateState {
	lastUsed: number;

	/** Requests in flight (or holding a slot) over every run of the credential. */
	inFlight = 0;

	/** Limit on `inFlight`: slow start until the first 429, then AIMD. Infinity = none but Concurrency. */
	limit = SLOW_START_LIMIT;

	/** No request starts before this moment (epoch ms). */
	pausedUntil = 0;

	/** Learned pace, requests per second; undefined until the first 429. */
	ratePerSecond: number | undefined;

	/** Figures for tests, benchmarks and the execution hint. */
	readonly stats = { rateLimited: 0, decreases: 0, cuts: 0, pausedMs: 0, firstPace: undefined as number | undefined };

	private seenRateLimit = false;

	/** Requests accepted before the first 429, and when the first of them started. */
	private acceptedSoFar = 0;

	private firstStartAt: number | undefined;

	private lastDecreaseAt = Number.NEGATIVE_INFINITY;

	private successesSinceChange = 0;

	/** When the pace was last cut (or first set). */
	private lastCutAt = Number.NEGATIVE_INFINITY;

	private lastGrowthAt = Number.NEGATIVE_INFINITY;

	/** Request slots taken since the pace last grew (or was set). */
	private slotsSinceGrowth = 0;

	private lastSlotAt = Number.NEGATIVE_INFINITY;

	/** When the pace last delayed a request start (it is what holds requests back). */
	private paceHeldAt = Number.NEGATIVE_INFINITY;

	/** Accepted answers since the pace was last cut (or first set). */
	private answersSinceCut = 0;

	private perMinuteIntervalMs = 0;

	private perMinuteUntil = 0;

	private readonly waiters = new Set<() => void>();

	constructor(now: number) {
		this.lastUsed = now;
	}

	/** Nothing in flight, nobody waiting, no pause running: may be forgotten once old enough. */
	isIdle(now: number): boolean {
		return this.inFlight === 0 && this.waiters.size === 0 && this.pausedUntil <= now;
	}

	/** Resolves at the next change of the state (a request finished, the limit grew) or when `signal` aborts. */
	changed(signal?: AbortSignal): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				this.waiters.delete(done);
				signal?.removeEventListener('abort', done);
				resolve();
			};
			this.waiters.add(done);
			signal?.addEventListener('abort', done, { once: true });
		});
	}

	/** Wake every waiter, in the order they came; whoever cannot go on waits again. */
	notify(): void {
		for (const done of [...this.waiters]) done();
	}

	/** The spacing Max Requests per Minute asks for right now (0 = none). */
	perMinuteInterval(now: number): number {
		return now < this.perMinuteUntil ? this.perMinuteIntervalMs : 0;
	}

	/** A run with Max Requests per Minute is using the credential: its limit holds for every run on it. */
	declarePerMinute(intervalMs: number, now: number): void {
		if (intervalMs <= 0) return;
		this.perMinuteIntervalMs = now < this.perMinuteUntil ? Math.max(this.perMinuteIntervalMs, intervalMs) : intervalMs;
		this.perMinuteUntil = Math.max(this.perMinuteUntil, now + Math.max(PER_MINUTE_HOLD_MS, 2 * intervalMs));
	}

	/** Take a request slot: counts as in flight from now; returns when it may start. `random` jitters the pace. */
	reserve(now: number, random: () => number = Math.random): number {
		if (this.ratePerSecond !== undefined) {
			const elapsed = now - this.lastGrowthAt;
			if (elapsed >= Math.max(GROWTH_STEP_MS, GROWTH_STEP_INTERVALS * intervalForRate(this.ratePerSecond))) {
				if (paceUsedUp(this.slotsSinceGrowth, this.ratePerSecond, elapsed)) {
					this.ratePerSecond = grownRate(this.ratePerSecond, elapsed, now - this.lastCutAt);
				}
				this.lastGrowthAt = now;
				this.slotsSinceGrowth = 0;
			}
		}
		// Before the first 429: starts spaced during the slow start (none after it); then the pace, jittered.
		const paceMs =
			this.ratePerSecond !== undefined
				? intervalForRate(this.ratePerSecond)
				: Number.isFinite(this.limit)
					? slowStartSpacing(this.acceptedSoFar)
					: 0;
		const spacing = this.ratePerSecond === undefined ? paceMs : jitteredInterval(paceMs, random());
		const slot = nextSlot(now, this.pausedUntil, this.lastSlotAt, Math.max(spacing, this.perMinuteInterval(now)));
		if (this.lastSlotAt + paceMs >= Math.max(now, this.pausedUntil)) this.paceHeldAt = now;
		this.slotsSinceGrowth++;
		this.firstStartAt ??= slot;
		this.lastSlotAt = slot;
		this.inFlight++;
		this.lastUsed = now;
		return slot;
	}

	/** Give back a slot taken with reserve() that was not used. */
	unreserve(): void {
		this.inFlight--;
		this.notify();
	}

	/** The request sent at `startedAt` ended. */
	finished(startedAt: number, outcome: RequestOutcome, now: number): void {
		this.inFlight--;
		this.lastUsed = now;
		if (outcome === 'accepted' && !this.seenRateLimit) this.acceptedSoFar++;
		if (outcome === 'accepted' && this.ratePerSecond !== undefined && paceHolding(now, this.paceHeldAt, this.ratePerSecond)) {
			this.answersSinceCut++;
			this.ratePerSecond = answerGrownRate(this.ratePerSecond, this.answersSinceCut);
		}
		this.notify();
	}

	/**
	 * An answer to the request started at `startedAt` said (in a rate-limit header) that nothing is left of
	 * the key's quota: a 429 is near. Before any pace it sets the first one, as a first 429 would but
	 * without pausing anyone; after that it cuts the pace by QUOTA_USED_UP_CUT_FRACTION under the rule a
	 * 429 follows (cutsPace). No request waits for it.
	 */
	quotaUsedUp(startedAt: number, now: number): void {
		this.lastUsed = now;
		if (this.ratePerSecond === undefined) {
			this.seenRateLimit = true;
			this.setFirstPace(now);
		} else if (cutsPace(startedAt, this.lastCutAt, now, this.ratePerSecond)) {
			this.cut(cutRate(this.ratePerSecond, QUOTA_USED_UP_CUT_FRACTION), now);
		}
		this.notify();
	}

	/**
	 * An answer's rate-limit header said a good share of the key's quota is left (quotaLeftOver): while the
	 * pace is what holds requests back, it grows by QUOTA_LEFT_GROWTH, unless what is left would not last at
	 * the grown pace until the quota resets (`sustainablePerSecond`, when the header names the reset: a
	 * window that just began is half full however many share it). A process whose pace was learned while
	 * other processes shared the key takes up what they stopped using within a few answers.
	 */
	quotaLeft(now: number, sustainablePerSecond?: number): void {
		this.lastUsed = now;
		if (this.ratePerSecond === undefined || !paceHolding(now, this.paceHeldAt, this.ratePerSecond)) return;
		const grown = this.ratePerSecond * (1 + QUOTA_LEFT_GROWTH);
		if (sustainablePerSecond === undefined || sustainablePerSecond >= grown) this.ratePerSecond = grown;
	}

	/** The first pace, from what was accepted since the first request. */
	private setFirstPace(now: number): void {
		this.ratePerSecond = provisionalRate(this.acceptedSoFar, now - (this.firstStartAt ?? now));
		this.stats.firstPace = this.ratePerSecond;
		this.lastCutAt = now;
		this.lastGrowthAt = now;
		this.slotsSinceGrowth = 0;
	}

	private cut(ratePerSecond: number, now: number): void {
		this.answersSinceCut = 0;
		this.ratePerSecond = ratePerSecond;
		this.lastCutAt = now;
		this.stats.cuts++;
	}

	/** A usable answer: slow start (one more in flight) until the first 429, then AIMD additive increase. */
	succeeded(): void {
		if (!Number.isFinite(this.limit)) return;
		if (!this.seenRateLimit) {
			this.limit = slowStartLimit(this.limit);
			this.notify();
			return;
		}
		const grown = grownLimit(this.limit, this.successesSinceChange + 1);
		this.successesSinceChange = grown.successes;
		if (grown.limit !== this.limit) {
			this.limit = grown.limit;
			this.notify();
		}
	}

	/**
	 * A 429 for a request started at `startedAt`, asking to wait `delayMs`. Returns how long, from `now`,
	 * the refused request itself must wait before it queues for a slot again: 0 when the pause every
	 * request keeps already lasts the whole `delayMs`, else `delayMs` (its own wait runs alongside the
	 * shorter pause, so it is not sent again before its Retry-After).
	 *
	 * - The first 429 sets the pace (provisionalRate) and pauses every run on the credential for `delayMs`.
	 * - Later ones cut the pace (cutsPace: only for a request sent since the last cut, at most once per
	 *   hold) and hold the other requests back a jittered slot or two; the refused request waits its
	 *   whole `delayMs`.
	 * - Either way the limit in flight is halved once per burst (only a request started after the last
	 *   halving halves it again).
	 */
	rateLimited(delayMs: number, startedAt: number, now: number, random: () => number = Math.random): number {
		this.stats.rateLimited++;
		this.lastUsed = now;
		const first = !this.seenRateLimit;
		this.seenRateLimit = true;
		let holdMs = delayMs;
		if (this.ratePerSecond === undefined) {
			this.setFirstPace(now);
		} else {
			if (cutsPace(startedAt, this.lastCutAt, now, this.ratePerSecond)) this.cut(cutRate(this.ratePerSecond), now);
			if (!first) holdMs = skipAfterRateLimit(this.ratePerSecond, delayMs, random());
		}
		const until = now + holdMs;
		if (until > this.pausedUntil) {
			this.stats.pausedMs += until - Math.max(now, this.pausedUntil);
			this.pausedUntil = until;
		}
		if (first || startedAt > this.lastDecreaseAt) {
			this.lastDecreaseAt = now;
			const next = halvedLimit(this.limit, this.inFlight);
			if (next < this.limit) {
				this.limit = next;
				this.stats.decreases++;
			}
			this.successesSinceChange = 0;
		}
		this.notify();
		return this.pausedUntil >= now + delayMs ? 0 : delayMs;
	}
}

const states = new Map<string, SharedRateState>();

/** Forget idle states not used for IDLE_EXPIRY_MS, then the least recently used idle ones over the bound. */
function pruneStates(now: number): void {
	for (const [id, state] of states) {
		if (state.isIdle(now) && now - state.lastUsed > IDLE_EXPIRY_MS) states.delete(id);
	}
	if (states.size < MAX_SHARED_STATES) return;
	const idle = [...states].filter(([, state]) => state.isIdle(now)).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
	for (const [id] of idle.slice(0, states.size - MAX_SHARED_STATES + 1)) states.delete(id);
}

/**
 * The state shared by every run in this process that sends to `endpoint` with `apiKey`. The map is
 * keyed by a SHA-256 of the two, never by the key itself.
 */
export function sharedRateState(endpoint: string, apiKey: string, now: number = Date.now()): SharedRateState {
	pruneStates(now);
	const id = createHash('sha256').update(endpoint).update('\n').update(apiKey).digest('hex');
	let state = states.get(id);
	if (!state) {
		state = new SharedRateState(now);
		states.set(id, state);
	}
	return state;
}

/** How many credentials' states this process holds (for tests). */
export function sharedRateStateCount(): number {
	return states.size;
}

export interface LimiterOptions {
	/** Upper bound of this run's requests in flight. */
	concurrency: number;
	/** Client-side quota; 0 = none. Holds for every run on the same credential while this one runs. */
	maxRequestsPerMinute: number;
	/** Runs with the same base URL and API key share their rate-limit state; without it the run has its own. */
	key?: { endpoint: string; apiKey: string };
	/** Longest a single item may wait for rate limits in all, in ms (see decide()). */
	maxWaitPerItemMs?: number;
	signal?: AbortSignal;
	/** The clock and timer (default: Date.now and n8n-workflow's sleep); bench/sim.js passes simulated ones. */
	now?: () => number;
	sleep?: Sleep;
	/** Jitter source (default Math.random); the simulation passes a seeded one. */
	random?: () => number;
}

/**
 * One run's view of its credential's shared rate-limit state. It admits a request when
 * - no rate-limit pause is running (a 429 pauses every run on the credential until its Retry-After moment),
 * - this run has fewer than its Concurrency in flight, and all runs together fewer than the AIMD limit,
 * - the learned pace and Max Requests per Minute, spacing request starts over all runs, have room.
 * A cancelled run's waiters leave at once and give back what they held; the other runs go on.
 */
export class RequestLimiter {
	readonly maxConcurrency: number;

	readonly maxWaitPerItemMs: number;

	readonly shared: SharedRateState;

	/**
	 * Figures for this run (the execution hint, tests, benchmarks): 429 answers, the time items waited
	 * after them before their next attempt (summed over items, ms), and attempts after the first.
	 */
	readonly stats = { rateLimited: 0, rateLimitWaitMs: 0, retries: 0 };

	private inFlight = 0;

	private readonly intervalMs: number;

	private readonly signal?: AbortSignal;

	private readonly now: () => number;

	private readonly sleep: Sleep;

	private readonly random: () => number;

	constructor(options: LimiterOptions) {
		this.maxConcurrency = Math.max(1, Math.min(MAX_CONCURRENCY, Math.floor(options.concurrency)));
		this.intervalMs = intervalForPerMinute(options.maxRequestsPerMinute);
		this.maxWaitPerItemMs = options.maxWaitPerItemMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_S * 1000;
		this.signal = options.signal;
		this.now = options.now ?? Date.now;
		this.sleep = options.sleep ?? sleep;
		this.random = options.random ?? Math.random;
		this.shared = options.key
			? sharedRateState(options.key.endpoint, options.key.apiKey, this.now())
			: new SharedRateState(this.now());
	}

	/** Requests this run may have in flight now. */
	get limit(): number {
		return Math.min(this.maxConcurrency, this.shared.limit);
	}

	/**
	 * Wait until a request may start; returns its start time. The caller must call `release()` with
	 * that time once the request has ended.
	 */
	async acquire(): Promise<number> {
		const shared = this.shared;
		for (;;) {
			if (this.signal?.aborted) throw new CancelledError();
			const now = this.now();
			if (now < shared.pausedUntil) {
				await wait(shared.pausedUntil - now, this.signal, this.sleep);
				continue;
			}
			if (this.inFlight >= this.maxConcurrency || shared.inFlight >= shared.limit) {
				await shared.changed(this.signal);
				continue;
			}
			shared.declarePerMinute(this.intervalMs, now);
			const slot = shared.reserve(now, this.random);
			this.inFlight++;
			if (slot > now) {
				const waited = await wait(slot - now, this.signal, this.sleep).then(
					() => true,
					() => false,
				);
				// Cancelled, or a 429 paused everyone meanwhile: give the slot back (and start over).
				if (!waited || this.now() < shared.pausedUntil) {
					this.inFlight--;
					shared.unreserve();
					if (!waited) throw new CancelledError();
					continue;
				}
			}
			return this.now();
		}
	}

	/** The request started at `startedAt` has ended (answered, rate-limited, or without an answer). */
	release(startedAt: number, outcome: RequestOutcome): void {
		this.inFlight--;
		this.shared.finished(startedAt, outcome, this.now());
	}

	/** A request got a usable answer. */
	succeeded(): void {
		this.shared.succeeded();
	}

	/**
	 * What the rate-limit headers of the answer to the request started at `startedAt` said (parseQuota):
	 * nothing left slows the pace before a 429 comes, a good share left lets it grow (see pacing.ts).
	 */
	quotaReport(startedAt: number, report: QuotaReport): void {
		if (report.remaining === 0) this.shared.quotaUsedUp(startedAt, this.now());
		else if (quotaLeftOver(report.fractionLeft)) this.shared.quotaLeft(this.now(), report.sustainablePerSecond);
	}

	/** A 429 for the request started at `startedAt`: every run on the credential waits `delayMs` from now. */
	rateLimited(delayMs: number, startedAt: number): number {
		this.stats.rateLimited++;
		return this.shared.rateLimited(delayMs, startedAt, this.now(), this.random);
	}
}
