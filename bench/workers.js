'use strict';
// Issue 18's figures for `npm run bench`: W separate Node processes (as W queue-mode workers) that
// share one API key and nothing else, and the simulation of the same limiter code for larger W.
//
//   6.  W = 1, 2, 4, 8 processes (bench/scenario.js kind "node", each the built package through
//       n8n-core's WorkflowExecute) split 1,000 items, started together once all are loaded, against
//       one stand-in process that allows the key 20 requests/s (token bucket of 20, 429 +
//       Retry-After in whole seconds), 200 ms latency, Concurrency 16, On Error "Continue (using error
//       output)": items failed, each process's wall / (1000 / 20 s), 429s / all requests.
//   6h. W = 2, 4 and 8 again with RateLimit-Limit / -Remaining / -Reset on every answer (CloMan documents
//       none; the node uses them when a server sends them).
//   6s. bench/sim.js: the same RequestLimiter code in W = 1 … 32 simulated senders, simulated clock.
//
//   node bench/workers.js [--senders 1,2,4,8] [--header-senders 2,4,8]   (prints the rows; `npm run bench`
//   runs 6h for W = 2, 4 and 8, this command only when asked; run.js writes them into RESULTS.md)
const path = require('node:path');
const { fork } = require('node:child_process');

const { startStandinProcess } = require('./lib.js');
const { share429 } = require('./overlap.js');
const { simulationRows } = require('./sim.js');

const S6 = { count: 1000, perSecond: 20, latencyMs: 200, concurrency: 16, onError: 'continueErrorOutput', targetRatio: 1.1, targetRatioW8: 1.15, target429Share: 0.1 };
const SIM_SENDERS = [1, 2, 4, 8, 16, 32];

/** Forks one scenario process that waits for "go"; resolves {ready, result}. */
function forkWorker(args) {
	const child = fork(path.join(__dirname, 'scenario.js'), ['node', JSON.stringify({ ...args, waitForGo: true })], {
		execArgv: ['--expose-gc'],
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
		env: { ...process.env, N8N_LOG_LEVEL: 'silent' },
	});
	let markReady;
	const ready = new Promise((resolve) => (markReady = resolve));
	const result = new Promise((resolve, reject) => {
		let value;
		child.on('message', (msg) => {
			if (msg && msg.ready) markReady();
			else value = msg;
		});
		child.once('error', reject);
		child.once('exit', (code) => (code === 0 && value ? resolve(value) : reject(new Error(`worker process exited with ${code}`))));
	});
	return { ready, result, go: () => child.send({ go: true }) };
}

async function measureWorkers(w, log, { headers = false } = {}) {
	const rateLimit = { perSecond: S6.perSecond, burst: S6.perSecond, retryAfter: 'seconds', headers };
	const standin = await startStandinProcess({ latencyMs: S6.latencyMs, rateLimit });
	try {
		const per = Math.floor(S6.count / w);
		const workers = Array.from({ length: w }, (_, i) =>
			forkWorker({ trace: process.env.BENCH_TRACE === '1', url: standin.url, count: i === w - 1 ? S6.count - per * (w - 1) : per, offset: i * per, concurrency: S6.concurrency, onError: S6.onError, warmup: 0 }),
		);
		await Promise.all(workers.map((x) => x.ready));
		// Loading used the stand-in's bucket only if a warm-up ran (none here); start from a full bucket.
		await standin.reset();
		for (const x of workers) x.go();
		const results = await Promise.all(workers.map((x) => x.result));
		const firstStart = Math.min(...results.map((r) => r.startedAt));
		const { stats } = await standin.stats(firstStart);
		const idealMs = (S6.count / S6.perSecond) * 1000;
		const ratios = results.map((r) => r.wallMs / idealMs);
		const spanRatio = (Math.max(...results.map((r) => r.startedAt + r.wallMs)) - firstStart) / idealMs;
		const row = {
			w,
			idealMs,
			failed: results.reduce((n, r) => n + r.failed, 0),
			slowest: Math.max(...ratios),
			ratios,
			spanRatio,
			startSpreadMs: Math.max(...results.map((r) => r.startedAt)) - firstStart,
			share429: share429(stats.byStatus),
			refused: stats.byStatus?.['429'] ?? 0,
			requests: stats.total,
		};
		row.headers = headers;
		log(`   W=${w}${headers ? ' (RateLimit headers)' : ''}: slowest process ${row.slowest.toFixed(3)} × ideal (each: ${ratios.map((x) => x.toFixed(3)).join(' / ')}; first start to last end ${spanRatio.toFixed(3)}, starts within ${row.startSpreadMs} ms); failed ${row.failed}; 429s ${(100 * row.share429).toFixed(1)} % (${row.refused} of ${row.requests})`);
		return row;
	} finally {
		await standin.close();
	}
}

