/**
 * The Review operation ("Wait for Human Review") in n8n-core's real engine: the pause (WorkflowExecute
 * ends waiting), the page and the submit through n8n-core's WebhookContext over real 127.0.0.1 HTTP,
 * the resume (WorkflowExecute continues the stored execution with the webhook's outputs), the timeout
 * (WorkflowExecute continues it with waitTill set, as n8n's WaitTracker does). Every step starts from
 * the execution as n8n stores it (JSON), never from memory. n8n 2.x only: on the 1.x line the node
 * refuses to wait (test/n8n-line.engine.test.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { WAIT_INDEFINITELY } from 'n8n-workflow';

import { EXECUTION_ID, HARNESS_BASE_URL, allOutputItems, loadRun, runCloMan } from './harness/engine';
import type { RunOptions, RunResult, StoredExecution } from './harness/engine';
import { callWaitingWebhook, continueAfterTimeout, formBody, pathOf } from './harness/resume';
import type { WebhookAnswer } from './harness/resume';
import { fill, formFields, optionValues, sectionIndexes, submitWith } from './harness/review-page';
import { startStandin } from './standin/server';
import { KEEP, OTHER } from '../nodes/CloMan/actions/review/shape';
import { decidedItem } from './harness/review-items';

const LINE_1 = process.env.N8N_LINE === '1';
const describe2 = LINE_1 ? describe.skip : describe;

const API_KEY = 'cloman_sk_test_good';
const CREDENTIAL = { apiKey: API_KEY, baseUrl: 'http://127.0.0.1:9' };
const NODE_ID = 'cloman-node-id';

const decided = (id: string, decision: string, clone: IDataObject = {}): IDataObject => decidedItem(id, decision, clone);

async function pause(items: IDataObject[], parameters: IDataObject = {}, options: Partial<RunOptions> = {}): Promise<RunResult> {
	return await runCloMan({
		items,
		credential: CREDENTIAL,
		parameters: { operation: 'review', reviewTitle: '={{ $json.customer }} – {{ $json.amount }} USD', ...parameters },
		...options,
	} as RunOptions);
}

/** The review link as the node builds it: the resume URL with "/<node id>" before its query. */
function reviewLink(stored: StoredExecution): string {
	const token = (loadRun(stored) as { resumeToken?: string }).resumeToken;
	return `${HARNESS_BASE_URL}/webhook-waiting/${EXECUTION_ID}/${NODE_ID}?signature=${token}`;
}

const get = async (stored: StoredExecution, link = reviewLink(stored)) =>
	await callWaitingWebhook(stored, { method: 'GET', pathAndQuery: pathOf(link) });

const post = async (stored: StoredExecution, fields: Array<[string, string]>, link = reviewLink(stored)) =>
	await callWaitingWebhook(stored, {
		method: 'POST',
		pathAndQuery: pathOf(link),
		contentType: 'application/x-www-form-urlencoded',
		body: formBody(fields),
	});

/** GET the page, change some fields, press a button. */
async function review(stored: StoredExecution, values: Record<string, string>, button: 'submit' | 'keep_remaining' = 'submit') {
	const page = await get(stored);
	expect(page.status).toBe(200);
	return await post(stored, submitWith(fill(formFields(page.body), values), button));
}

const jsonOf = (items: INodeExecutionData[]) => items.map((item) => item.json);
const ids = (items: INodeExecutionData[]) => items.map((item) => item.json.id);

