// Scenario 2 inside a real n8n 2.41.1 (Node 24), for a fair side-by-side of this package's node and
// n8n's own HTTP Request node behind the same rate-limited stand-in. Run by bench/run.js; prints one
// line `BENCH_RESULT <json>` at the end.
//
//   node bench/n8n-ratelimit.mjs --prepare   # only install what the scenario needs (run.js does this first)
//   node bench/n8n-ratelimit.mjs '<json>'    # the scenario (count, perSecond, latencyMs, concurrency)
//
// Uses the project's n8n harness (scripts/lib/harness.mjs), like scripts/demo.sh and the e2e tier:
// Node 24 and n8n 2.41.1 in .cache/ (installed the first time, under the harness's install lock, so
// a concurrent demo/e2e/bench on the same cache waits for one install instead of starting a second),
// a fresh user folder .cache/instances/bench-n8n2 with the packed package as a community package,
// `n8n import:*` and `n8n execute --rawOutput`.
//
// Workflows: Manual Trigger → Code (1,000 items) → CloMan | HTTP Request. The measured time is the
// node's own executionTime from n8n's run data (n8n's boot is not counted).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import {
	CREDENTIAL_TYPE,
	LINES,
	NODE_TYPE,
	ROOT,
	ensureN8n,
	importCredentials,
	importWorkflows,
	installCleanup,
	killAll,
	log,
	n8nCli,
	parseRawOutput,
	prepareInstance,
} from '../scripts/lib/harness.mjs';

const require = createRequire(import.meta.url);
const { startStandinProcess } = require('./lib.js');

const PREPARE = process.argv[2] === '--prepare';
const args = PREPARE ? {} : JSON.parse(process.argv[2] || '{}');
const COUNT = args.count ?? 1000;
const PER_SECOND = args.perSecond ?? 20;
const LATENCY_MS = args.latencyMs ?? 200;
const CONCURRENCY = args.concurrency ?? 16;
const API_KEY = 'cloman_sk_test_good';
const LINE = LINES[2];
const OUT = path.join(ROOT, 'bench', '.out');

const CLOMAN_CRED = { id: 'BenchClomanCred1', name: 'CloMan (bench)' };
const HEADER_CRED = { id: 'BenchHeaderAuth1', name: 'CloMan key as header (bench)' };
const CONTEXT = "'Refund request ' + $json.id + ' from ' + $json.customer + ': ' + $json.amount + ' USD. Should we refund it?'";
const CODE = `return Array.from({ length: ${COUNT} }, (_, i) => ({ json: { id: 'R-' + i, customer: 'Customer ' + (i % 97), amount: (i * 37) % 700, reason: 'Item arrived damaged' } }));`;

/**
 * n8n 2.41.1 and Node 24 in .cache/, installed now if missing (or waited for, when another process
 * holds the install lock). Anything that cannot be had fails here, at once, naming what to run.
 */
async function prepare() {
	try {
		const n8n = await ensureN8n(LINE);
		log(`  n8n ${LINE.version} on Node ${n8n.node.version}: ${n8n.cached ? 'installed already' : 'installed now'} (${path.relative(ROOT, n8n.dir)})`);
		return n8n;
	} catch (error) {
		throw new Error(
			`the real-n8n scenario (2b) needs n8n ${LINE.version} on Node 24 in .cache/, and it could not be had:\n${error.message}\n` +
				'Once that is fixed, run `npm run bench` again (`bash scripts/demo.sh` installs the same things and shows each step), ' +
				'or `node bench/run.js --skip-n8n` (after `npm run build`) for the other scenarios without it.',
		);
	}
}

function workflow(id, name, node) {
	return {
		id,
		name,
		active: false,
		settings: { executionOrder: 'v1' },
		nodes: [
			{ id: `${id}-t`, name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: `${id}-c`, name: 'Items', type: 'n8n-nodes-base.code', typeVersion: 2, position: [220, 0], parameters: { jsCode: CODE } },
			{ id: `${id}-n`, position: [440, 0], ...node },
		],
		connections: {
			Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: node.name, type: 'main', index: 0 }]] },
		},
		pinData: {},
	};
}

function clomanWorkflow() {
	return workflow('BenchRateCloMan1', 'bench: rate limit, CloMan node', {
		name: 'CloMan',
		type: NODE_TYPE,
		typeVersion: 1,
		parameters: {
			operation: 'decide',
			context: `={{ ${CONTEXT} }}`,
			actionType: 'refund',
			dataMode: 'inputItem',
			routeBy: 'single',
			options: { concurrency: CONCURRENCY },
		},
		credentials: { [CREDENTIAL_TYPE]: CLOMAN_CRED },
	});
}

/**
 * n8n's HTTP Request node as a careful user sets it up for a 20 requests/s API: Batching 20 items per
 * 1,000 ms, the node's Retry On Fail with 5 tries 1,000 ms apart, Never Error off, the key in a Header
 * Auth credential. On Error stays "Stop Workflow" (the default).
 */
