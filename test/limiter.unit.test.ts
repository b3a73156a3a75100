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
import {
	PROVISIONAL_MIN_PER_SECOND,
	SKIP_JITTER,
	SLOW_START_END,
	SLOW_START_LIMIT,
	SLOW_START_SPACING_MIN_MS,
	SLOW_START_SPACING_MS,
	slowStartSpacing,
	CUT_HOLD_INTERVALS,
	answerGrownRate,
	GROWTH_PER_SECOND,
	cutRate,
	grownRate,
	paceUsedUp,
	provisionalRate,
	skipAfterRateLimit,
	QUOTA_USED_UP_CUT_FRACTION,
	QUOTA_LEFT_FRACTION,
	QUOTA_LEFT_GROWTH,
	quotaLeftOver,
} from '../nodes/CloMan/transport/pacing';

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
				await wait(40); // longer than the slow start's spacing of starts, so they overlap
				inFlight--;
				limiter.release(startedAt, 'accepted');
			}),
		);
		expect(peak).toBe(3);
	});

	test('the first 429 pauses everyone until the Retry-After moment and halves what was in flight, once per burst', async () => {
		const limiter = new RequestLimiter({ concurrency: 8, maxRequestsPerMinute: 0 });
		// Slow start: SLOW_START_LIMIT in flight, one more per accepted answer: five answers make room for eight.
		for (let i = 0; i < 8 - SLOW_START_LIMIT; i++) {
			await request(limiter, 0);
			limiter.succeeded();
		}
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
		expect(limiter.stats).toMatchObject({ rateLimited: 2 });
		expect(limiter.shared.stats).toMatchObject({ rateLimited: 2, decreases: 1 });
	});

	test('a request started after the cut may cut again, down to 1', async () => {
		const limiter = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0 });
		// Answers the second before the first 429 make its pace fast (see the pacing tests below).
		for (let i = 0; i < 40; i++) {
			await request(limiter, 0);
			limiter.succeeded();
		}
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
		// Each start is at least one interval after the slot before it: the k-th never before k × 50 ms
		// after the first. (Gaps between neighbours are not checked one by one: a timer that fires late
		// under load makes one gap longer and the next one shorter, with every start still on time.)
		for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[0]).toBeGreaterThanOrEqual(50 * i - 2);
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
		for (let i = 0; i < 40; i++) {
			await request(a, 0); // a fast first pace, as above, and room for eight in flight
			a.succeeded();
		}
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
		const first = await request(paced, 0);
		const starts = await Promise.all([
			...Array.from({ length: 3 }, () => request(free, 0)),
			...Array.from({ length: 3 }, () => request(paced, 0)),
		]);
		starts.sort((x, y) => x - y);
		// Slot i is exactly 50 ms × i after the first request; a start may lag its slot (a busy event
		// loop), never lead it (beyond a timer's millisecond).
		starts.forEach((at, i) => expect(at - first).toBeGreaterThanOrEqual(50 * (i + 1) - 2));
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
		// well under the other credential's 300 ms pause (what the cancelled waiters must not sit out)
		expect(Date.now() - before).toBeLessThan(250);
		expect(await otherDone).toBeGreaterThanOrEqual(290);
		expect(other.shared.inFlight).toBe(0);
	});
});

