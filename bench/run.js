'use strict';
// Issue 4's benchmark (`npm run bench`): figures, not a timed test. Every figure is a ratio taken in
// the same run on the same machine, so the machine's speed cancels out. Writes bench/RESULTS.md and
// bench/results.json (RESULTS.md also says how each figure is measured).
//
//   node bench/run.js [--skip-n8n] [--rounds N] [--only 1,2,3,4]
//
// Every measurement runs in a fresh child process (bench/scenario.js, or bench/n8n-ratelimit.mjs for
// the real-n8n runs) so RSS and GC are isolated; the CloMan stand-in runs in a child process of its
// own (bench/standin-proc.js) so that its CPU and memory are not in the client's figures.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { startStandinProcess, runScenarioProcess } = require('./lib.js');
const { scenarioOverlap, overlapRows, overlapJson, OVERLAP_METHOD } = require('./overlap.js');
const { scenarioWorkers, workersRows, workersJson, WORKERS_METHOD } = require('./workers.js');

const ROOT = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const SKIP_N8N = argv.includes('--skip-n8n');
// --only 1,3: run just those scenarios (5 = issue 10's overlapping executions, bench/overlap.js; 6 = issue 18's W processes and simulation, bench/workers.js) and print them (for development; RESULTS.md / results.json are not written).
const ONLY = argv.includes('--only') ? new Set(String(argv[argv.indexOf('--only') + 1]).split(',')) : undefined;
const roundsArg = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : NaN;
const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 3;

// The scenarios (issue 4).
const S1 = { count: 1000, latencyMs: 200, concurrency: 16, warmup: 48, target: 1.1 };
const S2 = { count: 1000, perSecond: 20, latencyMs: 200, concurrency: 16, target: 1.15 };
const S3 = { count: 10_000, latencyMs: 0, concurrency: 16, warmup: 500, target: 0.5 };
const S4 = { count: 10_000, latencyMs: 0, concurrency: 16, warmup: 500, targetMb: 150 };

const t0 = Date.now();
const log = (message) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r2 = (x) => (x === undefined || x === null ? x : Math.round(x * 100) / 100);
const r3 = (x) => (x === undefined || x === null ? x : Math.round(x * 1000) / 1000);
const load = () => os.loadavg()[0].toFixed(2);

/** `rounds` CloMan node runs with one run of each context kind between them: node, a, node, b, node, … */
function interleave(rounds, a, b) {
	const order = ['node', a];
	let left = rounds - 1;
	if (left > 0) {
		order.push('node');
		left--;
	}
	order.push(b);
	while (left-- > 0) order.push('node');
	return order;
}

async function withStandin(options, fn) {
	const standin = await startStandinProcess(options);
	try {
		return await fn(standin);
	} finally {
		await standin.close();
	}
}

