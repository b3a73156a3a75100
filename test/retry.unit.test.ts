import {
	BACKOFF_BASE_MS,
	BACKOFF_MAX_MS,
	RETRY_AFTER_CAP_MS,
	backoffDelay,
	decideRetry,
	isRetryableNetworkCode,
	isRetryableStatus,
	parseQuota,
	parseRetryAfter,
} from '../nodes/CloMan/transport/retry';
import {
	GROWTH_DOUBLING_MS,
	GROWTH_MAX_PER_SECOND,
	GROWTH_PER_SECOND,
	MIN_RATE_PER_SECOND,
	PROVISIONAL_MIN_PER_SECOND,
	SKIP_JITTER,
	SLOW_START_END,
	cutRate,
	grownLimit,
	grownRate,
	growthPerSecond,
	halvedLimit,
	intervalForPerMinute,
	intervalForRate,
	cutsPace,
	CUT_HOLD_INTERVALS,
	answerGrownRate,
	ANSWER_GROWTH,
	ANSWER_GROWTH_DOUBLING,
	ANSWER_GROWTH_MAX,
	jitteredInterval,
	PACE_JITTER,
	paceHolding,
	PACE_HELD_INTERVALS,
	PACE_HELD_SLACK_MS,
	nextSlot,
	provisionalRate,
	skipAfterRateLimit,
	slowStartLimit,
} from '../nodes/CloMan/transport/pacing';
import { endpointFromBaseUrl, unusableDecisionProblem } from '../nodes/CloMan/transport';
import { excerpt, failureFromResponse, kindForStatus, networkFailure, redact } from '../nodes/CloMan/transport/errors';

describe('Retry-After parsing', () => {
	const now = Date.parse('2026-11-23T10:00:00Z');
	test.each([
		['0', 0],
		['1', 1000],
		['120', 120_000],
		['1.5', 1500],
		[' 7 ', 7000],
	])('delta-seconds %p → %p ms', (value, ms) => expect(parseRetryAfter(value, now)).toBe(ms));

	test('HTTP date in the future and in the past', () => {
		expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
		expect(parseRetryAfter('Mon, 23 Nov 2026 09:59:00 GMT', now)).toBe(0);
	});

	test.each([[undefined], [''], ['soon'], ['-5'], [null], [{}]])('unreadable %p → undefined', (value) =>
		expect(parseRetryAfter(value, now)).toBeUndefined(),
	);

	test('a number from the error envelope counts as seconds', () => {
		expect(parseRetryAfter(2, 0)).toBe(2000);
	});
});

describe('backoff', () => {
	test('grows exponentially, jittered between half and the whole step, capped', () => {
		for (let retry = 1; retry <= 8; retry++) {
			const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
			expect(backoffDelay(retry, () => 0)).toBe(step / 2);
			expect(backoffDelay(retry, () => 1)).toBe(step);
		}
		expect(backoffDelay(30, () => 1)).toBe(BACKOFF_MAX_MS);
	});
});

