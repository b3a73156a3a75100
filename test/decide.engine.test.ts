/**
 * The Decide operation end to end: the built package run by n8n-core's WorkflowExecute, with a real
 * credential, against the CloMan stand-in over 127.0.0.1 sockets. Every request the node sent and
 * every answer the stand-in gave is checked against openapi/cloman-decide.openapi.json.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { allOutputItems, runCloMan } from './harness/engine';
import type { RunOptions } from './harness/engine';
import { validateDecideRequest } from './standin/contract';
import { startStandin } from './standin/server';

const GOOD = 'cloman_sk_test_good';
const RESPONSE_FIELDS = [
	'decision_id',
	'clone_id',
	'clone_name',
	'decision',
	'reasoning',
	'confidence',
	'confidence_level',
	'requires_human_review',
	'was_escalated',
	'alternatives_considered',
	'processing_time_ms',
	'created_at',
];

let standin: Awaited<ReturnType<typeof startStandin>>;
beforeAll(async () => {
	standin = await startStandin();
});
afterAll(async () => await standin.close());
beforeEach(() => standin.reset());
afterEach(() => {
	// Whatever the test, the node only ever sent documented requests, with the key in the header only.
	for (const request of standin.requests) {
		expect(request.method).toBe('POST');
		expect(request.path).toBe('/api/v1/public/decide');
		if (request.body !== undefined && String(request.body.context ?? '').trim() !== '') {
			expect(validateDecideRequest(request.body)).toEqual([]);
		}
	}
});

const refunds = [
	{ id: 'r1', customer: 'Ada', amount: 40, reason: 'damaged' },
	{ id: 'r2', customer: 'Bob', amount: 250, reason: 'late delivery' },
	{ id: 'r3', customer: 'Cy', amount: 900, reason: 'changed mind' },
	{ id: 'r4', customer: 'Di', amount: 60, reason: 'chargeback threatened' },
	{ id: 'r5', customer: 'Ed', amount: 'n/a', reason: 'unknown' },
];

const refundParameters = {
	context: '={{ "Refund " + $json.amount + " USD to " + $json.customer + "? Reason: " + $json.reason }}',
	actionType: 'refund',
	dataMode: 'fields',
	dataFields: {
		field: [
			{ name: 'id', value: '={{ $json.id }}' },
			{ name: 'amount', value: '={{ $json.amount }}' },
			{ name: 'reason', value: '={{ $json.reason }}' },
		],
	},
};

function run(options: Partial<RunOptions> & Pick<RunOptions, 'parameters'>) {
	return runCloMan({
		items: refunds,
		credential: { apiKey: GOOD, baseUrl: standin.url },
		...options,
	});
}

const ids = (items: INodeExecutionData[]) => items.map((item) => (item.json.cloman as IDataObject)?.id ?? item.json.id);
const decisionsOf = (items: INodeExecutionData[]) => items.map((item) => item.json.decision);
const requestsFor = (id: string) => standin.requests.filter((request) => request.body?.data?.id === id);

describe('request mapping', () => {
	test('the credential is looked up once per run, not once per request', async () => {
		// In n8n every lookup is a database read and a decryption; a batch of thousands must not pay it per item.
		const result = await run({ parameters: { ...refundParameters, routeBy: 'single', options: { concurrency: 2 } } });
		expect(result.error).toBeUndefined();
		expect(standin.requests).toHaveLength(5);
		expect(standin.requests.every((request) => request.headers['x-api-key'] === GOOD)).toBe(true);
		expect(result.credentialReads).toBe(1);
	});

	test('expressions map item fields into context, action_type and typed data; key only in the header', async () => {
		const { outputs, error } = await run({ parameters: { ...refundParameters, routeBy: 'single' } });
		expect(error).toBeUndefined();
		expect(outputs).toHaveLength(1);
		expect(standin.requests).toHaveLength(5);
		const first = requestsFor('r1')[0];
		expect(first.body).toEqual({
			context: 'Refund 40 USD to Ada? Reason: damaged',
			action_type: 'refund',
			data: { id: 'r1', amount: 40, reason: 'damaged' },
		});
		for (const request of standin.requests) {
			expect(request.headers['x-api-key']).toBe(GOOD);
			expect(request.rawBody).not.toContain(GOOD);
			expect(request.path).not.toContain(GOOD);
			const otherHeaders = Object.entries(request.headers).filter(([name]) => name !== 'x-api-key');
			expect(JSON.stringify(otherHeaders)).not.toContain(GOOD);
		}
	});

	test('data as JSON (with expressions), as the whole input item, or none', async () => {
		await run({
			items: [{ amount: 12, tier: 'gold' }],
			parameters: {
				context: 'Approve?',
				dataMode: 'json',
				dataJson: '={{ JSON.stringify({ amount: $json.amount, tier: $json.tier, nested: { ok: true } }) }}',
			},
		});
		await run({ items: [{ amount: 13, tags: ['a'] }], parameters: { context: 'Approve?', dataMode: 'inputItem' } });
		await run({ items: [{ amount: 14 }], parameters: { context: 'Approve?' } });
		expect(standin.requests.map((request) => request.body)).toEqual([
			{ context: 'Approve?', action_type: 'general', data: { amount: 12, tier: 'gold', nested: { ok: true } } },
			{ context: 'Approve?', action_type: 'general', data: { amount: 13, tags: ['a'] } },
			{ context: 'Approve?', action_type: 'general', data: {} },
		]);
	});

	test('custom action type', async () => {
		await run({
			items: [{ amount: 1 }],
			parameters: { context: 'Onboard?', actionType: 'custom', customActionType: 'vendor_onboarding' },
		});
		expect(standin.requests[0].body.action_type).toBe('vendor_onboarding');
	});
});

describe('routing', () => {
	test('human review: Auto-Decided and Needs Review, all twelve fields, paired, in input order', async () => {
		const { outputs } = await run({ parameters: { ...refundParameters, routeBy: 'review' } });
		expect(outputs).toHaveLength(2);
		const [approved, review] = outputs;
		// The stand-in's policy: ≤100 auto-approve; 100–500 approve with review; >500 deny; fraud/chargeback
		// escalated; no amount needs more info.
		expect(approved.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 2 }]);
		expect(decisionsOf(approved)).toEqual(['approve', 'deny']);
		expect(review.map((item) => item.pairedItem)).toEqual([{ item: 1 }, { item: 3 }, { item: 4 }]);
		expect(decisionsOf(review)).toEqual(['approve', 'deny', 'needs_more_info']);
		for (const { item } of allOutputItems(outputs)) {
			expect(Object.keys(item.json).sort()).toEqual([...RESPONSE_FIELDS].sort());
		}
	});

	test('human review with a confidence floor', async () => {
		const { outputs } = await run({ parameters: { ...refundParameters, routeBy: 'review', confidenceFloor: 0.9 } });
		// r3 (deny at 0.84) is now under the floor
		expect(outputs[0].map((item) => item.pairedItem)).toEqual([{ item: 0 }]);
		expect(outputs[1].map((item) => item.pairedItem)).toEqual([{ item: 1 }, { item: 2 }, { item: 3 }, { item: 4 }]);
	});

	test('decision values: named outputs and an extra "Other"', async () => {
		const { outputs } = await run({
			parameters: {
				...refundParameters,
				routeBy: 'decision',
				decisions: { values: [{ value: 'APPROVE', outputName: 'Pay out' }, { value: ' deny ' }] },
				fallbackOutput: 'extra',
			},
		});
		expect(outputs).toHaveLength(3);
		expect(outputs.map((items) => items.map((item) => item.pairedItem))).toEqual([
			[{ item: 0 }, { item: 1 }],
			[{ item: 2 }, { item: 3 }],
			[{ item: 4 }],
		]);
	});

	test('decision values: items needing review diverted first; fallback into a listed decision', async () => {
		const { outputs } = await run({
			parameters: {
				...refundParameters,
				routeBy: 'decision',
				decisions: { values: [{ value: 'approve' }, { value: 'deny' }] },
				divertReview: true,
				fallbackOutput: 'decision',
				fallbackDecision: 'deny',
			},
		});
		expect(outputs.map((items) => items.map((item) => item.pairedItem))).toEqual([
			[{ item: 0 }],
			[{ item: 2 }],
			[{ item: 1 }, { item: 3 }, { item: 4 }],
		]);
	});

	test('decision values: discard unlisted decisions when the user says so', async () => {
		const { outputs } = await run({
			parameters: {
				...refundParameters,
				routeBy: 'decision',
				decisions: { values: [{ value: 'approve' }] },
				fallbackOutput: 'none',
			},
		});
		expect(outputs).toHaveLength(1);
		expect(decisionsOf(outputs[0])).toEqual(['approve', 'approve']);
	});

	test('response beside the input fields, with request metadata', async () => {
		const { outputs } = await run({
			items: [{ id: 'k1', amount: 20, note: 'keep me' }],
			parameters: {
				context: 'Refund?',
				dataMode: 'inputItem',
				routeBy: 'single',
				options: { responseLocation: 'key', responseKey: 'verdict', includeMetadata: true },
			},
		});
		const json = outputs[0][0].json;
		expect(json).toMatchObject({ id: 'k1', amount: 20, note: 'keep me' });
		const verdict = json.verdict as IDataObject;
		expect(verdict.decision).toBe('approve');
		expect(verdict._meta).toEqual({
			attempts: 1,
			latency_ms: expect.any(Number),
			request_id: standin.requests[0].requestId,
			status: 200,
		});
	});

	test('as an AI agent tool every decision comes out on output 0, review flags included', async () => {
		const { outputs } = await run({
			nodeType: 'n8n-nodes-cloman.cloManTool',
			parameters: { ...refundParameters, routeBy: 'review' },
		});
		expect(outputs[0]).toHaveLength(5);
		expect(outputs[0].filter((item) => item.json.requires_human_review === true)).toHaveLength(3);
		expect(outputs.slice(1).flat()).toHaveLength(0);
	});
});

describe('retries', () => {
	test('500 and 502 are retried with backoff, then the item is decided', async () => {
		standin.enqueueFaults({ status: 500 }, { status: 502 });
		const { outputs } = await run({
			items: [refunds[0]],
			parameters: { ...refundParameters, routeBy: 'single', options: { includeMetadata: true } },
		});
		expect(standin.requests.map((request) => request.status)).toEqual([500, 502, 200]);
		expect((outputs[0][0].json._meta as IDataObject).attempts).toBe(3);
		const [a, b, c] = standin.requests.map((request) => request.at);
		// full-jitter backoff: at least half of 500 ms, then of 1000 ms
		expect(b - a).toBeGreaterThanOrEqual(240);
		expect(c - b).toBeGreaterThanOrEqual(490);
	});

	test('429 waits exactly Retry-After (seconds and HTTP date) before the retry', async () => {
		standin.enqueueFaults({ status: 429, retryAfter: 1 }, { status: 429, retryAfter: 'http-date:2' });
		const { outputs } = await run({ items: [refunds[0]], parameters: { ...refundParameters, routeBy: 'single' } });
		expect(outputs[0]).toHaveLength(1);
		const [a, b, c] = standin.requests.map((request) => request.at);
		expect(standin.requests.map((request) => request.status)).toEqual([429, 429, 200]);
		expect(b - a).toBeGreaterThanOrEqual(990);
		expect(b - a).toBeLessThan(1900);
		// an HTTP date has whole-second resolution: the stand-in rounds "2 s from now" UP to the next whole
		// second (never earlier than the wait it means), so the wait lands between 2 and 3 s after the answer
		expect(c - b).toBeGreaterThanOrEqual(1990);
		expect(c - b).toBeLessThan(3400);
	});

	test('dropped connections are retried', async () => {
		standin.enqueueFaults({ drop: 'before-response' }, { drop: 'mid-body' });
		const { outputs } = await run({ items: [refunds[0]], parameters: { ...refundParameters, routeBy: 'single' } });
		expect(outputs[0]).toHaveLength(1);
		expect(standin.requests.map((request) => request.status)).toEqual(['dropped', 'dropped', 200]);
	});

	test('a timeout is retried, and gives up after Max Retries with TimeoutError', async () => {
		standin.enqueueFaults({ delayMs: 1500 }, { delayMs: 1500 });
		const { error } = await run({
			items: [refunds[0]],
			parameters: { ...refundParameters, routeBy: 'single', options: { timeout: 1, maxRetries: 1 } },
		});
		expect(error?.message).toContain('CloMan TimeoutError');
		expect(error?.description).toContain('2 attempts');
		expect(requestsFor('r1')).toHaveLength(2);
	});

	test('at most Max Retries retries', async () => {
		standin.enqueueFaults({ status: 503 }, { status: 503 }, { status: 503 });
		const { error } = await run({
			items: [refunds[0]],
			parameters: { ...refundParameters, routeBy: 'single', options: { maxRetries: 2 } },
		});
		expect(standin.requests).toHaveLength(3);
		expect(error?.message).toMatch(/CloMan ServerError \(503 SERVICE_UNAVAILABLE\)/);
		expect(error?.description).toContain('3 attempts');
	});

	test.each([400, 401, 403, 404, 422])('%p is never retried', async (status) => {
		standin.enqueueFaults({ status: status as 400 });
		const { error } = await run({ items: [refunds[0]], parameters: { ...refundParameters, routeBy: 'single' } });
		expect(standin.requests).toHaveLength(1);
		expect(error?.description).toContain('1 attempt');
	});
});

describe('errors', () => {
	test.each([
		['bad key', { apiKey: 'cloman_sk_wrong' }, undefined, 'AuthenticationError', '401 AUTHENTICATION_ERROR'],
		['key without scope', { apiKey: 'cloman_sk_test_noscope' }, undefined, 'AuthorizationError', '403 AUTHORIZATION_ERROR'],
		['key without clone', { apiKey: 'cloman_sk_test_orphan' }, undefined, 'NotFoundError', '404 CLONE_NOT_FOUND'],
		['invalid body', {}, { status: 422 }, 'ValidationError', '422 VALIDATION_ERROR'],
		['rate limit, waiting longer than the cap', {}, { status: 429, retryAfter: 120 }, 'RateLimitError', '429 RATE_LIMIT_EXCEEDED'],
		['server error', {}, { status: 500 }, 'ServerError', '500 INTERNAL_ERROR'],
		['AI service down', {}, { status: 502 }, 'ServerError', '502 LLM_SERVICE_ERROR'],
	])('%s: the run stops with the kind, code and request_id', async (_name, credential, fault, kind, code) => {
		if (fault) standin.enqueueFaults(fault as { status: 500 });
		const { error, status } = await run({
			items: [refunds[0]],
			credential: { apiKey: GOOD, baseUrl: standin.url, ...credential },
			parameters: { ...refundParameters, routeBy: 'single', options: { maxRetries: 0 } },
		});
		expect(status).toBe('error');
		expect(error?.message).toContain(`CloMan ${kind} (${code})`);
		const requestId = standin.requests[0].requestId;
		expect(requestId).toMatch(/^req_/);
		expect(error?.description).toContain(`request_id ${requestId}`);
		expect(error?.description).toContain('Item 0');
		if (kind === 'RateLimitError') expect(error?.description).toContain('retry_after 120 s');
	});

	test('"Continue (using error output)": failed items go to the error output, paired, with code and request_id', async () => {
		standin.enqueueFaults({ status: 422, message: 'context rejected' });
		const { outputs, error } = await run({
			onError: 'continueErrorOutput',
			parameters: { ...refundParameters, routeBy: 'review', options: { concurrency: 1 } },
		});
		expect(error).toBeUndefined();
		expect(outputs).toHaveLength(3); // Auto-Decided, Needs Review, error
		const failed = outputs[2];
		expect(failed).toHaveLength(1);
		expect(failed[0].pairedItem).toEqual({ item: 0 });
		// n8n merges the input item's fields into error items
		expect(failed[0].json).toMatchObject({ id: 'r1', customer: 'Ada' });
		expect(failed[0].json.error).toMatchObject({
			kind: 'ValidationError',
			code: 'VALIDATION_ERROR',
			status: 422,
			message: 'context rejected',
			request_id: standin.requests[0].requestId,
			attempts: 1,
			item_index: 0,
		});
		expect(outputs[0].length + outputs[1].length).toBe(4);
	});

	test('"Continue": a failed item goes on to Needs Review, never Auto-Decided, keeping its fields', async () => {
		standin.enqueueFaults({ status: 401 });
		const { outputs } = await run({
			onError: 'continueRegularOutput',
			items: [refunds[0]],
			parameters: { ...refundParameters, routeBy: 'review' },
		});
		expect(outputs[0]).toHaveLength(0);
		expect(outputs[1]).toHaveLength(1);
		expect(outputs[1][0].json).toMatchObject({ id: 'r1', error: { code: 'AUTHENTICATION_ERROR', status: 401 } });
		expect(outputs[1][0].pairedItem).toEqual({ item: 0 });
	});

	test('stop (default): the execution fails on the first failed item and names it', async () => {
		const { error, status } = await run({
			items: [refunds[0], { ...refunds[1], id: 'bad' }],
			parameters: { ...refundParameters, routeBy: 'review', options: { concurrency: 1 } },
			credential: { apiKey: 'cloman_sk_wrong', baseUrl: standin.url },
		});
		expect(status).toBe('error');
		expect(error?.description).toContain('Item 0');
		expect(standin.requests).toHaveLength(1); // nothing more is sent once an item has failed
	});
});