async function scenario1() {
	log(`1. latency: ${S1.count} items, ${S1.latencyMs} ms latency, concurrency ${S1.concurrency}; CloMan node ${ROUNDS}×, undici and helper node once each for context (load ${load()})`);
	return await withStandin({ latencyMs: S1.latencyMs }, async (standin) => {
		const idealMs = (S1.count * S1.latencyMs) / S1.concurrency;
		const order = interleave(ROUNDS, 'undici', 'helper');
		const runs = { node: [], undici: [], helper: [] };
		for (const kind of order) {
			await standin.reset();
			const r = await runScenarioProcess(kind, { url: standin.url, ...S1 });
			const { stats, firstAt, lastAt, medianGapMs } = await standin.stats(r.startedAt);
			// Time from the start of the run to the first request the stand-in saw: building and checking every
			// item's request before sending (the node) or nothing (undici); and from the last request's answer to the end.
			const leadMs = firstAt - r.startedAt;
			const tailMs = r.startedAt + r.wallMs - (lastAt + S1.latencyMs);
			runs[kind].push({ ...r, ratio: r.wallMs / idealMs, leadMs, tailMs, medianGapMs, standin: stats });
			log(`   ${kind.padEnd(6)} wall ${(r.wallMs / 1000).toFixed(2)} s / ideal ${(idealMs / 1000).toFixed(2)} s = ${(r.wallMs / idealMs).toFixed(3)}; first request after ${leadMs} ms; median gap between arrivals ${medianGapMs} ms; failed ${r.failed} (load ${load()})`);
		}
		// Context: the same run against a stand-in whose latency varies ±10 % around the same 200 ms mean.
		const jitterMs = S1.latencyMs / 10;
		const jitter = await withStandin({ latencyMs: S1.latencyMs, latencyJitterMs: jitterMs }, async (jittered) => {
			const r = await runScenarioProcess('node', { url: jittered.url, ...S1 });
			const { medianGapMs } = await jittered.stats(r.startedAt);
			return { ...r, ratio: r.wallMs / idealMs, jitterMs, medianGapMs };
		});
		log(`   node, latency ${S1.latencyMs} ± ${jitterMs} ms: wall ${(jitter.wallMs / 1000).toFixed(2)} s = ${jitter.ratio.toFixed(3)}; median gap between arrivals ${jitter.medianGapMs} ms (load ${load()})`);
		// Context: On Error "Continue (using error output)", where a bad item fails alone, so each worker
		// builds its item's request just before sending it instead of all being checked first.
		await standin.reset();
		const cont = await runScenarioProcess('node', { url: standin.url, ...S1, onError: 'continueErrorOutput' });
		{
			const { firstAt } = await standin.stats(cont.startedAt);
			cont.ratio = cont.wallMs / idealMs;
			cont.leadMs = firstAt - cont.startedAt;
		}
		log(`   node, On Error: Continue (using error output): wall ${(cont.wallMs / 1000).toFixed(2)} s = ${cont.ratio.toFixed(3)}; first request after ${cont.leadMs} ms; failed ${cont.failed} (load ${load()})`);
		const ratios = runs.node.map((r) => r.ratio);
		const ratio = median(ratios);
		const pick = runs.node.find((r) => r.ratio === ratio) ?? runs.node[0];
		log(`   median ${ratio.toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}); undici ${runs.undici[0]?.ratio.toFixed(3)}, helper node ${runs.helper[0]?.ratio.toFixed(3)}`);
		return {
			ratio,
			range: [Math.min(...ratios), Math.max(...ratios)],
			wallMs: pick.wallMs,
			idealMs,
			failed: Math.max(...runs.node.map((r) => r.failed)),
			leadMs: median(runs.node.map((r) => r.leadMs)),
			medianGapMs: median(runs.node.map((r) => r.medianGapMs)),
			undici: runs.undici[0],
			helper: runs.helper[0],
			jitter,
			continueErrorOutput: cont,
			runs: runs.node,
		};
	});
}

async function scenario2() {
	log(`2. rate limit: ${S2.count} items, ${S2.perSecond} requests/s (429 + Retry-After), ${S2.latencyMs} ms latency, concurrency ${S2.concurrency} (load ${load()})`);
	const rateLimit = { perSecond: S2.perSecond, burst: S2.perSecond, retryAfter: 'seconds' };
	return await withStandin({ latencyMs: S2.latencyMs, rateLimit }, async (standin) => {
		const r = await runScenarioProcess('node', { url: standin.url, ...S2, warmup: 0 });
		const { stats } = await standin.stats();
		const idealMs = (S2.count / S2.perSecond) * 1000;
		const ratio = r.wallMs / idealMs;
		log(`   wall ${(r.wallMs / 1000).toFixed(2)} s / ideal ${(idealMs / 1000).toFixed(2)} s = ${ratio.toFixed(3)}; failed ${r.failed}; stand-in ${JSON.stringify(stats.byStatus)}`);
		return { ...r, idealMs, ratio, standin: stats };
	});
}

/**
 * Scenario 2 in a real n8n 2.41.1 (Node 24): this node and n8n's HTTP Request node. With prepare,
 * only installs what it needs (n8n and Node 24 in .cache/, the first time), before any measurement.
 */
