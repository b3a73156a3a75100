// The human review in a real, running n8n 2.x (called from e2e/run.mjs once `n8n start` is up and
// the owner is logged in over REST).
//
// A webhook-triggered copy of the scheduled batch example (the same nodes; its review channel pointed
// at the local incoming-webhook receiver; one refund request whose CloMan `reasoning` carries a
// <script>) is created and published over REST and triggered by a POST. Then: the execution waits;
// the review link reaches the receiver; requests with the link's token removed or altered get 401 and
// resume nothing; headless Chromium opens the page (the <script> is shown as text and never runs, the
// page sends a restrictive CSP and no API key), changes one item, keeps the rest and submits; the
// execution finishes with every item on the output of its final decision, with `review` set and the
// input fields kept; a second submit resumes nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { EXAMPLES, ROOT, batchExampleWithChannel, log, sleep } from '../scripts/lib/harness.mjs';
import { CHROMIUM_FLAGS } from './browser.mjs';

const require = createRequire(import.meta.url);

export const REVIEW_WORKFLOW_ID = 'ClomanReviewE2E1';
const TRIGGER_PATH = 'cloman-review-e2e';
export const REVIEW_NODE = 'Human review';
/** The outputs of the example's Review node, in order, and the decision value each one is for. */
export const REVIEW_OUTPUTS = [
	{ name: 'Refund', value: 'approve', node: 'Refund after review' },
	{ name: 'Decline', value: 'deny', node: 'Decline after review' },
	{ name: 'Other', value: undefined, node: 'Ask customer for details' },
];
/** The request whose CloMan reasoning holds a script (the stand-in answers `data.expect.reasoning`). */
const XSS_ID = 'R-1005';
const XSS_MARK = '__clomanReviewXss';
export const XSS_REASONING = `Charged twice, approve with review. <script>window.${XSS_MARK} = 1; alert('xss')</script><img src="x" onerror="window.${XSS_MARK} = 2">`;
/** The item the reviewer changes (the script one) and what to. */
const CHANGE = { id: XSS_ID, to: 'deny', note: 'e2e reviewer: the first charge was refunded already <b>not bold</b>' };

const GOOD_KEY = 'cloman_sk_test_good';

// ---------------------------------------------------------------------------------------------

/** The webhook-triggered copy the running n8n executes. */
function reviewWorkflow(channelUrl) {
	const workflow = batchExampleWithChannel(channelUrl);
	workflow.id = REVIEW_WORKFLOW_ID;
	workflow.name = 'CloMan e2e: batch approvals with human review (webhook trigger)';
	const triggers = new Set(['Every hour', 'Run now']);
	workflow.nodes = workflow.nodes.filter((n) => !triggers.has(n.name));
	for (const name of triggers) delete workflow.connections[name];
	workflow.nodes.unshift({
		id: '0e2e0000-0000-4000-8000-000000000001',
		name: 'Start review e2e',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 100],
		webhookId: '0e2e0000-0000-4000-8000-0000000000a1',
		parameters: { httpMethod: 'POST', path: TRIGGER_PATH, responseMode: 'onReceived', options: {} },
	});
	workflow.connections['Start review e2e'] = { main: [[{ node: 'Review settings', type: 'main', index: 0 }]] };
	// One request's CloMan reasoning carries a script: the stand-in answers data.expect.reasoning.
	const code = workflow.nodes.find((n) => n.name === 'Refund requests');
	code.parameters.jsCode = code.parameters.jsCode.replace(
		'return requests.map(',
		`requests.find((r) => r.id === ${JSON.stringify(XSS_ID)}).expect = { reasoning: ${JSON.stringify(XSS_REASONING)} };\nreturn requests.map(`,
	);
	const decide = workflow.nodes.find((n) => n.name === 'CloMan');
	decide.parameters.dataFields.field.push({ name: 'expect', value: '={{ $json.expect }}' });
	// Where n8n's $('…').item still finds an item's own upstream item after the resume (see the README).
	for (const { node } of REVIEW_OUTPUTS) {
		const set = workflow.nodes.find((n) => n.name === node);
		set.parameters.assignments.assignments.push({
			id: `0e2e0000-0000-4000-8000-${String(REVIEW_OUTPUTS.findIndex((o) => o.node === node)).padStart(12, '0')}`,
			name: 'pairedCheck',
			value: "={{ (() => { try { return $('CloMan').item.json.id } catch (error) { return 'error: ' + error.message } })() }}",
			type: 'string',
		});
	}
	return workflow;
}

