// Personal review links (Who May Review: Named Reviewers) in a real, running n8n 2.x, called from
// e2e/reviewers.mjs. The example examples/two-person-approval.json itself, with three changes for the
// test: its manual trigger becomes a webhook trigger (to start it over HTTP), its "reviewLinksWebhookUrl"
// points at the local incoming-webhook receiver (generic JSON), and its second-approval limit is 200 USD
// (the CloMan stand-in leaves only amounts of 100–500 USD to a person, so PAY-301 at 240 USD takes both
// steps). Reviewer A (the first named reviewer) opens their link from the receiver in Chromium and
// submits; every item of "First approval" carries reviewed_by A. On "Second approval" (four-eyes) A's
// link gets 403 on GET and POST and the run keeps waiting; B's link is accepted and the items carry B.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DEMO_CREDENTIAL, sleep } from '../scripts/lib/harness.mjs';
import { launchLoopbackBrowser } from './browser.mjs';
import { restExecution } from './expect.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.join(HERE, '..', 'examples', 'two-person-approval.json');
export const PERSONAL_WORKFLOW_ID = 'ClomanPersonalE2E';
const TRIGGER_PATH = 'cloman-personal-links-e2e';
const FIRST = 'First approval';
const SECOND = 'Second approval';
/** The e2e's CloMan credential key (e2e/run.mjs, CREDENTIALS.good): it must not appear in anything the review hands out. */
const API_KEY = 'cloman_sk_test_good';

/** The example as the e2e runs it (see the header). */
function exampleWorkflow(receiverUrl) {
	const w = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));
	w.id = PERSONAL_WORKFLOW_ID;
	w.name = `${w.name} (e2e, webhook /${TRIGGER_PATH})`;
	const start = w.nodes.find((n) => n.type === 'n8n-nodes-base.manualTrigger');
	Object.assign(start, {
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		webhookId: '0e2e16b0-0000-4000-8000-000000000001',
		parameters: { httpMethod: 'POST', path: TRIGGER_PATH, responseMode: 'onReceived', options: {} },
	});
	const settings = w.nodes.find((n) => n.name === 'Approval settings').parameters.assignments.assignments;
	settings.find((a) => a.name === 'reviewLinksWebhookUrl').value = receiverUrl;
	settings.find((a) => a.name === 'secondApprovalAbove').value = 200;
	for (const n of w.nodes) if (n.credentials?.cloManApi) n.credentials.cloManApi = DEMO_CREDENTIAL;
	const reviewers = w.nodes.find((n) => n.name === FIRST).parameters.namedReviewers.reviewers;
	return { workflow: w, a: reviewers[0], b: reviewers[1] };
}

/** The review form as a browser would post it: hidden fields, every decision kept, submit. */
function keepAllForm(html) {
	const body = new URLSearchParams();
	for (const tag of html.match(/<input type="hidden"[^>]*>/g) ?? []) {
		const name = /name="([^"]*)"/.exec(tag)[1];
		if (name !== 'form_end') body.append(name, /value="([^"]*)"/.exec(tag)?.[1] ?? '');
	}
	for (const m of html.matchAll(/<select id="decision_(\d+)"/g)) body.append(`decision_${m[1]}`, '__keep__');
	body.append('submit', '1');
	body.append('form_end', '1');
	return body;
}

