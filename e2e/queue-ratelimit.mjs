// Queue tier, issue 18: several batches at once on the workers against one API key whose CloMan
// limits it to 20 requests/s (token bucket of 20, 429 + Retry-After in whole seconds). Each worker is
// its own process: the node's rate-limit pacing is shared within a process, never between them, so
// this is what a queue-mode deployment of one key does. Reported, not asserted: the 429 share (from
// the stand-in's own request log) and each batch's time against the ideal (all items / 20 s); the
// bench (bench/workers.js, scenario 6) carries the time bars. Asserted: 0 items failed, every item
// once on an output, each decision one the stand-in gave for that item.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { NODE_TYPE, log } from '../scripts/lib/harness.mjs';

const require = createRequire(import.meta.url);
const { startStandin, defaultPolicy } = require('../test/standin/server.js');

export const LARGE = {
	id: 'ClomanLargeQueue1',
	path: 'cloman-large-queue',
	webhookId: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d05',
	credential: { id: 'ClomanCredLimit1', name: 'CloMan account (20 requests/s)' },
	batches: 4,
	items: 250,
	concurrency: 16,
	perSecond: 20,
	latencyMs: 200,
};
/** All items of all batches at the key's rate: the best any set of senders can do. */
export const IDEAL_S = (LARGE.batches * LARGE.items) / LARGE.perSecond;
const DECIDE_PATH = '/api/v1/public/decide';

const itemId = (batch, i) => `L-${i}/${batch}`;

/** A second stand-in, limited like the bench's (scenario 2/5/6): 20/s, burst 20, whole-second Retry-After. */
export async function startLimitedStandin({ lifetimeMs }) {
	const answered = new Map();
	let answers = 0;
	const standin = await startStandin({
		lifetimeMs,
		latencyMs: LARGE.latencyMs,
		rateLimit: { perSecond: LARGE.perSecond, burst: LARGE.perSecond, retryAfter: 'seconds' },
		policy: (body) => {
			const decision = defaultPolicy(body);
			const decisionId = `dec_limited_${++answers}`;
			answered.set(decisionId, { id: body?.data?.id, decision: decision.decision, confidence: decision.confidence, at: Date.now() });
			return { ...decision, decision_id: decisionId };
		},
	});
	return { standin, answered };
}

/**
 * Webhook → Code (LARGE.items items tagged with the POSTed batch) → CloMan Decide, one output,
 * Concurrency 16, On Error: Continue (using error output), on the limited stand-in's credential.
 */
export function writeLargeWorkflow(dir) {
	const trigger = {
		id: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d06',
		name: 'Webhook',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 0],
		webhookId: LARGE.webhookId,
		parameters: { httpMethod: 'POST', path: LARGE.path, responseMode: 'onReceived', options: {} },
	};
	const code = {
		id: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d07',
		name: 'Requests',
		type: 'n8n-nodes-base.code',
		typeVersion: 2,
		position: [220, 0],
		parameters: {
			jsCode: [
				`const batch = $('Webhook').first().json.body.batch;`,
				`return Array.from({ length: ${LARGE.items} }, (_, i) => ({ json: { id: 'L-' + i + '/' + batch, customer: 'Customer ' + (i % 97), amount: (i * 37) % 700, reason: 'Item arrived damaged' } }));`,
			].join('\n'),
		},
	};
	const cloman = {
		id: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d08',
		name: 'CloMan',
		type: NODE_TYPE,
		typeVersion: 1,
		position: [440, 0],
		onError: 'continueErrorOutput',
		parameters: {
			operation: 'decide',
			context: "={{ 'Refund request ' + $json.id + ' from ' + $json.customer + ': ' + $json.amount + ' USD. Should we refund it?' }}",
			actionType: 'refund',
			dataMode: 'inputItem',
			routeBy: 'single',
			options: { concurrency: LARGE.concurrency, responseLocation: 'key', responseKey: 'cloman' },
		},
		credentials: { cloManApi: LARGE.credential },
	};
	const to = (node) => [{ node, type: 'main', index: 0 }];
	const workflow = {
		id: LARGE.id,
		name: `CloMan: ${LARGE.batches} × ${LARGE.items} items at 20 requests/s (queue mode)`,
		active: false,
		nodes: [trigger, code, cloman],
		connections: { [trigger.name]: { main: [to(code.name)] }, [code.name]: { main: [to(cloman.name)] } },
		settings: { executionOrder: 'v1' },
		pinData: {},
	};
	const file = path.join(dir, `${workflow.id}.json`);
	fs.writeFileSync(file, JSON.stringify(workflow, null, 2));
	return { file, triggerName: trigger.name, clomanName: cloman.name };
}

