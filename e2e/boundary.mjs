// The n8n 2.39 boundary in real n8n (issue 15; part of `npm run test:e2e`): n8n 2.38.5, the last n8n
// before 2.39.0, passes on only the first output of a node that resumes from its waiting webhook;
// n8n 2.39.0 passes on all of them. On each, with the packed package installed as a community package:
//
// - (2.38.5 only) Decide's routing, which never resumes: the route-by-decision example through
//   `n8n execute`, every item on the output of its decision or on the error output.
// - The human review: a webhook-triggered copy of the scheduled batch example is published and
//   triggered; the run waits; the link reaches the local incoming-webhook receiver; the page (GET)
//   says up front where the items will go; a reviewer's submit (POST, as the browser sends the form)
//   changes two items and keeps the rest; the execution, read over REST, finishes with every
//   reviewed item once on an output: on 2.38.5 all on "Not Reviewed" in input order with their final
//   decision in `review` (and the done page says so), on 2.39.0 each on its final decision's output.
//
// 2.41.1 runs the whole review in e2e/run.mjs (e2e/review.mjs). The two lines run one after the
// other (their installs in parallel, each line as soon as its install is there); BOUNDARY_LINES=2.38 or 2.39 picks one (2: the same checks on 2.41.1). Ends with one line
// "boundary: N passed, N failed" and exits non-zero on any failure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

import {
	CREDENTIAL_TYPE,
	DEMO_CREDENTIAL,
	EXAMPLES,
	LINES,
	batchExampleWithChannel,
	buildAndPack,
	ensureN8n,
	executeWorkflow,
	importCredentials,
	importWorkflows,
	installCleanup,
	log,
	nodeOutputs,
	phase,
	prepareInstance,
	restLogin,
	sleep,
	startN8n,
} from '../scripts/lib/harness.mjs';
import { checkRunner } from './checks.mjs';
import { codeNodeItems, restExecution, sameIds } from './expect.mjs';
import { REVIEW_NODE, REVIEW_OUTPUTS, expectedReviewItems } from './review.mjs';

const require = createRequire(import.meta.url);
const { check, skipped, runTier } = checkRunner('boundary');

const GOOD_KEY = 'cloman_sk_test_good';
const WORKFLOW_ID = 'ClomanBoundary01';
const TRIGGER_PATH = 'cloman-boundary-review';
/** Said on the page (GET) and the done page where n8n passes on only the first output (resume.ts). */
const FIRST_OUTPUT_NOTICE = /older than 2\.39 and passes on only the first output/;

/** Each line and what it must show. */
const BOUNDARY = {
	'2.38': { lineInfo: LINES['2.38'], forwardsAll: false, decide: true },
	'2.39': { lineInfo: LINES['2.39'], forwardsAll: true, decide: false },
	// Not run by default (e2e/run.mjs covers 2.41.1): BOUNDARY_LINES=2 runs these checks there too.
	2: { lineInfo: LINES[2], forwardsAll: true, decide: true },
};

/** The batch example started by a POST to /webhook/<TRIGGER_PATH>; each output's Set node records $('CloMan').item. */
function reviewWorkflow(channelUrl) {
	const workflow = batchExampleWithChannel(channelUrl);
	workflow.id = WORKFLOW_ID;
	workflow.name = `CloMan boundary e2e (webhook /${TRIGGER_PATH})`;
	const triggers = new Set(['Every hour', 'Run now']);
	workflow.nodes = workflow.nodes.filter((n) => !triggers.has(n.name));
	for (const name of triggers) delete workflow.connections[name];
	workflow.nodes.unshift({
		id: '0e2e0000-0000-4000-8000-0000000b0001',
		name: 'Start boundary e2e',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 100],
		webhookId: '0e2e0000-0000-4000-8000-0000000b0002',
		parameters: { httpMethod: 'POST', path: TRIGGER_PATH, responseMode: 'onReceived', options: {} },
	});
	workflow.connections['Start boundary e2e'] = { main: [[{ node: 'Review settings', type: 'main', index: 0 }]] };
	for (const [i, { node }] of REVIEW_OUTPUTS.entries()) {
		workflow.nodes.find((n) => n.name === node).parameters.assignments.assignments.push({
			id: `0e2e0000-0000-4000-8000-0000000b010${i}`,
			name: 'pairedCheck',
			value: "={{ (() => { try { return $('CloMan').item.json.id } catch (error) { return 'error: ' + error.message } })() }}",
			type: 'string',
		});
	}
	return workflow;
}