describe('what is retried', () => {
	test.each([429, 500, 502, 503, 504])('status %p is retried', (status) => expect(isRetryableStatus(status)).toBe(true));
	test.each([200, 400, 401, 403, 404, 409, 422, 501, 505])('status %p is not', (status) =>
		expect(isRetryableStatus(status)).toBe(false),
	);
	test.each(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE'])('network %p is retried', (code) =>
		expect(isRetryableNetworkCode(code)).toBe(true),
	);
	test.each(['ENOTFOUND', 'CERT_HAS_EXPIRED', 'ERR_CANCELED', undefined, 'SOMETHING_NEW'])('network %p is not', (code) =>
		expect(isRetryableNetworkCode(code)).toBe(false),
	);

	test('server waits are obeyed exactly, up to the cap; longer ones are refused, never shortened', () => {
		expect(decideRetry({ retriesUsed: 0, maxRetries: 3, retryable: true, retryAfterMs: 2500 })).toEqual({
			retry: true,
			delayMs: 2500,
			fromServer: true,
			spendsRetry: true,
		});
		for (const rateLimited of [false, true]) {
			expect(
				decideRetry({ retriesUsed: 0, maxRetries: 3, retryable: true, rateLimited, retryAfterMs: RETRY_AFTER_CAP_MS + 1 }),
			).toEqual({ retry: false, reason: 'retry-after-too-long' });
		}
	});

	test('at most maxRetries retries; nothing for non-retryable answers', () => {
		expect(decideRetry({ retriesUsed: 2, maxRetries: 3, retryable: true, random: () => 0 })).toMatchObject({
			retry: true,
			spendsRetry: true,
		});
		expect(decideRetry({ retriesUsed: 3, maxRetries: 3, retryable: true })).toEqual({ retry: false, reason: 'exhausted' });
		expect(decideRetry({ retriesUsed: 0, maxRetries: 0, retryable: true })).toEqual({ retry: false, reason: 'exhausted' });
		expect(decideRetry({ retriesUsed: 0, maxRetries: 3, retryable: false })).toEqual({
			retry: false,
			reason: 'not-retryable',
		});
	});

	test('a 429 with Retry-After is a wait, not a failure: it spends no retry, even with Max Retries 0 or used up', () => {
		for (const retriesUsed of [0, 3]) {
			expect(
				decideRetry({ retriesUsed, maxRetries: retriesUsed, retryable: true, rateLimited: true, retryAfterMs: 1000, rateLimitWaitedMs: 0, maxRateLimitWaitMs: 300_000 }),
			).toEqual({ retry: true, delayMs: 1000, fromServer: true, spendsRetry: false });
		}
	});

	test('the total rate-limit wait per item bounds 429 waits', () => {
		const base = { retriesUsed: 0, maxRetries: 3, retryable: true, rateLimited: true, maxRateLimitWaitMs: 10_000 };
		expect(decideRetry({ ...base, retryAfterMs: 1000, rateLimitWaitedMs: 9000 }).retry).toBe(true);
		expect(decideRetry({ ...base, retryAfterMs: 1000, rateLimitWaitedMs: 9001 })).toEqual({ retry: false, reason: 'wait-limit' });
		// 0 = never wait for a rate limit: the first 429 fails, whatever its Retry-After.
		expect(decideRetry({ ...base, maxRateLimitWaitMs: 0, retryAfterMs: 1000, rateLimitWaitedMs: 0 })).toEqual({ retry: false, reason: 'wait-limit' });
		expect(decideRetry({ ...base, maxRateLimitWaitMs: 0, retryAfterMs: 0, rateLimitWaitedMs: 0 })).toEqual({ retry: false, reason: 'wait-limit' });
	});

	test('a Retry-After of 0 cannot spin: it waits the backoff of the item’s 429 count, still without spending a retry', () => {
		const base = { retriesUsed: 0, maxRetries: 0, retryable: true, rateLimited: true, retryAfterMs: 0, rateLimitWaitedMs: 0, maxRateLimitWaitMs: 300_000 };
		expect(decideRetry({ ...base, rateLimits: 1, random: () => 1 })).toEqual({ retry: true, delayMs: BACKOFF_BASE_MS, fromServer: true, spendsRetry: false });
		expect(decideRetry({ ...base, rateLimits: 30, random: () => 1 })).toMatchObject({ delayMs: BACKOFF_MAX_MS });
		expect(decideRetry({ ...base, rateLimits: 30, rateLimitWaitedMs: 299_000 })).toEqual({ retry: false, reason: 'wait-limit' });
	});

	test('a 429 that names no wait backs off, spends a retry, and its wait counts towards the bound', () => {
		const base = { maxRetries: 3, retryable: true, rateLimited: true, maxRateLimitWaitMs: 10_000, random: () => 0 };
		expect(decideRetry({ ...base, retriesUsed: 0, rateLimitWaitedMs: 0 })).toEqual({
			retry: true,
			delayMs: BACKOFF_BASE_MS / 2,
			fromServer: false,
			spendsRetry: true,
		});
		expect(decideRetry({ ...base, retriesUsed: 3, rateLimitWaitedMs: 0 })).toEqual({ retry: false, reason: 'exhausted' });
		expect(decideRetry({ ...base, retriesUsed: 0, rateLimitWaitedMs: 9900 })).toEqual({ retry: false, reason: 'wait-limit' });
	});
});

