// End-to-end tier: the packed n8n-nodes-cloman inside real n8n (npm run test:e2e).
//
// For each n8n line (2.41.1 on Node 24, 1.123.81 on Node 20; N8N_LINE=2 or N8N_LINE=1 picks one):
// install the tarball as a community package, import the example workflows and credentials, run
// the examples headlessly against the CloMan stand-in and check every item's output (on 1.x the
// batch example's Review node must refuse with its message); then start n8n and check, over its
// REST API as the owner, the node and credential types it serves and the credential Test button;
// on 2.x the whole human review (e2e/review.mjs); and once, in Debian's chromium, add the node from
// the node panel. Ends with one line "e2e: N passed, N failed" and exits non-zero on any failure.
//
// E2E_BROWSER=0 skips the browser checks; E2E_ONLY=review runs only the human-review checks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import {
	CREDENTIAL_TYPE,
	DEMO_CREDENTIAL,
	EXAMPLES,
	LINES,
	NODE_TYPE,
	PACKAGE_NAME,
	ROOT,
	TOOL_NODE_TYPE,
	buildAndPack,
	ensureN8n,
	ensureRepoDeps,
	executeWorkflow,
	importCredentials,
	importWorkflows,
	installCleanup,
	log,
	n8nCli,
	nodeItems,
	nodeOutputs,
	parseRawOutput,
	phase,
	prepareInstance,
	restLogin,
	startN8n,
	writeBatchExample,
} from '../scripts/lib/harness.mjs';
import { checkRunner } from './checks.mjs';
import { codeNodeItems, needsReview, sameIds } from './expect.mjs';
import { addCloManToNewWorkflow, artifactsDir, isEditorPackageLookup, openSession, outputLabels, prepareBrowser, screenshotWorkflow } from './browser.mjs';
import { checkOverlappingRuns } from './overlap.mjs';
import { REVIEW_NODE, REVIEW_OUTPUTS, checkReview, checkReviewFromEditor } from './review.mjs';
import { checkLargeReview } from './review-large.mjs';
import { instanceName, privateTarball } from './isolate.mjs';
import { checkReviewers } from './reviewers.mjs';

const require = createRequire(import.meta.url);
/** E2E_ONLY=review: only the human-review checks (install, import, n8n start, review), for iterating on them. */
/** E2E_ONLY=reviewers: only the accountable-review checks (e2e/reviewers.mjs). */
const ONLY_REVIEWERS = process.env.E2E_ONLY === 'reviewers';
const ONLY_REVIEW = process.env.E2E_ONLY === 'review' || ONLY_REVIEWERS;

const { check, skipped, runTier } = checkRunner('e2e');

// ---------------------------------------------------------------------------------------------
// Expectations, computed from the stand-in's own default policy (test/standin/server.js)

const GOOD_KEY = 'cloman_sk_test_good';
/** What the Review node says on n8n 1.x (it needs n8n 2.x). */
const REVIEW_REFUSED_1X = /needs n8n 2\.x/;
const CREDENTIALS = {
	good: { ...DEMO_CREDENTIAL, apiKey: GOOD_KEY },
	badKey: { id: 'ClomanCredBadKey', name: 'CloMan (wrong key)', apiKey: 'cloman_sk_not_a_real_key' },
	noScope: { id: 'ClomanCredNoScop', name: 'CloMan (key without decide scope)', apiKey: 'cloman_sk_test_noscope' },
	orphan: { id: 'ClomanCredOrphan', name: 'CloMan (key without clone)', apiKey: 'cloman_sk_test_orphan' },
};

/** The items a Code node of an example emits, by running its jsCode the way n8n's Code node would. */
function idsOf(items) {
	return items.map((i) => i.json.id);
}


// ---------------------------------------------------------------------------------------------