async function scenarioWorkers({ log, load, senders = [1, 2, 4, 8], headerSenders = [2, 4, 8] }) {
	log(`6. W processes on one key: 1000 items split over W = ${senders.join(', ')} separate processes, ${S6.perSecond} requests/s (429 + Retry-After), ${S6.latencyMs} ms latency, concurrency ${S6.concurrency} each (load ${load()})`);
	const rows = [];
	for (const w of senders) {
		rows.push({ ...(await measureWorkers(w, log)), load: load() });
	}
	if (headerSenders.length) log(`6h. the same with RateLimit-Limit / -Remaining / -Reset on every answer (CloMan documents none; used when present): W = ${headerSenders.join(', ')}`);
	for (const w of headerSenders) {
		rows.push({ ...(await measureWorkers(w, log, { headers: true })), load: load() });
	}
	log(`6s. simulation (bench/sim.js): the same limiter code, W = ${SIM_SENDERS.join(', ')} senders, simulated clock, 3 seeds each: without and with RateLimit headers, and (an experiment, not the node) each sender told at once when another one finishes`);
	const sim = [];
	for (const [quotaHeaders, told] of [[false, false], [true, false], [false, true]]) {
		for (const r of await simulationRows({ senders: SIM_SENDERS, seeds: 3, quotaHeaders, told })) {
			sim.push({ ...r, headers: quotaHeaders, told });
			log(`   W=${r.senders}${quotaHeaders ? ' (headers)' : told ? ' (told)' : ''}: worst slowest sender ${r.slowest.toFixed(3)} × ideal; worst 429 share ${(100 * r.share429).toFixed(1)} %`);
		}
	}
	return { rows, sim };
}

function targetFor(w) {
	return w >= 8 ? S6.targetRatioW8 : S6.targetRatio;
}

/** RESULTS.md rows. `f` formats numbers, `mark` met/missed. */
function workersRows(s6, f, mark) {
	if (!s6) return [];
	const pct = (x) => `${f(100 * x, 1)} %`;
	const rows = s6.rows.map((r) => {
		const target = r.w === 1 || r.headers ? '(context)' : `0 failed, ≤ ${targetFor(r.w)}, ≤ ${pct(S6.target429Share)}`;
		const met = r.w === 1 || r.headers ? '' : mark(r.failed === 0 && r.slowest <= targetFor(r.w) && r.share429 <= S6.target429Share);
		return `| ${r.headers ? '6h' : '6'} | ${r.w} separate process${r.w === 1 ? '' : 'es'} × ${S6.count / r.w} items on one key, ${S6.perSecond} req/s (429 + Retry-After${r.headers ? '; every answer with RateLimit-Limit / -Remaining / -Reset' : ''}), ${S6.latencyMs} ms latency, concurrency ${S6.concurrency}, On Error: Continue (using error output); load ${r.load} | items failed; slowest process wall / 50 s; 429s / all requests | **${r.failed} failed**; **${f(r.slowest, 3)}** (each ${r.ratios.map((x) => f(x, 3)).join(' / ')}; first start to last end ${f(r.spanRatio, 3)}); **${pct(r.share429)}** (${r.refused} of ${r.requests}) | ${target} | ${met} |`;
	});
	for (const r of s6.sim) {
		rows.push(`| 6s | simulation (bench/sim.js), ${r.senders} sender${r.senders === 1 ? '' : 's'}, same limiter code, simulated clock${r.headers ? ', RateLimit headers' : ''}${r.told ? ', each sender told when another finishes (experiment: the fact no sender sees without headers)' : ''} | worst of 3 seeds: slowest sender / ideal; 429s / all requests | ${f(r.slowest, 3)}; ${pct(r.share429)} | | |`);
	}
	return rows;
}

function workersJson(s6, r3) {
	if (!s6) return {};
	return {
		workers: s6.rows.map((r) => ({ w: r.w, headers: r.headers, failed: r.failed, slowest: r3(r.slowest), share_429: r3(r.share429), load: r.load })),
		simulation: s6.sim.map((r) => ({ w: r.senders, headers: r.headers, told: r.told, slowest: r3(r.slowest), share_429: r3(r.share429) })),
	};
}

const WORKERS_METHOD =
	'- Scenario 6 (issue 18): `bench/workers.js`. W fresh processes (`bench/scenario.js` kind `node`, each like one queue-mode worker: its own limiter state, nothing shared) load the package, report ready, and start their share of the 1,000 items (distinct ids) on the same message; the stand-in (own process, bucket refilled after loading) limits the one key to 20 requests/s (token bucket of 20, 429 + `Retry-After` in whole seconds). Each process\'s figure is its own wall from its start; "first start to last end" spans all of them. Scenario 6h: the same with the stand-in\'s `rateLimit.headers` on (RateLimit-Limit / -Remaining / -Reset on every answer). Scenario 6s: `bench/sim.js` runs the same `RequestLimiter` (imported from nodes/CloMan/transport/limiter.ts) in W simulated senders (pool of 16 each, 200 ms latency, a 429 heard ~20 ms after it was sent in a sender\'s first 1.5 s and ~6 ms later on, ± 50 %, as measured in the W = 8 processes; starts spread over 0.3 s) against one token bucket on a simulated clock; worst of 3 seeds, without and with RateLimit headers, and with each sender told at once when another finishes (`--told`: an experiment measuring what that one fact, which no process sees without headers, is worth).';

module.exports = { scenarioWorkers, workersRows, workersJson, WORKERS_METHOD };

if (require.main === module) {
	const argv = process.argv.slice(2);
	const list = (name, fallback) => (argv.includes(name) ? String(argv[argv.indexOf(name) + 1]).split(',').filter(Boolean).map(Number) : fallback);
	const senders = list('--senders', [1, 2, 4, 8]);
	const headerSenders = list('--header-senders', []);
	const t0 = Date.now();
	const log = (m) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}\n`);
	const load = () => require('node:os').loadavg()[0].toFixed(2);
	scenarioWorkers({ log, load, senders, headerSenders }).catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