/** The output an item with this final decision belongs on (its listed value's, else Other). */
function outputOf(decision) {
	const i = REVIEW_OUTPUTS.findIndex((o) => o.value === decision);
	return i >= 0 ? i : REVIEW_OUTPUTS.findIndex((o) => o.other);
}

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/**
 * The form body a browser sends from the page: hidden and text inputs with their values, every
 * decision kept, notes empty; `choices` ({ "<index>": decision | ["__other__", text] }) changed; the
 * submit button before form_end, which comes last.
 */
function submitBody(html, choices) {
	const body = new URLSearchParams();
	for (const tag of html.match(/<input\b[^>]*>/g) ?? []) {
		const name = /\bname="([^"]*)"/.exec(tag)?.[1];
		if (name) body.append(name, unescapeHtml(/\bvalue="([^"]*)"/.exec(tag)?.[1] ?? ''));
	}
	for (const m of html.matchAll(/<select\b[^>]*\bname="([^"]+)"/g)) body.set(m[1], '__keep__');
	for (const m of html.matchAll(/<textarea\b[^>]*\bname="([^"]+)"/g)) body.set(m[1], '');
	for (const [index, choice] of Object.entries(choices)) {
		assert.ok(body.has(`decision_${index}`), `the page has no decision_${index}`);
		if (Array.isArray(choice)) {
			body.set(`decision_${index}`, choice[0]);
			body.set(`custom_${index}`, choice[1]);
		} else body.set(`decision_${index}`, choice);
	}
	const end = body.get('form_end');
	assert.ok(end !== null, 'the form has no form_end');
	body.delete('form_end');
	body.append('submit', '1');
	body.append('form_end', end);
	return body;
}

async function waitForStatus(api, instance, id, wanted, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const e = await restExecution(api, instance, id);
		if (wanted.includes(e.status)) return e;
		if (['error', 'crashed', 'canceled'].includes(e.status)) throw new Error(`execution ${id} ended ${e.status}: ${e.data?.resultData?.error?.message ?? ''}`);
		if (Date.now() > deadline) throw new Error(`execution ${id} is ${e.status}, not ${wanted.join('/')}, after ${timeoutMs / 1000} s`);
		await sleep(500);
	}
}

/** The route-by-decision example through `n8n execute`: Decide never resumes, so every output is passed on. */
async function checkDecideRouting(instance, standin, prefix) {
	const inputs = codeNodeItems(EXAMPLES.route.file, 'Purchase requests');
	const { defaultPolicy } = require('../test/standin/server.js');
	const decided = inputs.filter((i) => i.question.trim() !== '');
	const failing = inputs.filter((i) => i.question.trim() === '').map((i) => i.id);
	const byDecision = (d) => decided.filter((i) => defaultPolicy({ data: i }).decision === d).map((i) => i.id);
	const other = decided.filter((i) => !['approve', 'deny'].includes(defaultPolicy({ data: i }).decision)).map((i) => i.id);
	await check(`${prefix} Decide: the route-by-decision example puts every item on its decision's output (Approve / Deny / Other) or the error output`, async () => {
		standin.reset();
		const { run } = await executeWorkflow(instance, EXAMPLES.route.id);
		const outputs = nodeOutputs(run, 'CloMan');
		assert.equal(outputs?.length, 4, `CloMan has ${outputs?.length} outputs, expected 4`);
		const ids = (items) => items.map((i) => i.json.id);
		const inputIdOf = (item) => inputs[item.pairedItem?.item ?? item.pairedItem?.[0]?.item]?.id;
		sameIds(ids(outputs[0]), byDecision('approve'), 'Approve');
		sameIds(ids(outputs[1]), byDecision('deny'), 'Deny');
		sameIds(ids(outputs[2]), other, 'Other');
		sameIds(outputs[3].map(inputIdOf), failing, 'error output');
		log(`      Approve ${outputs[0].length}, Deny ${outputs[1].length}, Other ${outputs[2].length}, error ${outputs[3].length}`);
	});
}