async function checkBatchExample(instance, standin, receiver, prefix) {
	const inputs = codeNodeItems(EXAMPLES.batch.file, 'Refund requests');
	const { defaultPolicy } = require('../test/standin/server.js');
	const expected = inputs.map((input) => ({ input, decision: defaultPolicy({ data: input }) }));
	const expectAutoDecided = expected.filter((e) => !needsReview(e.decision)).map((e) => e.input.id);
	const expectReview = expected.filter((e) => needsReview(e.decision)).map((e) => e.input.id);
	const line2 = instance.lineInfo.line === 2;

	standin.reset();
	receiver.reset();
	let run;
	const ran = await check(
		line2
			? `${prefix} batch example: n8n execute pauses at "${REVIEW_NODE}" (status waiting) after the clone's own decisions are done`
			: `${prefix} batch example: n8n execute stops at "${REVIEW_NODE}", which n8n 1.x refuses with the node's message`,
		async () => {
			const r = await n8nCli(instance, ['execute', `--id=${EXAMPLES.batch.id}`, '--rawOutput'], { allowFail: true });
			run = parseRawOutput(r.stdout + '\n' + r.stderr);
			const error = run.data.resultData.error;
			if (line2) {
				assert.equal(error, undefined, `the run failed: ${error?.message}`);
				assert.equal(run.status, 'waiting', `status ${run.status} (exit ${r.code})`);
				assert.equal(run.data.resultData.lastNodeExecuted, REVIEW_NODE);
			} else {
				assert.notEqual(r.code, 0, 'n8n execute succeeded on n8n 1.x');
				assert.equal(error?.node?.name ?? error?.node, REVIEW_NODE, `the run stopped at ${JSON.stringify(error?.node?.name ?? error?.node)}: ${error?.message}`);
				assert.match(`${error.message} ${error.description ?? ''}`, REVIEW_REFUSED_1X, `the message: ${error.message} ${error.description ?? ''}`);
				log(`      ${error.message}${error.description ? ` — ${error.description}` : ''}`);
			}
		},
	);
	if (!ran) return;

	const outputs = nodeOutputs(run, 'CloMan');
	await check(`${prefix} batch example: every one of ${inputs.length} input items leaves CloMan on exactly one output`, () => {
		assert.ok(outputs, 'the CloMan node did not run');
		assert.equal(outputs.length, 2, `CloMan has ${outputs?.length} outputs, expected 2 (Auto-Decided, Needs Review)`);
		const all = outputs.flatMap(idsOf);
		sameIds(all, inputs.map((i) => i.id), 'items over all outputs');
		assert.equal(new Set(all).size, all.length, 'an item came out twice');
	});
	await check(`${prefix} batch example: Auto-Decided ${expectAutoDecided.length} / Needs Review ${expectReview.length}, as the stand-in's policy decides`, () => {
		sameIds(idsOf(outputs[0]), expectAutoDecided, 'Auto-Decided');
		sameIds(idsOf(outputs[1]), expectReview, 'Needs Review');
		for (const { input, decision } of expected) {
			const item = outputs.flat().find((i) => i.json.id === input.id);
			assert.equal(item.json.cloman?.decision, decision.decision, `${input.id}: decision`);
			assert.equal(item.json.cloman?.confidence, decision.confidence, `${input.id}: confidence`);
			assert.equal(item.json.customer, input.customer, `${input.id}: the input fields stay beside "cloman"`);
			assert.equal(typeof item.json.cloman?.decision_id, 'string', `${input.id}: decision_id`);
		}
	});
	await check(`${prefix} batch example: the clone's own decisions go on (refunded, declined); nothing after the review ran`, () => {
		const auto = expected.filter((e) => !needsReview(e.decision));
		const refunded = auto.filter((e) => e.decision.decision === 'approve').map((e) => e.input.id);
		const declined = auto.filter((e) => e.decision.decision !== 'approve').map((e) => e.input.id);
		const marked = nodeItems(run, 'Mark refunded');
		sameIds(idsOf(marked), refunded, 'Mark refunded');
		assert.ok(marked.every((i) => i.json.status === 'refunded'));
		sameIds(idsOf(nodeItems(run, 'Mark declined')), declined, 'Mark declined');
		for (const { node } of REVIEW_OUTPUTS) assert.equal(nodeItems(run, node).length, 0, `${node} ran before the review`);
	});
	if (line2) {
		await check(`${prefix} batch example: the review link (n8n's resume token) was posted to the incoming webhook as {"text": …}`, async () => {
			const post = await receiver.waitForPost(() => true, 5_000);
			assert.equal(post.shape, 'text', post.rawBody);
			assert.equal(post.links.length, 1, post.message);
			const url = new URL(post.links[0]);
			assert.equal(url.origin, instance.url);
			assert.match(url.pathname, /^\/webhook-waiting\/\d+/);
			assert.ok(url.searchParams.get('signature'), 'no signature in the link');
			assert.ok(!post.rawBody.includes(GOOD_KEY), 'the notification carries the API key');
		});
	} else {
		await check(`${prefix} batch example: nothing was posted to the incoming webhook`, () => {
			assert.deepEqual(receiver.posts, []);
		});
	}
	await check(`${prefix} batch example: the stand-in got one decide request per item, with the key header and typed data`, () => {
		const decides = standin.requests.filter((r) => r.path === '/api/v1/public/decide');
		assert.equal(decides.length, inputs.length, `${decides.length} requests`);
		for (const r of decides) {
			assert.equal(r.headers['x-api-key'], GOOD_KEY, 'X-API-Key header');
			assert.equal(r.status, 200, `status ${r.status}`);
			assert.equal(r.body.action_type, 'refund');
			const input = inputs.find((i) => i.id === r.body.data.id);
			assert.ok(input, `request for unknown id ${r.body?.data?.id}`);
			assert.ok(r.body.context.includes(input.id), 'context built from the item');
			assert.deepEqual(r.body.data.amount ?? null, input.amount, `${input.id}: data.amount keeps its type`);
			assert.equal(r.body.data.reason, input.reason);
		}
	});
}

