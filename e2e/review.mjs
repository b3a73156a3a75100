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
import path from 'node:path';
import { createRequire } from 'node:module';

import { EXAMPLES, ROOT, batchExampleWithChannel, log, sleep } from '../scripts/lib/harness.mjs';
import { launchLoopbackBrowser } from './browser.mjs';
import { codeNodeItems, needsReview, restExecution, sameIds } from './expect.mjs';

const require = createRequire(import.meta.url);

export const REVIEW_WORKFLOW_ID = 'ClomanReviewE2E1';
const TRIGGER_PATH = 'cloman-review-e2e';
/** A second copy whose wait limit is one minute: n8n resumes it by itself, items on "Not Reviewed". */
const TIMEOUT_COPY = { id: 'ClomanReviewE2E2', path: 'cloman-review-timeout', limit: { limitWaitTime: true, limitType: 'afterTimeInterval', resumeAmount: 1, resumeUnit: 'minutes' } };
export const REVIEW_NODE = 'Human review';
/**
 * The outputs of the example's Review node, in order: "Not Reviewed", then one per listed decision
 * value, then "Other"; and the node each one leads to.
 */
export const REVIEW_OUTPUTS = [
	{ name: 'Not Reviewed', timedOut: true, node: 'Queue unreviewed' },
	{ name: 'Refund', value: 'approve', node: 'Refund after review' },
	{ name: 'Decline', value: 'deny', node: 'Decline after review' },
	{ name: 'Other', other: true, node: 'Ask customer for details' },
];
/** The request whose CloMan reasoning holds a script (the stand-in answers `data.expect.reasoning`). */
const XSS_ID = 'R-1005';
const XSS_MARK = '__clomanReviewXss';
export const XSS_REASONING = `Charged twice, approve with review. <script>window.${XSS_MARK} = 1; alert('xss')</script><img src="x" onerror="window.${XSS_MARK} = 2">`;
/** The item the reviewer changes (the script one) and what to. */
const CHANGE = { id: XSS_ID, to: 'deny', note: 'e2e reviewer: the first charge was refunded already <b>not bold</b>' };

const GOOD_KEY = 'cloman_sk_test_good';

// ---------------------------------------------------------------------------------------------

/**
 * A webhook-triggered copy of the example for the running n8n: the same nodes, started by a POST to
 * /webhook/<path>; the review link goes to channelUrl; `limit` replaces the example's 24-hour wait limit.
 */