/** The human review on a running n8n; `forwardsAll`: whether this n8n passes on every output of a resumed node. */
async function checkReviewBoundary({ instance, api, receiver, standin, prefix, forwardsAll }) {
	const expected = expectedReviewItems();
	const count = expected.length;
	const p = `${prefix} review`;
	const published = await check(`${p}: a webhook-triggered copy of the batch example is created and published`, async () => {
		const created = await api.post('/rest/workflows', { ...reviewWorkflow(receiver.urlFor('slack')), active: false });
		assert.equal(created.status, 200, `POST /rest/workflows: ${created.status} ${created.text.slice(0, 300)}`);
		const activated = await api.post(`/rest/workflows/${WORKFLOW_ID}/activate`, { versionId: created.json.data.versionId });
		assert.equal(activated.status, 200, `activate: ${activated.status} ${activated.text.slice(0, 300)}`);
	});
	if (!published) return;

	let link;
	let executionId;
	const waiting = await check(`${p}: triggered, the run waits at "${REVIEW_NODE}"; Decide split the batch; the link reaches the incoming webhook`, async () => {
		receiver.reset();
		standin.reset();
		const deadline = Date.now() + 20_000;
		for (;;) {
			const r = await fetch(`${instance.url}/webhook/${TRIGGER_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
			const text = await r.text();
			if (r.status === 404 && Date.now() < deadline) {
				await sleep(250);
				continue;
			}
			assert.equal(r.status, 200, `POST /webhook/${TRIGGER_PATH}: ${r.status} ${text.slice(0, 300)}`);
			break;
		}
		const post = await receiver.waitForPost(() => true, 90_000);
		assert.equal(post.links.length, 1, post.message);
		link = post.links[0];
		assert.ok(!post.rawBody.includes(GOOD_KEY), 'the notification carries the API key');
		executionId = /\/webhook-waiting\/(\d+)\//.exec(new URL(link).pathname)?.[1];
		assert.ok(executionId, `not a waiting-webhook link: ${link}`);
		const e = await waitForStatus(api, instance, executionId, ['waiting'], 30_000);
		assert.equal(e.data.resultData.lastNodeExecuted, REVIEW_NODE);
		// Decide's own routing in the same run: Auto-Decided / Needs Review (the items waiting now).
		const decide = e.data.resultData.runData.CloMan[0].data.main.map((items) => (items ?? []).map((i) => i.json.id));
		sameIds(decide[1], expected.map((x) => x.input.id), 'Needs Review');
		assert.equal(decide[0].length + decide[1].length, 12, `Decide put out ${decide[0].length + decide[1].length} of 12 items`);
	});
	if (!waiting) return;

	// Two changes that leave their clone's output: one to the other listed value, one typed (→ Other).
	const [first, second] = expected;
	const flip = first.decision.decision === 'approve' ? 'deny' : 'approve';
	const typed = 'escalate to finance';
	const finalOf = (x, i) => (i === 0 ? flip : i === 1 ? typed : x.decision.decision);

	let page;
	await check(`${p}: the page (GET) lists the ${count} items and ${forwardsAll ? 'has no notice' : 'says up front that every item goes on "Not Reviewed", not split by decision'}`, async () => {
		const r = await fetch(link, { redirect: 'manual' });
		page = await r.text();
		assert.equal(r.status, 200, `GET: ${r.status} ${page.slice(0, 300)}`);
		for (const { input } of expected) assert.ok(page.includes(input.id), `the page lacks ${input.id}`);
		const notice = FIRST_OUTPUT_NOTICE.test(unescapeHtml(page));
		assert.equal(notice, !forwardsAll, forwardsAll ? 'the page has the first-output notice' : 'the page lacks the first-output notice');
		if (!forwardsAll) log(`      page: ${unescapeHtml(/<p class="alert"[^>]*>([^<]*)<\/p>/.exec(page)?.[1] ?? '')}`);
	});
	if (!page) return;

	let done;
	await check(`${p}: the reviewer submits (2 changed, the rest kept); the done page ${forwardsAll ? 'counts them' : 'counts them and says where they went and why'}`, async () => {
		// The item's data-index: the last section that starts before its id appears.
		const indexOf = (id) => {
			const at = page.indexOf(id);
			const section = [...page.matchAll(/<section class="item[^"]*" data-index="(\d+)"/g)].filter((m) => m.index < at).at(-1);
			assert.ok(section, `no section for ${id}`);
			return section[1];
		};
		const body = submitBody(page, { [indexOf(first.input.id)]: flip, [indexOf(second.input.id)]: ['__other__', typed] });
		const r = await fetch(link, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
		done = unescapeHtml(await r.text());
		assert.equal(r.status, 200, `POST: ${r.status} ${done.slice(0, 300)}`);
		assert.match(done, new RegExp(`${count} items: ${count - 2} kept as the clone decided, 2 changed\\.`));
		const where = /<p class="alert" id="where"[^>]*>([^<]*)<\/p>/.exec(done)?.[1];
		if (forwardsAll) assert.equal(where, undefined, `the done page says: ${where}`);
		else {
			assert.ok(where && FIRST_OUTPUT_NOTICE.test(where) && where.includes(`All ${count} reviewed items went on the "Not Reviewed" output`), `the done page says: ${where}`);
			log(`      done page: ${where}`);
		}
	});
	if (!done) return;

	await check(
		forwardsAll
			? `${p}: the run finishes; every item once, on the output of its final decision, with "review"`
			: `${p}: the run finishes; every item once, on "Not Reviewed" in input order, with its final decision in "review"; $('CloMan').item resolves to the item itself`,
		async () => {
			const e = await waitForStatus(api, instance, executionId, ['success'], 60_000);
			const runData = e.data.resultData.runData;
			const outputs = runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
			const all = outputs.flat();
			assert.equal(all.length, count, `${all.length} items came out of ${REVIEW_NODE}, expected ${count}`);
			assert.equal(new Set(all.map((i) => i.json.id)).size, count, 'an item came out twice');
			const where = [];
			expected.forEach((x, i) => {
				const o = outputs.findIndex((items) => items.some((item) => item.json.id === x.input.id));
				const item = outputs[o].find((it) => it.json.id === x.input.id);
				const final = finalOf(x, i);
				assert.equal(item.json.review?.decision, final, `${x.input.id}: review.decision ${item.json.review?.decision}, expected ${final}`);
				assert.equal(item.json.review?.changed, i < 2, `${x.input.id}: review.changed`);
				const wantOutput = forwardsAll ? outputOf(final) : 0;
				assert.equal(o, wantOutput, `${x.input.id} (${final}) on ${REVIEW_OUTPUTS[o]?.name}, expected ${REVIEW_OUTPUTS[wantOutput].name}`);
				where.push(`${x.input.id}→${REVIEW_OUTPUTS[o].name}`);
			});
			log(`      ${where.join(', ')}`);
			for (const [o, { node, name }] of REVIEW_OUTPUTS.entries()) {
				const got = runData[node]?.[0]?.data?.main?.[0] ?? [];
				sameIds(got.map((i) => i.json.id), (outputs[o] ?? []).map((i) => i.json.id), `${node} (after ${name})`);
			}
			if (!forwardsAll) {
				assert.deepEqual(outputs[0].map((i) => i.json.id), expected.map((x) => x.input.id), 'input order on "Not Reviewed"');
				const downstream = runData[REVIEW_OUTPUTS[0].node][0].data.main[0];
				const wrong = downstream.filter((i) => i.json.pairedCheck !== i.json.id);
				assert.deepEqual(wrong.map((i) => [i.json.id, i.json.pairedCheck]), [], "$('CloMan').item gave something else");
			}
		},
	);
}

async function runLine(name, { lineInfo, forwardsAll, decide }, { pack, installed, standin, receiver }) {
	const prefix = `[n8n ${lineInfo.version}]`;
	log(`\n━━ n8n ${lineInfo.version} ━━`);
	if (installed.status !== 'fulfilled') {
		skipped(`${prefix} n8n installs`, installed.reason?.message ?? String(installed.reason));
		return;
	}
	let instance;
	const ready = await check(`${prefix} the packed tarball installs as a community package; credential and examples imported`, async () => {
		instance = await phase(`${prefix} user folder + tarball + imports`, async () => {
			const i = await prepareInstance({ name: `boundary-n8n${name}`, lineInfo, tarball: pack.tarball });
			await importCredentials(i, [{ id: DEMO_CREDENTIAL.id, name: DEMO_CREDENTIAL.name, type: CREDENTIAL_TYPE, data: { apiKey: GOOD_KEY, baseUrl: standin.url } }]);
			if (decide) await importWorkflows(i, [EXAMPLES.route.file]);
			return i;
		});
	});
	if (!ready) return;
	if (decide) await phase(`${prefix} Decide routing`, () => checkDecideRouting(instance, standin, prefix));
	let server;
	try {
		server = await phase(`${prefix} n8n start`, () => startN8n(instance));
	} catch (error) {
		skipped(`${prefix} n8n start`, error.message);
		return;
	}
	try {
		let api;
		if (await check(`${prefix} REST: log in as the instance owner`, async () => (api = await restLogin(instance)))) {
			await phase(`${prefix} review`, () => checkReviewBoundary({ instance, api, receiver, standin, prefix, forwardsAll }));
		}
	} finally {
		await server.stop();
	}
}

async function main() {
	installCleanup();
	const names = (process.env.BOUNDARY_LINES || '2.38,2.39').split(',').map((s) => s.trim());
	for (const n of names) if (!BOUNDARY[n]) throw new Error(`BOUNDARY_LINES must list 2.38, 2.39 and/or 2, not "${n}"`);
	log(`boundary e2e: n8n ${names.map((n) => BOUNDARY[n].lineInfo.version).join(' and ')}`);
	// The installs in parallel; each line runs as soon as its own install is there (a cold 2.39.0 install
	// goes on while 2.38.5 is checked).
	const settle = (promise) => promise.then((value) => ({ status: 'fulfilled', value }), (reason) => ({ status: 'rejected', reason }));
	const installs = names.map((n) => settle(phase(`n8n ${BOUNDARY[n].lineInfo.version} (Node 24)`, () => ensureN8n(BOUNDARY[n].lineInfo))));
	// A pack folder of this run's own: .cache/pack is shared by every worktree on the same .cache, and
	// another run's pack there would replace this build's tarball before it is installed.
	const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloman-boundary-pack-'));
	process.on('exit', () => fs.rmSync(packDir, { recursive: true, force: true }));
	const packed = await settle(phase('npm run build + npm pack', () => buildAndPack({ dest: packDir })));
	const packOk = await check('npm pack: the tarball holds the built node', () => {
		if (packed.status !== 'fulfilled') throw packed.reason;
		log(`      ${packed.value.tarball}`);
	});
	if (!packOk) {
		await Promise.all(installs); // an install holds its folder's lock until it is done
		return;
	}
	const { startStandin } = require('../test/standin/server.js');
	const standin = await startStandin({ lifetimeMs: 3600_000 });
	const receiver = await require('../test/standin/incoming-webhook.js').startIncomingWebhook({ lifetimeMs: 3600_000 });
	try {
		for (const [i, n] of names.entries()) {
			await runLine(n, BOUNDARY[n], { pack: packed.value, installed: await installs[i], standin, receiver });
		}
	} finally {
		await standin.close();
		await receiver.close();
	}
}

await runTier(main);