describe('pacing policy', () => {
	test('the first pace: 70 % of the rate accepted before the first 429 (over at least half a second), at least 1 per second', () => {
		expect(provisionalRate(20, 1000)).toBeCloseTo(14, 9);
		expect(provisionalRate(10, 300)).toBeCloseTo(14, 9); // 300 ms counts as 500
		expect(provisionalRate(80, 4000)).toBeCloseTo(14, 9);
		expect(provisionalRate(0, 1000)).toBe(PROVISIONAL_MIN_PER_SECOND);
	});

	test('a 429 cuts the pace by 30 %, not below the minimum, only for a request sent since the last cut, at most once per hold', () => {
		expect(cutRate(20)).toBeCloseTo(14, 9);
		expect(cutRate(MIN_RATE_PER_SECOND)).toBe(MIN_RATE_PER_SECOND);
		// a request sent since the last cut, and CUT_HOLD_INTERVALS intervals (here of 50 ms) after it
		expect(cutsPace(1001, 1000, 1000 + CUT_HOLD_INTERVALS * 50, 20)).toBe(true);
		expect(cutsPace(1001, 1000, 1000 + CUT_HOLD_INTERVALS * 50 - 1, 20)).toBe(false);
		expect(cutsPace(1000, 1000, 5000, 20)).toBe(false);
		expect(cutsPace(400, 1000, 5000, 20)).toBe(false);
	});

	test('each accepted answer grows the pace a little, more the longer no 429 came, up to a maximum', () => {
		expect(answerGrownRate(10, 0)).toBeCloseTo(10 * (1 + ANSWER_GROWTH), 9);
		expect(answerGrownRate(10, ANSWER_GROWTH_DOUBLING)).toBeCloseTo(10 * (1 + 2 * ANSWER_GROWTH), 9);
		expect(answerGrownRate(10, 100 * ANSWER_GROWTH_DOUBLING)).toBeCloseTo(10 * (1 + ANSWER_GROWTH_MAX), 9);
	});

	test('the pace holds requests back when it delayed one within two of its intervals (plus slack)', () => {
		const window = PACE_HELD_INTERVALS * 50 + PACE_HELD_SLACK_MS;
		expect(paceHolding(10_000, 10_000 - window, 20)).toBe(true);
		expect(paceHolding(10_000, 10_000 - window - 1, 20)).toBe(false);
		expect(paceHolding(10_000, Number.NEGATIVE_INFINITY, 20)).toBe(false);
	});

	test('request starts are spaced by the pace ± PACE_JITTER', () => {
		expect(jitteredInterval(100, 0)).toBeCloseTo(100 * (1 - PACE_JITTER), 9);
		expect(jitteredInterval(100, 0.5)).toBeCloseTo(100, 9);
		expect(jitteredInterval(100, 1)).toBeCloseTo(100 * (1 + PACE_JITTER), 9);
	});

	test('after a 429 the others skip 1 to 1 + SKIP_JITTER slots, never longer than the Retry-After', () => {
		expect(skipAfterRateLimit(20, 1000, 0)).toBe(50);
		expect(skipAfterRateLimit(20, 1000, 1)).toBe(50 * (1 + SKIP_JITTER));
		expect(skipAfterRateLimit(0.5, 1000, 0.5)).toBe(1000);
	});

	test('the pace grows per second, the growth doubling the longer no 429 came, up to a maximum', () => {
		expect(growthPerSecond(0)).toBeCloseTo(GROWTH_PER_SECOND, 9);
		expect(growthPerSecond(GROWTH_DOUBLING_MS)).toBeCloseTo(2 * GROWTH_PER_SECOND, 9);
		expect(growthPerSecond(Number.MAX_SAFE_INTEGER)).toBe(GROWTH_MAX_PER_SECOND);
		expect(grownRate(10, 1000, 0)).toBeCloseTo(10 * (1 + GROWTH_PER_SECOND), 9);
		expect(grownRate(10, 500, 0)).toBeCloseTo(10 * Math.sqrt(1 + GROWTH_PER_SECOND), 9);
	});

	test('slow start: one more in flight per answer, no limit from SLOW_START_END on', () => {
		expect(slowStartLimit(8)).toBe(9);
		expect(slowStartLimit(SLOW_START_END - 1)).toBe(Number.POSITIVE_INFINITY);
	});

	test('intervals from a rate and from a per-minute quota; 0 = none', () => {
		expect(intervalForRate(20)).toBe(50);
		expect(intervalForRate(undefined)).toBe(0);
		expect(intervalForPerMinute(600)).toBe(100);
		expect(intervalForPerMinute(0)).toBe(0);
	});

	test('the next slot waits for the pause and the spacing, never starts in the past', () => {
		expect(nextSlot(1000, 0, 990, 50)).toBe(1040);
		expect(nextSlot(1000, 1500, 990, 50)).toBe(1500);
		expect(nextSlot(1000, 0, 100, 50)).toBe(1000);
		expect(nextSlot(1000, 0, Number.NEGATIVE_INFINITY, 0)).toBe(1000);
	});

	test('AIMD: halve what was in flight (at least 1), add one per full round of successes', () => {
		expect(halvedLimit(Number.POSITIVE_INFINITY, 15)).toBe(8);
		expect(halvedLimit(6, 15)).toBe(3);
		expect(halvedLimit(1, 0)).toBe(1);
		expect(grownLimit(4, 3)).toEqual({ limit: 4, successes: 3 });
		expect(grownLimit(4, 4)).toEqual({ limit: 5, successes: 0 });
		expect(grownLimit(Number.POSITIVE_INFINITY, 9)).toEqual({ limit: Number.POSITIVE_INFINITY, successes: 0 });
	});
});

