import type {
	ICredentialsDecrypted,
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeParameters,
	INodeProperties,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { configuredOutputs, planRoutes, routeResponse } from '../routing';
import type { RoutePlan } from '../routing';
import type { DecideRequest, DecideResult } from '../transport';
import { CREDENTIAL_TYPE, decide, endpointFromBaseUrl } from '../transport';
import type { CloManFailure } from '../transport/errors';
import { inputFailure, isObject, redact, toNodeError } from '../transport/errors';
import {
	CancelledError,
	DEFAULT_CONCURRENCY,
	DEFAULT_MAX_RATE_LIMIT_WAIT_S,
	MAX_CONCURRENCY,
	RequestLimiter,
} from '../transport/limiter';
import { DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS } from '../transport/retry';

/** Largest context we send; the API documents none, this guards against pasting a whole file by mistake. */
export const MAX_CONTEXT_CHARS = 100_000;

const show = (values: Record<string, Array<string | number | boolean>>) => ({ show: values });

export const description: INodeProperties[] = [
	{
		displayName:
			'Retries are built in (Options → Max Retries) and retry only the request that failed. Leave the node setting "Retry On Fail" off: it re-runs the whole node and asks CloMan again for every item that was already decided.',
		name: 'retryNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Context',
		name: 'context',
		type: 'string',
		required: true,
		default: '',
		typeOptions: { rows: 3 },
		placeholder: "e.g. Should we refund {{ $json.amount }} USD to {{ $json.customer }}? Reason: {{ $json.reason }}",
		description:
			'The question or situation for the clone to decide on. Map fields of the incoming item with expressions. Must not be empty.',
		hint: 'Sent as "context". One request per item.',
	},
	{
		displayName: 'Action Type',
		name: 'actionType',
		type: 'options',
		default: 'general',
		description: 'The kind of action being decided, sent as "action_type". Choose Custom to type your own.',
		options: [
			{ name: 'Access Request', value: 'access_request' },
			{ name: 'Approval', value: 'approval' },
			{ name: 'Content Moderation', value: 'content_moderation' },
			{ name: 'Custom', value: 'custom', description: 'Type any action type' },
			{ name: 'Expense', value: 'expense' },
			{ name: 'General', value: 'general', description: "The API's default" },
			{ name: 'Purchase', value: 'purchase' },
			{ name: 'Refund', value: 'refund' },
		],
	},
	{
		displayName: 'Custom Action Type',
		name: 'customActionType',
		type: 'string',
		default: '',
		placeholder: 'e.g. vendor_onboarding',
		description: 'Any action type your clone knows, sent as "action_type"',
		displayOptions: show({ actionType: ['custom'] }),
	},
	{
		displayName: 'Data',
		name: 'dataMode',
		type: 'options',
		default: 'none',
		description: 'Structured data for the clone, sent as "data" (always a JSON object)',
		options: [
			{ name: 'None', value: 'none', description: 'Send an empty object' },
			{ name: 'Define Below as Fields', value: 'fields', description: 'Name/value pairs' },
			{ name: 'Define Below as JSON', value: 'json', description: 'A JSON object, expressions allowed' },
			{ name: 'Whole Input Item', value: 'inputItem', description: "Send the incoming item's JSON as is" },
		],
	},
	{
		displayName: 'Data (JSON)',
		name: 'dataJson',
		type: 'json',
		default: '{}',
		placeholder: '{ "amount": {{ $json.amount }}, "customer_tier": "{{ $json.tier }}" }',
		description: 'Must be a JSON object (not an array, string or null)',
		displayOptions: show({ dataMode: ['json'] }),
	},
	{
		displayName: 'Data Fields',
		name: 'dataFields',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: {},
		placeholder: 'Add Field',
		description: 'Each field becomes a key of "data"; expressions keep their type (numbers stay numbers)',
		displayOptions: show({ dataMode: ['fields'] }),
		options: [
			{
				displayName: 'Field',
				name: 'field',
				values: [
					{
						displayName: 'Name',
						name: 'name',
						type: 'string',
						default: '',
						placeholder: 'e.g. amount',
						description: 'Key of this field in "data"',
					},
					{
						displayName: 'Value',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: 'e.g. {{ $json.amount }}',
						description: 'Value of the field; an expression keeps its type (number, boolean, object)',
					},
				],
			},
		],
	},
	{
		displayName: 'Route Items By',
		name: 'routeBy',
		type: 'options',
		default: 'review',
		noDataExpression: true,
		description: 'How decided items are spread over the outputs',
		options: [
			{
				name: 'Human Review',
				value: 'review',
				description: 'Two outputs: Approved (auto-approved) and Needs Review',
			},
			{
				name: 'Decision Value',
				value: 'decision',
				description: 'One output per decision value you list, plus a fallback',
			},
			{ name: 'One Output', value: 'single', description: 'Every decided item on one output' },
		],
	},
	{
		displayName:
			'Approved: the clone decided on its own. Needs Review: requires_human_review or was_escalated is true, or confidence is under the floor. The decision itself (approve, deny, …) is in each item\'s "decision" field.',
		name: 'reviewNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ routeBy: ['review'] }),
	},
	{
		displayName:
			'One output per decision value below, matched trimmed and case-insensitively. A decision nobody listed goes to the fallback. Turn on "Send Items Needing Review to Their Own Output" to catch flagged decisions first.',
		name: 'decisionNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ routeBy: ['decision'] }),
	},
	{
		displayName: 'Every decided item comes out on the one output; its review flags are fields of the item.',
		name: 'singleNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ routeBy: ['single'] }),
	},
	{
		displayName: 'Decision Values',
		name: 'decisions',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: { values: [{ value: 'approve' }, { value: 'deny' }] },
		placeholder: 'Add Decision Value',
		description: 'The decision values your clone answers with; each gets an output, in this order',
		noDataExpression: true,
		displayOptions: show({ routeBy: ['decision'] }),
		options: [
			{
				displayName: 'Decision',
				name: 'values',
				values: [
					{
						displayName: 'Decision Value',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: 'e.g. approve',
						description: 'A value of "decision" the clone answers with',
					},
					{
						displayName: 'Output Name',
						name: 'outputName',
						type: 'string',
						default: '',
						placeholder: 'e.g. Approved',
						description: 'Label of the output on the canvas; the decision value when empty',
					},
				],
			},
		],
	},
	{
		displayName: 'Fallback Output',
		name: 'fallbackOutput',
		type: 'options',
		noDataExpression: true,
		default: 'extra',
		description: 'Where a decision that matches no value above goes',
		displayOptions: show({ routeBy: ['decision'] }),
		options: [
			{ name: 'Extra Output "Other"', value: 'extra', description: 'Add an output for unlisted decisions' },
			{
				name: 'Output of a Listed Decision',
				value: 'decision',
				description: 'Send unlisted decisions where one of the values above goes',
			},
			{ name: 'None (Discard Item)', value: 'none', description: 'Unlisted decisions are dropped' },
		],
	},
	{
		displayName: 'Fallback Decision Value',
		name: 'fallbackDecision',
		type: 'string',
		default: '',
		required: true,
		noDataExpression: true,
		placeholder: 'e.g. deny',
		description: 'One of the decision values above; unlisted decisions go to its output',
		displayOptions: show({ routeBy: ['decision'], fallbackOutput: ['decision'] }),
	},
	{
		displayName: 'Send Items Needing Review to Their Own Output',
		name: 'divertReview',
		type: 'boolean',
		default: false,
		noDataExpression: true,
		description:
			'Whether items with requires_human_review or was_escalated (or under the confidence floor) go to an extra "Needs Review" output instead of their decision\'s output',
		displayOptions: show({ routeBy: ['decision'] }),
	},
	{
		displayName: 'Confidence Floor',
		name: 'confidenceFloor',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
		description:
			'A decision with a confidence under this (0 to 1) needs review. 0 turns it off. With Decision Value routing it applies when items needing review get their own output.',
		displayOptions: show({ routeBy: ['review', 'decision'] }),
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		description: 'Timeouts, retries, batch speed and the shape of the output items',
		default: {},
		options: [
			{
				displayName: 'Add Request Metadata',
				name: 'includeMetadata',
				type: 'boolean',
				default: false,
				description: 'Whether to add "_meta" with attempts, latency_ms, request_id and status to each decision',
			},
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				default: DEFAULT_CONCURRENCY,
				typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY },
				description:
					'How many requests are in flight at once (1 = one after another). Lowered automatically while CloMan answers 429, raised again slowly. Output order never changes.',
			},
			{
				displayName: 'Max Rate-Limit Wait per Item (Seconds)',
				name: 'maxRateLimitWait',
				type: 'number',
				default: DEFAULT_MAX_RATE_LIMIT_WAIT_S,
				typeOptions: { minValue: 0, maxValue: 86400 },
				description:
					'How long one item may wait in all for CloMan\'s rate limit (429 with Retry-After) before it fails. These waits do not use up Max Retries. 0 = fail at the first 429.',
			},
			{
				displayName: 'Max Requests per Minute',
				name: 'maxRequestsPerMinute',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: "Your plan's quota, to stay under it instead of hitting 429s. 0 = no client-side limit.",
			},
			{
				displayName: 'Max Retries',
				name: 'maxRetries',
				type: 'number',
				default: DEFAULT_MAX_RETRIES,
				typeOptions: { minValue: 0, maxValue: 10 },
				description:
					'Retries per item after 500/502/503/504, dropped connections, timeouts and a 429 without Retry-After. A 429 with Retry-After is waited out without using a retry. Never for 4xx input or key errors.',
			},
			{
				displayName: 'Put Response In',
				name: 'responseLocation',
				type: 'options',
				default: 'item',
				description: 'Whether an output item is the decision alone or the input item with the decision added',
				options: [
					{ name: 'Output Item', value: 'item', description: 'Each output item is the decision' },
					{
						name: 'Field of Input Item',
						value: 'key',
						description: "Keep the input item's fields and add the decision under one key",
					},
				],
			},
			{
				displayName: 'Response Field Name',
				name: 'responseKey',
				type: 'string',
				default: 'cloman',
				placeholder: 'e.g. cloman',
				description: 'Key that holds the decision when it is put beside the input fields',
				displayOptions: show({ responseLocation: ['key'] }),
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeout',
				type: 'number',
				default: 30,
				typeOptions: { minValue: 1, maxValue: 600 },
				description: 'How long to wait for one answer before trying again',
			},
		],
	},
];