function httpWorkflow(standinUrl) {
	return workflow('BenchRateHttpReq1', 'bench: rate limit, HTTP Request node', {
		name: 'HTTP Request',
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		retryOnFail: true,
		maxTries: 5,
		waitBetweenTries: 1000,
		parameters: {
			method: 'POST',
			url: `${standinUrl}/api/v1/public/decide`,
			authentication: 'genericCredentialType',
			genericAuthType: 'httpHeaderAuth',
			sendBody: true,
			specifyBody: 'json',
			jsonBody: `={{ JSON.stringify({ context: ${CONTEXT}, action_type: 'refund', data: $json }) }}`,
			options: { batching: { batch: { batchSize: PER_SECOND, batchInterval: 1000 } } },
		},
		credentials: { httpHeaderAuth: HEADER_CRED },
	});
}

/** Items that did not get a decision: errored, carried an error (e.g. 429) body, or never came out. */
function outcome(runData, nodeName) {
	const task = runData?.data?.resultData?.runData?.[nodeName]?.[0];
	if (!task) return { ran: false, failed: COUNT, executionMs: undefined, error: 'node did not run' };
	const items = (task.data?.main ?? []).flatMap((o) => o ?? []);
	let failed = 0;
	let rateLimitBodies = 0;
	for (const item of items) {
		const json = item.json ?? {};
		if (json.error !== undefined || typeof json.decision !== 'string') failed++;
		if (json.error?.code === 'RATE_LIMIT_EXCEEDED' || json.error?.status === 429 || json.error?.httpCode === '429') rateLimitBodies++;
	}
	const missing = Math.max(0, COUNT - items.length);
	return {
		ran: true,
		executionMs: task.executionTime,
		out: items.length,
		failed: failed + missing,
		rateLimitBodies,
		error: task.error ? String(task.error.message ?? task.error).slice(0, 300) : undefined,
	};
}

async function execute(instance, workflowId) {
	const started = Date.now();
	const r = await n8nCli(instance, ['execute', `--id=${workflowId}`, '--rawOutput'], { allowFail: true, timeoutMs: 15 * 60_000 });
	const processMs = Date.now() - started;
	let run;
	try {
		run = parseRawOutput(r.stdout);
	} catch {
		run = undefined;
	}
	return { run, processMs, code: r.code, tail: run ? undefined : (r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n') };
}

async function main() {
	installCleanup();
	const n8n = await prepare();
	if (PREPARE) {
		process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ready: true, n8nVersion: LINE.version, node: n8n.node.version, cached: n8n.cached })}\n`);
		return;
	}
	fs.mkdirSync(OUT, { recursive: true });
	// Our own pack destination: .cache/pack belongs to the e2e/demo scripts (they clear it).
	const packDir = path.join(OUT, 'pack');
	fs.rmSync(packDir, { recursive: true, force: true });
	fs.mkdirSync(packDir, { recursive: true });
	if (!fs.existsSync(path.join(ROOT, 'dist', 'nodes', 'CloMan', 'CloMan.node.js'))) throw new Error('dist/ is not built: run `npm run bench` (it builds first) or `npm run build`');
	const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' });
	if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
	const tarball = path.join(packDir, JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0].filename);

	log(`  n8n ${LINE.version}: user folder .cache/instances/bench-n8n2, package ${path.relative(ROOT, tarball)}`);
	const instance = await prepareInstance({ name: 'bench-n8n2', lineInfo: LINE, tarball });
	const standin = await startStandinProcess({
		latencyMs: LATENCY_MS,
		rateLimit: { perSecond: PER_SECOND, burst: PER_SECOND, retryAfter: 'seconds' },
	});
	try {
		await importCredentials(instance, [
			{ ...CLOMAN_CRED, type: CREDENTIAL_TYPE, data: { apiKey: API_KEY, baseUrl: standin.url } },
			{ ...HEADER_CRED, type: 'httpHeaderAuth', data: { name: 'X-API-Key', value: API_KEY } },
		]);
		const files = [
			['cloman', clomanWorkflow()],
			['http', httpWorkflow(standin.url)],
		].map(([name, wf]) => {
			const file = path.join(OUT, `workflow-ratelimit-${name}.json`);
			fs.writeFileSync(file, JSON.stringify(wf, null, 2));
			return file;
		});
		await importWorkflows(instance, files);

		const results = {};
		for (const [key, id, nodeName] of [
			['cloman', 'BenchRateCloMan1', 'CloMan'],
			['httpRequest', 'BenchRateHttpReq1', 'HTTP Request'],
		]) {
			await standin.reset(); // a full bucket for each run
			log(`  n8n execute: ${nodeName} (${COUNT} items, ${PER_SECOND} requests/s limit)`);
			const r = await execute(instance, id);
			const o = r.run ? outcome(r.run, nodeName) : { ran: false, failed: COUNT, error: `no run data (exit ${r.code}): ${r.tail}` };
			const { stats } = await standin.stats();
			results[key] = { ...o, processMs: r.processMs, standin: stats };
			log(`    ${JSON.stringify(results[key])}`);
		}
		process.stdout.write(`BENCH_RESULT ${JSON.stringify({ n8nVersion: LINE.version, node: instance.n8n.node.version, ...results })}\n`);
	} finally {
		await standin.close();
	}
}

try {
	await main();
} catch (error) {
	process.stderr.write(`\nbench: ${error?.message ?? error}\n\n`);
	process.stdout.write(`BENCH_RESULT ${JSON.stringify({ error: String(error?.message ?? error) })}\n`);
	killAll();
	process.exit(1);
}
killAll();
process.exit(0);