const unescape = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export async function checkPersonalLinks({ instance, api, receiver, check, prefix, browserTools, artifacts, publish, trigger }) {
	const p = `${prefix} reviewers, personal links`;
	const { workflow, a, b } = exampleWorkflow(receiver.urlFor('generic'));
	const ok = await check(`${p}: examples/two-person-approval.json (Named Reviewers, generic JSON to the receiver) is published`, async () => {
		await publish(api, workflow);
	});
	if (!ok) return;

	const waitFor = async (id, node) => {
		const deadline = Date.now() + 60_000;
		let e = await restExecution(api, instance, id);
		while (!(e.status === 'waiting' && e.data.resultData.lastNodeExecuted === node) && Date.now() < deadline) {
			await sleep(400);
			e = await restExecution(api, instance, id);
		}
		assert.equal(e.status, 'waiting', `execution ${id} is ${e.status}`);
		assert.equal(e.data.resultData.lastNodeExecuted, node);
		return e;
	};
	/** The two personal links posted for one Review node (one POST per reviewer), by lower-cased email. */
	const linksFor = async (nodeId) => {
		const links = new Map();
		for (const who of [a, b]) {
			const post = await receiver
				.waitForPost((x) => x.body?.email === who.email && String(x.body?.url).includes(`/${nodeId}?`), 60_000)
				.catch((error) => {
					const seen = receiver.posts.map((x) => `${x.status} ${x.path} ${x.rawBody.slice(0, 200)}`).join(' | ');
					throw new Error(`${error.message}; for ${who.email} on node ${nodeId}; seen: ${seen}`);
				});
			assert.equal(post.body.name, who.name);
			assert.ok(!post.rawBody.includes(API_KEY), 'the API key is in a notification');
			links.set(who.email.toLowerCase(), post.body.url);
		}
		const posts = receiver.posts.filter((x) => String(x.body?.url).includes(`/${nodeId}?`));
		assert.equal(posts.length, 2, `posts for ${nodeId}: ${posts.length}`);
		return links;
	};
	const nodeId = (name) => workflow.nodes.find((n) => n.name === name).id;

	receiver.reset();
	let executionId;
	let firstLinks;
	const started = await check(`${p}: triggered, it waits at "${FIRST}"; the receiver got one POST per reviewer, each with their own link`, async () => {
		await trigger(instance, TRIGGER_PATH);
		firstLinks = await linksFor(nodeId(FIRST));
		const linkA = new URL(firstLinks.get(a.email.toLowerCase()));
		const linkB = new URL(firstLinks.get(b.email.toLowerCase()));
		assert.equal(linkA.searchParams.get('reviewer'), a.email);
		assert.notEqual(linkA.searchParams.get('rt'), linkB.searchParams.get('rt'));
		executionId = /^\/webhook-waiting\/(\d+)\//.exec(linkA.pathname)[1];
		await waitFor(executionId, FIRST);
	});
	if (!started) return;

	let browser;
	try {
		const firstDone = await check(`${p}: in Chromium, A's link shows "Reviewing as" A, the submit (form posts back to the personal link) resumes; every "${FIRST}" item carries reviewed_by A`, async () => {
			const tools = await launchLoopbackBrowser(browserTools);
			browser = tools.browser;
			const page = await tools.context.newPage();
			page.setDefaultTimeout(30_000);
			const answer = await page.goto(firstLinks.get(a.email.toLowerCase()));
			assert.equal(answer.status(), 200);
			const as = await page.textContent('body');
			assert.ok(as.includes(`Reviewing as ${a.name} <${a.email}>`), as.slice(0, 400));
			assert.ok(!(await page.content()).includes(API_KEY), 'the API key is on the page');
			const action = await page.$eval('form#review', (f) => f.action);
			assert.equal(new URL(action).searchParams.get('rt'), new URL(firstLinks.get(a.email.toLowerCase())).searchParams.get('rt'));
			await page.screenshot({ path: path.join(artifacts, 'reviewers-personal-link.png'), fullPage: true });
			await Promise.all([page.waitForNavigation(), page.click('button[name="submit"]')]);
			const done = await page.textContent('body');
			assert.ok(done.includes(`Reviewed by ${a.name} <${a.email}>`), done.slice(0, 400));
			const e = await waitFor(executionId, SECOND);
			const items = e.data.resultData.runData[FIRST].at(-1).data.main.flat();
			assert.ok(items.length > 0, 'no items out of the first approval');
			for (const item of items) assert.deepEqual(item.json.review.reviewed_by, { email: a.email, name: a.name }, item.json.id);
		});
		if (!firstDone) return;

		let secondLinks;
		await check(`${p}: "${SECOND}" (four-eyes): A's personal link → 403 on GET and POST, still waiting`, async () => {
			secondLinks = await linksFor(nodeId(SECOND));
			const linkA = secondLinks.get(a.email.toLowerCase());
			const linkB = secondLinks.get(b.email.toLowerCase());
			const get = await fetch(linkA);
			assert.equal(get.status, 403, `GET A: ${get.status}`);
			assert.match(unescape(await get.text()), /already reviewed 1 of these items in an earlier review step/);
			const form = keepAllForm(await (await fetch(linkB)).text());
			const post = await fetch(linkA, { method: 'POST', body: form });
			assert.equal(post.status, 403, `POST A: ${post.status}`);
			// An altered token and the plain link (no reviewer) are refused too.
			const altered = new URL(linkB);
			const rt = altered.searchParams.get('rt');
			altered.searchParams.set('rt', `${rt.slice(0, -1)}${rt.endsWith('A') ? 'B' : 'A'}`);
			assert.equal((await fetch(altered, { method: 'POST', body: form })).status, 403, 'altered token');
			const plain = new URL(linkB);
			plain.searchParams.delete('reviewer');
			plain.searchParams.delete('rt');
			assert.equal((await fetch(plain)).status, 403, 'plain link');
			await waitFor(executionId, SECOND);
		});

		await check(`${p}: B's link is accepted; the run finishes and every "${SECOND}" item carries reviewed_by B, earlier_reviewers [A]; no API key in the execution`, async () => {
			const linkB = secondLinks.get(b.email.toLowerCase());
			const page = await (await fetch(linkB)).text();
			assert.ok(unescape(page).includes(`Reviewing as <bdi>${b.name} <${b.email}></bdi>`), page.slice(0, 300));
			const done = await fetch(linkB, { method: 'POST', body: keepAllForm(page) });
			assert.equal(done.status, 200, `submit B: ${done.status}`);
			const deadline = Date.now() + 60_000;
			let e;
			while ((e = await restExecution(api, instance, executionId)).status !== 'success' && Date.now() < deadline) await sleep(500);
			assert.equal(e.status, 'success', `execution ${executionId} is ${e.status}`);
			const items = e.data.resultData.runData[SECOND].at(-1).data.main.flat();
			assert.ok(items.length > 0, 'no items out of the second approval');
			for (const item of items) {
				assert.deepEqual(item.json.review.reviewed_by, { email: b.email, name: b.name }, item.json.id);
				assert.deepEqual(item.json.review.earlier_reviewers, [{ email: a.email, name: a.name }], item.json.id);
			}
			assert.ok(!JSON.stringify(e.raw).includes(API_KEY), 'the API key is in the execution data');
		});
	} finally {
		await browser?.close().catch(() => {});
	}
}
