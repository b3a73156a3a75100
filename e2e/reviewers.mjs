// Accountable review in a real, running n8n 2.x with headless Chromium (called from e2e/run.mjs once
// `n8n start` is up and the owner is logged in over REST).
//
// What a real n8n 2.41.1 does with the signed-in modes: a member is invited over REST and accepts
// (n8n's own invitation flow); a webhook-triggered two-person approval (two Review steps chained, as
// in examples/two-person-approval.json) is published and triggered. Without a session the page sends
// the browser to n8n's sign-in with a way back; in Chromium the owner signs in on n8n's own sign-in
// page and comes back to a page that says the sign-in did not reach it (no loop), because n8n removes
// its `n8n-auth` cookie from every /webhook-waiting/ request before a community node sees it
// (cli webhooks/webhook-request-sanitizer.js; only n8n's Form and Chat Trigger nodes are exempt); a
// valid session cookie sent by hand is not seen either. The run keeps waiting and nothing resumes.
// With Anyone With the Link (the default): the rendered page reads "205 USD" after a customer name
// ending in U+202E (measured on the drawn characters, with a control page that shows the attack),
// the notification's title cannot ping the channel, a form with choices for items that do not exist
// is refused, and the submitted items carry no reviewed_by.
import assert from 'node:assert/strict';
import path from 'node:path';

import { DEMO_CREDENTIAL, NODE_TYPE, OWNER, log, sleep } from '../scripts/lib/harness.mjs';
import { launchLoopbackBrowser } from './browser.mjs';
import { restExecution } from './expect.mjs';
import { checkPersonalLinks } from './personal-links.mjs';

export const REVIEWERS_WORKFLOW_ID = 'ClomanReviewersE2E';
const TRIGGER_PATH = 'cloman-reviewers-e2e';
const MEMBER = { email: 'member@cloman.example', password: 'CloMan-member-1', firstName: 'Mia', lastName: 'Member' };
const FIRST = 'First approval';
const SECOND = 'Second approval';
const OVERRIDE = '\u202E';
/** The request whose customer name ends in an unclosed RIGHT-TO-LEFT OVERRIDE. */
const BIDI = { id: 'P-2', customer: `Müller${OVERRIDE}`, amount: 205 };