describe2('the pause', () => {
	test('Start → Review waits: by default one day, no output yet, nothing after it ran', async () => {
		const before = Date.now();
		const result = await pause([decided('a', 'approve'), decided('b', 'deny')], {}, { downstream: 4 });
		expect(result.error).toBeUndefined();
		expect(result.status).toBe('waiting');
		expect(result.run.waitTill!.getTime()).toBeGreaterThanOrEqual(before + 86_400_000);
		expect(result.run.waitTill!.getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
		// Not Reviewed, approve, deny, Other: all empty while waiting
		expect(result.outputs).toEqual([[], [], [], []]);
		expect(Object.keys(result.run.data.resultData.runData).sort()).toEqual(['CloMan', 'Start']);
		const stored = loadRun(result.stored);
		expect(stored.resultData.lastNodeExecuted).toBe('CloMan');
		expect((stored as { resumeToken?: string }).resumeToken).toMatch(/^[0-9a-f]{64}$/);
	});

	test('without a limit it waits forever (WAIT_INDEFINITELY); a limit sets waitTill to it', async () => {
		const forever = await pause([decided('a', 'approve')], { limitWaitTime: false });
		expect(forever.status).toBe('waiting');
		expect(forever.run.waitTill?.getTime()).toBe(WAIT_INDEFINITELY.getTime());
		expect(forever.outputs).toHaveLength(4);
		const before = Date.now();
		const result = await pause([decided('a', 'approve')], { limitWaitTime: true, resumeAmount: 2, resumeUnit: 'hours' });
		expect(result.status).toBe('waiting');
		const waitTill = result.run.waitTill!.getTime();
		expect(waitTill).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
		expect(waitTill).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000);
		expect(result.outputs).toHaveLength(4); // Not Reviewed, approve, deny, Other
	});

	test('a limit at a specified time waits until then; a past one is an error and nothing waits', async () => {
		const at = new Date(Date.now() + 86_400_000).toISOString();
		const ok = await pause([decided('a', 'approve')], { limitWaitTime: true, limitType: 'atSpecifiedTime', maxDateAndTime: at });
		expect(ok.run.waitTill?.toISOString()).toBe(at);
		const past = await pause([decided('a', 'approve')], {
			limitWaitTime: true,
			limitType: 'atSpecifiedTime',
			maxDateAndTime: '2020-01-01T00:00:00.000Z',
		});
		expect(past.status).toBe('error');
		expect(past.run.waitTill).toBeUndefined();
		expect(past.error?.message).toMatch(/Max Date and Time 2020-01-01T00:00:00.000Z has already passed/);
	});

	test('an item without a decision stops the node, naming the item and the field; nothing waits', async () => {
		const result = await pause([decided('a', 'approve'), { id: 'b', amount: 5 }, decided('c', 'deny')]);
		expect(result.status).toBe('error');
		expect(result.run.waitTill).toBeUndefined();
		expect(result.error?.message).toBe(
			'Item 1 has no decision to review: expected a non-empty "decision" text at its root or under "cloman"',
		);
		expect(result.error?.description).toMatch(/Decision Field/);
	});

	test('an item that carries an earlier failure says so; an empty decision says so', async () => {
		const failed = await pause([{ id: 'a', error: { message: 'CloMan RateLimitError (429)' } }]);
		expect(failed.error?.message).toMatch(/^Item 0 has no decision to review: .*; it carries an error from an earlier step instead: CloMan RateLimitError \(429\)$/);
		const empty = await pause([{ id: 'a', cloman: { decision: '  ' } }]);
		expect(empty.error?.message).toMatch(/^Item 0 .*; its "decision" is empty or not text$/);
	});

	test('decisions at the item root (Decide\'s "Output Item") and under a renamed field are read', async () => {
		const root = await pause([{ id: 'a', decision: 'approve', reasoning: 'r', confidence: 0.5 }]);
		expect(root.status).toBe('waiting');
		const renamed = await pause([{ id: 'a', verdict: { decision: 'deny' } }], { decisionField: 'verdict' });
		expect(renamed.status).toBe('waiting');
		const page = await get(renamed.stored);
		expect(page.body).toContain('Keep: deny');
	});

	test('an empty batch does not wait', async () => {
		// n8n does not run a node whose input is empty: the run ends, nothing waits.
		const result = await pause([], {});
		expect(result.status).toBe('success');
		expect(result.run.waitTill).toBeUndefined();
	});

	test('a title expression that fails names the item and the field', async () => {
		const result = await pause([decided('a', 'approve'), decided('b', 'deny')], {
			reviewTitle: '={{ $json.id === "b" ? $("Nowhere").item.json.x : $json.id }}',
		});
		expect(result.status).toBe('error');
		expect(result.run.waitTill).toBeUndefined();
		expect(result.error?.message).toMatch(/^Item Title of item 1 could not be computed: /);
	});

	test('listed decision values must be unique and not empty', async () => {
		const result = await pause([decided('a', 'approve')], {
			decisions: { values: [{ value: 'approve' }, { value: ' Approve ' }] },
		});
		expect(result.status).toBe('error');
		expect(result.error?.message).toBe('Decision value "approve" is listed twice (values 1 and 2)');
	});

	test('as an AI agent\'s tool it refuses', async () => {
		const result = await pause([decided('a', 'approve')], {}, { nodeType: 'n8n-nodes-cloman.cloManTool' });
		expect(result.status).toBe('error');
		expect(result.error?.message).toMatch(/cannot run as an AI agent's tool/);
	});
});

describe2('"Continue": bad items fail alone, never on a decision output', () => {
	test('good items wait; after the review the bad one leaves on "Not Reviewed" with its error', async () => {
		const items = [decided('a', 'approve'), { id: 'b' }, decided('c', 'deny')];
		const paused = await pause(items, {}, { onError: 'continueRegularOutput' });
		expect(paused.status).toBe('waiting');
		const page = await get(paused.stored);
		expect(sectionIndexes(page.body)).toEqual([0, 2]);
		expect(page.body).toContain('1 item has no decision to review; it goes on with an error.');
		const done = await review(paused.stored, {});
		const [notReviewed, approve, deny, other] = done.resumed!.outputs;
		expect(ids(approve)).toEqual(['a']);
		expect(ids(deny)).toEqual(['c']);
		expect(other).toEqual([]);
		expect(ids(notReviewed)).toEqual(['b']);
		expect(notReviewed[0].json.review).toBeUndefined();
		expect(notReviewed[0].json.error).toMatchObject({ kind: 'InputError', field: 'decisionField', item_index: 1 });
	});

	test('with the error output, the bad item goes there', async () => {
		const paused = await pause([{ id: 'b' }, decided('a', 'approve')], {}, { onError: 'continueErrorOutput' });
		const done = await review(paused.stored, {});
		const outputs = done.resumed!.outputs;
		expect(outputs).toHaveLength(5); // Not Reviewed, approve, deny, Other, error
		expect(outputs[0]).toEqual([]);
		expect(ids(outputs[1])).toEqual(['a']);
		expect(outputs[4]).toHaveLength(1);
		expect(outputs[4][0].json).toMatchObject({ id: 'b', error: { field: 'decisionField', item_index: 0 } });
	});

	test('with the error output, a bad item after others stays on Not Reviewed with its own fields (n8n 2.39+ would pair it with another item)', async () => {
		const paused = await pause(
			[decided('a', 'approve'), { ...decided('c', 'deny'), note: 'only on c' }, { id: 'b', customer: 'Bee' }],
			{},
			{ onError: 'continueErrorOutput' },
		);
		const done = await review(paused.stored, {});
		const outputs = done.resumed!.outputs;
		expect(outputs).toHaveLength(5);
		expect(ids(outputs[1])).toEqual(['a']);
		expect(ids(outputs[2])).toEqual(['c']);
		// On the error output n8n would merge input item 0 ("a", with its cloman) into b: b stays on output 0.
		expect(outputs[4]).toEqual([]);
		expect(outputs[0]).toHaveLength(1);
		expect(outputs[0][0].json).toEqual({
			id: 'b',
			customer: 'Bee',
			error: expect.objectContaining({ kind: 'InputError', field: 'decisionField', item_index: 2 }),
		});
		expect(done.body).toContain('1 item without a decision went on with an error.');
	});

	test('all items bad: no wait, every item on the failure output', async () => {
		const result = await pause([{ id: 'a' }, { id: 'b' }], { limitWaitTime: true }, { onError: 'continueRegularOutput' });
		expect(result.status).toBe('success');
		expect(result.run.waitTill).toBeUndefined();
		// on "Not Reviewed"
		expect(ids(result.outputs[0])).toEqual(['a', 'b']);
		expect(result.outputs.slice(1).flat()).toEqual([]);
	});
});

describe2('the page (GET)', () => {
	const items = [
		decided('a', 'approve', { reasoning: 'Looks <script>alert("x")</script> fine & "ok"' }),
		{ ...decided('b', 'deny'), customer: '<img src=x onerror=alert(1)>' },
		{ id: 'c', customer: 'Cy', amount: 7, decision: 'needs_more_info', reasoning: 'root fields', confidence: 0.4 },
	];

	let paused: RunResult;
	let page: WebhookAnswer;
	beforeAll(async () => {
		paused = await pause(items, { reviewDetails: '=Reason: {{ $json.cloman ? $json.cloman.reasoning : "-" }}', pageMessage: 'Please check <b>these</b>' });
		page = await get(paused.stored);
	});

	test('is HTML with a restrictive CSP and safe headers', () => {
		expect(page.status).toBe(200);
		expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
		const csp = page.headers['content-security-policy'];
		expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]{24}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'$/);
		const nonce = /'nonce-([^']+)'/.exec(csp)![1];
		expect(page.body).toContain(`<style nonce="${nonce}">`);
		// no script, no external resource of any kind
		expect(page.body).not.toMatch(/<(script|link|img|iframe|object|embed)\b/i);
		expect(page.body).not.toMatch(/\s(src|href)="/i);
		expect(page.headers['x-content-type-options']).toBe('nosniff');
		expect(page.headers['referrer-policy']).toBe('no-referrer');
		expect(page.headers['cache-control']).toBe('no-store');
		expect(page.headers['x-frame-options']).toBe('DENY');
	});

	test('escapes every text from CloMan and the items', () => {
		expect(page.body).not.toContain('<script>');
		expect(page.body).toContain('Looks &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; fine &amp; &quot;ok&quot;');
		expect(page.body).not.toContain('<img');
		expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt; – 100 USD');
		expect(page.body).toContain('Please check &lt;b&gt;these&lt;/b&gt;');
	});

	test('never contains the API key (the credential is not read for the page)', () => {
		expect(page.body).not.toContain(API_KEY);
		expect(JSON.stringify(page.headers)).not.toContain(API_KEY);
	});

	test('lists every item with title, details, decision, confidence, flags and alternatives, per-item expressions', () => {
		expect(sectionIndexes(page.body)).toEqual([0, 1, 2]);
		expect(page.body).toContain('<h2><bdi>Customer a – 100 USD</bdi></h2>');
		expect(page.body).toContain('<h2><bdi>Cy – 7 USD</bdi></h2>');
		expect(page.body).toContain('Reason: Reasoning for b');
		expect(page.body).toContain('Reason: -');
		expect(page.body).toContain('(confidence 61%, medium)');
		expect(page.body).toContain('review requested');
		expect(page.body).toContain('<li><b><bdi>escalate</bdi></b> (30%): <bdi>unclear policy</bdi></li>');
	});

	test('offers keep, the listed values, the alternatives and free text, once each, not the clone\'s own', () => {
		expect(optionValues(page.body, 0)).toEqual(['__keep__', 'deny', 'escalate', '__other__']);
		expect(optionValues(page.body, 1)).toEqual(['__keep__', 'approve', 'escalate', '__other__']);
		// "needs_more_info" is not a listed value: a person must choose, nothing is preselected
		expect(optionValues(page.body, 2)).toEqual(['', '__keep__', 'approve', 'deny', '__other__']);
		const fields = formFields(page.body).map(([name]) => name);
		expect(fields).toEqual([
			'view',
			'state',
			'state_text',
			'fd',
			'ff',
			'fc',
			'sort',
			'bulk_to',
			'bulk_min',
			...[0, 1, 2].flatMap((i) => [`decision_${i}`, `custom_${i}`, `note_${i}`]),
			'form_end',
		]);
		expect(page.body).toContain('<button type="submit" name="submit" value="1" class="primary">');
		expect(page.body).toContain('<button type="submit" name="keep_remaining" value="1"');
	});

	test('the form posts back to the same link: same path, same signature', () => {
		const token = (loadRun(paused.stored) as { resumeToken?: string }).resumeToken;
		expect(page.body).toContain(`<form id="review" method="post" action="?signature=${token}">`);
	});

	test('GET never resumes: the execution still waits, and the page can be opened again', async () => {
		expect(page.result?.workflowData).toBeUndefined();
		expect(page.resumed).toBeUndefined();
		expect(page.stored.status).toBe('waiting');
		const again = await get(paused.stored);
		expect(again.status).toBe(200);
	});

	test('the plain $execution.resumeUrl (e.g. sent by an earlier email node) opens the same page', async () => {
		const token = (loadRun(paused.stored) as { resumeToken?: string }).resumeToken;
		const plain = await get(paused.stored, `${HARNESS_BASE_URL}/webhook-waiting/${EXECUTION_ID}?signature=${token}`);
		expect(plain.status).toBe(200);
		expect(sectionIndexes(plain.body)).toEqual([0, 1, 2]);
	});

	test('a missing or altered signature gets 401 from n8n and reaches nothing', async () => {
		const link = reviewLink(paused.stored);
		const altered = link.replace(/signature=(.)/, (_m, c: string) => `signature=${c === 'a' ? 'b' : 'a'}`);
		for (const bad of [link.replace(/\?.*$/, ''), altered]) {
			const answer = await get(paused.stored, bad);
			expect(answer.status).toBe(401);
			expect(answer.result).toBeUndefined();
			const submit = await post(paused.stored, [['decision_0', 'deny'], ['submit', '1'], ['form_end', '1']], bad);
			expect(submit.status).toBe(401);
			expect(submit.resumed).toBeUndefined();
		}
	});
});