/** The items the example's Code node emits (its own jsCode, run the way n8n's Code node would). */
function refundRequests() {
	const workflow = JSON.parse(fs.readFileSync(EXAMPLES.batch.file, 'utf8'));
	// eslint-disable-next-line no-new-func
	return new Function(workflow.nodes.find((n) => n.name === 'Refund requests').parameters.jsCode)().map((i) => i.json);
}

const needsReview = (d) => d.requires_human_review === true || d.was_escalated === true;

/** The requests that reach the Review node, with the clone's decision (the stand-in's policy). */
export function expectedReviewItems() {
	const { defaultPolicy } = require('../test/standin/server.js');
	return refundRequests()
		.map((input) => ({ input, decision: defaultPolicy({ data: input }) }))
		.filter((e) => needsReview(e.decision));
}

function outputOf(decision) {
	const i = REVIEW_OUTPUTS.findIndex((o) => o.value === decision);
	return i >= 0 ? i : REVIEW_OUTPUTS.length - 1;
}

// ---------------------------------------------------------------------------------------------

function linkVariants(link) {
	const url = new URL(link);
	const token = url.searchParams.get('signature');
	const without = new URL(link);
	without.searchParams.delete('signature');
	const altered = new URL(link);
	const flip = token[0] === 'a' ? 'b' : 'a';
	altered.searchParams.set('signature', flip + token.slice(1));
	const otherLength = new URL(link);
	otherLength.searchParams.set('signature', token.slice(0, -1));
	return { token, without: without.toString(), altered: altered.toString(), shorter: otherLength.toString() };
}

async function executionOf(api, instance, id) {
	const { parse } = createRequire(path.join(instance.n8n.dir, 'node_modules', 'n8n', 'package.json'))('flatted');
	const r = await api.get(`/rest/executions/${id}`);
	assert.equal(r.status, 200, `GET /rest/executions/${id}: ${r.status} ${r.text.slice(0, 200)}`);
	return { status: r.json.data.status, finished: r.json.data.finished, data: parse(r.json.data.data), raw: r.json.data };
}

async function waitForStatus(api, instance, id, wanted, timeoutMs = 60_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const e = await executionOf(api, instance, id);
		if (wanted.includes(e.status)) return e;
		if (['error', 'crashed', 'canceled'].includes(e.status) && !wanted.includes(e.status)) {
			throw new Error(`execution ${id} ended with status ${e.status}: ${e.data?.resultData?.error?.message ?? ''}`);
		}
		if (Date.now() > deadline) throw new Error(`execution ${id} is ${e.status}, not ${wanted.join('/')}, after ${timeoutMs / 1000} s`);
		await sleep(300);
	}
}

/** A form body that keeps every item (what a reviewer's browser sends when nothing was changed). */
function keepAllBody(count) {
	const body = new URLSearchParams();
	for (let i = 0; i < count; i++) {
		body.set(`decision_${i}`, '__keep__');
		body.set(`custom_${i}`, '');
		body.set(`note_${i}`, '');
	}
	return body;
}

const postForm = (url, body) =>
	fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });

/**
 * The CSP must forbid scripts the page did not bring: no 'unsafe-inline' / 'unsafe-eval' / wildcard
 * for scripts, and default-src 'none' or 'self'.
 */
function assertRestrictiveCsp(csp) {
	assert.ok(csp, 'the page sends no Content-Security-Policy header');
	const directives = Object.fromEntries(
		csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
			const [name, ...values] = d.split(/\s+/);
			return [name.toLowerCase(), values];
		}),
	);
	const scripts = directives['script-src'] ?? directives['default-src'];
	assert.ok(directives['default-src'], `no default-src in ${csp}`);
	assert.ok(directives['default-src'].every((v) => ["'none'", "'self'"].includes(v)), `default-src is not 'none'/'self': ${csp}`);
	assert.ok(scripts, `no script-src or default-src: ${csp}`);
	for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:']) {
		assert.ok(!scripts.includes(bad), `scripts allow ${bad}: ${csp}`);
	}
	return directives;
}

// ---------------------------------------------------------------------------------------------

/**
 * All review checks. `check(name, fn)` is the runner's (counts and prints); returns nothing.
 * receiver: test/standin/incoming-webhook.js, started by the runner; browserTools: from prepareBrowser (or
 * undefined: the browser part is skipped and counted as failed).
 */
