import {
	CancelledError,
	IDLE_EXPIRY_MS,
	MAX_SHARED_STATES,
	RequestLimiter,
	SharedRateState,
	sharedRateState,
	sharedRateStateCount,
	wait,
} from '../nodes/CloMan/transport/limiter';
import { PROBE_FIRST_STEP, PROBE_INTERVAL_MS } from '../nodes/CloMan/transport/pacing';

const ENDPOINT = 'http://127.0.0.1:9/api/v1/public/decide';
let keys = 0;
/** A key no other test uses, so each test starts from a fresh shared state. */
const freshKey = () => ({ endpoint: ENDPOINT, apiKey: `cloman_sk_unit_${++keys}_${Date.now()}` });

/** One request through the limiter: acquire, hold `ms`, release as accepted. */
async function request(limiter: RequestLimiter, ms: number, outcome: 'accepted' | 'rate-limited' = 'accepted') {
	const startedAt = await limiter.acquire();
	await wait(ms);
	limiter.release(startedAt, outcome);
	return startedAt;
}

describe('RequestLimiter (one run)', () => {
	test('never more than the limit in flight', async () => {
		const limiter = new RequestLimiter({ concurrency: 3, maxRequestsPerMinute: 0 });
		let inFlight = 0;
		let peak = 0;
		await Promise.all(
			Array.from({ length: 20 }, async () => {
				const startedAt = await limiter.acquire();
				inFlight++;
				peak = Math.max(peak, inFlight);
				await wait(5);
				inFlight--;
				limiter.release(startedAt, 'accepted');
			}),
		);
		expect(peak).toBe(3);
	});

	test('a 429 pauses everyone until the Retry-After moment and halves what was in flight, once per burst', async () => {
		const limiter = new RequestLimiter({ concurrency: 8, maxRequestsPerMinute: 0 });
		const starts = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire()));
		// The first of eight comes back 429: seven still in flight, so the limit becomes (7 + 1) / 2.
		limiter.release(starts[0], 'rate-limited');
		limiter.rateLimited(300, starts[0]);
		limiter.release(starts[1], 'rate-limited');
		limiter.rateLimited(300, starts[1]); // same burst: no second cut
		for (const startedAt of starts.slice(2)) limiter.release(startedAt, 'accepted');
		expect(limiter.limit).toBe(4);
		const before = Date.now();
		const startedAt = await limiter.acquire();
		expect(Date.now() - before).toBeGreaterThanOrEqual(295);
		limiter.release(startedAt, 'accepted');
		// additive increase: +1 after `limit` successes
		for (let i = 0; i < 4; i++) limiter.succeeded();
		expect(limiter.limit).toBe(5);
		expect(limiter.stats).toEqual({ rateLimited: 2 });
		expect(limiter.shared.stats).toMatchObject({ rateLimited: 2, decreases: 1 });
	});

	test('a request started after the cut may cut again, down to 1', async () => {
		const limiter = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0 });
		const limits: number[] = [];
		for (let i = 0; i < 3; i++) {
			const starts = await Promise.all(Array.from({ length: limiter.limit }, () => limiter.acquire()));
			limiter.release(starts[0], 'rate-limited');
			limiter.rateLimited(1, starts[0]);
			for (const startedAt of starts.slice(1)) limiter.release(startedAt, 'accepted');
			limits.push(limiter.limit);
			await wait(3);
		}
		expect(limits).toEqual([2, 1, 1]);
	});

	test('max requests per minute spaces request starts evenly', async () => {
		const limiter = new RequestLimiter({ concurrency: 10, maxRequestsPerMinute: 1200 }); // one per 50 ms
		const starts = await Promise.all(Array.from({ length: 5 }, () => request(limiter, 0)));
		starts.sort((a, b) => a - b);
		for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(45);
	});

	test('cancellation stops waiting at once, for a pause and for a free slot', async () => {
		const controller = new AbortController();
		const limiter = new RequestLimiter({ concurrency: 1, maxRequestsPerMinute: 0, signal: controller.signal });
		const first = await limiter.acquire();
		const waitingForSlot = limiter.acquire();
		limiter.rateLimited(10_000, first);
		const waitingForPause = limiter.acquire();
		const before = Date.now();
		controller.abort();
		await expect(waitingForSlot).rejects.toBeInstanceOf(CancelledError);
		await expect(waitingForPause).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - before).toBeLessThan(500);
	});
});