async function checkRouteExample(instance, standin, prefix) {
	const inputs = codeNodeItems(EXAMPLES.route.file, 'Purchase requests');
	const { defaultPolicy } = require('../test/standin/server.js');
	const failing = inputs.filter((i) => i.question.trim() === '').map((i) => i.id);
	const decided = inputs.filter((i) => i.question.trim() !== '');
	const byDecision = (d) => decided.filter((i) => defaultPolicy({ data: i }).decision === d).map((i) => i.id);
	const expectApprove = byDecision('approve');
	const expectDeny = byDecision('deny');
	const expectOther = decided.filter((i) => !['approve', 'deny'].includes(defaultPolicy({ data: i }).decision)).map((i) => i.id);

	standin.reset();
	let run;
	const ran = await check(`${prefix} route example: n8n execute succeeds although items fail (error output in use)`, async () => {
		({ run } = await executeWorkflow(instance, EXAMPLES.route.id));
	});
	if (!ran) return;
	const outputs = nodeOutputs(run, 'CloMan');
	const inputIdOf = (item) => inputs[item.pairedItem?.item ?? item.pairedItem?.[0]?.item]?.id;
	await check(
		`${prefix} route example: approve ${expectApprove.length} / deny ${expectDeny.length} / Other ${expectOther.length} / error output ${failing.length}`,
		() => {
			assert.ok(outputs, 'the CloMan node did not run');
			assert.equal(outputs.length, 4, `CloMan has ${outputs.length} outputs, expected 4 (Approve, Deny, Other, error)`);
			sameIds(idsOf(outputs[0]), expectApprove, 'Approve');
			sameIds(idsOf(outputs[1]), expectDeny, 'Deny');
			sameIds(idsOf(outputs[2]), expectOther, 'Other');
			sameIds(outputs[3].map(inputIdOf), failing, 'error output (by paired input item)');
			const all = [...outputs.slice(0, 3).flatMap(idsOf), ...outputs[3].map(inputIdOf)];
			sameIds(all, inputs.map((i) => i.id), 'every input item on exactly one output');
		},
	);
	await check(`${prefix} route example: failed items carry the error (empty context) on the error output`, () => {
		for (const item of outputs[3]) {
			assert.ok(item.json.error, `error item without "error": ${JSON.stringify(item.json)}`);
			assert.equal(item.json.id, inputIdOf(item), `the error item keeps its input fields: ${JSON.stringify(item.json)}`);
			const message = item.json.error.message ?? String(item.json.error);
			assert.match(message, /context/i, `error message: ${message}`);
		}
		const logged = nodeItems(run, 'Log failure');
		assert.equal(logged.length, failing.length);
		assert.ok(logged.every((i) => i.json.status === 'failed' && /context/i.test(i.json.failure)), JSON.stringify(logged.map((i) => i.json)));
	});
	await check(`${prefix} route example: downstream nodes got their items; no request was sent for the failing ones`, () => {
		sameIds(idsOf(nodeItems(run, 'Place order')), expectApprove, 'Place order');
		sameIds(idsOf(nodeItems(run, 'Tell requester: denied')), expectDeny, 'Tell requester: denied');
		sameIds(idsOf(nodeItems(run, 'Ask for details')), expectOther, 'Ask for details');
		const decides = standin.requests.filter((r) => r.path === '/api/v1/public/decide');
		assert.equal(decides.length, decided.length, `${decides.length} decide requests, expected ${decided.length}`);
		assert.ok(decides.every((r) => r.body.action_type === 'purchase'));
	});
}