describe2('the submit (POST) and the resume', () => {
	const items = [decided('a', 'approve'), decided('b', 'deny'), decided('c', 'approve'), decided('d', 'approve')];

	test('shapes every item once, fields kept, review added, routed by the final decision + Other', async () => {
		const paused = await pause(items, {}, { downstream: 4 });
		const done = await review(paused.stored, {
			decision_0: 'deny',
			note_0: 'Too large <b>for</b> policy',
			decision_2: '__other__',
			custom_2: 'Escalate to finance',
			decision_3: 'escalate',
		});
		expect(done.status).toBe(200);
		expect(done.body).toContain('4 items: 1 kept as the clone decided, 3 changed.');
		expect(done.body).toContain('data-kept="1" data-changed="3"');
		expect(done.headers['content-security-policy']).toMatch(/^default-src 'none'/);
		expect(done.resumed!.run.status).toBe('success');
		const [notReviewed, approve, deny, other] = done.resumed!.outputs;
		expect(notReviewed).toEqual([]);
		expect(approve).toEqual([]);
		expect(ids(deny)).toEqual(['a', 'b']);
		expect(ids(other)).toEqual(['c', 'd']);
		const all = allOutputItems(done.resumed!.outputs);
		expect(all.map(({ item }) => item.json.id).sort()).toEqual(['a', 'b', 'c', 'd']);
		const byId = Object.fromEntries(all.map(({ item }) => [item.json.id, item.json]));
		for (const input of items) {
			// every input field, the nested cloman too, unchanged
			const { review: _review, ...rest } = byId[input.id as string];
			expect(rest).toEqual(input);
		}
		const reviewedAt = (byId.a.review as IDataObject).reviewed_at as string;
		expect(new Date(reviewedAt).toISOString()).toBe(reviewedAt);
		expect(byId.a.review).toEqual({ decision: 'deny', decided_by: 'reviewer', changed: true, note: 'Too large <b>for</b> policy', reviewed_at: reviewedAt, clone_decision: 'approve' });
		expect(byId.b.review).toEqual({ decision: 'deny', decided_by: 'clone', changed: false, note: '', reviewed_at: reviewedAt, clone_decision: 'deny' });
		expect(byId.c.review).toMatchObject({ decision: 'Escalate to finance', decided_by: 'reviewer', changed: true });
		expect(byId.d.review).toMatchObject({ decision: 'escalate', decided_by: 'reviewer', changed: true });
		// The downstream nodes ran with the items n8n forwarded from every output.
		const runData = done.resumed!.run.data.resultData.runData;
		expect(runData['After 2'][0].data!.main[0]!.map((item) => item.json.id)).toEqual(['a', 'b']);
		expect(runData['After 3'][0].data!.main[0]!.map((item) => item.json.id)).toEqual(['c', 'd']);
		expect(runData['After 0']).toBeUndefined();
		expect(runData['After 1']).toBeUndefined();
	});

	test('choosing the clone\'s own decision by name, in any case, counts as kept', async () => {
		const paused = await pause([decided('a', 'approve')]);
		const done = await review(paused.stored, { decision_0: '__other__', custom_0: ' APPROVE ' });
		expect(done.resumed!.outputs[1][0].json.review).toMatchObject({ decision: 'approve', decided_by: 'clone', changed: false });
	});

	test('One Output: every item on "Reviewed" in input order, and $(\'Start\').item still resolves downstream', async () => {
		const paused = await pause(items, { reviewRouteBy: 'single', limitWaitTime: false }, { downstream: 1 });
		expect(paused.outputs).toHaveLength(1);
		const done = await review(paused.stored, { decision_1: 'approve' });
		const [reviewed] = done.resumed!.outputs;
		expect(ids(reviewed)).toEqual(['a', 'b', 'c', 'd']);
		expect(reviewed.map((item) => (item.json.review as IDataObject).decision)).toEqual(['approve', 'approve', 'approve', 'approve']);
		const after = done.resumed!.run.data.resultData.runData['After 0'][0].data!.main[0]!;
		expect(after.map((item) => (item.json.start_item as IDataObject).id)).toEqual(['a', 'b', 'c', 'd']);
	});

	test('routed outputs: $(\'Start\').item never resolves to another item (n8n re-pairs by position), the fields are carried', async () => {
		// a: deny, b: approve. n8n rewrites each resumed item's pairing to { item: its position in its
		// output, input: the output's index }; a routed output 0 would send b's $('Start').item to a.
		const paused = await pause([decided('a', 'deny'), decided('b', 'approve'), decided('c', 'approve')], {}, { downstream: 4 });
		const done = await review(paused.stored, {});
		expect(done.resumed!.outputs[1].map((item) => item.pairedItem)).toEqual([{ item: 0, input: 1 }, { item: 1, input: 1 }]);
		const runData = done.resumed!.run.data.resultData.runData;
		const after = [1, 2].flatMap((n) => runData[`After ${n}`][0].data!.main[0]!);
		expect(after.map((item) => item.json.id).sort()).toEqual(['a', 'b', 'c']);
		for (const item of after) {
			const start = item.json.start_item as IDataObject | null | undefined;
			// unresolved (nothing, or n8n's error), never a different item
			expect(start?.id === undefined || start.id === item.json.id).toBe(true);
			// what to use instead: the item's own fields
			expect(item.json.customer).toBe(`Customer ${item.json.id}`);
		}
	});

	test('"keep all remaining" keeps every untouched item as the clone decided', async () => {
		const paused = await pause(items);
		const done = await review(paused.stored, { decision_1: 'approve' }, 'keep_remaining');
		expect(done.body).toContain('4 items: 3 kept as the clone decided, 1 changed.');
		const decisions = allOutputItems(done.resumed!.outputs).map(({ item }) => [item.json.id, (item.json.review as IDataObject).decided_by]);
		expect(decisions.sort()).toEqual([['a', 'clone'], ['b', 'reviewer'], ['c', 'clone'], ['d', 'clone']]);
	});

	test('a second submit resumes nothing: n8n answers 409, the run is finished', async () => {
		const paused = await pause(items);
		const first = await review(paused.stored, {});
		expect(first.resumed?.run.status).toBe('success');
		const second = await post(first.stored, [['page_start', '0'], ['decision_0', 'deny'], ['submit', '1'], ['form_end', '1']]);
		expect(second.status).toBe(409);
		expect(second.body).toMatch(/has finished already/);
		expect(second.resumed).toBeUndefined();
		const reopened = await get(first.stored);
		expect(reopened.status).toBe(409);
	});

	test('an unknown decision with free text off: the page again with the message, nothing resumed', async () => {
		const paused = await pause(items, { allowCustomDecision: false });
		const page = await get(paused.stored);
		expect(optionValues(page.body, 0)).toEqual(['__keep__', 'deny', 'escalate']);
		expect(page.body).not.toContain('name="custom_0"');
		const fields = submitWith(fill(formFields(page.body), { decision_0: 'refund twice', note_1: 'kept note' }), 'submit');
		const answer = await post(paused.stored, fields);
		expect(answer.status).toBe(422);
		expect(answer.resumed).toBeUndefined();
		expect(answer.result?.workflowData).toBeUndefined();
		expect(answer.body).toContain('1 item needs your attention; nothing on this page was recorded yet.');
		expect(answer.body).toContain('<a href="#item-0">');
		expect(answer.body).toContain('&quot;refund twice&quot; is not one of the decisions offered for this item');
		expect(answer.body).toContain('>kept note</textarea>');
		// still waiting: a corrected submit goes through
		const fixed = await post(paused.stored, submitWith(fill(formFields(page.body), { decision_0: 'escalate' }), 'submit'));
		expect(fixed.resumed!.outputs[3].map((item) => item.json.id)).toEqual(['a']);
	});

	test('"Other" with nothing typed, or a typed value too long, is sent back', async () => {
		const paused = await pause(items);
		const empty = await review(paused.stored, { decision_0: '__other__' });
		expect(empty.status).toBe(422);
		expect(empty.body).toContain('Type the decision you want, or choose one from the list');
		const long = await review(paused.stored, { decision_0: '__other__', custom_0: 'x'.repeat(201) });
		expect(long.status).toBe(422);
		expect(long.body).toContain('at most 200 are allowed');
		expect(long.resumed).toBeUndefined();
	});

	test('a form cut short (no form_end, as when n8n drops fields past 1,000) records nothing', async () => {
		const paused = await pause(items);
		const page = await get(paused.stored);
		const cut = submitWith(formFields(page.body), 'submit').filter(([name]) => name !== 'form_end');
		const answer = await post(paused.stored, cut);
		expect(answer.status).toBe(422);
		expect(answer.body).toContain('The form arrived incomplete');
		expect(answer.resumed).toBeUndefined();
	});

	test('a tampered carried state is refused', async () => {
		const paused = await pause(items);
		const page = await get(paused.stored);
		const answer = await post(paused.stored, submitWith(fill(formFields(page.body), { state: '{"0":["deny",""]}' }), 'submit'));
		expect(answer.status).toBe(422);
		expect(answer.body).toContain('The choices carried in the form are damaged');
	});

	test('a JSON body with the same fields works too (n8n parses application/json)', async () => {
		const paused = await pause(items);
		const answer = await callWaitingWebhook(paused.stored, {
			method: 'POST',
			pathAndQuery: pathOf(reviewLink(paused.stored)),
			contentType: 'application/json',
			body: JSON.stringify({ page_start: '0', decision_0: 'deny', decision_1: '__keep__', decision_2: '__keep__', decision_3: '__keep__', submit: '1', form_end: '1' }),
		});
		expect(answer.status).toBe(200);
		expect(ids(answer.resumed!.outputs[2])).toEqual(['a', 'b']);
	});
});

