// A 600-item human review in a real, running n8n 2.x, driven in headless Chromium the way a person
// would (issue 17). Called from e2e/run.mjs on the 2.x line after the review checks of e2e/review.mjs.
//
// A webhook-triggered workflow (Webhook → Code: 600 refunds with the clone's answers → Review) is
// created, published and triggered. Measured: how long after the notification arrives the link
// answers n8n's 409 "is running already" before the page. Then in Chromium at 1280×800: filter to low
// confidence, one bulk action (every shown item → deny), back to all, one item changed by hand to
// "Other" (its text field appears only then), page through the batch with "Save and show the next
// items", reload mid-way (the address holds the choices: the same page and counts come back), open the
// original link (starts again, as the README says), submit (refused: escalated items need a person;
// the page shows and links them), keep their decision with one bulk action, submit. The run finishes
// with every item once, on the output of its final decision, with the right `review` fields.
// Screenshots (desktop and phone) in artifacts/e2e/.
import assert from 'node:assert/strict';
import path from 'node:path';

import { ROOT, log, sleep } from '../scripts/lib/harness.mjs';
import { launchLoopbackBrowser } from './browser.mjs';
import { restExecution } from './expect.mjs';

export const LARGE_REVIEW_WORKFLOW_ID = 'ClomanReviewLarge1';
const TRIGGER_PATH = 'cloman-review-large';
const COUNT = 600;
const REVIEW_NODE = 'Review refunds';
/** Outputs of the Review node: "Not Reviewed", the listed values, "Other". */
const OUTPUTS = ['Not Reviewed', 'approve', 'deny', 'Other'];
/** The item changed by hand and what to. */
const BY_HAND = { index: 3, custom: 'partial refund', note: 'e2e: half the amount, by hand' };

/** The batch as the Code node builds it (same formula here to know the expected outcome). */
export function largeBatch(count = COUNT) {
	return Array.from({ length: count }, (_, i) => ({
		id: `L-${i}`,
		customer: `Customer ${i}`,
		amount: 10 + i,
		cloman: {
			decision: i % 2 ? 'deny' : 'approve',
			confidence: Math.round((0.99 - (i / count) * 0.59) * 1000) / 1000,
			confidence_level: 'medium',
			requires_human_review: true,
			was_escalated: i % 100 === 42,
			reasoning: `Refund ${i}: within the customer's usual range, but the reason given needs a look. `.repeat(2),
			alternatives_considered: [{ action: 'escalate', reason: 'unclear policy', confidence: 0.2 }],
		},
	}));
}

