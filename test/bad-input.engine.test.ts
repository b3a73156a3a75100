/**
 * Issue 5 — bad input. Each bad item gives an error naming the item index and the field, before any
 * request is sent, and the other items go on (Continue using error output) — or, with the default
 * Stop Workflow, the run fails naming the first bad item and its field and nothing at all is sent
 * (the node checks every item before it sends the first request).
 *
 * A bad Base URL or API key in the credential is node-level: no item can be sent. With Stop Workflow
 * the run fails with a clear message and the stand-in sees nothing. With Continue (either kind) the
 * node must not let the items pass as if decided: every item must come out failed, carrying the
 * message — see the "node-level errors under Continue" tests.
 */
import type { IDataObject } from 'n8n-workflow';

import { allOutputItems, runCloMan } from './harness/engine';
import {
	BAD_INPUT_PARAMETERS,
	BAD_INPUT_PARAMETERS_B,
	GOOD_KEY,
	badBaseUrls,
	badInputItems,
	badInputItemsB,
	checkBadInputRun,
	closeStandins,
	openStandin,
} from './harness/faults';
import type { BadItem, RecordingStandin } from './harness/faults';

afterAll(closeStandins);

let standin: RecordingStandin;
beforeAll(async () => {
	standin = await openStandin();
});
beforeEach(() => standin.reset());

const runs = [
	['Context, Custom Action Type, Data (JSON)', BAD_INPUT_PARAMETERS, badInputItems],
	['Action Type, Data fields', BAD_INPUT_PARAMETERS_B, badInputItemsB],
] as const;

describe.each(runs)('bad items (%s)', (_name, parameters, build) => {
	const cases = build();

	test('Continue using error output: exactly the bad items fail, with field and item index; the good ones are decided; nothing sent for the bad ones', async () => {
		const result = await runCloMan({
			items: cases.map((entry) => entry.json),
			parameters,
			credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
			onError: 'continueErrorOutput',
		});
		const figures = checkBadInputRun(result, standin, cases);
		expect(figures.requests).toBe(cases.filter((entry) => entry.field === undefined).length);
		expect(figures.failed).toBe(cases.filter((entry) => entry.field !== undefined).length);
	});

	const bad = cases.filter((entry): entry is BadItem & { field: string } => entry.field !== undefined);
	const good = cases.filter((entry) => entry.field === undefined);
	test.each(bad.map((entry) => [entry.name, entry] as const))(
		'Stop Workflow, %s: the run fails naming the item and the field; zero requests',
		async (_label, entry) => {
			// The bad item third, after two good ones: nothing may be sent, not even for the good ones.
			const items = [good[0].json, good[1 % good.length].json, entry.json, good[0].json];
			const result = await runCloMan({
				items,
				parameters,
				credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
			});
			expect(result.status).toBe('error');
			expect(result.error).toBeDefined();
			expect(result.error!.message).toMatch(entry.message!);
			expect(result.error!.message).toContain('item 2');
			expect(result.error!.description).toContain('Item 2');
			expect(result.error!.description).toContain(`field "${entry.field}"`);
			expect((result.error!.context as IDataObject | undefined)?.itemIndex).toBe(2);
			expect(allOutputItems(result.outputs)).toHaveLength(0);
			expect(standin.requests).toHaveLength(0);
		},
	);
});

test('Action Type set by an expression runs without a Custom Action Type being filled in', async () => {
	// n8n's pre-run check treats Custom Action Type (required: true) as shown whenever Action Type is an
	// expression, and refuses to start the workflow: "Parameter "Custom Action Type" is required."
	const { customActionType: _unused, ...parameters } = BAD_INPUT_PARAMETERS_B;
	let result: Awaited<ReturnType<typeof runCloMan>> | undefined;
	let thrown: unknown;
	try {
		result = await runCloMan({
			items: [badInputItemsB()[0].json],
			parameters,
			credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
		});
	} catch (error) {
		thrown = error;
	}
	expect(thrown === undefined ? undefined : String((thrown as Error).message)).toBeUndefined();
	expect(result?.status).toBe('success');
	expect(standin.requests).toHaveLength(1);
});

test('Stop Workflow with several bad items names the first one', async () => {
	const cases = badInputItems();
	const result = await runCloMan({
		items: cases.map((entry) => entry.json),
		parameters: BAD_INPUT_PARAMETERS,
		credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
	});
	const first = cases.findIndex((entry) => entry.field !== undefined);
	expect(result.status).toBe('error');
	expect(result.error!.message).toContain(`item ${first}`);
	expect(result.error!.description).toContain(`field "${cases[first].field}"`);
	expect(standin.requests).toHaveLength(0);
});