interface Settings {
	timeoutMs: number;
	maxRetries: number;
	concurrency: number;
	maxRequestsPerMinute: number;
	maxRateLimitWaitMs: number;
	responseLocation: 'item' | 'key';
	responseKey: string;
	includeMetadata: boolean;
}

function readSettings(options: IDataObject): Settings {
	const number = (value: unknown, fallback: number, min: number, max: number, label: string) => {
		const parsed = value === undefined || value === '' ? fallback : Number(value);
		if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
			throw new Error(`Option "${label}" must be a number from ${min} to ${max}, not "${String(value)}"`);
		}
		return parsed;
	};
	const responseKey = String(options.responseKey ?? 'cloman').trim();
	if (options.responseLocation === 'key' && responseKey === '') {
		throw new Error('Option "Response Field Name" must not be empty');
	}
	return {
		timeoutMs: number(options.timeout, DEFAULT_TIMEOUT_MS / 1000, 1, 600, 'Timeout (Seconds)') * 1000,
		maxRetries: Math.floor(number(options.maxRetries, DEFAULT_MAX_RETRIES, 0, 10, 'Max Retries')),
		concurrency: Math.floor(number(options.concurrency, DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY, 'Concurrency')),
		maxRequestsPerMinute: number(options.maxRequestsPerMinute, 0, 0, 1_000_000, 'Max Requests per Minute'),
		maxRateLimitWaitMs:
			number(options.maxRateLimitWait, DEFAULT_MAX_RATE_LIMIT_WAIT_S, 0, 86_400, 'Max Rate-Limit Wait per Item') * 1000,
		responseLocation: options.responseLocation === 'key' ? 'key' : 'item',
		responseKey,
		includeMetadata: options.includeMetadata === true,
	};
}