async function checkServer(instance, standin, prefix, { browserTools, artifacts, receiver }) {
	let server;
	try {
		server = await phase(`${prefix} n8n start`, () => startN8n(instance));
	} catch (error) {
		skipped(`${prefix} n8n start serves the editor and REST API`, error.message);
		return;
	}
	try {
		let api;
		const loggedIn = await check(`${prefix} REST: log in as the instance owner`, async () => {
			api = await restLogin(instance);
		});
		if (loggedIn && !ONLY_REVIEW) {
			await check(`${prefix} REST: node types include ${NODE_TYPE} and ${TOOL_NODE_TYPE}; credential types include ${CREDENTIAL_TYPE}`, async () => {
				const nodes = await api.get('/types/nodes.json');
				assert.equal(nodes.status, 200, `/types/nodes.json: ${nodes.status}`);
				const names = new Set(nodes.json.map((n) => n.name));
				assert.ok(names.has(NODE_TYPE), `${NODE_TYPE} is not served (${nodes.json.length} node types)`);
				assert.ok(names.has(TOOL_NODE_TYPE), `${TOOL_NODE_TYPE} is not served`);
				const main = nodes.json.find((n) => n.name === NODE_TYPE);
				assert.equal(main.displayName, 'CloMan');
				assert.ok(main.credentials?.some((c) => c.name === CREDENTIAL_TYPE), 'the node asks for the cloManApi credential');
				const credentials = await api.get('/types/credentials.json');
				assert.equal(credentials.status, 200);
				assert.ok(credentials.json.some((c) => c.name === CREDENTIAL_TYPE), `${CREDENTIAL_TYPE} is not served`);
			});
			await check(`${prefix} REST: the example workflows are there for the owner`, async () => {
				for (const example of Object.values(EXAMPLES)) {
					const r = await api.get(`/rest/workflows/${example.id}`);
					assert.equal(r.status, 200, `${example.id}: ${r.status}`);
					assert.ok(r.json.data.nodes.some((n) => n.type === NODE_TYPE), `${example.id} has no CloMan node`);
				}
			});
			const test = async (credential) => {
				const r = await api.post('/rest/credentials/test', {
					credentials: {
						id: credential.id,
						name: credential.name,
						type: CREDENTIAL_TYPE,
						data: { apiKey: credential.apiKey, baseUrl: standin.url },
					},
				});
				assert.equal(r.status, 200, `/rest/credentials/test: ${r.status} ${r.text.slice(0, 300)}`);
				return r.json.data;
			};
			await check(`${prefix} credential Test button: a good key passes`, async () => {
				const result = await test(CREDENTIALS.good);
				assert.equal(result.status, 'OK', JSON.stringify(result));
			});
			await check(`${prefix} credential Test button: a wrong key fails (401)`, async () => {
				const result = await test(CREDENTIALS.badKey);
				assert.equal(result.status, 'Error', JSON.stringify(result));
				assert.match(result.message, /401|key/i, result.message);
			});
			await check(`${prefix} credential Test button: a key without the decide scope fails (403)`, async () => {
				const result = await test(CREDENTIALS.noScope);
				assert.equal(result.status, 'Error', JSON.stringify(result));
				assert.match(result.message, /403|scope/i, result.message);
			});
			await check(`${prefix} credential Test button: a key not linked to a clone fails (404)`, async () => {
				const result = await test(CREDENTIALS.orphan);
				assert.equal(result.status, 'Error', JSON.stringify(result));
				assert.match(result.message, /404|clone/i, result.message);
			});
			await checkOverlappingRuns({ instance, api, check, prefix });
		}
		let reviewWaitLimit;
		if (loggedIn && instance.lineInfo.line === 2 && !ONLY_REVIEWERS) {
			reviewWaitLimit = await phase(`${prefix} human review`, () => checkReview({ instance, api, receiver, standin, check, prefix, browserTools, artifacts }));
			await phase(`${prefix} large human review`, () => checkLargeReview({ instance, api, receiver, check, prefix, browserTools, artifacts }));
		}
		if (loggedIn && instance.lineInfo.line === 2) {
			await phase(`${prefix} accountable review (who may review, four-eyes)`, () => checkReviewers({ instance, api, receiver, check, prefix, browserTools, artifacts }));
		}

		if (browserTools && !ONLY_REVIEW) {
			await phase(`${prefix} browser (chromium)`, async () => {
				let session;
				const opened = await check(`${prefix} browser: log in to the editor`, async () => {
					session = await openSession(browserTools, instance);
				});
				if (!opened) return;
				try {
					const shot = path.join(artifacts, `n8n${instance.lineInfo.line}-new-workflow-cloman.png`);
					await check(`${prefix} browser: the node panel finds "CloMan" and adds it; the canvas shows its outputs`, async () => {
						const seen = await addCloManToNewWorkflow(session, instance, shot);
						assert.ok(seen.nodes.includes('CloMan'), `canvas nodes: ${JSON.stringify(seen.nodes)}`);
						assert.deepEqual(
							seen.outputs.map((o) => o.label),
							['Auto-Decided', 'Needs Review'],
							`output labels: ${JSON.stringify(seen.outputs)}`,
						);
						for (const p of ['context', 'actionType', 'dataMode', 'routeBy']) {
							assert.ok(seen.parameters.includes(p), `the node's panel lacks ${p}: ${JSON.stringify(seen.parameters)}`);
						}
						log(`      screenshot: ${path.relative(ROOT, shot)}`);
					});
					await check(`${prefix} browser: the route-by-decision example shows outputs Approve, Deny, Other and the error output`, async () => {
						const file = path.join(artifacts, `n8n${instance.lineInfo.line}-route-by-decision.png`);
						const labels = await screenshotWorkflow(session, instance, EXAMPLES.route.id, file);
						assert.deepEqual(labels.map((l) => l.label), ['Approve', 'Deny', 'Other', 'Error'], JSON.stringify(labels));
						log(`      screenshot: ${path.relative(ROOT, file)}`);
					});
					await check(`${prefix} browser: the batch example shows CloMan's outputs Auto-Decided, Needs Review and the review's ${REVIEW_OUTPUTS.map((o) => o.name).join(', ')}`, async () => {
						const file = path.join(artifacts, `n8n${instance.lineInfo.line}-scheduled-batch-approvals.png`);
						const labels = await screenshotWorkflow(session, instance, EXAMPLES.batch.id, file);
						assert.deepEqual(labels.map((l) => l.label), ['Auto-Decided', 'Needs Review'], JSON.stringify(labels));
						const review = await outputLabels(session.page, REVIEW_NODE);
						assert.deepEqual(review.map((l) => l.label), REVIEW_OUTPUTS.map((o) => o.name), JSON.stringify(review));
						log(`      screenshot: ${path.relative(ROOT, file)}`);
					});
					if (api && instance.lineInfo.line === 2) await checkReviewFromEditor({ session, instance, api, receiver, check, prefix, artifacts });
					await check(`${prefix} browser: nothing but n8n's own package lookup tried to leave 127.0.0.1 (blocked)`, () => {
						const unexpected = [...new Set(session.outside)].filter((u) => !isEditorPackageLookup(u, PACKAGE_NAME));
						assert.deepEqual(unexpected, [], 'requests outside 127.0.0.1');
						if (session.outside.length > 0) log(`      blocked n8n's npm lookup of ${PACKAGE_NAME} (${session.outside.length} requests)`);
					});
				} finally {
					await session.close();
				}
			});
		}
		if (reviewWaitLimit) await phase(`${prefix} human review: the wait limit`, reviewWaitLimit);
	} finally {
		await server.stop();
	}
}