export async function checkReview({ instance, api, receiver, standin, check, prefix, browserTools, artifacts }) {
	const p = `${prefix} review`;
	const expected = expectedReviewItems();
	const count = expected.length;
	let link;
	let executionId;

	const published = await check(`${p}: a webhook-triggered copy of the example is created and published over REST`, async () => {
		const workflow = reviewWorkflow(receiver.urlFor('slack'));
		const created = await api.post('/rest/workflows', { ...workflow, active: false });
		assert.equal(created.status, 200, `POST /rest/workflows: ${created.status} ${created.text.slice(0, 300)}`);
		const { versionId } = created.json.data;
		const activated = await api.post(`/rest/workflows/${REVIEW_WORKFLOW_ID}/activate`, { versionId });
		assert.equal(activated.status, 200, `activate: ${activated.status} ${activated.text.slice(0, 300)}`);
	});
	if (!published) return;

	const started = await check(`${p}: triggered, the run pauses at "${REVIEW_NODE}" (status waiting) and the link reaches the incoming webhook`, async () => {
		receiver.reset();
		standin.reset();
		const r = await fetch(`${instance.url}/webhook/${TRIGGER_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
		assert.equal(r.status, 200, `POST /webhook/${TRIGGER_PATH}: ${r.status} ${await r.text()}`);
		const post = await receiver.waitForPost(() => true, 90_000);
		assert.equal(post.shape, 'text', `the notification has the {"text": …} shape: ${post.rawBody}`);
		assert.equal(post.links.length, 1, `one link in the message: ${post.message}`);
		link = post.links[0];
		log(`      link: ${link.replace(/signature=[^&]+/, 'signature=…')}`);
		assert.ok(!post.rawBody.includes(GOOD_KEY), 'the notification carries the API key');
		const url = new URL(link);
		assert.equal(url.origin, instance.url, `the link is on this n8n: ${url.origin}`);
		const m = /^\/webhook-waiting\/(\d+)(\/|$)/.exec(url.pathname);
		assert.ok(m, `the link is a waiting-webhook address: ${url.pathname}`);
		assert.ok(url.searchParams.get('signature'), 'the link carries n8n\'s resume token (signature=…)');
		executionId = m[1];
		const e = await waitForStatus(api, instance, executionId, ['waiting'], 30_000);
		assert.equal(e.data.resultData.lastNodeExecuted, REVIEW_NODE);
		const waitTill = Date.parse(e.raw.waitTill ?? e.data.waitTill);
		const hours = (waitTill - Date.now()) / 3600_000;
		assert.ok(hours > 23 && hours <= 24.1, `the run waits at most 24 hours (the example's limit): waitTill ${e.raw.waitTill}`);
		const listed = await api.get(`/rest/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId: REVIEW_WORKFLOW_ID }))}`);
		assert.equal(listed.status, 200);
		const row = listed.json.data.results.find((x) => String(x.id) === executionId);
		assert.equal(row?.status, 'waiting', `the executions list shows it waiting: ${JSON.stringify(row)}`);
		const decides = standin.requests.filter((q) => q.path === '/api/v1/public/decide');
		assert.equal(decides.length, 12, `${decides.length} decide requests for the batch of 12`);
	});
	if (!started) return;

	await check(`${p}: a missing, altered or shortened token gets 401 (GET and POST) and resumes nothing`, async () => {
		const v = linkVariants(link);
		for (const [what, url] of [['no token', v.without], ['altered token', v.altered], ['shortened token', v.shorter]]) {
			const get = await fetch(url, { redirect: 'manual' });
			const getText = await get.text();
			assert.equal(get.status, 401, `GET with ${what}: ${get.status} ${getText.slice(0, 200)}`);
			assert.ok(!getText.includes(expected[0].input.customer), `GET with ${what} shows the items`);
			const post = await postForm(url, keepAllBody(count));
			assert.equal(post.status, 401, `POST with ${what}: ${post.status} ${(await post.text()).slice(0, 200)}`);
		}
		await sleep(500);
		const e = await executionOf(api, instance, executionId);
		assert.equal(e.status, 'waiting', `after the refused requests the run is ${e.status}`);
		assert.equal(e.data.resultData.runData['Refund after review'], undefined, 'a node after the review ran');
	});

	let html;
	await check(`${p}: the page (GET with the link) lists the ${count} items, escapes their text, sends a restrictive CSP and no API key`, async () => {
		const r = await fetch(link, { redirect: 'manual' });
		html = await r.text();
		assert.equal(r.status, 200, `GET link: ${r.status} ${html.slice(0, 300)}`);
		assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
		const csp = assertRestrictiveCsp(r.headers.get('content-security-policy'));
		log(`      CSP: ${Object.entries(csp).map(([k, v]) => `${k} ${v.join(' ')}`).join('; ')}`);
		for (const { input } of expected) assert.ok(html.includes(input.id), `the page lacks ${input.id}`);
		assert.equal((html.match(/<section[^>]*class="[^"]*\bitem\b/g) ?? []).length, count, 'one section.item per input item');
		assert.ok(!html.includes(`<script>window.${XSS_MARK}`), 'the reasoning\'s <script> is in the page as markup');
		assert.ok(!/<img src="x" onerror/.test(html), 'the reasoning\'s <img onerror> is in the page as markup');
		assert.ok(html.includes('&lt;script&gt;'), 'the reasoning\'s <script> is not shown escaped');
		assert.ok(!html.includes(GOOD_KEY) && !/cloman_sk_/.test(html), 'the page contains an API key');
		const e = await executionOf(api, instance, executionId);
		assert.equal(e.status, 'waiting', 'a GET resumed the run');
	});

	const shot = path.join(artifacts, `n8n${instance.lineInfo.line}-review-page.png`);
	let submitted = false;
	if (!browserTools) {
		await check(`${p}: Chromium opens the link, changes one item, keeps the rest and submits`, () => {
			throw new Error('not run: no browser (E2E_BROWSER=0 or the browser set-up failed)');
		});
	} else {
		submitted = await check(`${p}: Chromium opens the link; the <script> shows as text and never runs; one item changed, the rest kept, submitted`, async () => {
			const { playwright, chromium } = browserTools;
			const browser = await playwright.chromium.launch({ executablePath: chromium.bin, headless: true, args: CHROMIUM_FLAGS });
			try {
				const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
				const outside = [];
				await context.route(
					(url) => !['127.0.0.1', 'localhost'].includes(url.hostname),
					(route) => {
						outside.push(route.request().url());
						return route.abort('blockedbyclient');
					},
				);
				const page = await context.newPage();
				page.setDefaultTimeout(30_000);
				const dialogs = [];
				page.on('dialog', (d) => {
					dialogs.push(d.message());
					void d.dismiss();
				});
				const cspReports = [];
				page.on('console', (m) => {
					if (/Content Security Policy/i.test(m.text())) cspReports.push(m.text());
				});
				const response = await page.goto(link);
				assert.equal(response.status(), 200);
				await page.waitForSelector('form#review');
				const sections = await page.$$eval('section.item', (els) => els.map((e) => ({ index: e.getAttribute('data-index'), text: e.textContent })));
				assert.equal(sections.length, count, `${sections.length} items on the page`);
				const index = sections.findIndex((s) => s.text.includes(CHANGE.id));
				assert.ok(index >= 0, `no item for ${CHANGE.id}`);
				assert.ok(sections[index].text.includes('<script>'), `the reasoning's <script> is not shown as text: ${sections[index].text.slice(0, 400)}`);
				assert.ok(sections[index].text.includes(`window.${XSS_MARK}`), 'the reasoning is shown whole');
				await page.screenshot({ path: shot, fullPage: true });
				log(`      screenshot: ${path.relative(ROOT, shot)}`);
				const ran = await page.evaluate((mark) => window[mark], XSS_MARK);
				assert.equal(ran, undefined, 'the script in the reasoning ran');
				assert.deepEqual(dialogs, [], 'a dialog opened');
				const scripts = await page.$$eval('script', (els) => els.map((e) => e.textContent));
				assert.ok(scripts.every((s) => !s.includes(XSS_MARK)), 'a <script> element holds the reasoning');

				const dataIndex = sections[index].index;
				const select = page.locator(`select[name="decision_${dataIndex}"]`);
				const options = await select.locator('option').evaluateAll((els) => els.map((e) => e.value));
				assert.equal(options[0], '__keep__', `the first option keeps the clone's decision: ${JSON.stringify(options)}`);
				assert.ok(options.includes(CHANGE.to) && options.includes('__other__'), `options ${JSON.stringify(options)}`);
				await select.selectOption(CHANGE.to);
				await page.fill(`textarea[name="note_${dataIndex}"]`, CHANGE.note);
				const keepAll = page.locator('[data-action="keep-all"], button[name="keep_all"], button:has-text("Keep all remaining")').first();
				const submit = (await keepAll.count()) > 0 ? keepAll : page.locator('button[name="submit"]');
				const [answer] = await Promise.all([page.waitForNavigation(), submit.click()]);
				assert.equal(answer?.status(), 200, `the submit's answer: ${answer?.status()}`);
				const confirmation = await page.textContent('body');
				assert.match(confirmation, /submitted|thank|recorded|done/i, `confirmation page: ${confirmation.slice(0, 300)}`);
				assert.ok(!confirmation.includes(GOOD_KEY), 'the confirmation shows the API key');
				await page.screenshot({ path: shot.replace(/\.png$/, '-submitted.png'), fullPage: true });
				assert.deepEqual(outside, [], 'the page requested something outside 127.0.0.1');
				assert.deepEqual(cspReports.filter((t) => !/script|img|inline/i.test(t)), [], `unexpected CSP reports: ${cspReports.join(' | ')}`);
			} finally {
				await browser.close();
			}
		});
	}

	let finished;
	if (submitted) {
		await check(`${p}: the run resumes and finishes; every item is on the output of its final decision with "review" set and its input fields`, async () => {
			finished = await waitForStatus(api, instance, executionId, ['success'], 60_000);
			const runData = finished.data.resultData.runData;
			const outputs = runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
			const byId = new Map();
			outputs.forEach((items, o) => items.forEach((item) => byId.set(item.json.id, { o, json: item.json })));
			assert.equal(byId.size, count, `${byId.size} items came out of ${REVIEW_NODE}, expected ${count}`);
			assert.equal(outputs.flat().length, count, 'an item came out twice');
			for (const { input, decision } of expected) {
				const got = byId.get(input.id);
				assert.ok(got, `${input.id} did not come out`);
				const changed = input.id === CHANGE.id;
				const final = changed ? CHANGE.to : decision.decision;
				assert.equal(got.o, outputOf(final), `${input.id}: output ${got.o}, expected ${REVIEW_OUTPUTS[outputOf(final)].name} (${final})`);
				const review = got.json.review ?? {};
				assert.equal(review.decision, final, `${input.id}: review.decision`);
				assert.equal(review.decided_by, changed ? 'reviewer' : 'clone', `${input.id}: review.decided_by`);
				assert.equal(review.changed, changed, `${input.id}: review.changed`);
				assert.equal(review.note ?? '', changed ? CHANGE.note : '', `${input.id}: review.note`);
				assert.ok(!Number.isNaN(Date.parse(review.reviewed_at)), `${input.id}: review.reviewed_at ${review.reviewed_at}`);
				for (const field of ['customer', 'amount', 'reason']) assert.deepEqual(got.json[field], input[field], `${input.id}: input field ${field}`);
				assert.equal(got.json.cloman?.decision, decision.decision, `${input.id}: the clone's answer stays in "cloman"`);
			}
			for (const [o, { node }] of REVIEW_OUTPUTS.entries()) {
				const ids = (runData[node]?.[0]?.data?.main?.[0] ?? []).map((i) => i.json.id).sort();
				assert.deepEqual(ids, outputs[o].map((i) => i.json.id).sort(), `${node} got the items of output ${REVIEW_OUTPUTS[o].name}`);
			}
		});
		await check(`${p}: downstream, $('CloMan').item still finds each item's own upstream item after the resume`, () => {
			const runData = finished.data.resultData.runData;
			const rows = REVIEW_OUTPUTS.flatMap(({ node, name }) =>
				(runData[node]?.[0]?.data?.main?.[0] ?? []).map((i) => ({ output: name, id: i.json.id, paired: i.json.pairedCheck })),
			);
			log(`      ${rows.map((r) => `${r.id}@${r.output}→${r.paired === r.id ? 'ok' : r.paired}`).join(', ')}`);
			const wrong = rows.filter((r) => r.paired !== r.id);
			assert.deepEqual(wrong, [], 'items whose $(\'CloMan\').item is not their own');
		});
		await check(`${p}: a second submit with the same link resumes nothing and says the review is done`, async () => {
			const before = finished.data.resultData.runData[REVIEW_NODE].length;
			const again = await postForm(link, keepAllBody(count));
			const text = await again.text();
			assert.notEqual(again.status, 200, `a second POST was accepted: ${text.slice(0, 200)}`);
			assert.match(text, /finished|done|already|no action/i, `the answer: ${again.status} ${text.slice(0, 300)}`);
			const get = await fetch(link, { redirect: 'manual' });
			const getText = await get.text();
			assert.match(getText, /finished|done|already|no action/i, `GET after the submit: ${get.status} ${getText.slice(0, 300)}`);
			await sleep(500);
			const e = await executionOf(api, instance, executionId);
			assert.equal(e.status, 'success');
			assert.equal(e.data.resultData.runData[REVIEW_NODE].length, before, 'the review node ran again');
			log(`      second POST: ${again.status} ${text.slice(0, 120).replace(/\s+/g, ' ')}`);
		});
	}
}