describe('shared by every run on one credential', () => {
	test('runs with the same base URL and key see each other’s pause; another key does not', async () => {
		const key = freshKey();
		const a = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key });
		const b = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key });
		const other = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key: freshKey() });
		expect(a.shared).toBe(b.shared);
		expect(other.shared).not.toBe(a.shared);
		const startedAt = await a.acquire();
		a.release(startedAt, 'rate-limited');
		a.rateLimited(400, startedAt);
		const before = Date.now();
		const [waitedB, waitedOther] = await Promise.all([
			request(b, 0).then(() => Date.now() - before),
			request(other, 0).then(() => Date.now() - before),
		]);
		expect(waitedB).toBeGreaterThanOrEqual(390);
		expect(waitedOther).toBeLessThan(100);
	});

	test('the base URL is part of the credential: the same key on another server is another state', () => {
		const key = freshKey();
		expect(sharedRateState(key.endpoint, key.apiKey)).toBe(sharedRateState(key.endpoint, key.apiKey));
		expect(sharedRateState('http://127.0.0.1:10/api/v1/public/decide', key.apiKey)).not.toBe(
			sharedRateState(key.endpoint, key.apiKey),
		);
	});

	test('the halved limit holds for all runs together; each run keeps its own Concurrency on top', async () => {
		const key = freshKey();
		const a = new RequestLimiter({ concurrency: 2, maxRequestsPerMinute: 0, key });
		const b = new RequestLimiter({ concurrency: 6, maxRequestsPerMinute: 0, key });
		const starts = [...(await Promise.all([a.acquire(), a.acquire()])), ...(await Promise.all(Array.from({ length: 6 }, () => b.acquire())))];
		expect(a.shared.inFlight).toBe(8);
		b.release(starts[7], 'rate-limited');
		b.rateLimited(0, starts[7]);
		expect(a.shared.limit).toBe(4); // (7 in flight + 1) / 2
		expect(a.limit).toBe(2);
		starts.slice(0, 7).forEach((startedAt, i) => (i < 2 ? a : b).release(startedAt, 'accepted'));
		let peak = 0;
		let inFlight = 0;
		await Promise.all(
			Array.from({ length: 12 }, async (_, i) => {
				const run = i % 2 ? a : b;
				const startedAt = await run.acquire();
				peak = Math.max(peak, ++inFlight);
				await wait(10);
				inFlight--;
				run.release(startedAt, 'accepted');
			}),
		);
		expect(peak).toBeLessThanOrEqual(4);
	});

	test('Max Requests per Minute of one run spaces the requests of every run on the credential', async () => {
		const key = freshKey();
		const paced = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 1200, key }); // 50 ms apart
		const free = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key });
		await request(paced, 0);
		const starts = await Promise.all([
			...Array.from({ length: 3 }, () => request(free, 0)),
			...Array.from({ length: 3 }, () => request(paced, 0)),
		]);
		starts.sort((x, y) => x - y);
		// Slots are exactly 50 ms apart; a start may lag its slot by a busy event loop, never lead it.
		expect(starts[starts.length - 1] - starts[0]).toBeGreaterThanOrEqual(5 * 50 - 2);
		for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(30);
	});

	test('cancelling one run: its waiters leave at once, the other run on the same key goes on', async () => {
		const key = freshKey();
		const controller = new AbortController();
		const cancelled = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key, signal: controller.signal });
		const other = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, key });
		const startedAt = await other.acquire();
		other.release(startedAt, 'rate-limited');
		other.rateLimited(300, startedAt);
		const before = Date.now();
		const waiting = Array.from({ length: 4 }, () => cancelled.acquire());
		const otherDone = request(other, 0).then(() => Date.now() - before);
		controller.abort();
		for (const w of waiting) await expect(w).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - before).toBeLessThan(100);
		expect(await otherDone).toBeGreaterThanOrEqual(290);
		expect(other.shared.inFlight).toBe(0);
	});
});