describe('pacing learned from 429s (SharedRateState, explicit clock)', () => {
	/** `count` accepted requests, one after another on the wire from `from`, each `gapMs` long; returns when the last ended. */
	function accept(state: SharedRateState, from: number, count: number, gapMs: number): number {
		let t = from;
		for (let i = 0; i < count; i++) {
			state.reserve(t);
			state.finished(t, 'accepted', t + gapMs);
			state.succeeded();
			t += gapMs;
		}
		return t;
	}

	/** A request started at `at`, answered 429 (Retry-After `retryAfterMs`) 1 ms later; returns what it must wait alone from then. */
	function rateLimit(state: SharedRateState, at: number, retryAfterMs = 1000, random = 0): number {
		state.reserve(at);
		state.finished(at, 'rate-limited', at + 1);
		return state.rateLimited(retryAfterMs, at, at + 1, () => random);
	}

	test('slow start: 3 in flight at first, starts 40 ms apart narrowing to 10 ms, one more per accepted answer, no limit and no spacing past 64', () => {
		const spaced = new SharedRateState(0);
		expect(spaced.reserve(0)).toBe(0);
		expect(spaced.reserve(0)).toBe(SLOW_START_SPACING_MS);
		expect(spaced.reserve(0)).toBe(2 * SLOW_START_SPACING_MS);
		expect(SLOW_START_SPACING_MS).toBe(40);
		expect([0, 1, 3, 6, 7, 100].map(slowStartSpacing)).toEqual([40, 35, 25, SLOW_START_SPACING_MIN_MS, 10, 10]);
		const state = new SharedRateState(0);
		expect(state.limit).toBe(SLOW_START_LIMIT);
		accept(state, 0, 3, 10);
		expect(state.limit).toBe(SLOW_START_LIMIT + 3);
		// 3 accepted: the next starts are slowStartSpacing(3) = 25 ms apart.
		const next = state.reserve(1000);
		expect(state.reserve(1000)).toBe(next + slowStartSpacing(3));
		state.unreserve();
		state.unreserve();
		accept(state, 2000, SLOW_START_END, 1);
		expect(state.limit).toBe(Number.POSITIVE_INFINITY);
		// The slow start has ended without a 429: requests are not spaced at all (a server without a
		// rate limit gets what Concurrency allows, not 1 / SLOW_START_SPACING_MIN_MS).
		expect([state.reserve(5000), state.reserve(5000), state.reserve(5000)]).toEqual([5000, 5000, 5000]);
	});

	test('the first 429 sets the pace at 70 % of the rate accepted since the first request, and pauses every request for the Retry-After', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 20, 50); // 20 in the first second
		expect(state.ratePerSecond).toBeUndefined();
		expect(rateLimit(state, 999)).toBe(0); // the pause covers the refused request too
		expect(state.ratePerSecond).toBeCloseTo(provisionalRate(20, 1000), 9);
		expect(state.ratePerSecond).toBeCloseTo(14, 9);
		expect(state.pausedUntil).toBe(2000);
		const first = state.reserve(1500, () => 0.5);
		const second = state.reserve(1500, () => 0.5); // jitter 0.5 = the interval itself
		expect(first).toBe(2000);
		expect(second - first).toBeCloseTo(1000 / 14, 6);
		const third = state.reserve(1500, () => 0);
		expect(third - second).toBeCloseTo(1000 / 14 / 2, 6); // jitter 0 = half of it
		// Over a longer start the rate is taken over all of it (a quick first 429 counts half a second).
		const slow = new SharedRateState(0);
		accept(slow, 0, 20, 50);
		accept(slow, 3000, 20, 50);
		rateLimit(slow, 3999);
		expect(slow.ratePerSecond).toBeCloseTo((0.7 * 40) / 4, 9);
		expect(provisionalRate(10, 200)).toBeCloseTo(14, 9);
	});

	test('an answer saying nothing is left of the quota (rate-limit header) sets the first pace without pausing anyone, then cuts 10 % under the rule a 429 follows', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 20, 50);
		state.quotaUsedUp(950, 1000);
		expect(state.ratePerSecond).toBeCloseTo(provisionalRate(20, 1000), 9);
		expect(state.pausedUntil).toBe(0);
		expect(state.stats.rateLimited).toBe(0);
		expect(state.limit).toBe(SLOW_START_LIMIT + 20); // no halving: nothing was refused
		// A request sent before the pace was set: no cut.
		state.quotaUsedUp(990, 1500);
		expect(state.ratePerSecond).toBeCloseTo(14, 9);
		// One sent since, two intervals later: cut by QUOTA_USED_UP_CUT_FRACTION, no pause, no 429 counted.
		state.quotaUsedUp(1200, 1300 + 2 * (1000 / 14));
		expect(QUOTA_USED_UP_CUT_FRACTION).toBe(0.1);
		expect(state.ratePerSecond).toBeCloseTo(cutRate(14, QUOTA_USED_UP_CUT_FRACTION), 9);
		expect(state.ratePerSecond).toBeCloseTo(12.6, 9);
		expect([state.pausedUntil, state.stats.rateLimited, state.stats.cuts]).toEqual([0, 0, 1]);
		// At once again: within the hold, no second cut.
		state.quotaUsedUp(1300 + 2 * (1000 / 14) + 1, 1300 + 2 * (1000 / 14) + 2);
		expect(state.ratePerSecond).toBeCloseTo(12.6, 9);
		// The first real 429 after that is a later one: a cut and a skip, not a whole-Retry-After pause for everyone.
		const at = 5000;
		const own = rateLimit(state, at, 1000, 0);
		expect(own).toBe(1000);
		expect(state.pausedUntil).toBeLessThan(at + 1 + 1000);
	});

	test('an answer saying half or more of the quota is left grows the pace while the pace holds requests back, and only then', () => {
		expect([quotaLeftOver(undefined), quotaLeftOver(0.49), quotaLeftOver(QUOTA_LEFT_FRACTION), quotaLeftOver(1)]).toEqual([false, false, true, true]);
		const state = new SharedRateState(0);
		// No pace yet (slow start): nothing to grow.
		accept(state, 0, 20, 50);
		state.quotaLeft(990);
		expect(state.ratePerSecond).toBeUndefined();
		rateLimit(state, 999); // pace 14, pause until 2000
		// The pace delays the next start (the slot after the pause is taken at once, the next one waits):
		state.reserve(2000);
		state.reserve(2001);
		state.quotaLeft(2002);
		expect(state.ratePerSecond).toBeCloseTo(14 * (1 + QUOTA_LEFT_GROWTH), 9);
		expect([state.pausedUntil, state.stats.cuts, state.stats.rateLimited]).toEqual([2000, 0, 1]);
		// What is left would not last at the grown pace until the reset (a window that just began): no growth.
		state.quotaLeft(2003, 14 * (1 + QUOTA_LEFT_GROWTH) ** 2 - 0.01);
		expect(state.ratePerSecond).toBeCloseTo(14 * (1 + QUOTA_LEFT_GROWTH), 9);
		state.quotaLeft(2004, 14 * (1 + QUOTA_LEFT_GROWTH) ** 2);
		expect(state.ratePerSecond).toBeCloseTo(14 * (1 + QUOTA_LEFT_GROWTH) ** 2, 9);
		// Long after the last start (the pace held nothing back: the run had no items to send): no growth.
		state.quotaLeft(60_000);
		expect(state.ratePerSecond).toBeCloseTo(14 * (1 + QUOTA_LEFT_GROWTH) ** 2, 9);
	});

	test('RequestLimiter.quotaReport: nothing left slows the pace, half or more left grows it, anything between changes nothing', () => {
		let clock = 0;
		const limiter = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0, now: () => clock, random: () => 0.5 });
		const state = limiter.shared;
		accept(state, 0, 20, 50);
		clock = 1000;
		limiter.quotaReport(950, { remaining: 0, fractionLeft: 0 });
		expect(state.ratePerSecond).toBeCloseTo(provisionalRate(20, 1000), 9);
		state.reserve(1000);
		state.reserve(1001);
		clock = 1002;
		limiter.quotaReport(1000, { remaining: 6, fractionLeft: 0.3 });
		limiter.quotaReport(1000, { remaining: 6 }); // no limit named: no share known
		expect(state.ratePerSecond).toBeCloseTo(14, 9);
		limiter.quotaReport(1000, { remaining: 12, fractionLeft: 0.6 });
		expect(state.ratePerSecond).toBeCloseTo(14 * (1 + QUOTA_LEFT_GROWTH), 9);
		expect(state.stats.rateLimited).toBe(0);
	});

	test('a process that got nothing through before its first 429 starts at the lowest first pace', () => {
		const state = new SharedRateState(0);
		rateLimit(state, 0);
		expect(state.ratePerSecond).toBe(PROVISIONAL_MIN_PER_SECOND);
	});

	test('a later 429 cuts the pace if its request was sent since the last cut (at most once per hold); the others skip a slot or two, the refused request waits its Retry-After', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 20, 50);
		rateLimit(state, 999); // pace 14, pause until 2000; last cut = 1000
		const own = rateLimit(state, 3000, 1000, 0);
		expect(state.ratePerSecond).toBeCloseTo(cutRate(14), 9);
		expect(state.stats.cuts).toBe(1);
		const interval = 1000 / cutRate(14);
		expect(state.pausedUntil).toBeCloseTo(3001 + interval, 6); // one slot (random 0)
		// its own wait is the whole Retry-After from the answer (the shorter pause runs alongside it)
		expect(own).toBe(1000);
		// A request sent before that cut (at the old pace) and refused later does not cut again; the longest
		// skip is 1 + SKIP_JITTER slots.
		state.reserve(2990);
		state.finished(2990, 'rate-limited', 3101);
		state.rateLimited(1000, 2990, 3101, () => 0.999999);
		expect(state.ratePerSecond).toBeCloseTo(cutRate(14), 9);
		expect(state.stats.cuts).toBe(1);
		expect(state.pausedUntil).toBeCloseTo(3101 + skipAfterRateLimit(cutRate(14), 1000, 0.999999), 6);
		expect(state.pausedUntil - 3101).toBeGreaterThan(interval * SKIP_JITTER);
		// One sent after the cut but answered within CUT_HOLD_INTERVALS intervals of it: no cut either.
		rateLimit(state, 3002);
		expect(state.stats.cuts).toBe(1);
		// Sent after the cut and answered after the hold: cut again.
		rateLimit(state, 3001 + CUT_HOLD_INTERVALS * interval);
		expect(state.ratePerSecond).toBeCloseTo(cutRate(cutRate(14)), 9);
		expect(state.stats.cuts).toBe(2);
	});

	test('each accepted answer grows the pace while the pace is what holds requests back, not otherwise', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 20, 50);
		rateLimit(state, 999); // pace 14 from 1000, pause until 2000
		const pace = state.ratePerSecond!;
		const a = state.reserve(2000, () => 0.5);
		const b = state.reserve(2000, () => 0.5); // held back by the pace
		expect(b).toBeGreaterThan(a);
		state.finished(a, 'accepted', a + 200);
		expect(state.ratePerSecond).toBeCloseTo(answerGrownRate(pace, 1), 9);
		state.finished(b, 'accepted', b + 200);
		expect(state.ratePerSecond).toBeCloseTo(answerGrownRate(answerGrownRate(pace, 1), 2), 9);
		// Ten seconds later nothing was held back by the pace: an answer does not grow it.
		const grown = state.ratePerSecond!;
		state.finished(12_000, 'accepted', 12_200);
		expect(state.ratePerSecond).toBe(grown);
		// A 429 for a request sent after the last cut (and past the hold) cuts it and starts the count again.
		rateLimit(state, 12_300);
		expect(state.ratePerSecond).toBeCloseTo(cutRate(grown), 9);
	});

	test('while requests use the pace up and no 429 comes, it grows, faster the longer no 429 came', () => {
		const state = new SharedRateState(0);
		accept(state, 0, 15, 66);
		rateLimit(state, 999); // first pace at 1000: 70 % of 15 per second
		const pace = state.ratePerSecond!;
		expect(pace).toBeCloseTo(10.5, 9);
		let t = 3000;
		state.reserve(t); // nothing sent since the pace was set: no growth
		expect(state.ratePerSecond).toBe(pace);
		for (let i = 0; i < 9; i++) state.reserve(t); // ten slots in the next second: the pace is used up
		t += 1000;
		state.reserve(t);
		const expected = grownRate(pace, 1000, 4000 - 1000);
		expect(expected).toBeGreaterThan(pace * (1 + GROWTH_PER_SECOND));
		expect(state.ratePerSecond).toBeCloseTo(expected, 9);
		// One slot in the next five seconds does not use a pace of 10 per second up: no growth.
		state.reserve(t + 5000);
		expect(state.ratePerSecond).toBeCloseTo(expected, 9);
		expect(paceUsedUp(8, 10, 1000)).toBe(true);
		expect(paceUsedUp(7, 10, 1000)).toBe(false);
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
		busyState.unreserve();
	});

	test('the number of states is bounded', () => {
		const now = Date.now();
		for (let i = 0; i < MAX_SHARED_STATES + 20; i++) sharedRateState(ENDPOINT, `cloman_sk_bound_${i}`, now);
		expect(sharedRateStateCount()).toBeLessThanOrEqual(MAX_SHARED_STATES);
	});
});