function reviewWorkflow(channelUrl, { id, path: triggerPath, limit } = { id: REVIEW_WORKFLOW_ID, path: TRIGGER_PATH }) {
	const workflow = batchExampleWithChannel(channelUrl);
	workflow.id = id;
	workflow.name = `CloMan e2e: batch approvals with human review (webhook /${triggerPath})`;
	if (limit) Object.assign(workflow.nodes.find((n) => n.name === REVIEW_NODE).parameters, limit);
	const triggers = new Set(['Every hour', 'Run now']);
	workflow.nodes = workflow.nodes.filter((n) => !triggers.has(n.name));
	for (const name of triggers) delete workflow.connections[name];
	workflow.nodes.unshift({
		id: '0e2e0000-0000-4000-8000-000000000001',
		name: 'Start review e2e',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 100],
		webhookId: `0e2e0000-0000-4000-8000-${Buffer.from(triggerPath).toString('hex').slice(-12).padStart(12, '0')}`,
		parameters: { httpMethod: 'POST', path: triggerPath, responseMode: 'onReceived', options: {} },
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
/** The requests that reach the Review node, with the clone's decision (the stand-in's policy). */
export function expectedReviewItems() {
	const { defaultPolicy } = require('../test/standin/server.js');
	return codeNodeItems(EXAMPLES.batch.file, 'Refund requests')
		.map((input) => ({ input, decision: defaultPolicy({ data: input }) }))
		.filter((e) => needsReview(e.decision));
}

/** The output an item with this final decision leaves on (listed value, else Other). */
function outputOf(decision) {
	const i = REVIEW_OUTPUTS.findIndex((o) => o.value === decision);
	return i >= 0 ? i : REVIEW_OUTPUTS.findIndex((o) => o.other);
}

// ---------------------------------------------------------------------------------------------

function linkVariants(link) {
	const token = new URL(link).searchParams.get('signature');
	const withToken = (value) => {
		const url = new URL(link);
		if (value === undefined) url.searchParams.delete('signature');
		else url.searchParams.set('signature', value);
		return url.toString();
	};
	return [
		['no token', withToken(undefined)],
		['an altered token', withToken((token[0] === 'a' ? 'b' : 'a') + token.slice(1))],
		['a shortened token', withToken(token.slice(0, -1))],
		['an empty token', withToken('')],
	];
}

async function waitForStatus(api, instance, id, wanted, timeoutMs = 60_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const e = await restExecution(api, instance, id);
		if (wanted.includes(e.status)) return e;
		if (['error', 'crashed', 'canceled'].includes(e.status)) {
			throw new Error(`execution ${id} ended with status ${e.status}: ${e.data?.resultData?.error?.message ?? ''}`);
		}
		if (Date.now() > deadline) throw new Error(`execution ${id} is ${e.status}, not ${wanted.join('/')}, after ${timeoutMs / 1000} s`);
		await sleep(500);
	}
}

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The body a reviewer's browser sends for "keep all": the page's hidden fields and every choice kept. */
function keepAllBody(html) {
	const body = new URLSearchParams();
	for (const tag of html.match(/<input\b[^>]*>/g) ?? []) {
		const name = /\bname="([^"]*)"/.exec(tag)?.[1];
		if (!name) continue;
		const hidden = /\btype="hidden"/.test(tag);
		body.append(name, hidden ? unescapeHtml(/\bvalue="([^"]*)"/.exec(tag)?.[1] ?? '') : '');
	}
	for (const m of html.matchAll(/<select\b[^>]*\bname="([^"]+)"/g)) body.set(m[1], '__keep__');
	for (const m of html.matchAll(/<textarea\b[^>]*\bname="([^"]+)"/g)) body.set(m[1], '');
	// form_end (n8n's field limit guard) must come last.
	const end = body.get('form_end');
	if (end !== null) {
		body.delete('form_end');
		body.append('form_end', end);
	}
	return body;
}

/**
 * Items the clone escalated (or whose decision is not a listed value) have no preselected decision and
 * the page refuses to submit them untouched: the reviewer keeps the clone's decision for each
 * explicitly (their class "need", their first option "" = "choose a decision"). Returns how many.
 */
export async function keepNeedsPerson(page, except = []) {
	const names = await page.$$eval('section.item.need select[name^="decision_"]', (els) => els.map((e) => e.getAttribute('name')));
	const todo = names.filter((name) => !except.includes(name));
	for (const name of todo) await page.selectOption(`select[name="${name}"]`, '__keep__');
	return todo.length;
}

const postForm = (url, body) =>
	fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });

/** A restrictive CSP: default-src 'none' (or 'self'), and nothing that lets a script run. */
function assertRestrictiveCsp(csp) {
	assert.ok(csp, 'the page sends no Content-Security-Policy header');
	const directives = Object.fromEntries(
		csp
			.split(';')
			.map((d) => d.trim())
			.filter(Boolean)
			.map((d) => {
				const [name, ...values] = d.split(/\s+/);
				return [name.toLowerCase(), values];
			}),
	);
	assert.ok(directives['default-src'], `no default-src in ${csp}`);
	assert.ok(directives['default-src'].every((v) => ["'none'", "'self'"].includes(v)), `default-src is not 'none'/'self': ${csp}`);
	const scripts = directives['script-src'] ?? directives['default-src'];
	for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:', 'blob:']) {
		assert.ok(!scripts.includes(bad), `scripts may come from ${bad}: ${csp}`);
	}
	return directives;
}

// ---------------------------------------------------------------------------------------------

/**
 * All human-review checks on a running n8n 2.x. `check(name, fn)` is the runner's (counts and prints).
 * Returns a function for the last check (the wait limit), to be awaited after the runner's other
 * checks on this server, or undefined.
 * receiver: the runner's test/standin/incoming-webhook.js; browserTools: from prepareBrowser, or
 * undefined (then the browser check is counted as failed: it is not optional).
 */