function scenario2InN8n(prepare = false) {
	if (prepare) log('real n8n for scenario 2b: n8n 2.41.1 on Node 24 in .cache/ (installed the first time: several minutes, ~3 GB)');
	else log(`2b. rate limit inside real n8n 2.41.1: CloMan node and HTTP Request node (load ${load()})`);
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [path.join(__dirname, 'n8n-ratelimit.mjs'), prepare ? '--prepare' : JSON.stringify(S2)], {
			cwd: ROOT,
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		let result;
		let buffer = '';
		child.stdout.on('data', (d) => {
			buffer += d;
			let i;
			while ((i = buffer.indexOf('\n')) >= 0) {
				const line = buffer.slice(0, i);
				buffer = buffer.slice(i + 1);
				if (line.startsWith('BENCH_RESULT ')) result = JSON.parse(line.slice('BENCH_RESULT '.length));
				else process.stdout.write(`   ${line}\n`);
			}
		});
		child.on('close', (code) => {
			if (!result) result = { error: `bench/n8n-ratelimit.mjs exited ${code} without a result` };
			const idealMs = (S2.count / S2.perSecond) * 1000;
			for (const key of ['cloman', 'httpRequest']) {
				const r = result[key];
				if (r) r.ratio = r.executionMs === undefined ? undefined : r.executionMs / idealMs;
			}
			resolve({ ...result, idealMs });
		});
	});
}

async function scenario3() {
	log(`3. throughput: ${S3.count} items, 0 ms latency, concurrency ${S3.concurrency}; ${ROUNDS} interleaved rounds of undici / n8n helper floor / CloMan node, each in a fresh process (load ${load()})`);
	return await withStandin({ latencyMs: S3.latencyMs }, async (standin) => {
		const runs = { undici: [], helper: [], node: [] };
		for (let round = 1; round <= ROUNDS; round++) {
			for (const kind of ['undici', 'helper', 'node']) {
				await standin.reset();
				const r = await runScenarioProcess(kind, { url: standin.url, ...S3 });
				if (r.failed) log(`   ! ${kind}: ${r.failed} failed`);
				runs[kind].push(r);
				log(`   round ${round} ${kind.padEnd(6)} ${(r.wallMs / 1000).toFixed(2)} s  ${((S3.count / r.wallMs) * 1000).toFixed(0)} items/s, client CPU ${((r.cpuMs / S3.count) * 1000).toFixed(0)} µs/item (load ${load()})`);
			}
		}
		const wall = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((r) => r.wallMs))]));
		const cpuUsPerItem = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, (median(v.map((r) => r.cpuMs)) / S3.count) * 1000]));
		const floorRatio = wall.undici / wall.node; // throughput(node) / throughput(undici)
		const helperRatio = wall.undici / wall.helper;
		const nodeVsHelper = wall.helper / wall.node;
		log(`   median: undici ${(wall.undici / 1000).toFixed(2)} s, helper ${(wall.helper / 1000).toFixed(2)} s, node ${(wall.node / 1000).toFixed(2)} s → floor ratio ${floorRatio.toFixed(3)} (helper floor ${helperRatio.toFixed(3)}, node / helper ${nodeVsHelper.toFixed(3)})`);
		return { wall, cpuUsPerItem, floorRatio, helperRatio, nodeVsHelper, runs };
	});
}

async function scenario4() {
	log(`4. memory: ${S4.count} items, peak RSS growth during the run (fresh process each, sampled every 5 ms from a worker thread); CloMan node ${ROUNDS}×, helper node and undici once (load ${load()})`);
	return await withStandin({ latencyMs: S4.latencyMs }, async (standin) => {
		const runs = { node: [], helper: [], undici: [] };
		const order = interleave(ROUNDS, 'helper', 'undici');
		for (const kind of order) {
			await standin.reset();
			const r = await runScenarioProcess(kind, { url: standin.url, ...S4, sampleRss: true });
			runs[kind].push(r);
			log(`   ${kind.padEnd(6)} RSS ${r.rssBeforeMb.toFixed(0)} MB before, peak +${r.rssGrowthMb.toFixed(1)} MB (load ${load()})`);
		}
		const growth = runs.node.map((r) => r.rssGrowthMb);
		const node = { rssGrowthMb: median(growth), range: [Math.min(...growth), Math.max(...growth)], runs: runs.node };
		log(`   CloMan node median +${node.rssGrowthMb.toFixed(1)} MB (range ${node.range[0].toFixed(0)}–${node.range[1].toFixed(0)} MB)`);
		return { node, helper: runs.helper[0], undici: runs.undici[0] };
	});
}

