'use strict';
// One measurement, in a fresh Node process (forked by bench/run.js): `node bench/scenario.js <kind> <json args>`.
// Sends its result object to the parent over IPC and exits.
//
//   kind "node":   the built package through n8n-core's real WorkflowExecute (test/harness/engine.ts)
//   kind "helper": a minimal node in the same engine that sends the same bodies through n8n-core's
//                  this.helpers.httpRequestWithAuthentication at the same concurrency, nothing else
//                  (what any node that uses n8n's request helper pays; isolates the CloMan node's own cost)
//   kind "undici": a bare undici client doing the same requests at the same concurrency (the floor)
//
// args: { url, count, concurrency, warmup, sampleRss, options, onError, runs, offset, waitForGo }
//   offset: the first item's number (several processes on one stand-in decide on distinct items);
//   waitForGo: send {ready} once loaded and start the measured run on the parent's next message.
//   runs (kind "node"): split the items over this many executions started together in this one
//   process (as overlapping schedules or parallel webhook calls on one credential); wallMs is until
//   the last one ends, `runs` holds each execution's own figures.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

// n8n-core writes its settings under N8N_USER_FOLDER on first use: a throw-away folder, removed on exit.
if (!process.env.N8N_USER_FOLDER) {
	const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cloman-bench-n8n-'));
	process.env.N8N_USER_FOLDER = folder;
	process.on('exit', () => fs.rmSync(folder, { recursive: true, force: true }));
}
process.env.N8N_DIAGNOSTICS_ENABLED = 'false';
process.env.N8N_LOG_LEVEL ??= 'silent';

const API_KEY = 'cloman_sk_test_good';
const DECIDE_PATH = '/api/v1/public/decide';
const CONTEXT_EXPRESSION = "={{ 'Refund request ' + $json.id + ' from ' + $json.customer + ': ' + $json.amount + ' USD. Should we refund it?' }}";

/** The items every scenario decides on. */
function makeItems(count, offset = 0) {
	return Array.from({ length: count }, (_, i) => ({
		id: `R-${offset + i}`,
		customer: `Customer ${(offset + i) % 97}`,
		amount: ((offset + i) * 37) % 700,
		reason: 'Item arrived damaged',
	}));
}

/** The request body the node builds for an item (context expression + Whole Input Item), for the floor. */
function bodyFor(item) {
	return {
		context: `Refund request ${item.id} from ${item.customer}: ${item.amount} USD. Should we refund it?`,
		action_type: 'refund',
		data: item,
	};
}

const gc = () => {
	if (global.gc) {
		global.gc();
		global.gc();
	}
};

/**
 * Samples process RSS every `intervalMs` from a worker thread, so that a main thread busy in a long
 * synchronous stretch does not hide a peak. RSS is process-wide, so the worker sees the whole process.
 */
function startRssSampler(intervalMs = 5) {
	const worker = new Worker(
		`const { parentPort } = require('node:worker_threads');
		let peak = process.memoryUsage.rss();
		const timer = setInterval(() => { const r = process.memoryUsage.rss(); if (r > peak) peak = r; }, ${intervalMs});
		parentPort.on('message', () => { clearInterval(timer); const r = process.memoryUsage.rss(); parentPort.postMessage(Math.max(peak, r)); });`,
		{ eval: true },
	);
	return {
		ready: new Promise((resolve) => worker.once('online', resolve)),
		stop: () =>
			new Promise((resolve) => {
				worker.once('message', (peak) => {
					void worker.terminate();
					resolve(peak);
				});
				worker.postMessage('stop');
			}),
	};
}

/** Items that did not get a decision: errored, carried a 429/error body, or never came out. */
function countFailures(result, count) {
	if (result.error) return { failed: count, out: 0, nodeError: result.error.message };
	let out = 0;
	let failed = 0;
	for (const items of result.outputs) {
		for (const item of items) {
			out++;
			const json = item.json;
			if (json.error !== undefined || typeof json.decision !== 'string') failed++;
		}
	}
	return { failed: failed + Math.max(0, count - out), out };
}

const HELPER_NODE_TYPE = 'bench.helperFloor';

/**
 * The "n8n request helper floor": the smallest node that does what the CloMan node does on the wire,
 * one POST per item through httpRequestWithAuthentication with the cloManApi credential, a pool of
 * `concurrency` workers, the parsed answer as the output item. No expressions, validation, retries or routing.
 */