async function runLine(lineInfo, { pack, installed, standin, receiver, browserTools, artifacts }) {
	const prefix = `[n8n ${lineInfo.version}]`;
	log(`\n━━ n8n ${lineInfo.version} ━━`);
	if (installed.status !== 'fulfilled') {
		skipped(`${prefix} n8n installs`, installed.reason?.message ?? String(installed.reason));
		return;
	}
	log(`  n8n ${lineInfo.version} on Node ${installed.value.node.version}${installed.value.cached ? ' (cached)' : ''}`);
	let instance;
	const ready = await check(`${prefix} the packed tarball installs as a community package (.n8n/nodes)`, async () => {
		instance = await phase(`${prefix} user folder + npm install of the tarball`, () =>
			// Per worktree (e2e/isolate.mjs): .cache/instances is shared by every worktree.
			prepareInstance({ name: instanceName(`e2e-n8n${lineInfo.line}`), lineInfo, tarball: pack.tarball }),
		);
		const pkg = JSON.parse(fs.readFileSync(path.join(instance.nodesDir, 'package.json'), 'utf8'));
		assert.ok(pkg.dependencies?.[PACKAGE_NAME], `nodes/package.json lists ${JSON.stringify(pkg.dependencies)}`);
	});
	if (!ready) return;
	const imported = await check(`${prefix} import:credentials and import:workflow`, () =>
		phase(`${prefix} import credentials + example workflows`, async () => {
			await importCredentials(
				instance,
				Object.values(CREDENTIALS).map((c) => ({
					id: c.id,
					name: c.name,
					type: CREDENTIAL_TYPE,
					data: { apiKey: c.apiKey, baseUrl: standin.url },
				})),
			);
			// The batch example with its review channel pointed at the local incoming-webhook receiver.
			await importWorkflows(instance, [writeBatchExample(instance.userFolder, receiver.urlFor('slack')), EXAMPLES.route.file]);
		}),
	);
	if (!imported) return;
	if (!ONLY_REVIEW) {
		await phase(`${prefix} execute the batch example`, () => checkBatchExample(instance, standin, receiver, prefix));
		await phase(`${prefix} execute the route example`, () => checkRouteExample(instance, standin, prefix));
	}
	standin.reset();
	await checkServer(instance, standin, prefix, { browserTools, artifacts, receiver });
}