describe2('big batches: 250 items per page, the last submit resumes', () => {
	const many = Array.from({ length: 1000 }, (_, i) => decided(`i${i}`, i % 2 ? 'deny' : 'approve'));

	test('1,000 items: four pages, choices carried, each page under n8n\'s 1,000-field limit', async () => {
		const paused = await pause(many, { reviewRouteBy: 'single', limitWaitTime: false });
		expect(paused.status).toBe('waiting');
		let page = await get(paused.stored);
		const seen: number[] = [];
		// clone: even → approve, odd → deny
		const changes: Record<number, string> = { 3: 'approve', 260: 'deny', 999: 'escalate' };
		for (let n = 0; n < 4; n++) {
			expect(page.status).toBe(200);
			const indexes = sectionIndexes(page.body);
			expect(indexes).toEqual(Array.from({ length: 250 }, (_, k) => n * 250 + k));
			seen.push(...indexes);
			const fields = formFields(page.body);
			expect(fields.length + 1).toBeLessThan(1000);
			const values: Record<string, string> = {};
			for (const [i, decision] of Object.entries(changes)) if (indexes.includes(Number(i))) values[`decision_${i}`] = decision;
			page = await post(paused.stored, submitWith(fill(fields, values), 'submit'));
			if (n < 3) {
				expect(page.resumed).toBeUndefined();
				expect(page.body).toContain(`Showing ${(n + 1) * 250 + 1}–${(n + 2) * 250} of 1000.`);
			}
		}
		expect(seen).toHaveLength(1000);
		const [reviewed] = page.resumed!.outputs;
		expect(reviewed).toHaveLength(1000);
		expect(reviewed.map((item) => item.json.id)).toEqual(many.map((item) => item.id));
		const changed = reviewed.filter((item) => (item.json.review as IDataObject).changed).map((item) => [item.json.id, (item.json.review as IDataObject).decision]);
		expect(changed).toEqual([['i3', 'approve'], ['i260', 'deny'], ['i999', 'escalate']]);
		expect(page.body).toContain('1000 items: 997 kept as the clone decided, 3 changed.');
	});

	test('"keep all remaining" on the first page finishes the whole batch', async () => {
		const paused = await pause(many.slice(0, 600));
		const done = await review(paused.stored, { decision_1: 'approve' }, 'keep_remaining');
		expect(done.status).toBe(200);
		expect(done.body).toContain('600 items: 599 kept as the clone decided, 1 changed.');
		expect(allOutputItems(done.resumed!.outputs)).toHaveLength(600);
	});
});