function workflow(channelUrl) {
	const uuid = (n) => `0e2e1600-0000-4000-8000-${String(n).padStart(12, '0')}`;
	const cloman = (decision) => ({ decision, reasoning: `Policy says ${decision}.`, confidence: 0.55, requires_human_review: true, alternatives_considered: [] });
	const requests = [
		{ id: 'P-1', customer: 'Ada', amount: 1500, cloman: cloman('approve') },
		{ ...BIDI, cloman: cloman('approve') },
		{ id: 'P-3', customer: 'Cy', amount: 4000, cloman: cloman('approve') },
	];
	const review = (n, name, x, parameters) => ({
		id: uuid(n),
		name,
		type: NODE_TYPE,
		typeVersion: 1,
		position: [x, 0],
		webhookId: uuid(100 + n),
		parameters: {
			operation: 'review',
			reviewTitle: "={{ $json.id + ' · ' + $json.customer + ' – ' + $json.amount + ' USD' }}",
			decisionField: 'cloman',
			reviewRouteBy: 'single',
			limitWaitTime: false,
			notifyVia: 'webhook',
			notifyFormat: 'text',
			...parameters,
		},
		credentials: { cloManApi: DEMO_CREDENTIAL },
	});
	return {
		id: REVIEWERS_WORKFLOW_ID,
		name: `CloMan e2e: two-person approval (webhook /${TRIGGER_PATH})`,
		nodes: [
			{ id: uuid(1), name: 'Start', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], webhookId: uuid(201), parameters: { httpMethod: 'POST', path: TRIGGER_PATH, responseMode: 'onReceived', options: {} } },
			{ id: uuid(2), name: 'Payments', type: 'n8n-nodes-base.code', typeVersion: 2, position: [200, 0], parameters: { jsCode: `return ${JSON.stringify(requests)}.map((json) => ({ json }));` } },
			review(3, FIRST, 400, { whoMayReview: 'listed', reviewerEmails: `={{ ['${OWNER.email}'].join(', ') }}`, notifyUrl: `${channelUrl}/first` }),
			{
				id: uuid(4),
				name: 'Above 1000 USD?',
				type: 'n8n-nodes-base.if',
				typeVersion: 2.2,
				position: [600, 0],
				parameters: {
					conditions: {
						options: { caseSensitive: true, leftValue: '', typeValidation: 'loose', version: 2 },
						conditions: [{ id: uuid(40), leftValue: '={{ $json.amount }}', rightValue: 1000, operator: { type: 'number', operation: 'gt' } }],
						combinator: 'and',
					},
					options: {},
				},
			},
			review(5, SECOND, 800, { whoMayReview: 'signedIn', requireDifferentReviewer: true, notifyUrl: `${channelUrl}/second` }),
			{ id: uuid(6), name: 'Pay out', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [1000, 0], parameters: {} },
			{ id: uuid(7), name: 'Pay out (small)', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [800, 200], parameters: {} },
		],
		connections: {
			Start: { main: [[{ node: 'Payments', type: 'main', index: 0 }]] },
			Payments: { main: [[{ node: FIRST, type: 'main', index: 0 }]] },
			[FIRST]: { main: [[{ node: 'Above 1000 USD?', type: 'main', index: 0 }]] },
			'Above 1000 USD?': { main: [[{ node: SECOND, type: 'main', index: 0 }], [{ node: 'Pay out (small)', type: 'main', index: 0 }]] },
			[SECOND]: { main: [[{ node: 'Pay out', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

/** n8n's own sign-in page, as a person fills it in. */
async function signInThroughN8n(page, user) {
	await page.waitForURL((u) => u.pathname.startsWith('/signin'), { timeout: 60_000 });
	await page.fill('input[name="emailOrLdapLoginId"]', user.email);
	await page.fill('input[name="password"]', user.password);
	await page.click('[data-test-id="form-submit-button"]');
}

/**
 * Where "205 USD" is drawn: true when its "2" is left of its "D" (it reads as written). Measured on the
 * rendered text (Range rectangles), not on the DOM's logical order.
 */
async function readsLeftToRight(page, needle) {
	return await page.evaluate((text) => {
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let node = walker.nextNode(); node; node = walker.nextNode()) {
			const at = node.data.indexOf(text);
			if (at === -1) continue;
			const box = (i) => {
				const range = document.createRange();
				range.setStart(node, at + i);
				range.setEnd(node, at + i + 1);
				return range.getBoundingClientRect();
			};
			return box(0).left < box(text.length - 1).left;
		}
		return null;
	}, needle);
}

const OPEN = { id: 'ClomanReviewersOpen', path: 'cloman-reviewers-open', node: 'Open review', title: '<!channel> Payments @here [pay](https://evil.example)' };

/** The same payments, one Review step with the default access (Anyone With the Link). */
function openWorkflow(channelUrl) {
	const w = workflow(channelUrl);
	const first = w.nodes.find((n) => n.name === FIRST);
	const { whoMayReview, reviewerEmails, ...parameters } = first.parameters;
	Object.assign(first, {
		name: OPEN.node,
		id: '0e2e1600-0000-4000-8000-000000000303',
		webhookId: '0e2e1600-0000-4000-8000-000000000302',
		parameters: { ...parameters, pageTitle: OPEN.title, notifyUrl: `${channelUrl}/open` },
	});
	w.id = OPEN.id;
	w.name = `CloMan e2e: review open to anyone with the link (webhook /${OPEN.path})`;
	w.nodes = w.nodes.filter((n) => ['Start', 'Payments', OPEN.node, 'Pay out'].includes(n.name));
	w.nodes.find((n) => n.name === 'Start').parameters.path = OPEN.path;
	w.nodes.find((n) => n.name === 'Start').webhookId = '0e2e1600-0000-4000-8000-000000000301';
	w.connections = {
		Start: { main: [[{ node: 'Payments', type: 'main', index: 0 }]] },
		Payments: { main: [[{ node: OPEN.node, type: 'main', index: 0 }]] },
		[OPEN.node]: { main: [[{ node: 'Pay out', type: 'main', index: 0 }]] },
	};
	return w;
}

async function publish(api, w) {
	const created = await api.post('/rest/workflows', { ...w, active: false });
	assert.equal(created.status, 200, `POST /rest/workflows ${w.id}: ${created.status} ${created.text.slice(0, 300)}`);
	const activated = await api.post(`/rest/workflows/${w.id}/activate`, { versionId: created.json.data.versionId });
	assert.equal(activated.status, 200, `activate ${w.id}: ${activated.status} ${activated.text.slice(0, 300)}`);
}

async function trigger(instance, triggerPath) {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const r = await fetch(`${instance.url}/webhook/${triggerPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
		if (r.status === 404 && Date.now() < deadline) {
			await sleep(250);
			continue;
		}
		assert.equal(r.status, 200, `trigger /webhook/${triggerPath}: ${r.status}`);
		return;
	}
}

export async function checkReviewers({ instance, api, receiver, check, prefix, browserTools, artifacts }) {
	const p = `${prefix} reviewers`;
	if (!browserTools) {
		await check(`${p}: needs the browser (chromium + playwright-core)`, () => {
			throw new Error('no browser tools');
		});
		return;
	}
	await check(`${p}: a member is invited over REST and accepts through n8n's invitation (token) flow`, async () => {
		const r = await api.post('/rest/invitations', [{ email: MEMBER.email, role: 'global:member' }]);
		assert.equal(r.status, 200, `POST /rest/invitations: ${r.status} ${r.text.slice(0, 300)}`);
		const url = new URL(r.json.data[0].user.inviteAcceptUrl);
		const accept = await fetch(`${instance.url}/rest/invitations/accept`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ token: url.searchParams.get('token'), firstName: MEMBER.firstName, lastName: MEMBER.lastName, password: MEMBER.password }),
		});
		const body = await accept.json();
		assert.equal(accept.status, 200, `accept: ${accept.status} ${JSON.stringify(body).slice(0, 300)}`);
	});

	const published = await check(`${p}: the two-person approval and an open review workflow are created and published`, async () => {
		await publish(api, workflow(`${receiver.url}/slack`));
		await publish(api, openWorkflow(`${receiver.url}/slack`));
	});
	if (!published) return;

	// Named Reviewers (Personal Links): the example itself, reviewer A then B (e2e/personal-links.mjs).
	await checkPersonalLinks({ instance, api, receiver, check, prefix, browserTools, artifacts, publish, trigger });

	const stillWaiting = async (id, node) => {
		// The link is posted just before n8n stores the execution as waiting.
		let e = await restExecution(api, instance, id);
		for (const deadline = Date.now() + 30_000; e.status === 'running' && Date.now() < deadline; e = await restExecution(api, instance, id)) await sleep(300);
		assert.equal(e.status, 'waiting', `execution ${id} is ${e.status}`);
		assert.equal(e.data.resultData.lastNodeExecuted, node);
		return e;
	};

	receiver.reset();
	let executionId;
	let firstLink;
	const waiting = await check(`${p}: triggered, the two-person approval waits at "${FIRST}" and its link reaches the channel`, async () => {
		await trigger(instance, TRIGGER_PATH);
		const post = await receiver.waitForPost((x) => x.path.endsWith('/first'), 60_000);
		firstLink = post.links[0];
		executionId = /^\/webhook-waiting\/(\d+)\//.exec(new URL(firstLink).pathname)[1];
		await stillWaiting(executionId, FIRST);
	});


	const browsers = [];
	const open = async () => {
		const tools = await launchLoopbackBrowser(browserTools);
		browsers.push(tools.browser);
		const page = await tools.context.newPage();
		page.setDefaultTimeout(30_000);
		return page;
	};
	try {
		if (waiting) {
			await check(`${p}: signed-in mode, no session: 302 to this n8n's /signin?redirect=<the page>; back without a session: a 401 page, no loop`, async () => {
				const r = await fetch(firstLink, { redirect: 'manual' });
				assert.equal(r.status, 302, `GET without a session: ${r.status}`);
				const location = new URL(r.headers.get('location'));
				assert.equal(`${location.origin}${location.pathname}`, `${instance.url}/signin`);
				const back = location.searchParams.get('redirect');
				assert.ok(back.startsWith(firstLink.split('?')[0]), back);
				const again = await fetch(back, { redirect: 'manual' });
				assert.equal(again.status, 401, `back without a session: ${again.status}`);
				assert.match(await again.text(), /your n8n sign-in did not reach this page/);
				await stillWaiting(executionId, FIRST);
			});

			await check(`${p}: n8n 2.x removes its session cookie before the node: a valid owner session (GET /rest/login 200) sent to the page is not seen (302 again), nothing resumes`, async () => {
				const me = await fetch(`${instance.url}/rest/login`, { headers: { cookie: api.cookie } });
				assert.equal(me.status, 200, `the session is valid for n8n's REST API: ${me.status}`);
				assert.match(api.cookie, /n8n-auth=/);
				const r = await fetch(firstLink, { redirect: 'manual', headers: { cookie: api.cookie } });
				assert.equal(r.status, 302, `GET with the owner's session: ${r.status}`);
				await stillWaiting(executionId, FIRST);
			});

			await check(`${p}: in Chromium, not signed in → n8n's own sign-in page → signed in as the owner → back on the review address, which says the sign-in did not reach it (no loop, still waiting)`, async () => {
				const page = await open();
				await page.goto(firstLink);
				await signInThroughN8n(page, OWNER);
				await page.waitForURL((u) => u.pathname.startsWith('/webhook-waiting/'), { timeout: 60_000 });
				await page.waitForLoadState();
				assert.ok(new URL(page.url()).searchParams.get('signed_in') === '1', page.url());
				const text = await page.textContent('body');
				assert.match(text, /your n8n sign-in did not reach this page/, text.slice(0, 300));
				assert.equal(await page.$('form#review'), null);
				await page.screenshot({ path: path.join(artifacts, 'reviewers-signin-not-seen.png'), fullPage: true });
				await sleep(1000);
				assert.ok(new URL(page.url()).pathname.startsWith('/webhook-waiting/'), `the page moved on to ${page.url()}`);
				await stillWaiting(executionId, FIRST);
			});
		}

		// Anyone With the Link: what a real n8n serves and records.
		receiver.reset();
		let openLink;
		let openExecution;
		const openWaiting = await check(`${p}: open review: the channel message cannot ping or link (title "${OPEN.title}")`, async () => {
			await trigger(instance, OPEN.path);
			const post = await receiver.waitForPost((x) => x.path.endsWith('/open'), 60_000);
			assert.equal(post.links.length, 1, `links in the message: ${post.message}`);
			openLink = post.links[0];
			openExecution = /^\/webhook-waiting\/(\d+)\//.exec(new URL(openLink).pathname)[1];
			assert.ok(post.message.startsWith('&lt;!channel&gt; Payments @\u200Bhere [pay]\u200B(https:\u200B//evil.example): 3 items wait'), JSON.stringify(post.message));
			await stillWaiting(openExecution, OPEN.node);
		});
		if (!openWaiting) return;

		await check(`${p}: open review in Chromium: a customer name ending in U+202E does not reverse "205 USD" (a control page with the raw text does)`, async () => {
			const page = await open();
			const answer = await page.goto(openLink);
			assert.equal(answer.status(), 200);
			assert.equal(await page.$('#reviewing-as'), null, 'an open review names a reviewer');
			const titles = await page.$$eval('section.item h2', (els) => els.map((e) => e.innerText));
			assert.ok(titles.includes(`${BIDI.id} · Müller[U+202E] – 205 USD`), JSON.stringify(titles));
			assert.equal(await readsLeftToRight(page, '205 USD'), true, '"205 USD" is drawn reversed on the review page');
			await page.screenshot({ path: path.join(artifacts, 'reviewers-bidi.png'), fullPage: true });
			const control = await open();
			await control.setContent(`<!DOCTYPE html><meta charset="utf-8"><h2>${BIDI.id} · ${BIDI.customer} – 205 USD</h2>`);
			assert.equal(await readsLeftToRight(control, '205 USD'), false, 'the control page is not reversed: the measurement proves nothing');
		});

		await check(`${p}: open review: a form with a choice for an item that does not exist is refused (422), nothing resumes; the real submit resumes, items without reviewed_by`, async () => {
			const html = await (await fetch(openLink)).text();
			const body = new URLSearchParams();
			for (const tag of html.match(/<input type="hidden"[^>]*>/g) ?? []) {
				const name = /name="([^"]*)"/.exec(tag)[1];
				if (name !== 'form_end') body.append(name, /value="([^"]*)"/.exec(tag)?.[1] ?? '');
			}
			for (const m of html.matchAll(/<select id="decision_(\d+)"/g)) body.append(`decision_${m[1]}`, '__keep__');
			const forged = new URLSearchParams(body);
			forged.append('decision_99', 'approve');
			forged.append('submit', '1');
			forged.append('form_end', '1');
			const refused = await fetch(openLink, { method: 'POST', body: forged });
			assert.equal(refused.status, 422, `forged form: ${refused.status}`);
			await stillWaiting(openExecution, OPEN.node);
			body.append('submit', '1');
			body.append('form_end', '1');
			const done = await fetch(openLink, { method: 'POST', body });
			assert.equal(done.status, 200, `submit: ${done.status}`);
			const deadline = Date.now() + 30_000;
			let e;
			while ((e = await restExecution(api, instance, openExecution)).status !== 'success' && Date.now() < deadline) await sleep(500);
			assert.equal(e.status, 'success');
			const items = e.data.resultData.runData[OPEN.node].at(-1).data.main.flat();
			assert.equal(items.length, 3);
			for (const item of items) {
				assert.equal(item.json.review.decided_by, 'clone');
				assert.equal(item.json.review.reviewed_by, undefined, 'reviewed_by under Anyone With the Link');
			}
		});
	} finally {
		for (const browser of browsers) await browser.close().catch(() => {});
	}
}

// ---------------------------------------------------------------------------------------------
// For the queue-mode tier (e2e/queue.mjs): its Review step keeps the default access (Anyone With the
// Link; n8n removes its session cookie from /webhook-waiting/ requests, in the main process as
// anywhere), so after the resume on a worker no item may name a reviewer.