class HelperFloorNode {
	constructor() {
		this.description = {
			displayName: 'Helper floor',
			name: HELPER_NODE_TYPE,
			group: ['transform'],
			version: 1,
			description: 'bench only',
			defaults: { name: 'Helper floor' },
			inputs: ['main'],
			outputs: ['main'],
			credentials: [{ name: 'cloManApi', required: true }],
			properties: [{ displayName: 'Concurrency', name: 'concurrency', type: 'number', default: 16 }],
		};
	}

	async execute() {
		const items = this.getInputData();
		const concurrency = this.getNodeParameter('concurrency', 0);
		const { baseUrl } = await this.getCredentials('cloManApi');
		const url = `${baseUrl}${DECIDE_PATH}`;
		const out = new Array(items.length);
		let next = 0;
		const worker = async () => {
			while (next < items.length) {
				const i = next++;
				const answer = await this.helpers.httpRequestWithAuthentication.call(this, 'cloManApi', {
					method: 'POST',
					url,
					body: bodyFor(items[i].json),
					json: true,
					timeout: 30_000,
					returnFullResponse: true,
					ignoreHttpStatusErrors: true,
				});
				out[i] = { json: answer.body, pairedItem: { item: i } };
			}
		};
		await Promise.all(Array.from({ length: concurrency }, worker));
		return [out];
	}
}

async function loadHarness() {
	require('./ts-require.js');
	const harness = require('../test/harness/engine.ts');
	const loaded = await harness.loadPackage();
	// Register the bench-only helper-floor node beside the package's nodes (same engine, same credential).
	const { NodeHelpers } = require('n8n-workflow');
	const floor = new HelperFloorNode();
	const { getByName, getByNameAndVersion } = loaded.nodeTypes;
	loaded.nodeTypes.getByName = (type) => (type === HELPER_NODE_TYPE ? floor : getByName(type));
	loaded.nodeTypes.getByNameAndVersion = (type, version) =>
		type === HELPER_NODE_TYPE ? NodeHelpers.getVersionedNodeType(floor, version) : getByNameAndVersion(type, version);
	return harness;
}

async function runNode(args) {
	const { runCloMan } = await loadHarness();
	const helperFloor = args.kind === 'helper';
	const parameters = helperFloor ? { concurrency: args.concurrency } : {
		operation: 'decide',
		context: CONTEXT_EXPRESSION,
		actionType: 'refund',
		dataMode: 'inputItem',
		routeBy: 'single',
		options: { concurrency: args.concurrency, ...(args.options ?? {}) },
	};
	const credential = { apiKey: API_KEY, baseUrl: args.url };
	const nodeType = helperFloor ? HELPER_NODE_TYPE : undefined;
	if (args.warmup > 0) {
		// JIT, sockets and n8n's lazy initialisation, not measured.
		await runCloMan({ items: makeItems(args.warmup, 1_000_000), parameters, credential, nodeType });
	}
	const runs = Math.max(1, args.runs ?? 1);
	const per = Math.ceil(args.count / runs);
	const offset = args.offset ?? 0;
	const batches = Array.from({ length: runs }, (_, r) => makeItems(Math.min(per, args.count - r * per), offset + r * per));
	if (args.waitForGo) {
		// One of several processes (bench/workers.js): say we are loaded, start when all are.
		await new Promise((resolve) => {
			process.once('message', resolve);
			process.send({ ready: true });
		});
	}
	gc();
	await new Promise((r) => setTimeout(r, 50));
	gc();
	const sampler = args.sampleRss ? startRssSampler() : undefined;
	if (sampler) await sampler.ready;
	// trace (development): the credential's limiter state every 500 ms, and how long each 429 took to
	// come back (from the request's start to the limiter hearing of it), printed to stderr at the end.
	const trace = [];
	const answerMs = [];
	if (args.trace) {
		const { SharedRateState } = require('../dist/nodes/CloMan/transport/limiter.js');
		const rateLimited = SharedRateState.prototype.rateLimited;
		SharedRateState.prototype.rateLimited = function (delayMs, startAt, now, ...rest) {
			answerMs.push(`${((startAt - startedAt) / 1000).toFixed(2)}s:${Math.round(now - startAt)}`);
			return rateLimited.call(this, delayMs, startAt, now, ...rest);
		};
	}
	const traceTimer = args.trace
		? setInterval(() => {
				const { sharedRateState } = require('../dist/nodes/CloMan/transport/limiter.js');
				const state = sharedRateState(`${args.url}${DECIDE_PATH}`, API_KEY);
				trace.push(`${((Date.now() - startedAt) / 1000).toFixed(1)}s rate ${state.ratePerSecond?.toFixed(2)} limit ${state.limit} inFlight ${state.inFlight} 429s ${state.stats.rateLimited} cuts ${state.stats.cuts}`);
			}, 500)
		: undefined;
	const rssBefore = process.memoryUsage.rss();
	const heapBefore = process.memoryUsage().heapUsed;
	const cpuBefore = process.cpuUsage();
	const startedAt = Date.now();
	const started = process.hrtime.bigint();
	const results = await Promise.all(
		batches.map(async (items) => {
			const result = await runCloMan({ items, parameters, credential, nodeType, ...(args.onError ? { onError: args.onError } : {}) });
			return { result, count: items.length, wallMs: Number(process.hrtime.bigint() - started) / 1e6 };
		}),
	);
	const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
	if (traceTimer) {
		clearInterval(traceTimer);
		process.stderr.write(`${trace.join('\n')}\n429 answered after (sent at:ms) ${answerMs.join(' ')}\n`);
	}
	const cpu = process.cpuUsage(cpuBefore);
	const peakRss = sampler ? await sampler.stop() : undefined;
	const heapAfter = process.memoryUsage().heapUsed;
	const each = results.map(({ result, count, wallMs: ms }) => ({ ...countFailures(result, count), count, wallMs: ms, status: result.status }));
	const counts =
		runs === 1
			? countFailures(results[0].result, results[0].count)
			: { failed: each.reduce((n, r) => n + r.failed, 0), out: each.reduce((n, r) => n + r.out, 0) };
	const result = results[0].result;
	return {
		kind: args.kind,
		count: args.count,
		concurrency: args.concurrency,
		wallMs,
		startedAt,
		cpuMs: (cpu.user + cpu.system) / 1000,
		...counts,
		status: result.status,
		rssBeforeMb: rssBefore / 2 ** 20,
		rssPeakMb: peakRss === undefined ? undefined : peakRss / 2 ** 20,
		rssGrowthMb: peakRss === undefined ? undefined : (peakRss - rssBefore) / 2 ** 20,
		heapGrowthMb: (heapAfter - heapBefore) / 2 ** 20,
		...(runs > 1 ? { runs: each } : {}),
	};
}