describe2('a large review: filters, bulk actions, escalations, the address keeps the work', () => {
	// clone: even → approve, odd → deny; confidence falls from 0.99 to 0.40; every 50th escalated
	const batch = Array.from({ length: 600 }, (_, i) =>
		decided(`i${i}`, i % 2 ? 'deny' : 'approve', { confidence: Math.round((0.99 - (i / 600) * 0.59) * 1000) / 1000, was_escalated: i % 50 === 7 }),
	);
	const listed = { decisions: { values: [{ value: 'approve' }, { value: 'deny' }] } };
	const manual = async (stored: StoredExecution, fields: Array<[string, string]>, link: string) =>
		await callWaitingWebhook(stored, {
			method: 'POST',
			pathAndQuery: pathOf(link),
			contentType: 'application/x-www-form-urlencoded',
			body: formBody(fields),
			redirect: 'manual',
		});
	const getAt = async (stored: StoredExecution, location: string) => await callWaitingWebhook(stored, { method: 'GET', pathAndQuery: location });
	const tallyOf = (html: string) => {
		const match = /id="tally" data-total="(\d+)" data-shown="(\d+)" data-kept="(\d+)" data-changed="(\d+)" data-open="(\d+)"/.exec(html)!;
		return { total: Number(match[1]), shown: Number(match[2]), kept: Number(match[3]), changed: Number(match[4]), open: Number(match[5]) };
	};

	test('filter → bulk → by hand → paging; every step answers 303 to an address that reloads to the same page; escalations need a person', async () => {
		const paused = await pause(batch, listed);
		const link = reviewLink(paused.stored);
		let page = await get(paused.stored);
		expect(tallyOf(page.body)).toEqual({ total: 600, shown: 600, kept: 588, changed: 0, open: 12 });
		// 1. filter to low confidence (< 50 %): 303, the address holds the view; the same page on reload
		let answer = await manual(paused.stored, submitWith(fill(formFields(page.body), { fc: 'low' }), 'submit').map(([n, v]) => (n === 'submit' ? ['apply_view', v] : [n, v])), link);
		expect(answer.status).toBe(303);
		let location = answer.headers.location;
		expect(location).toMatch(/^\/webhook-waiting\/.+\?signature=[^&]+&v=%7C%7Clow%7C%7C0$/);
		page = await getAt(paused.stored, location);
		const low = sectionIndexes(page.body);
		expect(low).toEqual(batch.map((_, i) => i).filter((i) => (batch[i].cloman as IDataObject).confidence as number < 0.5));
		expect(tallyOf(page.body).shown).toBe(low.length);
		// 2. bulk: set every shown item to deny
		answer = await manual(paused.stored, [...fill(formFields(page.body), { bulk_to: 'deny' }), ['bulk_set', '1']], link);
		expect(answer.status).toBe(303);
		location = answer.headers.location;
		page = await getAt(paused.stored, location);
		expect(page.body).toContain(`${low.length} items set.`);
		const evenLow = low.filter((i) => i % 2 === 0);
		expect(tallyOf(page.body)).toMatchObject({ changed: evenLow.length });
		// reload: the same address gives the same page, choices and all
		const reloaded = await getAt(paused.stored, location);
		expect(formFields(reloaded.body)).toEqual(formFields(page.body));
		// 3. back to everything, one item by hand (page 1), then page 2 and 3 with "Save and show the next items"
		answer = await manual(paused.stored, [...fill(formFields(page.body), { fc: '' }), ['apply_view', '1']], link);
		page = await getAt(paused.stored, answer.headers.location);
		expect(sectionIndexes(page.body)).toHaveLength(250);
		answer = await manual(paused.stored, submitWith(fill(formFields(page.body), { decision_3: OTHER, custom_3: 'partial refund', note_3: 'by hand' }), 'submit'), link);
		location = answer.headers.location;
		expect(location.length).toBeLessThan(8000);
		page = await getAt(paused.stored, location);
		expect(sectionIndexes(page.body)[0]).toBe(250);
		answer = await manual(paused.stored, submitWith(formFields(page.body), 'submit'), link);
		page = await getAt(paused.stored, answer.headers.location);
		expect(sectionIndexes(page.body)).toEqual(Array.from({ length: 100 }, (_, k) => 500 + k));
		// 4. submit: refused while 12 escalated items have no decision; the page lists and links them
		answer = await manual(paused.stored, submitWith(formFields(page.body), 'submit'), link);
		expect(answer.status).toBe(422);
		expect(answer.resumed).toBeUndefined();
		// (the escalated items among the low-confidence ones got "deny" from the bulk action)
		const escalated = batch.map((_, i) => i).filter((i) => i % 50 === 7 && !low.includes(i));
		expect(escalated.length).toBeGreaterThan(5);
		expect(sectionIndexes(answer.body)).toEqual(escalated);
		for (const i of escalated) expect(answer.body).toContain(`<a href="#item-${i}">`);
		expect(answer.body).toContain(`${escalated.length} items need your decision before the review can be submitted`);
		// 5. keep the clone's decision for all of them (one bulk action), then submit
		answer = await manual(paused.stored, [...fill(formFields(answer.body), { bulk_to: KEEP }), ['bulk_set', '1']], link);
		page = await getAt(paused.stored, answer.headers.location);
		expect(tallyOf(page.body).open).toBe(0);
		const done = await post(paused.stored, submitWith(formFields(page.body), 'keep_remaining'));
		expect(done.status).toBe(200);
		const out = allOutputItems(done.resumed!.outputs);
		expect(out).toHaveLength(600);
		expect(new Set(out.map(({ item }) => item.json.id)).size).toBe(600);
		const [, approve, deny, other] = done.resumed!.outputs;
		for (const item of deny) expect((item.json.review as IDataObject).decision).toBe('deny');
		expect(other.map((item) => [item.json.id, item.json.review])).toEqual([
			['i3', expect.objectContaining({ decision: 'partial refund', decided_by: 'reviewer', changed: true, note: 'by hand', clone_decision: 'deny' })],
		]);
		expect(approve.length + deny.length + other.length).toBe(600);
		const changedToDeny = deny.filter((item) => (item.json.review as IDataObject).changed).map((item) => Number(String(item.json.id).slice(1)));
		expect(changedToDeny).toEqual(evenLow);
	});

	test('notes too long for the address: the step answers the page itself (200, said on the page), choices kept in the form', async () => {
		const paused = await pause(batch.slice(0, 20), listed);
		const link = reviewLink(paused.stored);
		const page = await get(paused.stored);
		const notes = Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`note_${i}`, `${'n'.repeat(1990)} ${i}`]));
		const answer = await manual(paused.stored, [...fill(formFields(page.body), notes), ['go', '0']], link);
		expect(answer.status).toBe(200);
		expect(answer.body).toContain('Your notes are too long to be kept in the page address');
		const fields = Object.fromEntries(formFields(answer.body));
		expect(fields.note_4).toBe(notes.note_4);
		expect(JSON.parse(fields.state_text)['4']).toEqual(['', notes.note_4]);
	});

	test('an altered address is refused with a fresh page, never a wrong one', async () => {
		const paused = await pause(batch.slice(0, 10), listed);
		const link = reviewLink(paused.stored);
		const answer = await get(paused.stored, `${link}&s=zz`);
		expect(answer.status).toBe(400);
		expect(answer.body).toContain('This address does not hold valid choices');
		expect(answer.resumed).toBeUndefined();
	});

	test('an escalated item is shown without a preselected decision and marked', async () => {
		const paused = await pause(batch.slice(0, 10), listed);
		const page = await get(paused.stored);
		expect(optionValues(page.body, 7)[0]).toBe('');
		expect(optionValues(page.body, 6)[0]).toBe(KEEP);
		expect(page.body).toMatch(/<section class="item need" data-index="7"/);
	});
});

