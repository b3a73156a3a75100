import { CancelledError, RequestLimiter, wait } from '../nodes/CloMan/transport/limiter';

describe('RequestLimiter', () => {
	test('never more than the limit in flight', async () => {
		const limiter = new RequestLimiter({ concurrency: 3, maxRequestsPerMinute: 0 });
		let inFlight = 0;
		let peak = 0;
		await Promise.all(
			Array.from({ length: 20 }, async () => {
				await limiter.acquire();
				inFlight++;
				peak = Math.max(peak, inFlight);
				await wait(5);
				inFlight--;
				limiter.release();
			}),
		);
		expect(peak).toBe(3);
	});

	test('a 429 pauses everyone until the Retry-After moment and halves the limit once per burst', async () => {
		const limiter = new RequestLimiter({ concurrency: 8, maxRequestsPerMinute: 0 });
		const startedAt = await limiter.acquire();
		limiter.release();
		limiter.rateLimited(300, startedAt);
		limiter.rateLimited(300, startedAt); // same burst: no second cut
		expect(limiter.limit).toBe(4);
		const before = Date.now();
		await limiter.acquire();
		expect(Date.now() - before).toBeGreaterThanOrEqual(295);
		limiter.release();
		// additive increase: +1 after `limit` successes
		for (let i = 0; i < 4; i++) limiter.succeeded();
		expect(limiter.limit).toBe(5);
		expect(limiter.stats).toMatchObject({ rateLimited: 2, decreases: 1, lowestLimit: 4 });
	});

	test('a request started after the cut may cut again, down to 1', async () => {
		const limiter = new RequestLimiter({ concurrency: 4, maxRequestsPerMinute: 0 });
		for (let i = 0; i < 4; i++) {
			const started = await limiter.acquire();
			limiter.release();
			limiter.rateLimited(1, started);
			await wait(3);
		}
		expect(limiter.limit).toBe(1);
	});

	test('max requests per minute spaces request starts evenly', async () => {
		const limiter = new RequestLimiter({ concurrency: 10, maxRequestsPerMinute: 1200 }); // one per 50 ms
		const starts: number[] = [];
		await Promise.all(
			Array.from({ length: 5 }, async () => {
				starts.push(await limiter.acquire());
				limiter.release();
			}),
		);
		starts.sort((a, b) => a - b);
		for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(45);
	});

	test('cancellation stops waiting at once', async () => {
		const controller = new AbortController();
		const limiter = new RequestLimiter({ concurrency: 1, maxRequestsPerMinute: 0, signal: controller.signal });
		await limiter.acquire();
		limiter.rateLimited(10_000, Date.now());
		const waiting = limiter.acquire();
		const before = Date.now();
		controller.abort();
		await expect(waiting).rejects.toBeInstanceOf(CancelledError);
		expect(Date.now() - before).toBeLessThan(500);
	});
});