describe('error mapping', () => {
	test.each([
		[401, 'AuthenticationError'],
		[403, 'AuthorizationError'],
		[404, 'NotFoundError'],
		[422, 'ValidationError'],
		[429, 'RateLimitError'],
		[500, 'ServerError'],
		[502, 'ServerError'],
		[503, 'ServerError'],
		[400, 'CloManError'],
	])('status %p is a %s, as in the Python SDK', (status, kind) => expect(kindForStatus(status)).toBe(kind));

	test('the envelope keeps code, message, status, details and request_id', () => {
		const failure = failureFromResponse(
			422,
			{ 'x-request-id': 'req_header' },
			{
				error: {
					code: 'VALIDATION_ERROR',
					message: 'context must be non-empty',
					status: 422,
					details: { field: 'context' },
					request_id: 'req_body',
				},
			},
			1,
		);
		expect(failure).toEqual({
			kind: 'ValidationError',
			code: 'VALIDATION_ERROR',
			message: 'context must be non-empty',
			status: 422,
			details: { field: 'context' },
			request_id: 'req_body',
			attempts: 1,
		});
	});

	test('an HTML page from a proxy gives a short excerpt, not a crash', () => {
		const html = `<html><head><title>502 Bad Gateway</title></head><body>${'x'.repeat(5000)}</body></html>`;
		const failure = failureFromResponse(502, { 'x-request-id': 'req_9' }, html, 4);
		expect(failure.kind).toBe('ServerError');
		expect(failure.code).toBe('HTTP_502');
		expect(failure.message).toContain('502 Bad Gateway');
		expect(failure.message.length).toBeLessThan(300);
		expect(failure.request_id).toBe('req_9');
		expect(excerpt(html).length).toBeLessThanOrEqual(201);
	});

	test('timeouts and connection failures', () => {
		expect(networkFailure('ECONNABORTED', 'timeout of 1000ms exceeded', 2, 1000)).toMatchObject({
			kind: 'TimeoutError',
			code: 'TIMEOUT',
			attempts: 2,
		});
		expect(networkFailure('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9', 1, 1000)).toMatchObject({
			kind: 'ConnectionError',
			code: 'ECONNREFUSED',
		});
	});

	test('redact removes a secret from every string, deeply', () => {
		expect(redact({ a: 'key=sk_1', b: ['sk_1', { c: 'x sk_1 y' }], d: 3 }, 'sk_1')).toEqual({
			a: 'key=[redacted]',
			b: ['[redacted]', { c: 'x [redacted] y' }],
			d: 3,
		});
	});
});