describe('node-level: a bad Base URL or API key in the credential', () => {
	const items = [{ id: 'a', amount: 5 }, { id: 'b', amount: 50 }, { id: 'c', amount: 900 }];
	const parameters = { operation: 'decide', context: 'Refund?', dataMode: 'inputItem' };
	const credentials = () => [
		...badBaseUrls(standin.url).map((entry) => ({ ...entry, apiKey: GOOD_KEY })),
		{ name: 'API key empty', baseUrl: standin.url, apiKey: '', message: /no API key/ },
		{ name: 'API key whitespace', baseUrl: standin.url, apiKey: '   ', message: /no API key/ },
	];

	test('Stop Workflow: the run stops before any request, with a clear message', async () => {
		for (const entry of credentials()) {
			standin.reset();
			const result = await runCloMan({ items, parameters, credential: { apiKey: entry.apiKey, baseUrl: entry.baseUrl } });
			expect({ name: entry.name, status: result.status }).toEqual({ name: entry.name, status: 'error' });
			expect({ name: entry.name, message: result.error?.message }).toEqual({
				name: entry.name,
				message: expect.stringMatching(entry.message),
			});
			expect(result.error?.description).toBe('Fix the node or credential settings; no request was sent.');
			expect({ name: entry.name, requests: standin.requests.length }).toEqual({ name: entry.name, requests: 0 });
			expect(allOutputItems(result.outputs)).toHaveLength(0);
		}
	});

	// A routing node must not let items through when it could not decide them. Under Continue, n8n
	// passes the INPUT items on the node's first output when execute() throws — here "Auto-Decided".
	test.each(['continueErrorOutput', 'continueRegularOutput'] as const)(
		'%s: no request, and no item comes out as if decided — every item fails with the message',
		async (onError) => {
			const failures: string[] = [];
			for (const entry of credentials()) {
				standin.reset();
				const result = await runCloMan({
					items,
					parameters,
					credential: { apiKey: entry.apiKey, baseUrl: entry.baseUrl },
					onError,
				});
				expect({ name: entry.name, requests: standin.requests.length }).toEqual({ name: entry.name, requests: 0 });
				const approved = result.outputs[0] ?? [];
				const errorItems =
					onError === 'continueErrorOutput'
						? (result.outputs[2] ?? [])
						: (result.outputs[1] ?? []).filter((item) => item.json.error !== undefined);
				const ok =
					approved.length === 0 &&
					errorItems.length === items.length &&
					errorItems.every(
						(item, index) =>
							(item.pairedItem as { item: number }).item === index &&
							entry.message.test(String((item.json.error as IDataObject)?.message ?? item.json.error)),
					);
				if (!ok) {
					failures.push(
						`${entry.name}: status ${result.status}, Auto-Decided got ${approved.length} raw input item(s) ` +
							`${JSON.stringify(approved.map((item) => item.json))}, failed items ${errorItems.length}`,
					);
				}
			}
			expect(failures).toEqual([]);
		},
	);
});

describe('an expression that cannot be evaluated for some items', () => {
	// n8n turns most runtime errors inside an expression into an empty value (caught as "not text"
	// above), but an ExpressionError, such as a reference to a node that does not exist, is thrown by
	// getNodeParameter. That item fails alone, named with its field, like any other bad input.
	const parameters = {
		operation: 'decide',
		context: "={{ $json.customer ? 'Refund for ' + $json.customer + '?' : $('No Such Node').item.json.customer }}",
		dataMode: 'inputItem',
		routeBy: 'single',
		options: { concurrency: 2, maxRetries: 0 },
	};
	const items = [
		{ tag: 'e0', amount: 5, customer: 'Ada' },
		{ tag: 'e1', amount: 5 },
		{ tag: 'e2', amount: 5, customer: 'Bo' },
		{ tag: 'e3', amount: 5, customer: '' },
	];

	test('Continue using error output: items 1 and 3 fail naming Context, 0 and 2 are decided', async () => {
		const result = await runCloMan({
			items,
			parameters,
			credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
			onError: 'continueErrorOutput',
		});
		expect(result.status).toBe('success');
		const decided = result.outputs[0].map((item) => (item.pairedItem as { item: number }).item);
		const failed = result.outputs[1].map((item) => {
			const error = item.json.error as IDataObject;
			return { item: (item.pairedItem as { item: number }).item, field: error.field, code: error.code, index: error.item_index };
		});
		expect(decided).toEqual([0, 2]);
		expect(failed).toEqual([
			{ item: 1, field: 'context', code: 'INVALID_INPUT', index: 1 },
			{ item: 3, field: 'context', code: 'INVALID_INPUT', index: 3 },
		]);
		expect(String((result.outputs[1][0].json.error as IDataObject).message)).toMatch(/^Context of item 1 could not be read: /);
		const sent = standin.requests.map((request) => (JSON.parse(request.rawBody).data as IDataObject).tag).sort();
		expect(sent).toEqual(['e0', 'e2']);
	});

	test('Stop Workflow: the run fails naming item 1 and Context, and nothing is sent', async () => {
		const result = await runCloMan({ items, parameters, credential: { apiKey: GOOD_KEY, baseUrl: standin.url } });
		expect(result.status).toBe('error');
		expect(result.error!.message).toContain('Context of item 1 could not be read');
		expect(result.error!.description).toContain('field "context"');
		expect(standin.requests).toHaveLength(0);
	});
});