function workflow(channelUrl) {
	const code = `const count = ${COUNT};\nreturn Array.from({ length: count }, (_, i) => ({ json: ${largeBatchBody()} }));`;
	return {
		id: LARGE_REVIEW_WORKFLOW_ID,
		name: `CloMan e2e: a ${COUNT}-item review (webhook /${TRIGGER_PATH})`,
		nodes: [
			{
				id: '0e2e0000-0000-4000-8000-00000000a001',
				name: 'Start large review',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: '0e2e0000-0000-4000-8000-00000000a0ff',
				parameters: { httpMethod: 'POST', path: TRIGGER_PATH, responseMode: 'onReceived', options: {} },
			},
			{
				id: '0e2e0000-0000-4000-8000-00000000a002',
				name: 'Refund batch',
				type: 'n8n-nodes-base.code',
				typeVersion: 2,
				position: [220, 0],
				parameters: { jsCode: code },
			},
			{
				id: '0e2e0000-0000-4000-8000-00000000a003',
				name: REVIEW_NODE,
				type: 'n8n-nodes-cloman.cloMan',
				typeVersion: 1,
				position: [440, 0],
				webhookId: '0e2e0000-0000-4000-8000-00000000a0fe',
				parameters: {
					operation: 'review',
					reviewTitle: "={{ $json.id + ' · ' + $json.customer + ' · ' + $json.amount + ' USD' }}",
					reviewDetails: "={{ 'Order of ' + $json.customer }}",
					decisionField: 'cloman',
					reviewRouteBy: 'decision',
					decisions: { values: [{ value: 'approve' }, { value: 'deny' }] },
					allowCustomDecision: true,
					pageTitle: 'Refunds waiting for review',
					notifyVia: 'webhook',
					notifyUrl: channelUrl,
					notifyFormat: 'text',
					limitWaitTime: true,
					limitType: 'afterTimeInterval',
					resumeAmount: 2,
					resumeUnit: 'hours',
				},
				credentials: { cloManApi: { id: 'ClomanCredDemo01', name: 'CloMan account' } },
			},
		],
		connections: { 'Start large review': { main: [[{ node: 'Refund batch', type: 'main', index: 0 }]] }, 'Refund batch': { main: [[{ node: REVIEW_NODE, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/** The body of largeBatch's item, as code for the Code node (i and count in scope). */
function largeBatchBody() {
	return `{
		id: 'L-' + i,
		customer: 'Customer ' + i,
		amount: 10 + i,
		cloman: {
			decision: i % 2 ? 'deny' : 'approve',
			confidence: Math.round((0.99 - (i / count) * 0.59) * 1000) / 1000,
			confidence_level: 'medium',
			requires_human_review: true,
			was_escalated: i % 100 === 42,
			reasoning: ("Refund " + i + ": within the customer's usual range, but the reason given needs a look. ").repeat(2),
			alternatives_considered: [{ action: 'escalate', reason: 'unclear policy', confidence: 0.2 }],
		},
	}`;
}

async function waitForStatus(api, instance, id, wanted, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const e = await restExecution(api, instance, id);
		if (wanted.includes(e.status)) return e;
		if (['error', 'crashed', 'canceled'].includes(e.status)) throw new Error(`execution ${id} ended ${e.status}`);
		if (Date.now() > deadline) throw new Error(`execution ${id} is ${e.status}, not ${wanted.join('/')}`);
		await sleep(500);
	}
}

const tallyOf = (page) =>
	page.$eval('#tally', (e) => Object.fromEntries(['total', 'shown', 'kept', 'changed', 'open'].map((k) => [k, Number(e.getAttribute(`data-${k}`))])));
const indexesOf = (page) => page.$$eval('section.item', (els) => els.map((e) => Number(e.getAttribute('data-index'))));
async function press(page, selector) {
	const [answer] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
	return answer;
}

export async function checkLargeReview({ instance, api, receiver, check, prefix, browserTools, artifacts }) {
	const p = `${prefix} large review (${COUNT} items)`;
	const batch = largeBatch();
	const low = batch.map((item, i) => [item, i]).filter(([item]) => item.cloman.confidence < 0.5).map(([, i]) => i);
	const escalated = batch.map((item, i) => [item, i]).filter(([item]) => item.cloman.was_escalated).map(([, i]) => i);
	let link;
	let executionId;

	const started = await check(`${p}: the workflow is published and triggered; the run waits; the first request to the link after the notification measured`, async () => {
		const wf = workflow(receiver.urlFor('slack'));
		const created = await api.post('/rest/workflows', { ...wf, active: false });
		assert.equal(created.status, 200, `POST /rest/workflows: ${created.status} ${created.text.slice(0, 300)}`);
		const activated = await api.post(`/rest/workflows/${wf.id}/activate`, { versionId: created.json.data.versionId });
		assert.equal(activated.status, 200, `activate: ${activated.status} ${activated.text.slice(0, 300)}`);
		receiver.reset();
		const deadline = Date.now() + 20_000;
		for (;;) {
			const r = await fetch(`${instance.url}/webhook/${TRIGGER_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
			await r.text();
			if (r.status === 404 && Date.now() < deadline) {
				await sleep(250);
				continue;
			}
			assert.equal(r.status, 200, `trigger: ${r.status}`);
			break;
		}
		const post = await receiver.waitForPost(() => true, 120_000);
		link = post.links[0];
		executionId = /\/webhook-waiting\/(\d+)\//.exec(link)?.[1];
		assert.ok(executionId, `link ${link}`);
		// A reviewer who clicks at once: poll the link until the page comes.
		const tries = [];
		let first409 = '';
		for (;;) {
			const sent = Date.now() - post.at;
			const r = await fetch(link, { redirect: 'manual' });
			const text = await r.text();
			tries.push({ sent, status: r.status, answered: Date.now() - post.at });
			if (r.status === 409 && !first409) first409 = text.slice(0, 120).replace(/\s+/g, ' ');
			if (r.status === 200) break;
			assert.ok(Date.now() - post.at < 30_000, `the link still answers ${r.status} after 30 s`);
			await sleep(25);
		}
		const last = tries.at(-1);
		const refused = tries.filter((t) => t.status !== 200);
		log(
			`      after the notification arrived: ${refused.length} request(s) refused (${refused.map((t) => `${t.status} sent at +${t.sent} ms`).join(', ') || 'none'}); the first page request sent at +${last.sent} ms answered 200 at +${last.answered} ms${first409 ? `; n8n's answer: ${first409}` : ''}`,
		);
		log(`      notification: ${post.message.replace(/signature=[^\s>|)]+/, 'signature=…')}`);
		await waitForStatus(api, instance, executionId, ['waiting'], 30_000);
	});
	if (!started) return;
	if (!browserTools) {
		await check(`${p}: Chromium review`, () => {
			throw new Error('not run: no browser');
		});
		return;
	}

	let doneCounts;
	await check(`${p}: in Chromium: filter to low confidence, one bulk action, one item by hand, page through, reload mid-way, the 422 leads to the escalations, submit`, async () => {
		const { browser, context, outside } = await launchLoopbackBrowser(browserTools, { width: 1280, height: 800 });
		try {
			const page = await context.newPage();
			page.setDefaultTimeout(30_000);
			const response = await page.goto(link);
			assert.equal(response.status(), 200);
			assert.deepEqual(await page.$$eval('script', (els) => els.length), 0, 'a <script> element');
			let tally = await tallyOf(page);
			assert.deepEqual(tally, { total: COUNT, shown: COUNT, kept: COUNT - escalated.length, changed: 0, open: escalated.length });
			assert.deepEqual(await indexesOf(page), batch.slice(0, 250).map((_, i) => i));
			const perItem = await page.$$eval('section.item', (els) => (els.at(-1).getBoundingClientRect().bottom - els[0].getBoundingClientRect().top) / els.length);
			log(`      desktop: ${perItem.toFixed(1)} px per item`);
			assert.ok(perItem <= 120, `${perItem} px per item`);

			// 1. Filter: low confidence.
			await page.selectOption('select[name="fc"]', 'low');
			let answer = await press(page, 'button[name="apply_view"]');
			assert.equal(answer.status(), 200);
			assert.match(page.url(), /[?&]v=%7C%7Clow%7C%7C0/, `the address holds the view: ${page.url()}`);
			assert.deepEqual(await indexesOf(page), low);
			// 2. Bulk: every shown item → deny.
			await page.selectOption('select[name="bulk_to"]', 'deny');
			await press(page, 'button[name="bulk_set"]');
			assert.match(await page.textContent('.notice'), new RegExp(`^${low.length} items set\\.`));
			const lowApprove = low.filter((i) => batch[i].cloman.decision === 'approve');
			const lowEscalated = low.filter((i) => batch[i].cloman.was_escalated);
			tally = await tallyOf(page);
			assert.equal(tally.changed, lowApprove.length);
			assert.equal(tally.open, escalated.length - lowEscalated.length);
			// 3. All items again; one changed by hand to "Other": its text field shows only then.
			await page.selectOption('select[name="fc"]', '');
			await press(page, 'button[name="apply_view"]');
			const custom = page.locator(`input[name="custom_${BY_HAND.index}"]`);
			assert.equal(await custom.isVisible(), false, 'the Other field shows before Other is chosen');
			await page.selectOption(`select[name="decision_${BY_HAND.index}"]`, '__other__');
			assert.equal(await custom.isVisible(), true, 'the Other field does not show when Other is chosen');
			await custom.fill(BY_HAND.custom);
			await page.click(`#item-${BY_HAND.index} > details > summary`);
			await page.fill(`textarea[name="note_${BY_HAND.index}"]`, BY_HAND.note);
			// 4. Page through: the next 250.
			await press(page, 'button[name="submit"]');
			assert.deepEqual(await indexesOf(page), batch.slice(250, 500).map((_, k) => 250 + k));
			tally = await tallyOf(page);
			assert.equal(tally.changed, lowApprove.length + 1, 'the change by hand was not kept');
			// 5. Reload mid-way: the same page and counts.
			const before = { url: page.url(), tally, indexes: await indexesOf(page) };
			log(`      address after page 1: ${before.url.length} characters`);
			answer = await page.reload();
			assert.equal(answer.status(), 200);
			assert.deepEqual({ url: page.url(), tally: await tallyOf(page), indexes: await indexesOf(page) }, before, 'reload changed the page');
			const listShot = path.join(artifacts, `n8n${instance.lineInfo.line}-review-large-desktop.png`);
			await page.screenshot({ path: listShot });
			log(`      screenshot: ${path.relative(ROOT, listShot)} (page 2 after the reload)`);
			// The original link starts again (nothing is stored on the server).
			const fresh = await context.newPage();
			await fresh.goto(link);
			assert.equal((await tallyOf(fresh)).changed, 0, 'the original link shows earlier choices');
			await fresh.close();
			// The phone view of the same address.
			const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
			try {
				await phone.route((url) => !['127.0.0.1', 'localhost'].includes(url.hostname), (route) => route.abort('blockedbyclient'));
				const mobile = await phone.newPage();
				await mobile.goto(before.url);
				const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
				assert.equal(overflow, 0, `the phone page overflows sideways by ${overflow} px`);
				const shot = path.join(artifacts, `n8n${instance.lineInfo.line}-review-large-phone.png`);
				await mobile.screenshot({ path: shot });
				log(`      screenshot: ${path.relative(ROOT, shot)}`);
			} finally {
				await phone.close();
			}
			await press(page, 'button[name="submit"]');
			assert.deepEqual(await indexesOf(page), batch.slice(500).map((_, k) => 500 + k));
			// 6. Submit: refused, the escalated items not decided yet are shown and linked.
			answer = await press(page, 'button[name="submit"]');
			assert.equal(answer.status(), 422);
			const open = escalated.filter((i) => !low.includes(i));
			assert.deepEqual(await indexesOf(page), open);
			const links = await page.$$eval('.alert a', (els) => els.map((e) => e.getAttribute('href')));
			assert.deepEqual(links, open.map((i) => `#item-${i}`));
			const shot = path.join(artifacts, `n8n${instance.lineInfo.line}-review-large-422.png`);
			await page.screenshot({ path: shot });
			log(`      screenshot: ${path.relative(ROOT, shot)} (the 422 page leading to the ${open.length} escalated items)`);
			await page.click(`.alert a[href="#item-${open[0]}"]`);
			assert.equal(new URL(page.url()).hash, `#item-${open[0]}`);
			assert.ok(await page.$eval(`#item-${open[0]}`, (e) => e.matches(':target')), 'the link does not lead to the item');
			// 7. Keep the clone's decision for them (one bulk action), then submit.
			await page.selectOption('select[name="bulk_to"]', '__keep__');
			await press(page, 'button[name="bulk_set"]');
			assert.equal((await tallyOf(page)).open, 0);
			answer = await press(page, 'button[name="submit"]');
			assert.equal(answer.status(), 200, await page.textContent('body'));
			doneCounts = await page.$eval('#counts', (e) => ({ kept: Number(e.getAttribute('data-kept')), changed: Number(e.getAttribute('data-changed')) }));
			log(`      done page: ${(await page.textContent('#counts')).trim()}`);
			assert.deepEqual(outside, [], 'requests outside 127.0.0.1');
		} finally {
			await browser.close();
		}
	});

	await check(`${p}: the run finishes; every item once, on the output of its final decision, with the right "review" fields`, async () => {
		const e = await waitForStatus(api, instance, executionId, ['success'], 90_000);
		const outputs = e.data.resultData.runData[REVIEW_NODE].at(-1).data.main.map((items) => items ?? []);
		assert.equal(outputs.length, OUTPUTS.length);
		const seen = new Map();
		outputs.forEach((items, o) => items.forEach((item) => seen.set(item.json.id, { o, json: item.json, n: (seen.get(item.json.id)?.n ?? 0) + 1 })));
		assert.equal(outputs.flat().length, COUNT, 'items out');
		assert.equal(seen.size, COUNT, 'an item came out twice');
		let changed = 0;
		batch.forEach((input, i) => {
			const got = seen.get(input.id);
			assert.ok(got, `${input.id} missing`);
			const clone = input.cloman.decision;
			const final = i === BY_HAND.index ? BY_HAND.custom : low.includes(i) ? 'deny' : clone;
			const output = OUTPUTS.indexOf(final) > 0 ? OUTPUTS.indexOf(final) : 3;
			assert.equal(got.o, output, `${input.id}: output ${OUTPUTS[got.o]}, expected ${OUTPUTS[output]}`);
			const isChanged = final !== clone;
			if (isChanged) changed++;
			assert.deepEqual(
				{ ...got.json.review, reviewed_at: undefined },
				{ ...got.json.review, decision: final, decided_by: isChanged ? 'reviewer' : 'clone', changed: isChanged, note: i === BY_HAND.index ? BY_HAND.note : '', clone_decision: clone, reviewed_at: undefined },
				`${input.id} review`,
			);
			assert.equal(got.json.cloman.decision, clone, `${input.id} lost its input fields`);
		});
		assert.deepEqual(doneCounts, { kept: COUNT - changed, changed }, 'the done page counts');
		log(`      ${OUTPUTS.map((name, o) => `${name} ${outputs[o].length}`).join(', ')}; ${changed} changed`);
	});
}