describe2('the wait limit', () => {
	test('when it passes, n8n runs on without the node: the items leave unchanged on "Not Reviewed" only', async () => {
		const items = [decided('a', 'approve'), decided('b', 'deny')];
		const paused = await pause(items, { limitWaitTime: true, resumeAmount: 5, resumeUnit: 'minutes' }, { downstream: 4 });
		expect(paused.status).toBe('waiting');
		const timedOut = await continueAfterTimeout(paused.stored);
		expect(timedOut.run.status).toBe('success');
		expect(timedOut.outputs).toHaveLength(1);
		expect(jsonOf(timedOut.outputs[0])).toEqual(items);
		const runData = timedOut.run.data.resultData.runData;
		expect(runData['After 0'][0].data!.main[0]!.map((item) => (item.json.start_item as IDataObject).id)).toEqual(['a', 'b']);
		for (const name of ['After 1', 'After 2', 'After 3']) expect(runData[name]).toBeUndefined();
		// and the link is dead afterwards
		const late = await get(timedOut.stored);
		expect(late.status).toBe(409);
	});

	test('a review before the limit routes past "Not Reviewed"', async () => {
		const paused = await pause([decided('a', 'approve')], { limitWaitTime: true });
		const done = await review(paused.stored, { decision_0: 'deny' });
		const [notReviewed, approve, deny, other] = done.resumed!.outputs;
		expect([notReviewed, approve, other]).toEqual([[], [], []]);
		expect(ids(deny)).toEqual(['a']);
	});
});