export async function checkReview({ instance, api, receiver, standin, check, prefix, browserTools, artifacts }) {
	const p = `${prefix} review`;
	const expected = expectedReviewItems();
	const count = expected.length;
	const started = Date.now();
	let link;
	let executionId;
	let timeoutRun;

	// The one-minute copy is checked last: the runner awaits this after its other checks on this
	// server (the browser's), so that waiting for n8n to resume it overlaps them.
	const waitLimitCheck = () =>
		timeoutRun &&
		(async () => {
			await check(`${p}: the one-minute copy: n8n resumes it when the limit passes; every item on "Not Reviewed" with the clone's answer and no review`, async () => {
				// n8n's wait tracker looks for due executions every minute.
				const e = await waitForStatus(api, instance, timeoutRun.executionId, ['success'], 150_000);
				const outputs = e.data.resultData.runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
				const timedOut = REVIEW_OUTPUTS.findIndex((o) => o.timedOut);
				sameIds(outputs[timedOut].map((i) => i.json.id), expected.map((x) => x.input.id), 'Not Reviewed');
				assert.equal(outputs.flat().length, count, 'items on other outputs');
				for (const item of outputs[timedOut]) {
					assert.equal(item.json.review, undefined, `${item.json.id} has a review`);
					assert.equal(typeof item.json.cloman?.decision, 'string', `${item.json.id} lost cloman`);
				}
				const downstream = e.data.resultData.runData[REVIEW_OUTPUTS[timedOut].node]?.[0]?.data?.main?.[0] ?? [];
				assert.equal(downstream.length, count, `${REVIEW_OUTPUTS[timedOut].node} got ${downstream.length} items`);
				assert.ok(downstream.every((i) => i.json.pairedCheck === i.json.id), `$('CloMan').item on Not Reviewed: ${downstream.map((i) => i.json.pairedCheck).join(', ')}`);
				log(`      finished ${((Date.parse(e.raw.stoppedAt) - timeoutRun.waitTill) / 1000).toFixed(1)} s after its waitTill`);
				const get = await fetch(timeoutRun.link, { redirect: 'manual' });
				assert.equal(get.status, 409, `the link after the timeout: ${get.status}`);
			});
		});

	const published = await check(`${p}: two webhook-triggered copies of the example are created and published over REST`, async () => {
		for (const options of [{ id: REVIEW_WORKFLOW_ID, path: TRIGGER_PATH }, TIMEOUT_COPY]) {
			const workflow = reviewWorkflow(receiver.urlFor('slack'), options);
			const created = await api.post('/rest/workflows', { ...workflow, active: false });
			assert.equal(created.status, 200, `POST /rest/workflows (${options.id}): ${created.status} ${created.text.slice(0, 300)}`);
			const activated = await api.post(`/rest/workflows/${options.id}/activate`, { versionId: created.json.data.versionId });
			assert.equal(activated.status, 200, `activate ${options.id}: ${activated.status} ${activated.text.slice(0, 300)}`);
		}
	});
	if (!published) return undefined;

	// Publishing returns before n8n has registered the trigger's webhook: a 404 is retried for a while.
	const trigger = async (triggerPath) => {
		const deadline = Date.now() + 20_000;
		for (;;) {
			const r = await fetch(`${instance.url}/webhook/${triggerPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
			const text = await r.text();
			if (r.status === 404 && Date.now() < deadline) {
				await sleep(250);
				continue;
			}
			assert.equal(r.status, 200, `POST /webhook/${triggerPath}: ${r.status} ${text.slice(0, 300)}`);
			return;
		}
	};
	const linkFrom = (post) => {
		assert.equal(post.shape, 'text', `the notification has the {"text": …} shape: ${post.rawBody}`);
		assert.equal(post.links.length, 1, `one link in the message: ${post.message}`);
		assert.ok(!post.rawBody.includes(GOOD_KEY), 'the notification carries the API key');
		const url = new URL(post.links[0]);
		assert.equal(url.origin, instance.url, `the link is on this n8n: ${url.origin}`);
		const m = /^\/webhook-waiting\/(\d+)\/[\w-]+$/.exec(url.pathname);
		assert.ok(m, `the link is the review node's waiting webhook: ${url.pathname}`);
		assert.ok(url.searchParams.get('signature'), "the link carries n8n's resume token (signature=…)");
		return { link: post.links[0], executionId: m[1] };
	};

	// The one-minute copy first: n8n resumes it by itself while the rest runs.
	await check(`${p}: a copy with a one-minute wait limit is triggered and waits`, async () => {
		receiver.reset();
		await trigger(TIMEOUT_COPY.path);
		const post = await receiver.waitForPost(() => true, 90_000);
		timeoutRun = linkFrom(post);
		const e = await waitForStatus(api, instance, timeoutRun.executionId, ['waiting'], 30_000);
		timeoutRun.waitTill = Date.parse(e.raw.waitTill ?? e.data.waitTill);
		const minutes = (timeoutRun.waitTill - Date.now()) / 60_000;
		assert.ok(minutes > 0.5 && minutes <= 1.01, `waitTill ${e.raw.waitTill} is not about a minute ahead`);
	});

	const running = await check(`${p}: triggered, the run pauses at "${REVIEW_NODE}" (status waiting, 24-hour limit) and the link reaches the incoming webhook`, async () => {
		receiver.reset();
		standin.reset();
		await trigger(TRIGGER_PATH);
		const post = await receiver.waitForPost(() => true, 90_000);
		({ link, executionId } = linkFrom(post));
		log(`      message: ${post.message.replace(/signature=[^\s>|)]+/, 'signature=…')}`);
		const e = await waitForStatus(api, instance, executionId, ['waiting'], 30_000);
		assert.equal(e.data.resultData.lastNodeExecuted, REVIEW_NODE);
		const hours = (Date.parse(e.raw.waitTill ?? e.data.waitTill) - Date.now()) / 3600_000;
		assert.ok(hours > 23.5 && hours <= 24.01, `waits at most 24 hours (the example's limit): waitTill ${e.raw.waitTill}`);
		const listed = await api.get(`/rest/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId: REVIEW_WORKFLOW_ID }))}`);
		assert.equal(listed.status, 200, `GET /rest/executions: ${listed.status}`);
		const row = listed.json.data.results.find((x) => String(x.id) === executionId);
		assert.equal(row?.status, 'waiting', `the executions list shows it waiting: ${JSON.stringify(row)}`);
		const decides = standin.requests.filter((q) => q.path === '/api/v1/public/decide');
		assert.equal(decides.length, 12, `${decides.length} decide requests for the batch of 12`);
	});
	if (!running) return waitLimitCheck();

	let html;
	let keepAll;
	await check(`${p}: the page (GET, also at the plain $execution.resumeUrl) lists the ${count} items, shows the <script> in "reasoning" as text, sends a restrictive CSP and no API key`, async () => {
		const r = await fetch(link, { redirect: 'manual' });
		html = await r.text();
		assert.equal(r.status, 200, `GET link: ${r.status} ${html.slice(0, 300)}`);
		assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
		const csp = assertRestrictiveCsp(r.headers.get('content-security-policy'));
		log(`      Content-Security-Policy: ${r.headers.get('content-security-policy')}`);
		for (const [header, value] of [['x-content-type-options', 'nosniff'], ['x-frame-options', 'DENY'], ['referrer-policy', 'no-referrer'], ['cache-control', 'no-store']]) {
			assert.equal(r.headers.get(header), value, `${header}: ${r.headers.get(header)}`);
		}
		for (const { input } of expected) assert.ok(html.includes(input.id), `the page lacks ${input.id}`);
		assert.equal((html.match(/<section\b[^>]*\bclass="[^"]*\bitem\b/g) ?? []).length, count, 'one section.item per input item');
		assert.ok(!html.includes(`<script>window.${XSS_MARK}`), "the reasoning's <script> is in the page as markup");
		assert.ok(!/<img src="x"/.test(html), "the reasoning's <img onerror> is in the page as markup");
		assert.ok(html.includes('&lt;script&gt;window.'), "the reasoning's <script> is not in the page as escaped text");
		assert.ok(!/<script\b/i.test(html) || csp['script-src'], 'the page has a <script> element but no script-src');
		assert.ok(!html.includes(GOOD_KEY) && !/cloman_sk_/.test(html), 'the page contains an API key');
		// What an earlier node can send instead: the plain $execution.resumeUrl (no node id in the path).
		const plain = new URL(link);
		plain.pathname = plain.pathname.replace(/\/[^/]+$/, '');
		const viaResumeUrl = await fetch(plain, { redirect: 'manual' });
		const plainHtml = await viaResumeUrl.text();
		assert.equal(viaResumeUrl.status, 200, `GET $execution.resumeUrl: ${viaResumeUrl.status} ${plainHtml.slice(0, 200)}`);
		for (const { input } of expected) assert.ok(plainHtml.includes(input.id), `the page at $execution.resumeUrl lacks ${input.id}`);
		keepAll = keepAllBody(html);
		assert.ok(keepAll.has('form_end'), `the form has no form_end field: ${[...keepAll.keys()].join(', ')}`);
		assert.equal((await restExecution(api, instance, executionId)).status, 'waiting', 'a GET resumed the run');
	});

	await check(`${p}: the link with no, an altered, a shortened or an empty token gets 401 (GET and POST) and resumes nothing`, async () => {
		assert.ok(keepAll, 'no form read from the page');
		for (const [what, url] of linkVariants(link)) {
			const get = await fetch(url, { redirect: 'manual' });
			const getText = await get.text();
			assert.equal(get.status, 401, `GET with ${what}: ${get.status} ${getText.slice(0, 200)}`);
			assert.ok(!getText.includes(expected[0].input.id), `GET with ${what} shows the items`);
			const post = await postForm(url, keepAll);
			assert.equal(post.status, 401, `POST with ${what}: ${post.status} ${(await post.text()).slice(0, 200)}`);
		}
		await sleep(500);
		const e = await restExecution(api, instance, executionId);
		assert.equal(e.status, 'waiting', `after the refused requests the run is ${e.status}`);
		for (const { node } of REVIEW_OUTPUTS) assert.equal(e.data.resultData.runData[node], undefined, `${node} ran`);
	});

	const shot = path.join(artifacts, `n8n${instance.lineInfo.line}-review-page.png`);
	let submittedBody;
	if (!browserTools) {
		await check(`${p}: Chromium opens the link, changes one item, keeps the rest and submits`, () => {
			throw new Error('not run: no browser (E2E_BROWSER=0 or the browser set-up failed)');
		});
	} else {
		await check(`${p}: Chromium opens the link; the <script> shows as text and never runs; one item changed, "keep all remaining", submitted`, async () => {
			const { browser, context, outside } = await launchLoopbackBrowser(browserTools, { width: 1280, height: 900 });
			try {
				const page = await context.newPage();
				page.setDefaultTimeout(30_000);
				const dialogs = [];
				page.on('dialog', (d) => {
					dialogs.push(d.message());
					void d.dismiss();
				});
				page.on('request', (r) => {
					if (r.method() === 'POST') submittedBody = r.postData();
				});
				const response = await page.goto(link);
				assert.equal(response.status(), 200);
				await page.waitForSelector('form#review');
				const sections = await page.$$eval('section.item', (els) => els.map((e) => ({ index: e.getAttribute('data-index'), text: e.textContent })));
				assert.equal(sections.length, count, `${sections.length} items on the page`);
				const changed = sections.find((s) => s.text.includes(CHANGE.id));
				assert.ok(changed, `no item for ${CHANGE.id}`);
				assert.ok(changed.text.includes(`<script>window.${XSS_MARK}`), `the reasoning's <script> is not shown as text: ${changed.text.slice(0, 400)}`);
				assert.equal(await page.evaluate((mark) => window[mark], XSS_MARK), undefined, 'the script in the reasoning ran');
				assert.deepEqual(dialogs, [], 'a dialog opened');
				assert.deepEqual(await page.$$eval('script', (els) => els.length), 0, 'the page has <script> elements');

				const select = page.locator(`select[name="decision_${changed.index}"]`);
				const options = await select.locator('option').evaluateAll((els) => els.map((e) => e.value));
				assert.equal(options[0], '__keep__', `the first option keeps the clone's decision: ${JSON.stringify(options)}`);
				assert.ok(options.includes(CHANGE.to) && options.includes('__other__'), `options ${JSON.stringify(options)}`);
				await select.selectOption(CHANGE.to);
				// The note sits in the item's folded details.
				await page.click(`#item-${changed.index} > details > summary`);
				await page.fill(`textarea[name="note_${changed.index}"]`, CHANGE.note);
				const needs = await keepNeedsPerson(page, [`decision_${changed.index}`]);
				log(`      ${needs} escalated / not-listed items kept explicitly (the page preselects nothing for them)`);
				// The whole page, as the reviewer left it before submitting (a viewport as tall as the
				// page, so the sticky submit bar sits at its foot instead of over an item).
				await page.setViewportSize({ width: 1280, height: await page.evaluate(() => document.documentElement.scrollHeight) });
				await page.screenshot({ path: shot });
				log(`      screenshot: ${path.relative(ROOT, shot)}`);
				await page.setViewportSize({ width: 1280, height: 900 });
				const [answer] = await Promise.all([page.waitForNavigation(), page.click('button[name="keep_remaining"]')]);
				assert.equal(answer?.status(), 200, `the submit's answer: ${answer?.status()} ${await page.textContent('body')}`);
				const counts = await page.$eval('#counts', (e) => ({ kept: e.getAttribute('data-kept'), changed: e.getAttribute('data-changed'), text: e.textContent }));
				assert.deepEqual([counts.kept, counts.changed], [String(count - 1), '1'], `done page: ${JSON.stringify(counts)}`);
				log(`      done page: ${counts.text.trim()}`);
				assert.ok(!(await page.content()).includes(GOOD_KEY), 'the done page shows the API key');
				await page.screenshot({ path: shot.replace(/\.png$/, '-done.png') });
				assert.deepEqual(outside, [], 'the page requested something outside 127.0.0.1');
				assert.deepEqual(dialogs, [], 'a dialog opened');
			} finally {
				await browser.close();
			}
		});
	}

	let finished;
	if (submittedBody !== undefined) {
		await check(`${p}: the run resumes and finishes; each item on the output of its final decision, with "review" and its input fields`, async () => {
			finished = await waitForStatus(api, instance, executionId, ['success'], 60_000);
			const runData = finished.data.resultData.runData;
			const outputs = runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
			assert.equal(outputs.length, REVIEW_OUTPUTS.length, `${REVIEW_NODE} has ${outputs.length} outputs`);
			const byId = new Map();
			outputs.forEach((items, o) => items.forEach((item) => byId.set(item.json.id, { o, json: item.json })));
			assert.equal(outputs.flat().length, count, `${outputs.flat().length} items came out, expected ${count}`);
			assert.equal(byId.size, count, 'an item came out twice');
			const where = [];
			for (const { input, decision } of expected) {
				const got = byId.get(input.id);
				assert.ok(got, `${input.id} did not come out`);
				const changed = input.id === CHANGE.id;
				const final = changed ? CHANGE.to : decision.decision;
				where.push(`${input.id}→${REVIEW_OUTPUTS[got.o].name}`);
				assert.equal(got.o, outputOf(final), `${input.id}: output ${REVIEW_OUTPUTS[got.o].name}, expected ${REVIEW_OUTPUTS[outputOf(final)].name} (${final})`);
				const review = got.json.review ?? {};
				assert.equal(review.decision, final, `${input.id}: review.decision`);
				assert.equal(review.decided_by, changed ? 'reviewer' : 'clone', `${input.id}: review.decided_by`);
				assert.equal(review.changed, changed, `${input.id}: review.changed`);
				assert.equal(review.note ?? '', changed ? CHANGE.note : '', `${input.id}: review.note`);
				const at = Date.parse(review.reviewed_at);
				assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `${input.id}: review.reviewed_at ${review.reviewed_at}`);
				for (const field of ['id', 'customer', 'amount', 'reason']) assert.deepEqual(got.json[field], input[field], `${input.id}: input field ${field}`);
				assert.equal(got.json.cloman?.decision, decision.decision, `${input.id}: the clone's answer stays in "cloman"`);
			}
			log(`      ${where.join(', ')}`);
			for (const [o, { node, name }] of REVIEW_OUTPUTS.entries()) {
				const ids = (runData[node]?.[0]?.data?.main?.[0] ?? []).map((i) => i.json.id).sort();
				assert.deepEqual(ids, outputs[o].map((i) => i.json.id).sort(), `${node} got the items of output ${name}`);
			}
		});
		await check(`${p}: after the resume, downstream $json has every field; $('CloMan').item on a decision output fails (n8n re-pairs resumed outputs), never another item`, () => {
			const runData = finished.data.resultData.runData;
			const rows = REVIEW_OUTPUTS.flatMap(({ node, name }) =>
				(runData[node]?.[0]?.data?.main?.[0] ?? []).map((i) => ({ output: name, id: i.json.id, paired: i.json.pairedCheck, cloman: i.json.cloman?.decision })),
			);
			assert.equal(rows.length, count);
			assert.ok(rows.every((r) => typeof r.cloman === 'string' && typeof r.id === 'string'), 'an item lost its fields downstream');
			const wrongItem = rows.filter((r) => r.paired !== r.id && !String(r.paired).startsWith('error: '));
			assert.deepEqual(wrongItem, [], "$('CloMan').item gave another item's data");
			log(`      $('CloMan').item downstream: ${[...new Set(rows.map((r) => `${r.output}: ${r.paired === r.id ? 'the same item' : r.paired}`))].join('; ')}`);
		});
		await check(`${p}: a second submit with the same link resumes nothing and answers that the execution has finished`, async () => {
			const before = finished.data.resultData.runData[REVIEW_NODE].length;
			const again = await fetch(link, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: submittedBody });
			const text = await again.text();
			assert.equal(again.status, 409, `a second POST: ${again.status} ${text.slice(0, 200)}`);
			assert.match(text, /has finished already/, `the answer: ${text.slice(0, 300)}`);
			log(`      second POST: ${again.status} ${text.slice(0, 160).replace(/\s+/g, ' ')}`);
			const get = await fetch(link, { redirect: 'manual' });
			const getText = await get.text();
			assert.equal(get.status, 409, `GET after the submit: ${get.status} ${getText.slice(0, 200)}`);
			await sleep(500);
			const e = await restExecution(api, instance, executionId);
			assert.equal(e.status, 'success');
			assert.equal(e.data.resultData.runData[REVIEW_NODE].length, before, 'the review node ran again');
			for (const { node } of REVIEW_OUTPUTS) {
				assert.equal(e.data.resultData.runData[node]?.length ?? 0, finished.data.resultData.runData[node]?.length ?? 0, `${node} ran again`);
			}
		});
	}

	return waitLimitCheck();
}