describe('pacing learned from 429s (SharedRateState, explicit clock)', () => {
	/** Send `count` requests spaced `gapMs` from `from`, each accepted; returns the time after the last. */
	function accept(state: SharedRateState, from: number, count: number, gapMs: number): number {
		let t = from;
		for (let i = 0; i < count; i++) {
			state.reserve(t);
			state.began(t);
			state.finished(t, 'accepted', t + 1);
			t += gapMs;
		}
		return t;
	}

	function rateLimit(state: SharedRateState, at: number, retryAfterMs = 1000) {
		state.reserve(at);
		state.began(at);
		state.finished(at, 'rate-limited', at + 1);
		state.rateLimited(retryAfterMs, at, at + 1);
	}

	test('no pace from one 429; the second gives the rate accepted in between; starts are then spaced by it', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 30, 10); // a burst the server let through
		rateLimit(state, 300);
		expect(state.ratePerSecond).toBeUndefined();
		// After the 1 s pause: 40 accepted over the 2 s up to the next 429 → 20 per second.
		const end = accept(state, 1301, 40, 25);
		rateLimit(state, 2300);
		expect(end).toBeLessThanOrEqual(2301);
		expect(state.ratePerSecond).toBeCloseTo(20, 5);
		expect(state.stats.estimates).toEqual([20]);
		const first = state.reserve(3301);
		const second = state.reserve(3301);
		const third = state.reserve(3301);
		expect([second - first, third - second]).toEqual([50, 50]);
	});

	test('the estimate waits for requests started before the 429 to finish', () => {
		const state = new SharedRateState(0);
		rateLimit(state, 0);
		accept(state, 1000, 20, 50);
		state.reserve(1999);
		state.began(1999); // still in flight when the next 429 comes back
		rateLimit(state, 2000);
		expect(state.ratePerSecond).toBeUndefined();
		state.finished(1999, 'accepted', 2200);
		expect(state.ratePerSecond).toBeCloseTo(21 / 2, 5);
	});

	test('429s closer together than the minimum window only move the window start', () => {
		const state = new SharedRateState(0);
		rateLimit(state, 0);
		accept(state, 10, 5, 10);
		rateLimit(state, 400);
		expect(state.ratePerSecond).toBeUndefined();
		accept(state, 1400, 10, 100);
		rateLimit(state, 2400);
		expect(state.ratePerSecond).toBeCloseTo(10 / 2, 5);
	});

	test('while the pace holds requests back and no 429 comes, it is raised now and then', () => {
		const state = new SharedRateState(0);
		rateLimit(state, 0);
		accept(state, 1000, 20, 50);
		rateLimit(state, 2000);
		expect(state.ratePerSecond).toBeCloseTo(10, 5);
		let t = 3000;
		state.reserve(t);
		state.reserve(t); // held back by the pace
		t += PROBE_INTERVAL_MS;
		state.reserve(t);
		state.reserve(t); // held back again
		const once = 10 * (1 + PROBE_FIRST_STEP);
		expect(state.ratePerSecond).toBeCloseTo(once, 5);
		t += PROBE_INTERVAL_MS;
		state.reserve(t);
		const twice = once * (1 + 2 * PROBE_FIRST_STEP);
		expect(state.ratePerSecond).toBeCloseTo(twice, 5);
		// Not held back since: no further raise.
		state.reserve(t + 2 * PROBE_INTERVAL_MS);
		expect(state.ratePerSecond).toBeCloseTo(twice, 5);
		expect(state.stats.probes).toBe(2);
	});
});

describe('the registry of shared states', () => {
	test('idle states expire; states in use do not', () => {
		const t0 = Date.now() + 3_600_000;
		const idle = freshKey();
		const busy = freshKey();
		sharedRateState(idle.endpoint, idle.apiKey, t0);
		const busyState = sharedRateState(busy.endpoint, busy.apiKey, t0);
		busyState.reserve(t0); // one request in flight
		const before = sharedRateStateCount();
		const later = t0 + IDLE_EXPIRY_MS + 1;
		const fresh = freshKey();
		sharedRateState(fresh.endpoint, fresh.apiKey, later);
		expect(sharedRateStateCount()).toBeLessThan(before + 1);
		expect(sharedRateState(busy.endpoint, busy.apiKey, later)).toBe(busyState);
		busyState.unreserve(t0);
	});

	test('the number of states is bounded', () => {
		const now = Date.now();
		for (let i = 0; i < MAX_SHARED_STATES + 20; i++) sharedRateState(ENDPOINT, `cloman_sk_bound_${i}`, now);
		expect(sharedRateStateCount()).toBeLessThanOrEqual(MAX_SHARED_STATES);
	});
});
