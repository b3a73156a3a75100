import type { INodeProperties } from 'n8n-workflow';

import { DEFAULT_CONCURRENCY, DEFAULT_MAX_RATE_LIMIT_WAIT_S, MAX_CONCURRENCY } from '../../transport/limiter';
import { DEFAULT_MAX_RETRIES } from '../../transport/retry';
import { decisionValues, show } from '../common';

/** The Decide operation's parameters (the router adds `operation: ['decide']` to each). */
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
				description: 'Two outputs: Auto-Decided (the clone decided on its own, approve or deny alike) and Needs Review',
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
			'Auto-Decided: the clone decided on its own (approvals and denials alike). Needs Review: requires_human_review or was_escalated is true, or confidence is under the floor. The decision itself (approve, deny, …) is in each item\'s "decision" field.',
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
	{ ...decisionValues, displayOptions: show({ routeBy: ['decision'] }) },
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