async function runUndici(args) {
	const { Pool } = require('undici');
	const pool = new Pool(args.url, { connections: args.concurrency, pipelining: 1 });
	const once = async (items) => {
		let next = 0;
		let failed = 0;
		const worker = async () => {
			while (next < items.length) {
				const item = items[next++];
				try {
					const res = await pool.request({
						path: DECIDE_PATH,
						method: 'POST',
						headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': API_KEY },
						body: JSON.stringify(bodyFor(item)),
					});
					const body = await res.body.json();
					if (res.statusCode !== 200 || typeof body.decision !== 'string') failed++;
				} catch {
					failed++;
				}
			}
		};
		await Promise.all(Array.from({ length: args.concurrency }, worker));
		return failed;
	};
	if (args.warmup > 0) await once(makeItems(args.warmup, 1_000_000));
	const items = makeItems(args.count);
	gc();
	const sampler = args.sampleRss ? startRssSampler() : undefined;
	if (sampler) await sampler.ready;
	const rssBefore = process.memoryUsage.rss();
	const cpuBefore = process.cpuUsage();
	const startedAt = Date.now();
	const started = process.hrtime.bigint();
	const failed = await once(items);
	const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
	const cpu = process.cpuUsage(cpuBefore);
	const peakRss = sampler ? await sampler.stop() : undefined;
	await pool.close();
	return {
		kind: 'undici',
		count: args.count,
		concurrency: args.concurrency,
		wallMs,
		startedAt,
		cpuMs: (cpu.user + cpu.system) / 1000,
		failed,
		rssBeforeMb: rssBefore / 2 ** 20,
		rssPeakMb: peakRss === undefined ? undefined : peakRss / 2 ** 20,
		rssGrowthMb: peakRss === undefined ? undefined : (peakRss - rssBefore) / 2 ** 20,
	};
}

(async () => {
	const [kind, json] = process.argv.slice(2);
	const args = JSON.parse(json || '{}');
	const result =
		kind === 'node' || kind === 'helper' ? await runNode({ ...args, kind }) : kind === 'undici' ? await runUndici(args) : undefined;
	if (!result) throw new Error(`unknown scenario kind ${kind}`);
	process.send(result, () => process.exit(0));
})().catch((error) => {
	console.error(error);
	process.exit(1);
});
