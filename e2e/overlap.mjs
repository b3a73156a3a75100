// Issue 10 in real n8n: overlapping executions on one API key lose no item to rate limiting.
//
// A webhook-triggered workflow (Webhook → Code → CloMan, Concurrency 16, On Error "Continue (using
// error output)") is created and activated over REST in the running n8n 2.41.1, then called four
// times at once with 250 items each, so four executions run together in that one n8n process against
// a CloMan stand-in that allows 20 requests/s per key (token bucket of 20) and answers 429 with
// Retry-After in whole seconds, 100 ms latency. From the executions (REST) it checks that all four
// succeeded, that no item is on the error output, and that every item came out exactly once.
//
// Used by e2e/run.mjs (one call per n8n server, 2.41.1 only); also runs on its own, without the
// rest of the e2e tier:  node e2e/overlap.mjs   (installs/reuses n8n 2.41.1 like run.mjs does).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { CREDENTIAL_TYPE, NODE_TYPE, log, phase } from '../scripts/lib/harness.mjs';
import { restExecution } from './expect.mjs';

const require = createRequire(import.meta.url);

const EXECUTIONS = 4;
const ITEMS_PER_EXECUTION = 250;
const PER_SECOND = 20;
const LATENCY_MS = 100;
/** The overlapping runs need 1000 / 20 s = 50 s; give up well before the e2e tier would drag on. */
const DEADLINE_MS = 150_000;
const KEY = 'cloman_sk_test_overlap_e2e';