function machine() {
	const cpus = os.cpus();
	return {
		cores: cpus.length,
		cpuModel: cpus[0]?.model?.trim(),
		node: process.version,
		platform: `${os.type()} ${os.release()} ${os.arch()}`,
		memoryGb: Math.round(os.totalmem() / 2 ** 30),
	};
}

const mark = (ok) => (ok === undefined ? 'n/a' : ok ? 'met' : '**missed**');

function writeResults(all) {
	const { s1, s2, s2n8n, s3, s4, s5, s6, m, date, loads, prep } = all;
	const http = s2n8n?.httpRequest;
	const cmInN8n = s2n8n?.cloman;
	const json = {
		latency_ratio: r3(s1.ratio),
		ratelimit_ratio: r3(s2.ratio),
		ratelimit_failed: s2.failed,
		http_request_node: http ? { ratelimit_ratio: r3(http.ratio), ratelimit_failed: http.failed } : null,
		floor_ratio: r3(s3.floorRatio),
		rss_growth_mb: r2(s4.node.rssGrowthMb),
		// Beyond the issue's fields: the same scenario 2 for this node inside the same real n8n, and context.
		cloman_node_in_n8n: cmInN8n ? { ratelimit_ratio: r3(cmInN8n.ratio), ratelimit_failed: cmInN8n.failed } : null,
		n8n_helper_floor_ratio: r3(s3.helperRatio),
		helper_rss_growth_mb: r2(s4.helper.rssGrowthMb),
		...overlapJson(s2, s5, r3),
		...workersJson(s6, r3),
		machine: m,
		date,
	};
	fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(json, null, 2) + '\n');

	const f = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : (Math.round(Number(x) * 10 ** d) / 10 ** d).toFixed(d));
	const lines = [];
	lines.push('# Benchmark results (issue 4)');
	lines.push('');
	lines.push(`Date: ${date}  `);
	lines.push(`Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}  `);
	lines.push(`Node: ${m.node} (bench, stand-in, n8n-core ${require('n8n-core/package.json').version} harness); real n8n ${s2n8n?.n8nVersion ?? '–'} on Node ${s2n8n?.node ?? '–'}  `);
	lines.push(`Load average (1 min) at start / end: ${loads.start} / ${loads.end} (the machine is shared; ratios cancel its speed, not other jobs' bursts)  `);
	const installed = prep?.seconds >= 5 ? `, of which ${prep.seconds.toFixed(0)} s ${prep.cached ? "waiting for another process's install of" : 'installing'} n8n ${prep.n8nVersion} and Node 24 into .cache/ before measuring` : '';
	lines.push(`Command: \`npm run bench\` (total ${((Date.now() - t0) / 1000).toFixed(0)} s${installed})`);
	lines.push('');
	lines.push('How to run: `npm install && npm run bench`. The first time, it installs what the real-n8n rows need (Node 24 and n8n 2.41.1, into `.cache/`, several minutes and ~3 GB; the same install `bash scripts/demo.sh` and `npm run test:e2e` use, and a run started while another one is installing waits for it) before measuring anything; if something cannot be installed it stops at once and names the command to run. `npm run bench -- --skip-n8n` leaves the real-n8n rows out, `--rounds N` sets the repeats (default 3).');
	lines.push('');
	lines.push('| # | scenario | figure | value | target | |');
	lines.push('|---|---|---|---|---|---|');
	lines.push(`| 1 | ${S1.count} items, ${S1.latencyMs} ms latency, concurrency ${S1.concurrency} | wall / (${S1.count} × ${S1.latencyMs / 1000} s / ${S1.concurrency}), median of ${s1.runs.length} | **${f(s1.ratio, 3)}** (${f(s1.wallMs / 1000)} s / ${f(s1.idealMs / 1000)} s; range ${f(s1.range[0], 3)}–${f(s1.range[1], 3)}); first request after ${f(s1.leadMs, 0)} ms | ≤ ${S1.target} | ${mark(s1.ratio <= S1.target)} |`);
	lines.push(`| 1 | (context) same scenario, raw undici / minimal helper node | wall / ideal | ${f(s1.undici?.ratio, 3)} / ${f(s1.helper?.ratio, 3)} (first request after ${f(s1.helper?.leadMs, 0)} ms) | | |`);
	lines.push(`| 1 | (context) CloMan node, latency ${S1.latencyMs} ± ${s1.jitter.jitterMs} ms (uniform, same mean) | wall / ideal | ${f(s1.jitter.ratio, 3)} | | |`);
	lines.push(`| 1 | (context) CloMan node, On Error: Continue (using error output) | wall / ideal | ${f(s1.continueErrorOutput.ratio, 3)} (first request after ${f(s1.continueErrorOutput.leadMs, 0)} ms) | | |`);
	lines.push(`| 2 | ${S2.count} items, ${S2.perSecond} req/s limit (429 + Retry-After), ${S2.latencyMs} ms latency, concurrency ${S2.concurrency}; n8n-core harness, Node 20 | wall / (${S2.count} / ${S2.perSecond} s); items failed | **${f(s2.ratio, 3)}** (${f(s2.wallMs / 1000)} s); **${s2.failed} failed**; ${s2.standin.byStatus['429'] ?? 0} × 429 | ≤ ${S2.target}, 0 failed | ${mark(s2.ratio <= S2.target && s2.failed === 0)} |`);
	if (s2n8n && !s2n8n.error) {
		lines.push(`| 2 | same, CloMan node inside real n8n ${s2n8n.n8nVersion} (\`n8n execute\`) | node executionTime / 50 s; items failed | **${f(cmInN8n?.ratio, 3)}** (${f(cmInN8n?.executionMs / 1000)} s); **${cmInN8n?.failed} failed**; ${cmInN8n?.standin?.byStatus?.['429'] ?? 0} × 429 | ≤ ${S2.target}, 0 failed | ${mark(cmInN8n?.ratio <= S2.target && cmInN8n?.failed === 0)} |`);
		lines.push(`| 2 | same, n8n's HTTP Request node 4.2 inside real n8n ${s2n8n.n8nVersion}: Batching ${S2.perSecond} items / 1,000 ms, Retry On Fail 5 tries / 1,000 ms, Never Error off | node executionTime / 50 s; items failed | **${f(http?.ratio, 3)}** (${f(http?.executionMs / 1000)} s); **${http?.failed} failed**${http?.error ? ` (node error: ${http.error.replace(/\|/g, '/').slice(0, 120)})` : ''}; ${http?.standin?.total ?? '–'} requests, ${http?.standin?.byStatus?.['429'] ?? 0} × 429 | (comparison) | |`);
	} else {
		lines.push(`| 2 | real n8n runs | – | not run: ${(s2n8n?.error ?? 'skipped (--skip-n8n)').replace(/\|/g, '/')} | | |`);
	}
	lines.push(...overlapRows(s2, s5, f, mark));
	lines.push(...workersRows(s6, f, mark));
	lines.push(`| 3 | ${S3.count} items, 0 ms latency, concurrency ${S3.concurrency} | throughput through n8n's engine / raw undici (same concurrency), median of ${ROUNDS} | **${f(s3.floorRatio, 3)}** (${f(s3.wall.node / 1000)} s vs ${f(s3.wall.undici / 1000)} s) | ≥ ${S3.target} | ${mark(s3.floorRatio >= S3.target)} |`);
	lines.push(`| 3 | (context) minimal node that only calls n8n's \`httpRequestWithAuthentication\`, same engine | throughput / raw undici; CloMan node / this | ${f(s3.helperRatio, 3)} (${f(s3.wall.helper / 1000)} s); ${f(s3.nodeVsHelper, 3)} | | |`);
	lines.push(`| 3 | (context) client CPU per item, median: undici / helper node / CloMan node | µs per item | ${f(s3.cpuUsPerItem.undici, 0)} / ${f(s3.cpuUsPerItem.helper, 0)} / ${f(s3.cpuUsPerItem.node, 0)} | | |`);
	lines.push(`| 4 | ${S4.count} items, 0 ms latency | peak RSS growth during the node run, median of ${s4.node.runs.length} | **${f(s4.node.rssGrowthMb, 1)} MB** (range ${f(s4.node.range[0], 0)}–${f(s4.node.range[1], 0)} MB) | ≤ ${S4.targetMb} MB | ${mark(s4.node.rssGrowthMb <= S4.targetMb)} |`);
	lines.push(`| 4 | (context) same for the minimal helper node / raw undici | peak RSS growth | ${f(s4.helper.rssGrowthMb, 1)} MB / ${f(s4.undici.rssGrowthMb, 1)} MB | | |`);
	lines.push('');
	lines.push('Where the time and memory go (figures from this run)');
	lines.push('');
	lines.push(`- The "helper" rows isolate n8n-core's own request path: a minimal node in the same engine that only calls \`this.helpers.httpRequestWithAuthentication\` (the helper this node must use) for the same bodies at the same concurrency. It reaches ${f(s3.helperRatio, 2)} of the undici floor on its own, using ${f(s3.cpuUsPerItem.helper, 0)} µs of client CPU per request against undici's ${f(s3.cpuUsPerItem.undici, 0)} µs; the CloMan node adds ${f(s3.cpuUsPerItem.node - s3.cpuUsPerItem.helper, 0)} µs per item (mostly n8n evaluating the Context expression for every item).`);
	lines.push(`- Scenario 1: in the same conditions raw undici reaches ${f(s1.undici?.ratio, 3)} and the minimal helper node ${f(s1.helper?.ratio, 3)}; the CloMan node sends its first request ${f(s1.leadMs, 0)} ms after the run starts (it builds and checks every item's request, evaluating the Context expression, before sending any), the helper node after ${f(s1.helper?.leadMs, 0)} ms. Under On Error "Continue (using error output)" a bad item fails alone, so the node builds each request in the worker that sends it: first request after ${f(s1.continueErrorOutput.leadMs, 0)} ms, ratio ${f(s1.continueErrorOutput.ratio, 3)}. The rest is n8n's request path under a constant-latency server: n8n's helper opens a new TCP connection per request, and connections opened in the same event-loop turn complete together, so the requests of a round leave in one bunch and the answers come back in one bunch (median gap between consecutive arrivals at the stand-in: ${f(s1.medianGapMs, 0)} ms for the node, ${f(s1.undici?.medianGapMs, 0)} ms for undici; evenly spread would be ~${f(s1.wallMs / S1.count, 0)} ms). Each round therefore lasts 200 ms plus the client CPU of the whole bunch, 16 × about 1 ms through n8n's helper (a new connection and the axios pipeline per request) against 16 × about 0.1 ms for undici. Spreading the first 16 starts 2 ms apart was tried on 2026-11-23 and dropped: the bunches re-form within a few rounds and the ratio moved less than its run-to-run spread (1.099–1.161 with it, 1.130–1.159 without). With ±10 % latency jitter around the same mean the bunches break up (median gap ${f(s1.jitter.medianGapMs, 0)} ms) and the node reaches ${f(s1.jitter.ratio, 3)}.`);
	lines.push(`- Peak RSS growth of that minimal helper node is ${f(s4.helper.rssGrowthMb, 0)} MB against ${f(s4.undici.rssGrowthMb, 0)} MB for undici doing the same requests: the growth is garbage from n8n-core's request helper (axios config merging, a new \`http.Agent\` and TCP connection per request) that outlives the young generation and waits for a major GC, not data the node keeps.`);
	lines.push('');
	lines.push('How it was measured');
	lines.push('');
	lines.push('- The node is the built package (`dist/`), loaded and run by `test/harness/engine.ts` (n8n-core\'s `PackageDirectoryLoader` + `WorkflowExecute`), transpiled in memory by `bench/ts-require.js`. Items: `{id, customer, amount, reason}`; Context is an expression over them, Data = Whole Input Item, Route by One Output, Options → Concurrency 16, everything else default (Max Retries 3, no Max Requests per Minute).');
	lines.push(`- Scenarios 1, 3 and 4 repeat the CloMan node's run (\`--rounds\`, default 3) and report the median; the undici and helper runs are interleaved with them.`);
	lines.push('- Every measurement runs in its own fresh Node process (`bench/scenario.js`); the stand-in (`test/standin/server.js`) runs in a separate process (`bench/standin-proc.js`), so on 2 cores client and server each get a core and the server\'s memory is not in the client\'s RSS. Throughput and memory runs do a 500-item warm-up first, scenario 1 a 48-item one, scenario 2 none (a fresh stand-in with a full token bucket of 20).');
	lines.push('- Scenario 2 in real n8n: `bench/n8n-ratelimit.mjs` uses `scripts/lib/harness.mjs` (the n8n 2.41.1 install in `.cache/n8n`, a user folder `.cache/instances/bench-n8n2` with the packed package installed as a community package) and `n8n execute --rawOutput` of Manual Trigger → Code (1,000 items) → node; the time is the node\'s `executionTime` in the run data (n8n\'s boot excluded). Failed = items that came out with an error or without a decision (e.g. a 429 body), plus items that never came out (all of them when the node stops the workflow).');
	lines.push('- Scenario 3 floor: an undici 7 `Pool` with 16 connections and 16 workers sending the same bodies (keep-alive). Figure = undici wall / node wall, medians of interleaved rounds.');
	lines.push(OVERLAP_METHOD);
	lines.push(WORKERS_METHOD);
	lines.push('- Scenario 4: RSS sampled every 5 ms by a worker thread in the measured process; growth = peak − RSS just before the run (after the warm-up and a forced GC).');
	lines.push('');
	// Sections other scripts' figures live in (e.g. "## Review page (issue 17)", bench/review-layout.mjs) are kept.
	const previous = fs.existsSync(path.join(__dirname, 'RESULTS.md')) ? fs.readFileSync(path.join(__dirname, 'RESULTS.md'), 'utf8') : '';
	const kept = previous.indexOf('\n## Review page');
	fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), `${lines.join('\n')}\n${kept === -1 ? '' : previous.slice(kept)}`);
	return json;
}