/**
 * What a person does with `bash scripts/editor.sh`, in the logged-in editor session of the runner's
 * browser check: open the batch example, click "Execute workflow" (a manual run), take the link the
 * incoming webhook got, review in a second tab, and see the run finish in the editor.
 */
export async function checkReviewFromEditor({ session, instance, api, receiver, check, prefix, artifacts }) {
	await check(`${prefix} browser: the batch example run from the editor waits at "${REVIEW_NODE}"; reviewed from the posted link, the editor shows the run finished`, async () => {
		const { page } = session;
		receiver.reset();
		await page.goto(`${instance.url}/workflow/${EXAMPLES.batch.id}`);
		await page.waitForSelector('[data-test-id="canvas-node"]');
		await page.click('[data-test-id="execute-workflow-button"]');
		const post = await receiver.waitForPost(() => true, 90_000);
		assert.equal(post.links.length, 1, post.message);
		const link = post.links[0];
		const executionId = /\/webhook-waiting\/(\d+)\//.exec(link)?.[1];
		const waiting = await waitForStatus(api, instance, executionId, ['waiting'], 30_000);
		assert.equal(waiting.raw.mode, 'manual', `execution mode ${waiting.raw.mode}`);
		const review = await page.context().newPage();
		try {
			await review.goto(link);
			const first = await review.$eval('section.item', (e) => e.getAttribute('data-index'));
			await review.selectOption(`select[name="decision_${first}"]`, 'deny');
			await keepNeedsPerson(review, [`decision_${first}`]);
			await Promise.all([review.waitForNavigation(), review.click('button[name="submit"]')]);
			assert.equal(await review.$eval('#counts', (e) => e.getAttribute('data-changed')), '1');
		} finally {
			await review.close();
		}
		const done = await waitForStatus(api, instance, executionId, ['success'], 60_000);
		const outputs = done.data.resultData.runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
		assert.equal(outputs.flat().length, expectedReviewItems().length, 'items out of the review');
		await page.getByText('Workflow executed successfully').first().waitFor({ timeout: 30_000 });
		const file = path.join(artifacts, `n8n${instance.lineInfo.line}-review-editor-run.png`);
		await page.screenshot({ path: file });
		log(`      screenshot: ${path.relative(ROOT, file)} (${REVIEW_OUTPUTS.map((o, i) => `${o.name} ${outputs[i].length}`).join(', ')})`);
	});
}
