'use strict';
// Issue 18's simulation: W senders that share nothing but one API key, each with the node's own
// rate-limit code (nodes/CloMan/transport/limiter.ts, imported, not copied), against one token
// bucket, on a simulated clock (no real time passes, so W = 16 or 32 costs nothing).
//
//   node bench/sim.js [--senders 1,2,4,8,16,32] [--items 1000] [--seeds 3] [--headers] [--told]
//
// --headers: the bucket's answers carry RateLimit-Limit / -Remaining / -Reset (as a server sending the
// IETF draft headers would; CloMan documents none) and the senders use them as the node does.
// --told: an experiment, not the node: whenever a sender finishes, each sender still running is told at
// once and raises its pace by its share of the freed quota (× running + 1 / running). It measures what
// the one fact no sender can see without headers (another one has finished) is worth.
//
// Each sender is what one queue-mode worker runs: a pool of Concurrency workers over its share of the
// items; each item does what transport/index.ts decide() does with the limiter: acquire a slot, send,
// release it with the outcome, and on a 429 tell the limiter (with the Retry-After, whole seconds)
// and wait what the limiter says the item itself must wait. The bucket: `perSecond` tokens a second,
// `burst` at most, an accepted request answered after `latencyMs`, a 429 (which the stand-in sends at
// once) heard by the sender after `rateLimitAnswerMs`, `startRateLimitAnswerMs` in its first 1.5 s
// (each ± 50 %, seeded): what `BENCH_TRACE=1 node bench/workers.js --senders 8` measured in 8 real
// processes on 2 cores (first 429s 7–43 ms, median ~20; later ones 3–16 ms, median ~6). Senders start
// within `startSpreadMs` of each other (the real processes: within 130–310 ms).
require('./ts-require.js');
const path = require('node:path');
const { RequestLimiter } = require(path.join(__dirname, '../nodes/CloMan/transport/limiter.ts'));
const { parseQuota } = require(path.join(__dirname, '../nodes/CloMan/transport/retry.ts'));
// The stand-in's own token bucket, run on the simulated clock (full at its 0).
const { tokenBucket } = require('../test/standin/server.js');

/** A seeded PRNG (mulberry32), so a row is repeatable. */
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** A simulated clock: timers fire in time order once every promise chain has settled. */
function simClock() {
	let now = 0;
	let seq = 0;
	const timers = [];
	const insert = (timer) => {
		let lo = 0;
		let hi = timers.length;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			const t = timers[mid];
			if (t.at < timer.at || (t.at === timer.at && t.seq < timer.seq)) lo = mid + 1;
			else hi = mid;
		}
		timers.splice(lo, 0, timer);
	};
	return {
		now: () => now,
		sleep: (ms) => new Promise((resolve) => insert({ at: now + Math.max(0, ms), seq: seq++, resolve })),
		async run() {
			for (;;) {
				// setImmediate runs after every pending promise callback: the simulated processes have all
				// done what they can at this moment.
				await new Promise((resolve) => setImmediate(resolve));
				const timer = timers.shift();
				if (!timer) return;
				now = timer.at;
				timer.resolve();
			}
		},
	};
}

/**
 * One scenario: `senders` senders split `items` items; returns per-sender end times (ms from the
 * first start), the ideal (items / perSecond), and the 429 share.
 */