const msOf = (pgTime) => Date.parse(`${pgTime}Z`);

/**
 * The run: LARGE.batches webhook calls at once, then the checks. `helpers` are queue.mjs's own
 * (executionRows, waitForExecutions, workerLog, fireWebhook, restExecution, triggerBatch, checkEachRunOnOneWorker).
 */
export async function checkRateLimitedRuns({ check, pg, limited, api, mainInstance, mainProcess, workers, workflow, helpers }) {
	const { executionRows, waitForExecutions, workerLog, fireWebhook, restExecution, triggerBatch, checkEachRunOnOneWorker } = helpers;
	const { standin, answered } = limited;
	const batches = Array.from({ length: LARGE.batches }, (_, i) => `big${i + 1}`);
	const total = LARGE.batches * LARGE.items;
	standin.reset();
	const before = Math.max(0, ...(await executionRows(pg, LARGE.id)).map((r) => Number(r.id)));
	let firedAt;
	let rows;
	const ran = await check(
		`${LARGE.batches} webhook calls at once, ${LARGE.items} items each (${total} in all), one key limited to ${LARGE.perSecond} requests/s (token bucket ${LARGE.perSecond}, 429 + Retry-After in whole seconds), Concurrency ${LARGE.concurrency}, On Error: Continue (using error output): ${LARGE.batches} executions, all "success"`,
		async () => {
			firedAt = Date.now();
			await Promise.all(batches.map((b) => fireWebhook(mainInstance, b, LARGE.path)));
			rows = await waitForExecutions(pg, { workflowId: LARGE.id, afterId: before, count: LARGE.batches, timeoutMs: 8 * IDEAL_S * 1000 });
			assert.equal(rows.length, LARGE.batches, `executions: ${JSON.stringify(rows)}`);
			assert.deepEqual(rows.map((r) => r.status), rows.map(() => 'success'), `statuses: ${JSON.stringify(rows)}`);
			log(`      ${rows.length} executions (${rows.map((r) => r.id).join(', ')}); the last ended ${((Date.now() - firedAt) / 1000).toFixed(1)} s after the webhook calls`);
		},
	);
	if (!ran) return;
	const ids = rows.map((r) => r.id);

	await checkEachRunOnOneWorker(check, ids, mainProcess, workers);

	const runs = [];
	await check(`0 items failed: every one of the ${total} items leaves CloMan once, on its output (the error output empty), with a decision the stand-in gave for that very item`, async () => {
		for (const row of rows) {
			const { status, data } = await restExecution(api, mainInstance, row.id);
			assert.equal(status, 'success', `execution ${row.id}: ${status}`);
			const batch = triggerBatch(data, workflow.triggerName);
			assert.ok(batches.includes(batch), `execution ${row.id}: batch ${batch}`);
			const run = data.resultData.runData[workflow.clomanName]?.[0];
			assert.ok(run, `execution ${row.id}: the CloMan node did not run`);
			const outputs = (run.data?.main ?? []).map((items) => (items ?? []).map((i) => i.json));
			assert.equal(outputs.length, 2, `${batch}: CloMan has ${outputs.length} outputs, expected 2 (the output, the error output)`);
			const [out, errors] = outputs;
			assert.equal(errors.length, 0, `${batch}: ${errors.length} items on the error output, e.g. ${JSON.stringify(errors[0])?.slice(0, 400)}`);
			const want = Array.from({ length: LARGE.items }, (_, i) => itemId(batch, i));
			const got = out.map((j) => j.id);
			assert.equal(new Set(got).size, got.length, `${batch}: an item came out twice`);
			assert.deepEqual([...got].sort(), [...want].sort(), `${batch}: items on the output`);
			for (const item of out) {
				const answer = answered.get(item.cloman?.decision_id);
				assert.ok(answer, `${item.id}: decision ${item.cloman?.decision_id} was never answered by the stand-in`);
				assert.equal(answer.id, item.id, `${item.id}: decision ${item.cloman.decision_id} answered item ${answer.id}`);
				assert.equal(item.cloman.decision, answer.decision, `${item.id}: decision`);
			}
			const paired = (run.data.main[0] ?? []).map((i) => [i.pairedItem].flat()[0]?.item);
			assert.deepEqual([...paired].sort((a, b) => a - b), want.map((_, i) => i), `${batch}: pairedItem`);
			runs.push({ id: row.id, batch, row, executionTime: run.executionTime, startTime: run.startTime });
		}
		assert.deepEqual(runs.map((r) => r.batch).sort(), [...batches].sort(), 'one execution per webhook call');
	});

	await check(`the stand-in answered exactly one decide request per item with 200 (${total}); every other request was a 429 with a whole-second Retry-After`, () => {
		const decides = standin.requests.filter((r) => r.path === DECIDE_PATH);
		const ok = decides.filter((r) => r.status === 200);
		const limitedAnswers = decides.filter((r) => r.status === 429);
		assert.deepEqual(ok.map((r) => r.body?.data?.id).sort(), batches.flatMap((b) => Array.from({ length: LARGE.items }, (_, i) => itemId(b, i))).sort(), 'answered (200) decide requests by item');
		assert.equal(ok.length + limitedAnswers.length, decides.length, `statuses: ${JSON.stringify(standin.stats().byStatus)}`);
		const share = decides.length === 0 ? 0 : limitedAnswers.length / decides.length;
		const span = (Math.max(...ok.map((r) => r.at)) - Math.min(...decides.map((r) => r.at))) / 1000;
		log(`      measured: 429s ${limitedAnswers.length} of ${decides.length} requests (${(100 * share).toFixed(1)} %); first request to last answer ${span.toFixed(1)} s (${(span / IDEAL_S).toFixed(3)} × ideal ${IDEAL_S} s); up to ${standin.stats().maxInFlight} requests in flight at once`);
	});

	await check(`report: each batch's time against the ideal (${total} items / ${LARGE.perSecond} per s = ${IDEAL_S} s; no timing assertion, the bench carries the bars)`, () => {
		const perWorker = workers.map((w) => workerLog(w.logFile));
		for (const r of [...runs].sort((a, b) => a.batch.localeCompare(b.batch))) {
			const worker = workers[perWorker.findIndex((l) => l.started.includes(r.id))]?.label ?? '?';
			const sinceFired = (msOf(r.row.stoppedAt) - firedAt) / 1000;
			const ownRequests = standin.requests.filter((x) => String(x.body?.data?.id ?? '').endsWith(`/${r.batch}`));
			const own429 = ownRequests.filter((x) => x.status === 429).length;
			assert.ok(Number.isFinite(sinceFired) && r.executionTime > 0, `${r.batch}: stoppedAt ${r.row.stoppedAt}, executionTime ${r.executionTime}`);
			log(
				`      ${r.batch} (execution ${r.id}, ${worker}): CloMan node ${(r.executionTime / 1000).toFixed(1)} s = ${(r.executionTime / 1000 / IDEAL_S).toFixed(3)} × ideal; webhook call to execution end ${sinceFired.toFixed(1)} s = ${(sinceFired / IDEAL_S).toFixed(3)} × ideal; 429s ${own429} of ${ownRequests.length} (${((100 * own429) / Math.max(1, ownRequests.length)).toFixed(1)} %)`,
			);
		}
	});
}