describe('base URL', () => {
	test.each([
		['https://api.cloman.app', 'https://api.cloman.app/api/v1/public/decide'],
		['https://api.cloman.app/', 'https://api.cloman.app/api/v1/public/decide'],
		['http://127.0.0.1:8080//', 'http://127.0.0.1:8080/api/v1/public/decide'],
		['  https://cloman.internal:8443  ', 'https://cloman.internal:8443/api/v1/public/decide'],
	])('%p is accepted', (raw, url) => expect(endpointFromBaseUrl(raw)).toEqual({ url }));

	test.each([
		['ftp://api.cloman.app', /http:\/\/ or https:\/\//],
		['api.cloman.app', /not a URL|http/],
		['https://api.cloman .app', /spaces/],
		['https://api.cloman.app/api/v1/public/decide', /root.*path/],
		['https://api.cloman.app/?x=1', /root/],
		['https://user:pw@api.cloman.app', /user name or password/],
		['', /empty/],
	])('%p is refused with a clear message', (raw, message) => {
		const result = endpointFromBaseUrl(raw);
		expect('error' in result && result.error).toMatch(message);
	});
});

describe('a usable 200 body', () => {
	const good = {
		decision_id: 'dec_1',
		decision: 'approve',
		confidence: 0.9,
		requires_human_review: false,
		was_escalated: false,
	};
	test('is accepted', () => expect(unusableDecisionProblem(good)).toBeUndefined());
	test.each([
		[{ ...good, decision: undefined }, /decision/],
		[{ ...good, decision: '  ' }, /decision/],
		[{ ...good, confidence: '0.9' }, /confidence/],
		[{ ...good, confidence: 1.7 }, /confidence/],
		[{ ...good, requires_human_review: 'no' }, /requires_human_review/],
		[{ ...good, decision_id: 5 }, /decision_id/],
		['not json', /not a JSON object/],
		[[good], /not a JSON object/],
	])('%p is refused', (body, problem) => expect(unusableDecisionProblem(body)).toMatch(problem));
});

describe('rate-limit headers (used when a server sends them; CloMan documents none)', () => {
	test.each([
		[{}, undefined],
		[{ 'ratelimit-remaining': '0' }, 0],
		[{ 'ratelimit-remaining': '7' }, 7],
		[{ 'x-ratelimit-remaining': '3' }, 3],
		[{ 'x-ratelimit-remaining': 2 }, 2],
		[{ 'ratelimit-remaining': '5, 0' }, 0], // one value per policy: the lowest counts
		[{ 'ratelimit-remaining': ['4', '9'] }, 4],
		[{ 'ratelimit-remaining': '9', 'x-ratelimit-remaining': '1' }, 1],
		[{ ratelimit: 'limit=20, remaining=0, reset=1' }, 0], // IETF draft 03–07
		[{ ratelimit: '"default";r=12;t=1' }, 12], // IETF draft 08+
		[{ ratelimit: '"burst";r=3;t=1, "daily";r=900;t=3600' }, 3],
		[{ 'ratelimit-remaining': 'many' }, undefined],
		[{ 'ratelimit-remaining': '-1' }, undefined],
		[{ 'ratelimit-remaining': '' }, undefined],
		[{ ratelimit: 'limit=20' }, undefined],
		[{ 'ratelimit-limit': '20', 'ratelimit-reset': '1' }, undefined],
	])('%p → %p', (headers, remaining) => expect(parseQuota(headers as Record<string, unknown>).remaining).toBe(remaining));

	test.each([
		[{ 'ratelimit-remaining': '7' }, undefined], // no limit named: no share
		[{ 'ratelimit-limit': '20', 'ratelimit-remaining': '10' }, 0.5],
		[{ 'x-ratelimit-limit': '40', 'x-ratelimit-remaining': '10' }, 0.25],
		[{ 'ratelimit-limit': '10, 10;w=1, 1000;w=3600', 'ratelimit-remaining': '9' }, 0.9], // draft 03: the first limit is the one in force
		[{ 'ratelimit-limit': '20, 1000', 'ratelimit-remaining': '18, 100' }, 0.1], // pairs in order, the lowest share
		[{ 'ratelimit-limit': '0', 'ratelimit-remaining': '0' }, undefined],
		[{ ratelimit: 'limit=20, remaining=15, reset=1' }, 0.75],
		[{ ratelimit: '"burst";r=15;t=1, "daily";r=100;t=3600', 'ratelimit-policy': '"burst";q=20;w=1, "daily";q=1000;w=86400' }, 0.1],
		[{ ratelimit: '"burst";r=15;t=1', 'ratelimit-policy': '"daily";q=1000;w=86400' }, undefined], // no policy of that name
		[{ ratelimit: '"burst";r=15;t=1' }, undefined],
	])('%p: share left %p', (headers, fractionLeft) => {
		const report = parseQuota(headers as Record<string, unknown>);
		if (fractionLeft === undefined) expect(report.fractionLeft).toBeUndefined();
		else expect(report.fractionLeft).toBeCloseTo(fractionLeft, 9);
	});

	test.each([
		[{ 'ratelimit-limit': '20', 'ratelimit-remaining': '10' }, undefined], // no reset named
		[{ 'ratelimit-limit': '20', 'ratelimit-remaining': '10', 'ratelimit-reset': '2' }, 5], // 10 left for 2 s
		[{ 'ratelimit-limit': '20', 'ratelimit-remaining': '20', 'ratelimit-reset': '0' }, Number.POSITIVE_INFINITY],
		[{ 'ratelimit-limit': '20', 'ratelimit-remaining': '12', 'ratelimit-reset': '1' }, Number.POSITIVE_INFINITY], // within a second: says nothing
		[{ 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4000', 'x-ratelimit-reset': String(1_800_000_000 + 2000) }, 2], // a Unix time: 2,000 s from now
		[{ ratelimit: 'limit=100, remaining=60, reset=30' }, 2],
		[{ ratelimit: '"burst";r=15;t=1, "daily";r=900;t=3600' }, 0.25],
	])('%p: sustains %p requests/s until the reset', (headers, perSecond) => {
		const report = parseQuota(headers as Record<string, unknown>, 1_800_000_000 * 1000);
		if (perSecond === undefined) expect(report.sustainablePerSecond).toBeUndefined();
		else expect(report.sustainablePerSecond).toBeCloseTo(perSecond, 9);
	});
});