async function simulate({ senders, items = 1000, perSecond = 20, burst = 20, latencyMs = 200, rateLimitAnswerMs = 6, startRateLimitAnswerMs = 20, concurrency = 16, startSpreadMs = 300, quotaHeaders = false, told = false, seed = 1 }) {
	const clock = simClock();
	const random = prng(seed);
	const bucket = tokenBucket({ perSecond, burst }, 0);
	let requests = 0;
	let refused = 0;
	let refusedUnpaced = 0;
	const per = Math.floor(items / senders);
	const ends = [];
	const limiters = [];
	const sender = async (index, count) => {
		await clock.sleep(random() * startSpreadMs);
		const startedAt0 = clock.now();
		const limiter = new RequestLimiter({ concurrency, maxRequestsPerMinute: 0, now: clock.now, sleep: clock.sleep, random });
		limiters[index] = limiter;
		let next = 0;
		const one = async () => {
			for (;;) {
				const startedAt = await limiter.acquire();
				requests++;
				const waitMs = bucket.take(clock.now());
				if (waitMs === 0) {
					// The stand-in's RateLimit-* headers, as the bucket is when the request is taken.
					const headers = quotaHeaders ? bucket.headers() : undefined;
					await clock.sleep(latencyMs);
					limiter.release(startedAt, 'accepted');
					// As transport/index.ts decide() does with them.
					if (headers) limiter.quotaReport(startedAt, parseQuota(headers));
					limiter.succeeded();
					return;
				}
				refused++;
				if (limiter.shared.ratePerSecond === undefined) refusedUnpaced++;
				const answerMs = clock.now() - startedAt0 < 1_500 ? startRateLimitAnswerMs : rateLimitAnswerMs;
				await clock.sleep(answerMs * (0.5 + random()));
				limiter.release(startedAt, 'rate-limited');
				const retryAfterMs = Math.ceil(waitMs / 1000) * 1000;
				const own = limiter.rateLimited(retryAfterMs, startedAt) ?? 0;
				if (own > 0) await clock.sleep(own);
			}
		};
		const worker = async () => {
			while (next < count) {
				next++;
				await one();
			}
		};
		await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
		ends[index] = clock.now();
		if (told) {
			const running = limiters.filter((other, j) => other && ends[j] === undefined);
			for (const other of running) if (other.shared.ratePerSecond !== undefined) other.shared.ratePerSecond *= (running.length + 1) / running.length;
		}
	};
	const done = Promise.all(Array.from({ length: senders }, (_, i) => sender(i, i === senders - 1 ? items - per * (senders - 1) : per)));
	await clock.run();
	await done;
	const idealMs = (items / perSecond) * 1000;
	return {
		senders,
		items,
		idealMs,
		slowest: Math.max(...ends) / idealMs,
		fastest: Math.min(...ends) / idealMs,
		requests,
		refused,
		share429: refused / requests,
		refusedUnpaced,
		firstPace: limiters.map((l) => Math.round((l.shared.stats.firstPace ?? 0) * 100) / 100),
		ends: ends.map((t) => Math.round(t / 100) / 10),
		paces: limiters.map((l) => Math.round((l.shared.ratePerSecond ?? 0) * 100) / 100),
	};
}

/** The rows `npm run bench` prints and RESULTS.md shows: each W over `seeds` seeds, the worst and the median. */
async function simulationRows({ senders = [1, 2, 4, 8, 16, 32], items = 1000, seeds = 3, ...rest } = {}) {
	const rows = [];
	for (const w of senders) {
		const runs = [];
		for (let seed = 1; seed <= seeds; seed++) runs.push(await simulate({ senders: w, items, seed, ...rest }));
		const worst = (key) => Math.max(...runs.map((r) => r[key]));
		rows.push({ senders: w, items, seeds, slowest: worst('slowest'), share429: worst('share429'), failed: 0, runs });
	}
	return rows;
}

module.exports = { simulate, simulationRows };

if (require.main === module) {
	const argv = process.argv.slice(2);
	const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
	const senders = String(arg('--senders', '1,2,4,8,16,32')).split(',').map(Number);
	const items = Number(arg('--items', 1000));
	const seeds = Number(arg('--seeds', 3));
	const quotaHeaders = argv.includes('--headers');
	const told = argv.includes('--told');
	(async () => {
		for (const w of senders) {
			const [row] = await simulationRows({ senders: [w], items, seeds, quotaHeaders, told });
			const each = row.runs.map((r) => `${r.slowest.toFixed(3)}/${(100 * r.share429).toFixed(1)}%`).join('  ');
			if (argv.includes('--detail')) process.stdout.write(`  429s before a pace was known ${row.runs.map((r) => r.refusedUnpaced).join(',')} of ${row.runs.map((r) => r.refused).join(',')}; seed 1: first paces ${row.runs[0].firstPace.join(',')}; senders ended at ${row.runs[0].ends.join(',')} s\n`);
			process.stdout.write(`W=${String(w).padStart(2)}  items ${items}  worst slowest/ideal ${row.slowest.toFixed(3)}  worst 429 share ${(100 * row.share429).toFixed(1)} %   [${each}]  paces ${row.runs[0].paces.join(',')}\n`);
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