async function main() {
	installCleanup();
	const which = (process.env.N8N_LINE || 'all').trim();
	const lines = which === 'all' ? [LINES[2], LINES[1]] : which.split(',').map((l) => LINES[l.trim()]);
	if (lines.some((l) => !l)) throw new Error(`N8N_LINE must be 2, 1 or all, not "${which}"`);
	const wantBrowser = process.env.E2E_BROWSER !== '0';
	const artifacts = artifactsDir(ROOT);
	if (process.env.E2E_ONLY && !ONLY_REVIEW) throw new Error(`E2E_ONLY must be "review", "reviewers" or unset, not "${process.env.E2E_ONLY}"`);
	log(`e2e: n8n ${lines.map((l) => l.version).join(' and ')}; browser check ${wantBrowser ? 'on' : 'off'}${ONLY_REVIEW ? '; only the human-review checks (E2E_ONLY=review)' : ''}; artifacts in ${path.relative(ROOT, artifacts)}`);

	await phase('repository dependencies', ensureRepoDeps);
	// The slow parts in parallel: the n8n installs (network, then native builds), build + pack, the browser.
	const [packed, browserReady, ...installs] = await Promise.allSettled([
		phase('npm run build + npm pack', buildAndPack),
		wantBrowser ? phase('chromium (apt) + playwright-core (.cache)', prepareBrowser) : Promise.resolve(undefined),
		...lines.map((l) => phase(`n8n ${l.version} (${l.node === 'node24' ? 'Node 24' : 'system Node'})`, () => ensureN8n(l))),
	]);
	const packOk = await check('npm pack: the tarball holds the built node and credential', () => {
		if (packed.status !== 'fulfilled') throw packed.reason;
		// Out of the shared .cache/pack at once, checked to be this worktree's build (e2e/isolate.mjs).
		packed.value.tarball = privateTarball(packed.value.tarball);
		log(`      ${path.relative(ROOT, packed.value.tarball)}: ${packed.value.files.length} files, ${packed.value.size} bytes`);
	});
	let browserTools;
	if (wantBrowser) {
		const ok = await check('browser tools: Debian chromium + playwright-core', () => {
			if (browserReady.status !== 'fulfilled') throw browserReady.reason;
			log(`      ${browserReady.value.chromium.version}; playwright-core ${browserReady.value.playwrightVersion}`);
		});
		if (ok) browserTools = browserReady.value;
	}
	if (!packOk) return;

	const { startStandin } = require('../test/standin/server.js');
	const standin = await startStandin({ lifetimeMs: 2 * 3600_000 });
	log(`CloMan stand-in at ${standin.url}`);
	const receiver = await require('../test/standin/incoming-webhook.js').startIncomingWebhook({ lifetimeMs: 2 * 3600_000 });
	log(`incoming-webhook receiver (where the review link is posted) at ${receiver.url}`);
	try {
		for (const [i, lineInfo] of lines.entries()) {
			// One real-browser check: on the first line run (2.41.1 unless N8N_LINE says otherwise).
			await runLine(lineInfo, {
				pack: packed.value,
				installed: installs[i],
				standin,
				receiver,
				browserTools: i === 0 ? browserTools : undefined,
				artifacts,
			});
		}
	} finally {
		await standin.close();
		await receiver.close();
	}
}

await runTier(main);