/** A local incoming-webhook receiver on 127.0.0.1 that records what it gets. */
async function receiver(status = 200) {
	const received: Array<{ path: string; body: IDataObject; contentType?: string }> = [];
	const server = http.createServer((req, res) => {
		let raw = '';
		req.on('data', (chunk) => (raw += chunk));
		req.on('end', () => {
			received.push({ path: req.url ?? '', body: JSON.parse(raw || '{}'), contentType: req.headers['content-type'] });
			res.statusCode = status;
			res.end(status < 300 ? 'ok' : 'no_service');
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const timer = setTimeout(() => server.close(), 60_000);
	timer.unref();
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/SECRETPATH`;
	return {
		url,
		received,
		close: async () => {
			clearTimeout(timer);
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

describe2('notifying the reviewer', () => {
	test.each([
		['text', (link: string) => ({ text: `Review the clone's decisions: 2 items wait for your review (if the link says the execution is running, reload it a few seconds later): ${link}` })],
		['discord', (link: string) => ({ content: `Review the clone's decisions: 2 items wait for your review (if the link says the execution is running, reload it a few seconds later): ${link}`, allowed_mentions: { parse: [] } })],
	])('format %s posts the link before the run waits', async (format, expected) => {
		const hook = await receiver();
		try {
			const paused = await pause([decided('a', 'approve'), decided('b', 'deny')], {
				notifyVia: 'webhook',
				notifyUrl: hook.url,
				notifyFormat: format,
				limitWaitTime: false,
			});
			expect(paused.status).toBe('waiting');
			expect(hook.received).toHaveLength(1);
			expect(hook.received[0].path).toBe('/services/T000/B000/SECRETPATH');
			expect(hook.received[0].contentType).toMatch(/^application\/json/);
			expect(hook.received[0].body).toEqual(expected(reviewLink(paused.stored)));
			expect(JSON.stringify(hook.received)).not.toContain(API_KEY);
			// the posted link opens the page
			const posted = String(hook.received[0].body.text ?? hook.received[0].body.content).split(' ').pop()!;
			const page = await get(paused.stored, posted);
			expect(page.status).toBe(200);
		} finally {
			await hook.close();
		}
	});

	test('generic JSON carries url, execution id, count and the limit', async () => {
		const hook = await receiver();
		try {
			const paused = await pause([decided('a', 'approve')], {
				notifyVia: 'webhook',
				notifyUrl: hook.url,
				notifyFormat: 'generic',
				limitWaitTime: true,
				resumeAmount: 1,
				resumeUnit: 'days',
				pageTitle: 'Refunds to confirm',
			});
			const expires = paused.run.waitTill!.toISOString();
			expect(hook.received[0].body).toEqual({
				text: `Refunds to confirm: 1 item waits for your review (until ${expires}) (if the link says the execution is running, reload it a few seconds later): ${reviewLink(paused.stored)}`,
				title: 'Refunds to confirm',
				url: reviewLink(paused.stored),
				execution_id: EXECUTION_ID,
				item_count: 1,
				expires_at: expires,
			});
		} finally {
			await hook.close();
		}
	});

	test('a receiver that refuses fails the node before waiting, naming only its host', async () => {
		const hook = await receiver(404);
		try {
			const result = await pause([decided('a', 'approve')], { notifyVia: 'webhook', notifyUrl: hook.url });
			expect(result.status).toBe('error');
			expect(result.run.waitTill).toBeUndefined();
			const host = new URL(hook.url).host;
			expect(result.error?.message).toBe(`The review link could not be posted to ${host}: it answered HTTP 404. The run did not pause.`);
			expect(`${result.error?.message} ${result.error?.description}`).not.toContain('SECRETPATH');
			// under "Continue": no wait, every item on the failure output with the error
			const continued = await pause([decided('a', 'approve')], { notifyVia: 'webhook', notifyUrl: hook.url }, { onError: 'continueRegularOutput' });
			expect(continued.status).toBe('success');
			expect(continued.run.waitTill).toBeUndefined();
			expect(continued.outputs[0][0].json.error).toMatchObject({ code: 'REVIEW_NOT_STARTED' });
			expect(continued.outputs.slice(1).flat()).toEqual([]);
		} finally {
			await hook.close();
		}
	});

	test('an unreachable receiver fails the node before waiting', async () => {
		const result = await pause([decided('a', 'approve')], { notifyVia: 'webhook', notifyUrl: 'http://127.0.0.1:9/hook' });
		expect(result.status).toBe('error');
		expect(result.error?.message).toBe('The review link could not be posted to 127.0.0.1:9: the connection was refused. The run did not pause.');
	});
});

describe2('Decide, then Review of its Needs Review items', () => {
	let standin: Awaited<ReturnType<typeof startStandin>>;
	beforeAll(async () => (standin = await startStandin()));
	afterAll(async () => await standin.close());

	test('the items Decide flags are reviewed and come out with both the decision and the review', async () => {
		const requests = [
			{ id: 'r1', customer: 'Ada', amount: 250, reason: 'late' },
			{ id: 'r2', customer: 'Bob', amount: 40, reason: 'damaged' },
			{ id: 'r3', customer: 'Cy', amount: 60, reason: 'chargeback threatened' },
		];
		const decidedRun = await runCloMan({
			items: requests,
			credential: { apiKey: API_KEY, baseUrl: standin.url },
			parameters: {
				context: '={{ "Refund " + $json.amount + "?" }}',
				actionType: 'refund',
				dataMode: 'inputItem',
				options: { responseLocation: 'key', responseKey: 'cloman' },
			},
		});
		const needsReview = decidedRun.outputs[1].map((item) => item.json);
		expect(needsReview.map((item) => item.id)).toEqual(['r1', 'r3']);
		const paused = await pause(needsReview);
		const page = await get(paused.stored);
		expect(page.body).toContain('<h2><bdi>Ada – 250 USD</bdi></h2>');
		expect(page.body).toContain('escalated');
		const done = await review(paused.stored, { decision_1: 'approve', note_1: 'Known customer' });
		const [, approve, deny] = done.resumed!.outputs;
		expect(ids(approve)).toEqual(['r1', 'r3']);
		expect(deny).toEqual([]);
		expect(approve[1].json).toMatchObject({ id: 'r3', cloman: { decision: 'deny' }, review: { decision: 'approve', decided_by: 'reviewer', note: 'Known customer' } });
	});
});
