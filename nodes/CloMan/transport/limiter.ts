import { sleep } from 'n8n-workflow';

/** Most requests in flight at once, whatever the user asks. */
export const MAX_CONCURRENCY = 64;
/** Default requests in flight: see README "Batch runs" for why. */
export const DEFAULT_CONCURRENCY = 5;

export class CancelledError extends Error {
	constructor() {
		super('The execution was cancelled');
		this.name = 'CancelledError';
	}
}

/**
 * Wait `ms`, or stop at once when `signal` aborts. Works whether or not the installed n8n-workflow's
 * `sleep` takes a signal itself (n8n 1.x does not).
 */
export async function wait(ms: number, signal?: AbortSignal): Promise<void> {
	if (signal?.aborted) throw new CancelledError();
	if (ms <= 0) return;
	if (!signal) return await sleep(ms);
	let onAbort: (() => void) | undefined;
	const aborted = new Promise<never>((_resolve, reject) => {
		onAbort = () => reject(new CancelledError());
		signal.addEventListener('abort', onAbort, { once: true });
	});
	try {
		await Promise.race([sleep(ms, signal).catch(() => undefined), aborted]);
	} finally {
		if (onAbort) signal.removeEventListener('abort', onAbort);
	}
	if (signal.aborted) throw new CancelledError();
}

export interface LimiterOptions {
	/** Upper bound of requests in flight. */
	concurrency: number;
	/** Client-side quota; 0 = none. */
	maxRequestsPerMinute: number;
	signal?: AbortSignal;
	now?: () => number;
}

/**
 * Shared by every request of one node run. It admits a request when
 * - no rate-limit pause is running (a 429 pauses everyone until its Retry-After moment),
 * - fewer than `limit` requests are in flight (AIMD: halved on a 429 burst, +1 after `limit` successes),
 * - the per-minute quota, if any, has room (requests spaced evenly, 60 000 / rpm ms apart).
 */
export class RequestLimiter {
	readonly maxConcurrency: number;

	private limitNow: number;

	private inFlight = 0;

	private pausedUntil = 0;

	private lastDecreaseAt = Number.NEGATIVE_INFINITY;

	private successesSinceChange = 0;

	private nextStartAt = 0;

	private readonly intervalMs: number;

	private readonly waiters: Array<() => void> = [];

	private readonly signal?: AbortSignal;

	private readonly now: () => number;

	/** Figures for the run, surfaced in tests and benchmarks. */
	readonly stats = { rateLimited: 0, decreases: 0, lowestLimit: 0, pausedMs: 0 };

	constructor(options: LimiterOptions) {
		this.maxConcurrency = Math.max(1, Math.min(MAX_CONCURRENCY, Math.floor(options.concurrency)));
		this.limitNow = this.maxConcurrency;
		this.stats.lowestLimit = this.limitNow;
		this.intervalMs = options.maxRequestsPerMinute > 0 ? 60_000 / options.maxRequestsPerMinute : 0;
		this.signal = options.signal;
		this.now = options.now ?? Date.now;
		this.signal?.addEventListener('abort', () => this.wakeAll(), { once: true });
	}

	get limit(): number {
		return this.limitNow;
	}

	/**
	 * Wait until a request may start; returns its start time. The caller must call `release()` once
	 * it has an answer.
	 */
	async acquire(): Promise<number> {
		for (;;) {
			if (this.signal?.aborted) throw new CancelledError();
			const now = this.now();
			if (now < this.pausedUntil) {
				await wait(this.pausedUntil - now, this.signal);
				continue;
			}
			if (this.inFlight >= this.limitNow) {
				await new Promise<void>((resolve) => this.waiters.push(resolve));
				continue;
			}
			if (this.intervalMs > 0) {
				const gap = this.nextStartAt - now;
				if (gap > 0) {
					await wait(gap, this.signal);
					continue;
				}
				this.nextStartAt = Math.max(now, this.nextStartAt) + this.intervalMs;
			}
			this.inFlight++;
			return now;
		}
	}

	release(): void {
		this.inFlight--;
		this.wakeOne();
	}

	/** A request succeeded: additive increase, one step per `limit` successes. */
	succeeded(): void {
		if (this.limitNow >= this.maxConcurrency) return;
		this.successesSinceChange++;
		if (this.successesSinceChange >= this.limitNow) {
			this.limitNow++;
			this.successesSinceChange = 0;
			this.wakeOne();
		}
	}

	/**
	 * A 429 for a request started at `startedAt`: everyone waits `delayMs` from now. The concurrency
	 * is halved once per burst: only a request started after the last cut can cut it again.
	 */
	rateLimited(delayMs: number, startedAt: number): void {
		const now = this.now();
		this.stats.rateLimited++;
		const until = now + delayMs;
		if (until > this.pausedUntil) {
			this.stats.pausedMs += until - Math.max(now, this.pausedUntil);
			this.pausedUntil = until;
		}
		if (startedAt > this.lastDecreaseAt) {
			this.lastDecreaseAt = now;
			const next = Math.max(1, Math.floor(this.limitNow / 2));
			if (next < this.limitNow) {
				this.limitNow = next;
				this.stats.decreases++;
				this.stats.lowestLimit = Math.min(this.stats.lowestLimit, next);
			}
			this.successesSinceChange = 0;
		}
	}

	private wakeOne(): void {
		const next = this.waiters.shift();
		if (next) next();
	}

	private wakeAll(): void {
		for (const resolve of this.waiters.splice(0)) resolve();
	}
}