(async () => {
	const date = new Date().toISOString();
	const loads = { start: load() };
	const m = machine();
	log(`bench: ${m.cores} cores, ${m.cpuModel}, Node ${m.node}, ${date}`);
	// What the real-n8n scenario needs is installed (or found missing) first, not after minutes of measuring.
	let prep;
	if (!SKIP_N8N && (!ONLY || ONLY.has('2b'))) {
		const started = Date.now();
		prep = await scenario2InN8n(true);
		if (!prep.ready) {
			console.error('bench: stopped before measuring anything (the reason is above)');
			process.exit(1);
		}
		prep.seconds = (Date.now() - started) / 1000;
		loads.start = load();
	}
	if (ONLY) {
		const parts = { 1: scenario1, 2: scenario2, '2b': scenario2InN8n, 3: scenario3, 4: scenario4, 5: () => scenarioOverlap({ log, load }), 6: () => scenarioWorkers({ log, load }) };
		for (const key of ONLY) if (parts[key]) await parts[key]();
		return;
	}
	const s1 = await scenario1();
	const s2 = await scenario2();
	const s2n8n = SKIP_N8N ? undefined : await scenario2InN8n();
	const s5 = await scenarioOverlap({ log, load });
	const s6 = await scenarioWorkers({ log, load });
	const s3 = await scenario3();
	const s4 = await scenario4();
	loads.end = load();
	const json = writeResults({ s1, s2, s2n8n, s3, s4, s5, s6, m, date, loads, prep });
	process.stdout.write(`\n${fs.readFileSync(path.join(__dirname, 'RESULTS.md'), 'utf8')}\n`);
	process.stdout.write(`results.json: ${JSON.stringify(json)}\n`);
})().catch((error) => {
	console.error(error);
	process.exit(1);
});
