/**
 * Which outputs n8n passes on when "Wait for Human Review" resumes (issue 15), on the n8n-core line the
 * run uses: 2.41.1 (devDependencies, `npm test`), 2.38.2 (`npm run test:n8n238`, jest.config.n8n238.js:
 * what n8n 2.38.5 ships) and 1.122.48 (`npm run test:n8n1`). Before n8n-core 2.39.0, WorkflowExecute
 * passes on only the first output of a resumed node; the node detects this from the webhook context
 * (nodes/CloMan/actions/review/resume.ts) and then puts every item on output 0 in input order.
 *
 * - The detection is checked against the engine's own behaviour on each line (both answers).
 * - The whole flow (pause, page, submit, resume through WorkflowExecute with the stored execution)
 *   shows every item arriving once, on the routed outputs (2.39+) or on output 0 (2.38), with the page
 *   saying so up front and after the submit. On 1.x the node never pauses (n8n-line.engine.test.ts).
 */
import { WebhookContext, WorkflowExecute } from 'n8n-core';
import type { IDataObject, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';

import { firstOutputDoneNotice, firstOutputNotice, forwardsAllOutputs, onFirstOutput } from '../nodes/CloMan/actions/review/resume';
import { escapeHtml } from '../nodes/CloMan/actions/review/page';
import { EXECUTION_ID, HARNESS_BASE_URL, loadRun, runCloMan } from './harness/engine';
import type { RunOptions, RunResult, StoredExecution } from './harness/engine';
import { CLI_FORWARDS_ALL_OUTPUTS, ENGINE_CORE_VERSION, callWaitingWebhook, continueAfterTimeout, formBody, pathOf } from './harness/resume';
import { decidedItem } from './harness/review-items';
import { fill, formFields, sectionIndexes, submitWith } from './harness/review-page';

const LINE = process.env.N8N_LINE ?? '2';
/** What each line must answer: only n8n-core 2.39.0 and later pass on every output. */
const EXPECTED_FORWARDING: Record<string, { core: RegExp; forwardsAll: boolean }> = {
	'1': { core: /^1\.122\.48$/, forwardsAll: false },
	'2.38': { core: /^2\.38\.2$/, forwardsAll: false },
	'2': { core: /^2\.41\.1$/, forwardsAll: true },
};
const expected = EXPECTED_FORWARDING[LINE];
const PAUSES = LINE !== '1'; // 1.x: the node refuses to pause (unsigned resume links)
const describePausing = PAUSES ? describe : describe.skip;

/** What the engine's WorkflowExecute passes on for a resumed (disabled) node marked forwardAllOutputs. */
function engineForwarded(outputs: INodeExecutionData[][]): INodeExecutionData[][] {
	const handleDisabledNode = (WorkflowExecute.prototype as unknown as {
		handleDisabledNode: (inputData: { main: INodeExecutionData[][] }, forwardAllOutputs?: boolean) => { data?: INodeExecutionData[][] };
	}).handleDisabledNode;
	return handleDisabledNode.call(Object.create(WorkflowExecute.prototype), { main: outputs }, true).data ?? [];
}

const item = (id: string, index: number): INodeExecutionData => ({ json: { id }, pairedItem: { item: index } });

describe(`outputs of a resumed node on n8n-core ${ENGINE_CORE_VERSION} (N8N_LINE=${LINE})`, () => {
	test('the line is the one expected', () => {
		expect(expected).toBeDefined();
		expect(ENGINE_CORE_VERSION).toMatch(expected.core);
	});

	test(`the node's detection answers ${expected?.forwardsAll}, and so does the engine`, () => {
		// The context the node gets is an instance of this engine's WebhookContext.
		const context = Object.create(WebhookContext.prototype) as IWebhookFunctions;
		expect(context).toBeInstanceOf(WebhookContext);
		const detected = forwardsAllOutputs(context);
		const routed = [[item('a', 0)], [item('b', 1)], [item('c', 2)]];
		const forwarded = engineForwarded(routed);
		const engineForwardsAll = forwarded.length === 3;
		expect(detected).toBe(expected.forwardsAll);
		expect(engineForwardsAll).toBe(expected.forwardsAll);
		// And where the engine keeps only the first output, routed items would be lost: b and c.
		if (!engineForwardsAll) expect(forwarded).toEqual([[item('a', 0)]]);
		// The test harness replays the CLI of the same release (test/harness/resume.ts).
		if (PAUSES) expect(CLI_FORWARDS_ALL_OUTPUTS).toBe(expected.forwardsAll);
	});

	test('onFirstOutput: every item once on output 0, in input order; the engine passes all of them on', () => {
		const routed = [[item('d', 3)], [item('a', 0), item('c', 2)], [], [item('b', 1)]];
		const first = onFirstOutput(routed);
		expect(first).toHaveLength(4);
		expect(first[0].map((i) => i.json.id)).toEqual(['a', 'b', 'c', 'd']);
		expect(first.slice(1)).toEqual([[], [], []]);
		// On every line the engine passes output 0 on: nothing is lost.
		expect(engineForwarded(first)[0].map((i) => i.json.id)).toEqual(['a', 'b', 'c', 'd']);
	});
});

// ---------------------------------------------------------------------------------------------
// The whole flow

const CREDENTIAL = { apiKey: 'cloman_sk_test_good', baseUrl: 'http://127.0.0.1:9' };
const NODE_ID = 'cloman-node-id';

const decided = (id: string, decision: string): IDataObject => decidedItem(id, decision);

async function pause(items: IDataObject[], parameters: IDataObject = {}, options: Partial<RunOptions> = {}): Promise<RunResult> {
	const result = await runCloMan({
		items,
		credential: CREDENTIAL,
		parameters: { operation: 'review', reviewTitle: '={{ $json.customer }}', ...parameters },
		...options,
	} as RunOptions);
	expect(result.status).toBe('waiting');
	return result;
}

function link(stored: StoredExecution): string {
	const token = (loadRun(stored) as { resumeToken?: string }).resumeToken;
	return pathOf(`${HARNESS_BASE_URL}/webhook-waiting/${EXECUTION_ID}/${NODE_ID}?signature=${token}`);
}

const get = async (stored: StoredExecution) => await callWaitingWebhook(stored, { method: 'GET', pathAndQuery: link(stored) });
const post = async (stored: StoredExecution, fields: Array<[string, string]>) =>
	await callWaitingWebhook(stored, { method: 'POST', pathAndQuery: link(stored), contentType: 'application/x-www-form-urlencoded', body: formBody(fields) });

const ids = (items: INodeExecutionData[]) => items.map((i) => i.json.id);
const decisions = (items: INodeExecutionData[]) => items.map((i) => (i.json.review as IDataObject).decision);
const NOTICE = escapeHtml(firstOutputNotice());

describePausing(`Review on n8n-core ${ENGINE_CORE_VERSION}: every reviewed item arrives`, () => {
	const items = [decided('a', 'approve'), decided('b', 'deny'), decided('c', 'approve'), decided('d', 'approve')];
	const changes = { decision_0: 'deny', decision_2: '__other__', custom_2: 'Escalate to finance', decision_3: 'escalate' };

	test('Route by Final Decision: the page says where the items will go, and they all arrive', async () => {
		const paused = await pause(items, {}, { downstream: 4 });
		const page = await get(paused.stored);
		expect(page.status).toBe(200);
		if (expected.forwardsAll) expect(page.body).not.toContain(NOTICE);
		else expect(page.body).toContain(NOTICE);

		const done = await post(paused.stored, submitWith(fill(formFields(page.body), changes), 'submit'));
		expect(done.status).toBe(200);
		expect(done.body).toContain('4 items: 1 kept as the clone decided, 3 changed.');
		expect(done.resumed!.run.status).toBe('success');
		const outputs = done.resumed!.outputs;
		const runData = done.resumed!.run.data.resultData.runData;
		if (expected.forwardsAll) {
			expect(done.body).not.toContain('id="where"');
			const [notReviewed, approve, deny, other] = outputs;
			expect([notReviewed, approve]).toEqual([[], []]);
			expect(ids(deny)).toEqual(['a', 'b']);
			expect(ids(other)).toEqual(['c', 'd']);
			expect(runData['After 2'][0].data!.main[0]!.map((i) => i.json.id)).toEqual(['a', 'b']);
			expect(runData['After 3'][0].data!.main[0]!.map((i) => i.json.id)).toEqual(['c', 'd']);
		} else {
			expect(done.body).toContain(escapeHtml(firstOutputDoneNotice(4)));
			// n8n passed on output 0 only: all four there, in input order, each with its final decision.
			expect(outputs).toHaveLength(1);
			expect(ids(outputs[0])).toEqual(['a', 'b', 'c', 'd']);
			expect(decisions(outputs[0])).toEqual(['deny', 'deny', 'Escalate to finance', 'escalate']);
			// The downstream node on "Not Reviewed" got them; $('Start').item resolves to each one's own input.
			const after = runData['After 0'][0].data!.main[0]!;
			expect(after.map((i) => i.json.id)).toEqual(['a', 'b', 'c', 'd']);
			expect(after.map((i) => (i.json.start_item as IDataObject).id)).toEqual(['a', 'b', 'c', 'd']);
			for (const name of ['After 1', 'After 2', 'After 3']) expect(runData[name]).toBeUndefined();
		}
	});

	test('One Output without a wait limit: one output, the same on every line, no notice', async () => {
		const paused = await pause(items, { reviewRouteBy: 'single', limitWaitTime: false }, { downstream: 1 });
		const page = await get(paused.stored);
		expect(page.body).not.toContain(NOTICE);
		const done = await post(paused.stored, submitWith(fill(formFields(page.body), { decision_1: 'approve' }), 'submit'));
		expect(done.body).not.toContain('id="where"');
		const [reviewed, ...rest] = done.resumed!.outputs;
		expect(rest).toEqual([]);
		expect(ids(reviewed)).toEqual(['a', 'b', 'c', 'd']);
		expect(decisions(reviewed)).toEqual(['approve', 'approve', 'approve', 'approve']);
	});

	test('One Output with a wait limit: on "Reviewed" where n8n passes every output on, else on "Not Reviewed"', async () => {
		const paused = await pause(items, { reviewRouteBy: 'single', limitWaitTime: true });
		const page = await get(paused.stored);
		const done = await post(paused.stored, submitWith(formFields(page.body), 'submit'));
		const outputs = done.resumed!.outputs;
		if (expected.forwardsAll) {
			expect(outputs[0]).toEqual([]);
			expect(ids(outputs[1])).toEqual(['a', 'b', 'c', 'd']);
		} else {
			expect(outputs).toHaveLength(1);
			expect(ids(outputs[0])).toEqual(['a', 'b', 'c', 'd']);
			expect(decisions(outputs[0])).toEqual(['approve', 'deny', 'approve', 'approve']);
		}
	});

	test('"Continue (using error output)": the item without a decision arrives once, with its own data only; the rest arrive', async () => {
		const paused = await pause([decided('a', 'deny'), { id: 'x' }, decided('b', 'approve')], {}, { onError: 'continueErrorOutput' });
		const page = await get(paused.stored);
		const done = await post(paused.stored, submitWith(formFields(page.body), 'submit'));
		const outputs = done.resumed!.outputs;
		// The error output is the last one n8n reports.
		const errors = outputs[outputs.length - 1];
		if (expected.forwardsAll) {
			// x is not first: on the error output n8n would merge input item 0 ("a", its cloman too) into it
			// (it pairs resumed items by position), so x stays on Not Reviewed with its own fields and error.
			expect(errors).toEqual([]);
			expect(outputs[0].map((item) => item.json)).toEqual([
				{ id: 'x', error: expect.objectContaining({ field: 'decisionField', item_index: 1 }) },
			]);
			expect(ids(outputs.slice(1, -1).flat()).sort()).toEqual(['a', 'b']);
		} else {
			// output 0 holds every item at its input position, so n8n pairs the error item with its own input.
			expect(ids(outputs[0])).toEqual(['a', 'b']);
			expect(outputs.slice(1, -1).flat()).toEqual([]);
			expect(errors).toHaveLength(1);
			expect(JSON.parse(JSON.stringify(errors[0].json))).toEqual({
				id: 'x',
				error: expect.objectContaining({ field: 'decisionField', item_index: 1 }),
			});
			expect(done.body).toContain(escapeHtml(firstOutputDoneNotice(2)));
		}
	});

	test('260 items over two pages: all 260 arrive, the second page still says where', async () => {
		const many = Array.from({ length: 260 }, (_, i) => decided(`i${i}`, i % 2 ? 'deny' : 'approve'));
		const paused = await pause(many);
		let page = await get(paused.stored);
		expect(sectionIndexes(page.body)).toHaveLength(250);
		page = await post(paused.stored, submitWith(fill(formFields(page.body), { decision_3: 'approve' }), 'submit'));
		expect(page.resumed).toBeUndefined();
		expect(sectionIndexes(page.body)).toHaveLength(10);
		if (!expected.forwardsAll) expect(page.body).toContain(NOTICE);
		const done = await post(paused.stored, submitWith(fill(formFields(page.body), { decision_259: 'escalate' }), 'submit'));
		const outputs = done.resumed!.outputs;
		const all = outputs.flat();
		expect(all).toHaveLength(260);
		expect(new Set(ids(all)).size).toBe(260);
		if (expected.forwardsAll) {
			expect(outputs[1]).toHaveLength(131); // approve: the 130 even + i3
			expect(outputs[2]).toHaveLength(128); // deny: the 130 odd − i3 − i259
			expect(ids(outputs[3])).toEqual(['i259']);
		} else {
			expect(ids(outputs[0])).toEqual(many.map((i) => i.id));
		}
	});

	test('the wait limit passing: the items leave on "Not Reviewed", on every line', async () => {
		const paused = await pause(items, { limitWaitTime: true, resumeAmount: 5, resumeUnit: 'minutes' });
		const timedOut = await continueAfterTimeout(paused.stored);
		expect(timedOut.run.status).toBe('success');
		expect(timedOut.outputs).toHaveLength(1);
		expect(ids(timedOut.outputs[0])).toEqual(['a', 'b', 'c', 'd']);
	});
});