function describeType(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing';
	if (Array.isArray(value)) return 'an array';
	return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Parameter `name` of item `i`, or a failure naming the field when its expression cannot be evaluated. */
function readParam(
	ctx: IExecuteFunctions,
	i: number,
	name: string,
	fallback: unknown,
	label: string,
): { value: unknown } | CloManFailure {
	try {
		return { value: ctx.getNodeParameter(name, i, fallback) };
	} catch (error) {
		return inputFailure(name.split('.')[0], `${label} of item ${i} could not be read: ${(error as Error).message}`);
	}
}

/** Build item `i`'s request from the parameters, or say which field is wrong. */
function buildRequest(ctx: IExecuteFunctions, i: number, item: INodeExecutionData): DecideRequest | CloManFailure {
	const contextParam = readParam(ctx, i, 'context', '', 'Context');
	if (isFailure(contextParam)) return contextParam;
	const rawContext = contextParam.value;
	if (typeof rawContext !== 'string') {
		return inputFailure('context', `Context of item ${i} must be text, not ${describeType(rawContext)}`);
	}
	const context = rawContext.trim();
	if (context === '') return inputFailure('context', `Context of item ${i} is empty`);
	if (context.length > MAX_CONTEXT_CHARS) {
		return inputFailure(
			'context',
			`Context of item ${i} has ${context.length} characters, more than the ${MAX_CONTEXT_CHARS} this node sends`,
		);
	}

	let actionParam = readParam(ctx, i, 'actionType', 'general', 'Action Type');
	if (isFailure(actionParam)) return actionParam;
	let actionField = 'actionType';
	if (actionParam.value === 'custom') {
		actionParam = readParam(ctx, i, 'customActionType', '', 'Custom Action Type');
		if (isFailure(actionParam)) return actionParam;
		actionField = 'customActionType';
	}
	const actionType = actionParam.value;
	if (typeof actionType !== 'string' || actionType.trim() === '') {
		return inputFailure(actionField, `Action Type of item ${i} is empty`);
	}

	const modeParam = readParam(ctx, i, 'dataMode', 'none', 'Data');
	if (isFailure(modeParam)) return modeParam;
	const dataMode = modeParam.value;
	let data: unknown = {};
	if (dataMode === 'json') {
		const jsonParam = readParam(ctx, i, 'dataJson', '{}', 'Data (JSON)');
		if (isFailure(jsonParam)) return jsonParam;
		const raw = jsonParam.value;
		if (typeof raw === 'string') {
			try {
				data = raw.trim() === '' ? {} : JSON.parse(raw);
			} catch (error) {
				return inputFailure('dataJson', `Data (JSON) of item ${i} is not valid JSON: ${(error as Error).message}`);
			}
		} else {
			data = raw;
		}
	} else if (dataMode === 'fields') {
		const fieldsParam = readParam(ctx, i, 'dataFields.field', [], 'Data Fields');
		if (isFailure(fieldsParam)) return fieldsParam;
		const fields = (fieldsParam.value as Array<{ name?: string; value?: unknown }> | undefined) ?? [];
		const built: IDataObject = {};
		for (const [index, field] of fields.entries()) {
			const name = String(field.name ?? '').trim();
			if (name === '') return inputFailure('dataFields', `Data field ${index + 1} of item ${i} has no name`);
			built[name] = field.value as IDataObject[string];
		}
		data = built;
	} else if (dataMode === 'inputItem') {
		data = item.json;
	}
	if (!isObject(data)) {
		const field = dataMode === 'json' ? 'dataJson' : 'data';
		return inputFailure(field, `Data of item ${i} must be a JSON object, not ${describeType(data)}`);
	}
	return { context, action_type: actionType.trim(), data };
}

function isFailure<T extends object>(value: T | CloManFailure): value is CloManFailure {
	return 'kind' in value;
}

/** What a failed item carries in `error`: the failure, and which item it was. */
function failureJson(failure: CloManFailure, itemIndex: number): IDataObject {
	return { ...failure, item_index: itemIndex } as unknown as IDataObject;
}

/** Run up to `workers` tasks at a time over 0..count-1; stops starting new ones once `stop()` says so. */
async function runPool(
	count: number,
	workers: number,
	task: (index: number) => Promise<void>,
	stop: () => boolean,
): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < count && !stop()) {
			const index = next++;
			await task(index);
		}
	};
	await Promise.all(Array.from({ length: Math.min(workers, count) }, worker));
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const node = this.getNode();
	const asTool = node.type.endsWith('Tool');
	const continueOnFail = this.continueOnFail();
	const toErrorOutput = continueOnFail && node.onError === 'continueErrorOutput';

	let plan: RoutePlan | undefined;
	let settings: Settings;
	let endpoint: string;
	let apiKey = '';
	let credentialsDecrypted: ICredentialsDecrypted | undefined;
	try {
		plan = planRoutes(
			{
				routeBy: this.getNodeParameter('routeBy', 0, 'review') as string,
				decisions: this.getNodeParameter('decisions', 0, {}) as INodeParameters,
				fallbackOutput: this.getNodeParameter('fallbackOutput', 0, 'extra') as string,
				fallbackDecision: this.getNodeParameter('fallbackDecision', 0, '') as string,
				divertReview: this.getNodeParameter('divertReview', 0, false) as boolean,
				confidenceFloor: this.getNodeParameter('confidenceFloor', 0, 0) as number,
			},
			asTool,
		);
		settings = readSettings(this.getNodeParameter('options', 0, {}) as IDataObject);
		const credentials = await this.getCredentials(CREDENTIAL_TYPE);
		apiKey = typeof credentials.apiKey === 'string' ? credentials.apiKey : '';
		if (apiKey.trim() === '') throw new Error('The CloMan credential has no API key');
		const parsed = endpointFromBaseUrl(credentials.baseUrl);
		if ('error' in parsed) throw new Error(parsed.error);
		endpoint = parsed.url;
		const reference = node.credentials?.[CREDENTIAL_TYPE];
		credentialsDecrypted = {
			id: reference?.id ?? '',
			name: reference?.name ?? '',
			type: CREDENTIAL_TYPE,
			data: credentials,
		};
	} catch (error) {
		// Settings shared by all items are wrong: nothing can be sent.
		const message = redact((error as Error).message, apiKey);
		if (!continueOnFail) {
			throw new NodeOperationError(node, message, {
				description: 'Fix the node or credential settings; no request was sent.',
			});
		}
		// Under "Continue", every item fails with it: none may pass as if it had been decided.
		const failure: CloManFailure = { kind: 'InputError', code: 'INVALID_SETTINGS', message, details: {}, attempts: 0 };
		const count = asTool ? 1 : configuredOutputs(node.parameters).length;
		const failed: INodeExecutionData[][] = Array.from({ length: count }, () => []);
		const target = toErrorOutput ? 0 : (plan?.failureOutput ?? count - 1);
		items.forEach((item, i) => {
			const errorJson = failureJson(failure, i);
			failed[target].push({
				json: toErrorOutput ? { error: errorJson } : { ...item.json, error: errorJson },
				pairedItem: { item: i },
			});
		});
		return failed;
	}

	const outputs: INodeExecutionData[][] = Array.from({ length: plan.outputCount }, () => []);
	if (items.length === 0) return outputs;

	// 1. When a bad item stops the node, every item's request is checked before anything is sent, so a
	//    run that will stop spends no decisions. Under "Continue", a bad item fails alone, so each
	//    request is built by the worker that sends it and the first one leaves at once.
	const requests: Array<DecideRequest | CloManFailure | undefined> = new Array(items.length);
	if (!continueOnFail) {
		for (const [i, item] of items.entries()) {
			const request = buildRequest(this, i, item);
			if (isFailure(request)) throw toNodeError(node, redact(request, apiKey), i);
			requests[i] = request;
		}
	}

	// 2. Send them, a bounded number at a time, sharing one rate-limit state.
	const signal = this.getExecutionCancelSignal?.();
	const limiter = new RequestLimiter({
		concurrency: settings.concurrency,
		maxRequestsPerMinute: settings.maxRequestsPerMinute,
		signal,
		// Shared with every run in this n8n process on the same base URL and key.
		key: { endpoint, apiKey },
		maxWaitPerItemMs: settings.maxRateLimitWaitMs,
	});
	const results: Array<DecideResult | undefined> = new Array(items.length);
	let firstFatal: number | undefined;
	let cancelled = false;
	await runPool(
		items.length,
		limiter.maxConcurrency,
		async (i) => {
			const request = requests[i] ?? buildRequest(this, i, items[i]);
			if (isFailure(request)) {
				results[i] = { ok: false, failure: request };
				return;
			}
			try {
				results[i] = await decide(this, request, {
					endpoint,
					timeoutMs: settings.timeoutMs,
					maxRetries: settings.maxRetries,
					limiter,
					signal,
					secret: apiKey,
					credentials: credentialsDecrypted,
				});
			} catch (error) {
				if (error instanceof CancelledError) {
					cancelled = true;
					return;
				}
				throw new NodeOperationError(node, redact((error as Error).message, apiKey), { itemIndex: i });
			}
			if (!results[i]!.ok && !continueOnFail && (firstFatal === undefined || i < firstFatal)) firstFatal = i;
		},
		() => cancelled || firstFatal !== undefined,
	);
	if (cancelled) throw new NodeOperationError(node, 'The execution was cancelled; no further requests were sent.');
	if (firstFatal !== undefined) {
		const result = results[firstFatal] as { ok: false; failure: CloManFailure };
		throw toNodeError(node, redact(result.failure, apiKey), firstFatal);
	}

	// 3. Place every item, in input order, on exactly one output.
	items.forEach((item, i) => {
		const result = results[i]!;
		const pairedItem = { item: i };
		if (!result.ok) {
			const error = redact(failureJson(result.failure, i), apiKey);
			if (toErrorOutput) {
				// n8n moves an item whose json holds only `error` to the error output.
				outputs[0].push({ json: { error }, pairedItem });
			} else {
				outputs[plan.failureOutput].push({ json: { ...item.json, error }, pairedItem });
			}
			return;
		}
		const decision: IDataObject = { ...result.response };
		if (settings.includeMetadata) {
			decision._meta = {
				attempts: result.attempts,
				latency_ms: result.latencyMs,
				request_id: result.requestId ?? null,
				status: result.status,
			};
		}
		const output = routeResponse(plan, decision);
		if (output === undefined) return; // Fallback "None": the user chose to discard unlisted decisions.
		const json = settings.responseLocation === 'key' ? { ...item.json, [settings.responseKey]: decision } : decision;
		const outItem: INodeExecutionData = { json, pairedItem };
		if (settings.responseLocation === 'key' && item.binary) outItem.binary = item.binary;
		outputs[output].push(outItem);
	});
	return outputs;
}