function workflowFor(credential, webhookPath) {
	return {
		name: 'CloMan e2e: overlapping runs on one key',
		nodes: [
			{
				id: randomUUID(),
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: randomUUID(),
				parameters: { httpMethod: 'POST', path: webhookPath, responseMode: 'onReceived', options: {} },
			},
			{
				id: randomUUID(),
				name: 'Items',
				type: 'n8n-nodes-base.code',
				typeVersion: 2,
				position: [220, 0],
				parameters: { jsCode: 'return $input.first().json.body.items.map((json) => ({ json }));' },
			},
			{
				id: randomUUID(),
				name: 'CloMan',
				type: NODE_TYPE,
				typeVersion: 1,
				position: [440, 0],
				onError: 'continueErrorOutput',
				credentials: { [CREDENTIAL_TYPE]: { id: credential.id, name: credential.name } },
				parameters: {
					operation: 'decide',
					context: "={{ 'Refund request ' + $json.id + ': ' + $json.amount + ' USD. Should we refund it?' }}",
					actionType: 'refund',
					dataMode: 'inputItem',
					routeBy: 'single',
					options: { concurrency: 16 },
				},
			},
		],
		connections: {
			Webhook: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'CloMan', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

const itemsOf = (call) =>
	Array.from({ length: ITEMS_PER_EXECUTION }, (_, i) => ({ id: `E${call}-${i}`, amount: (i * 37) % 700 }));

/**
 * The check. `instance`: a running n8n (scripts/lib/harness.mjs); `api`: its REST client, logged in as
 * the owner; `check(name, fn)`: the tier's check runner. Starts and stops its own rate-limited stand-in.
 */
export async function checkOverlappingRuns({ instance, api, check, prefix }) {
	if (instance.lineInfo.line !== 2) return;
	const { startStandin } = require('../test/standin/server.js');
	const standin = await startStandin({
		keys: { [KEY]: 'good' },
		latencyMs: LATENCY_MS,
		rateLimit: { perSecond: PER_SECOND, burst: PER_SECOND, retryAfter: 'seconds' },
		lifetimeMs: 10 * 60_000,
	});
	let workflow;
	try {
		await phase(`${prefix} overlapping runs on one key`, async () => {
			const title = `${prefix} overlapping runs: ${EXECUTIONS} webhook executions × ${ITEMS_PER_EXECUTION} items at once on one key (${PER_SECOND}/s, 429 + Retry-After), Concurrency 16: 0 items failed, every item once`;
			await check(title, async () => {
				const credential = await api.post('/rest/credentials', {
					name: 'CloMan (overlapping runs e2e)',
					type: CREDENTIAL_TYPE,
					data: { apiKey: KEY, baseUrl: standin.url },
				});
				assert.equal(credential.status, 200, `POST /rest/credentials: ${credential.status} ${credential.text.slice(0, 300)}`);
				const webhookPath = `cloman-overlap-${randomUUID().slice(0, 8)}`;
				const created = await api.post('/rest/workflows', workflowFor(credential.json.data, webhookPath));
				assert.equal(created.status, 200, `POST /rest/workflows: ${created.status} ${created.text.slice(0, 300)}`);
				workflow = created.json.data;
				const activated = await api.post(`/rest/workflows/${workflow.id}/activate`, { versionId: workflow.versionId });
				assert.equal(activated.status, 200, `activate: ${activated.status} ${activated.text.slice(0, 300)}`);
				await untilLive(api, workflow);

				const started = Date.now();
				const calls = await Promise.all(
					Array.from({ length: EXECUTIONS }, async (_, call) => {
						const res = await fetch(`${instance.url}/webhook/${webhookPath}`, {
							method: 'POST',
							headers: { 'content-type': 'application/json' },
							body: JSON.stringify({ items: itemsOf(call) }),
						});
						return { status: res.status, text: await res.text() };
					}),
				);
				for (const [call, r] of calls.entries()) assert.equal(r.status, 200, `webhook call ${call}: ${r.status} ${r.text.slice(0, 200)}`);

				const executions = await finishedExecutions(api, workflow.id, started);
				const wallMs = Math.max(...executions.map((e) => Date.parse(e.stoppedAt))) - started;
				const seen = new Set();
				let failed = 0;
				for (const summary of executions) {
					assert.equal(summary.status, 'success', `execution ${summary.id}: ${summary.status}`);
					const { data } = await restExecution(api, instance, summary.id);
					const body = data.resultData.runData.Webhook[0].data.main[0][0].json.body;
					const inputs = body.items.map((item) => item.id);
					const [decided = [], errors = []] = data.resultData.runData.CloMan[0].data.main;
					failed += errors.length;
					const indices = [...decided, ...errors].map((item) => item.pairedItem?.item ?? item.pairedItem?.[0]?.item).sort((a, b) => a - b);
					assert.deepEqual(indices, inputs.map((_, i) => i), `execution ${summary.id}: every input item exactly once on CloMan's outputs`);
					for (const item of decided) {
						assert.equal(typeof item.json.decision, 'string', `execution ${summary.id}: ${JSON.stringify(item.json).slice(0, 200)}`);
						seen.add(inputs[item.pairedItem?.item ?? item.pairedItem?.[0]?.item]);
					}
				}
				const { byStatus, total } = standin.stats();
				const share = ((100 * (byStatus['429'] ?? 0)) / Math.max(1, total)).toFixed(1);
				const spans = executions
					.map((e) => `${((Date.parse(e.startedAt) - started) / 1000).toFixed(1)}–${((Date.parse(e.stoppedAt) - started) / 1000).toFixed(1)} s`)
					.join(', ');
				log(`      ${executions.length} executions (${spans} after the calls), wall ${(wallMs / 1000).toFixed(1)} s (ideal ${(EXECUTIONS * ITEMS_PER_EXECUTION) / PER_SECOND} s); ${failed} on the error output; stand-in ${JSON.stringify(byStatus)} (429s ${share} % of ${total})`);
				assert.equal(failed, 0, `${failed} items on the error output`);
				assert.equal(seen.size, EXECUTIONS * ITEMS_PER_EXECUTION, `${seen.size} distinct items decided`);
			});
		});
	} finally {
		if (workflow) await api.post(`/rest/workflows/${workflow.id}/deactivate`, {}).catch(() => undefined);
		await standin.close();
	}
}

/** n8n 2.x publishes an activated workflow's triggers in the background: wait until its webhook is live. */
async function untilLive(api, workflow) {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const r = await api.get(`/rest/workflows/${workflow.id}/publication-status`);
		if (r.status === 404) return; // a line without background publication: live once activated
		assert.equal(r.status, 200, `publication-status: ${r.status} ${r.text.slice(0, 200)}`);
		const status = r.json.data;
		if (status.liveVersionId === workflow.versionId) return;
		const failed = (status.triggers ?? []).filter((t) => t.status === 'failed');
		if (failed.length > 0) throw new Error(`publishing failed: ${JSON.stringify(failed)}`);
		if (Date.now() > deadline) throw new Error(`the workflow was not live after 30 s: ${JSON.stringify(status)}`);
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
}

/** Waits for EXECUTIONS executions of the workflow started after `since` to finish; returns their summaries. */
async function finishedExecutions(api, workflowId, since) {
	const deadline = Date.now() + DEADLINE_MS;
	for (;;) {
		const filter = encodeURIComponent(JSON.stringify({ workflowId }));
		const r = await api.get(`/rest/executions?filter=${filter}&limit=20`);
		assert.equal(r.status, 200, `GET /rest/executions: ${r.status} ${r.text.slice(0, 200)}`);
		const runs = (r.json.data.results ?? []).filter((e) => Date.parse(e.startedAt ?? e.createdAt) >= since - 1000);
		const done = runs.filter((e) => !['new', 'running', 'waiting'].includes(e.status));
		if (done.length >= EXECUTIONS) return done;
		if (Date.now() > deadline) {
			throw new Error(`after ${DEADLINE_MS / 1000} s: ${runs.length} executions, statuses ${JSON.stringify(runs.map((e) => e.status))}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
}

// ---------------------------------------------------------------------------------------------
// On its own: `node e2e/overlap.mjs` (n8n 2.41.1 only, no browser, no other checks).

async function standalone() {
	const { LINES, buildAndPack, ensureN8n, ensureRepoDeps, installCleanup, killAll, prepareInstance, printTimings, restLogin, startN8n } =
		await import('../scripts/lib/harness.mjs');
	installCleanup();
	const results = [];
	const check = async (name, fn) => {
		try {
			await fn();
			results.push(true);
			log(`  ✔ ${name}`);
		} catch (error) {
			results.push(false);
			log(`  ✘ ${name}\n      ${String(error?.message ?? error).split('\n').join('\n      ')}`);
		}
	};
	const lineInfo = LINES[2];
	const prefix = `[n8n ${lineInfo.version}]`;
	let server;
	try {
		await phase('repository dependencies', ensureRepoDeps);
		const [pack] = await Promise.all([phase('npm run build + npm pack', buildAndPack), phase(`n8n ${lineInfo.version}`, () => ensureN8n(lineInfo))]);
		const instance = await phase(`${prefix} user folder + npm install of the tarball`, () =>
			prepareInstance({ name: 'e2e-overlap', lineInfo, tarball: pack.tarball }),
		);
		server = await phase(`${prefix} n8n start`, () => startN8n(instance));
		const api = await restLogin(instance);
		await checkOverlappingRuns({ instance, api, check, prefix });
	} catch (error) {
		results.push(false);
		log(`e2e overlap crashed: ${error.stack ?? error}`);
	} finally {
		await server?.stop();
		killAll();
	}
	printTimings('e2e overlap timings');
	const failed = results.filter((ok) => !ok).length;
	process.stdout.write(`\ne2e overlap: ${results.length - failed} passed, ${failed} failed\n`);
	process.exit(failed > 0 || results.length === 0 ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await standalone();
