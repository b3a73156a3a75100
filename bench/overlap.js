'use strict';
// Issue 10's figures for `npm run bench`: executions that overlap on one API key in one process.
//
//   5.  4 executions × 250 items started together in one process (n8n-core's WorkflowExecute, as
//       overlapping schedules or parallel webhook calls run in one n8n), against a stand-in that
//       allows 20 requests/s per key (token bucket of 20, 429 + Retry-After), 200 ms latency,
//       Concurrency 16 each, On Error "Continue (using error output)": items failed (on the error
//       output or missing), wall / (1000 / 20 s), 429s / all requests.
//   5b. (context) one execution of 1,000 items against the same limit with an instant server (0 ms):
//       the 429 share when nothing else slows the requests down.
// Scenario 2 (one execution of 1,000 items, 200 ms latency) gets issue 10's targets in run.js:
// 429s ≤ 10 % of all requests, wall ≤ 1.05 × 50 s.
const { startStandinProcess, runScenarioProcess } = require('./lib.js');

// On Error "Continue (using error output)", as in the issue's measurement: a failed item is counted alone.
const S5 = { count: 1000, runs: 4, perSecond: 20, latencyMs: 200, concurrency: 16, onError: 'continueErrorOutput', targetRatio: 1.1, target429Share: 0.1 };
const S5_INSTANT = { count: 1000, perSecond: 20, latencyMs: 0, concurrency: 16 };
/** Issue 10's targets for scenario 2 (one execution of 1,000 items). */
const S2_ISSUE10 = { targetRatio: 1.05, target429Share: 0.1 };

/** 429s as a share of all requests the stand-in answered. */
function share429(byStatus) {
	const total = Object.values(byStatus ?? {}).reduce((n, c) => n + c, 0);
	return total === 0 ? undefined : (byStatus['429'] ?? 0) / total;
}

async function measure(setup, log) {
	const rateLimit = { perSecond: setup.perSecond, burst: setup.perSecond, retryAfter: 'seconds' };
	const standin = await startStandinProcess({ latencyMs: setup.latencyMs, rateLimit });
	try {
		const r = await runScenarioProcess('node', { url: standin.url, ...setup, warmup: 0 });
		const { stats } = await standin.stats();
		const idealMs = (setup.count / setup.perSecond) * 1000;
		const result = { ...r, idealMs, ratio: r.wallMs / idealMs, standin: stats, share429: share429(stats.byStatus) };
		log(`   wall ${(r.wallMs / 1000).toFixed(2)} s / ideal ${(idealMs / 1000).toFixed(2)} s = ${result.ratio.toFixed(3)}; failed ${r.failed}; 429s ${(100 * result.share429).toFixed(1)} % of ${stats.total} requests; stand-in ${JSON.stringify(stats.byStatus)}`);
		for (const [i, run] of (r.runs ?? []).entries()) {
			log(`     execution ${i + 1}: ${run.count} items, ended after ${(run.wallMs / 1000).toFixed(2)} s, failed ${run.failed}`);
		}
		return result;
	} finally {
		await standin.close();
	}
}

async function scenarioOverlap({ log, load }) {
	log(`5. overlapping executions: ${S5.runs} × ${S5.count / S5.runs} items at once in one process, ${S5.perSecond} requests/s per key (429 + Retry-After), ${S5.latencyMs} ms latency, concurrency ${S5.concurrency} each (load ${load()})`);
	const overlap = await measure(S5, log);
	log(`5b. (context) one execution of ${S5_INSTANT.count} items, same limit, instant server (0 ms latency), concurrency ${S5_INSTANT.concurrency} (load ${load()})`);
	const instant = await measure(S5_INSTANT, log);
	return { overlap, instant };
}

/** RESULTS.md rows: issue 10's targets on scenario 2, then scenario 5. `f` formats numbers, `mark` met/missed. */
function overlapRows(s2, s5, f, mark) {
	const pct = (x) => (x === undefined ? 'n/a' : `${f(100 * x, 1)} %`);
	const s2Share = share429(s2.standin?.byStatus);
	const rows = [
		`| 2 | (issue 10) same run: 429s / all requests; wall / 50 s | share; ratio | **${pct(s2Share)}** (${s2.standin?.byStatus?.['429'] ?? 0} of ${s2.standin?.total}); **${f(s2.ratio, 3)}** | ≤ ${pct(S2_ISSUE10.target429Share)}, ≤ ${S2_ISSUE10.targetRatio} | ${mark(s2Share <= S2_ISSUE10.target429Share && s2.ratio <= S2_ISSUE10.targetRatio)} |`,
	];
	if (!s5) return rows;
	const { overlap: o, instant: i } = s5;
	const ends = (o.runs ?? []).map((r) => f(r.wallMs / 1000, 1)).join(' / ');
	rows.push(
		`| 5 | ${S5.runs} executions × ${S5.count / S5.runs} items started together in one process, ${S5.perSecond} req/s per key (429 + Retry-After), ${S5.latencyMs} ms latency, concurrency ${S5.concurrency} each, On Error: Continue (using error output) | items failed; wall / (1000 / 20 s); 429s / all requests | **${o.failed} failed**; **${f(o.ratio, 3)}** (${f(o.wallMs / 1000)} s; executions ended at ${ends} s); **${pct(o.share429)}** (${o.standin.byStatus['429'] ?? 0} of ${o.standin.total}) | 0 failed, ≤ ${S5.targetRatio}, ≤ ${pct(S5.target429Share)} | ${mark(o.failed === 0 && o.ratio <= S5.targetRatio && o.share429 <= S5.target429Share)} |`,
		`| 5 | (context) one execution of ${S5_INSTANT.count} items, same limit, instant server (0 ms latency) | 429s / all requests; wall / 50 s; items failed | ${pct(i.share429)} (${i.standin.byStatus['429'] ?? 0} of ${i.standin.total}); ${f(i.ratio, 3)}; ${i.failed} failed | | |`,
	);
	return rows;
}

/** results.json fields. */
function overlapJson(s2, s5, r3) {
	const json = { ratelimit_429_share: r3(share429(s2.standin?.byStatus)) };
	if (s5) {
		json.overlap_4x250 = { ratio: r3(s5.overlap.ratio), failed: s5.overlap.failed, share_429: r3(s5.overlap.share429) };
		json.instant_1000 = { ratio: r3(s5.instant.ratio), failed: s5.instant.failed, share_429: r3(s5.instant.share429) };
	}
	return json;
}

/** How scenario 5 is measured, for RESULTS.md. */
const OVERLAP_METHOD =
	'- Scenario 5 (issue 10): `bench/overlap.js`. One fresh process runs 4 executions of `WorkflowExecute` at once, each Start → CloMan with 250 of the items (distinct ids) and Concurrency 16, on one credential (same base URL and key), so they share the node\'s per-process rate-limit state; wall = from the start until the last execution ends. The stand-in (own process) limits each API key to 20 requests/s (a token bucket of 20, as in scenario 2) and answers 429 with `Retry-After` in whole seconds. 429 share = 429 answers / all answers the stand-in gave during the run. Queue-mode workers are separate processes and share nothing (README). Before issue 10 (commit 9868525, the same scenario on 2026-11-23, load 0.7): 2 items failed (RateLimitError after 4 attempts), 429s 32.1 % of 1,469 requests, and with On Error "Stop Workflow" 2 of the 4 executions stopped; 5b then: 429s 26.1 % of 1,353 requests; scenario 2: 89 × 429 of 1,089 requests (8.2 %).';

module.exports = { scenarioOverlap, overlapRows, overlapJson, OVERLAP_METHOD, share429 };
