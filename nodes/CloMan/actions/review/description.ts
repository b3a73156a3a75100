import type { INodeProperties, IWebhookDescription } from 'n8n-workflow';

import { decisionValues, show } from '../common';

/**
 * The review page's waiting webhooks, declared as n8n's send-and-wait nodes declare theirs, GET and
 * POST at the path "<node id>": the link this node sends is the run's resume URL with "/<node id>"
 * added. The same pair at the empty path lets an earlier node send the plain $execution.resumeUrl
 * (n8n routes a waiting execution's URL without a suffix to the waiting node's empty-path webhook).
 * GET renders the page and never resumes; POST submits it and resumes the run once the whole batch
 * is decided.
 */
const pageWebhook = (httpMethod: 'GET' | 'POST', path: string): IWebhookDescription => ({
	name: 'default',
	httpMethod,
	responseMode: 'onReceived',
	responseData: '',
	path,
	restartWebhook: true,
	isFullPath: true,
});

export const REVIEW_WEBHOOKS: IWebhookDescription[] = [
	pageWebhook('GET', '={{ $nodeId }}'),
	pageWebhook('POST', '={{ $nodeId }}'),
	pageWebhook('GET', ''),
	pageWebhook('POST', ''),
];

/** The Review operation's parameters (the router adds `operation: ['review']` to each). */
export const description: INodeProperties[] = [
	{
		displayName:
			'The run pauses here and one review page lists every input item with the clone\'s decision. The reviewer keeps or changes each decision and submits the batch once; the run then goes on with a "review" field on every item. Needs n8n 2.x. Send the link with "Notify Reviewer" below, or send $execution.resumeUrl from an earlier node (e.g. an email): it opens the same page.',
		name: 'reviewIntro',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Item Title',
		name: 'reviewTitle',
		type: 'string',
		default: '',
		placeholder: 'e.g. {{ $json.customer }} – {{ $json.amount }} USD',
		description:
			'Heading of each item on the review page; map fields of the item with an expression. When empty, items are called "Item 1", "Item 2" and so on.',
	},
	{
		displayName: 'Item Details',
		name: 'reviewDetails',
		type: 'string',
		default: '',
		typeOptions: { rows: 2 },
		placeholder: 'e.g. Reason: {{ $json.reason }}',
		description: 'Optional text shown under each item\'s title (plain text, shown as typed)',
	},
	{
		displayName: 'Decision Field',
		name: 'decisionField',
		type: 'string',
		default: 'cloman',
		placeholder: 'e.g. cloman',
		description:
			'Where each item holds the clone\'s answer: at the item\'s root when it has a "decision" field (Decide\'s "Put Response In: Output Item"), else under this field (Decide\'s "Response Field Name")',
	},
	{
		displayName: 'Route Items By',
		name: 'reviewRouteBy',
		type: 'options',
		default: 'decision',
		noDataExpression: true,
		description: 'How reviewed items are spread over the outputs',
		options: [
			{
				name: 'Final Decision Value',
				value: 'decision',
				description: 'One output per decision value you list, plus "Other" for any other final decision',
			},
			{ name: 'One Output', value: 'single', description: 'Every reviewed item on one output "Reviewed"' },
		],
	},
	{
		displayName:
			'Outputs: "Not Reviewed" (items that leave without a review: when the wait limit passes, or, under "Continue", items without a decision), then one per decision value below, then "Other". Read the items\' own fields ($json) after this node: n8n re-pairs resumed items by position, so $(\'Earlier Node\').item does not resolve on these outputs.',
		name: 'reviewOutputsNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ reviewRouteBy: ['decision'] }),
	},
	{
		displayName:
			'One output "Reviewed" with every item in input order, so $(\'Earlier Node\').item keeps working after the review. With a wait limit, "Not Reviewed" comes first (it gets the items when the limit passes) and $(\'Earlier Node\').item then resolves only there.',
		name: 'reviewSingleNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ reviewRouteBy: ['single'] }),
	},
	{
		...decisionValues,
		description:
			'The decisions a reviewer can choose (besides the clone\'s alternatives); each gets an output, in this order, by the final decision',
		displayOptions: show({ reviewRouteBy: ['decision'] }),
	},
	{
		displayName: 'Allow Other Decisions',
		name: 'allowCustomDecision',
		type: 'boolean',
		default: true,
		noDataExpression: true,
		description: 'Whether the reviewer may type a decision of their own (it goes to the "Other" output unless listed)',
	},
	{
		displayName: 'Who May Review',
		name: 'whoMayReview',
		type: 'options',
		default: 'anyone',
		noDataExpression: true,
		description: 'Who the review page admits. Named Reviewers gives each person their own link and records who reviewed on every item (review.reviewed_by). The signed-in modes use the reviewer\'s n8n sign-in and need the page on the n8n editor\'s host (see the README).',
		options: [
			{
				name: 'Anyone With the Link',
				value: 'anyone',
				description: 'Whoever opens the link reviews; who it was is not recorded',
			},
			{
				name: 'Named Reviewers (Personal Links)',
				value: 'named',
				description: 'Each listed person gets their own link through "Notify Reviewer" (one message each); the link says who reviews',
			},
			{
				name: 'Any Signed-In User of This N8n',
				value: 'signedIn',
				description: 'The reviewer signs in to this n8n (the page sends them to the sign-in and back)',
			},
			{
				name: 'Only These N8n Users',
				value: 'listed',
				description: 'Signed-in users whose email is listed below; anyone else gets a refusal page',
			},
		],
	},
	{
		displayName:
			'n8n 2.38 to 2.41 remove the n8n sign-in from every request to this node\'s review page, so there the page cannot tell who is signed in: reviewers get a page saying so and the run keeps waiting. Use "Anyone With the Link" on those versions (see the README, "Who may review").',
		name: 'signedInNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ whoMayReview: ['signedIn', 'listed'] }),
	},
	{
		displayName: 'Reviewers',
		name: 'reviewerEmails',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. alice@example.com, bob@example.com',
		description: 'Emails of the n8n users who may review, separated by commas or new lines (an expression may return a list)',
		displayOptions: show({ whoMayReview: ['listed'] }),
	},
	{
		displayName: 'Named Reviewers',
		name: 'namedReviewers',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		default: {},
		placeholder: 'Add Reviewer',
		description: 'The people who may review; each gets a link of their own, recorded as review.reviewed_by when they submit',
		displayOptions: show({ whoMayReview: ['named'] }),
		options: [
			{
				displayName: 'Reviewer',
				name: 'reviewers',
				values: [
					{
						displayName: 'Email',
						name: 'email',
						type: 'string',
						placeholder: 'e.g. alice@example.com',
						default: '',
						required: true,
						description: 'The reviewer\'s email: it is in their link and in review.reviewed_by',
					},
					{
						displayName: 'Name',
						name: 'name',
						type: 'string',
						default: '',
						description: 'Optional: how the page and review.reviewed_by name the reviewer',
					},
				],
			},
		],
	},
	{
		displayName:
			'Each reviewer\'s link is sent as its own message to "Notify Reviewer" below (which must be on). A personal link admits whoever holds it as that person: send each message to that person only (e.g. Generic JSON to an n8n workflow that emails each reviewer). A chat channel webhook would show everyone\'s links to everyone.',
		name: 'namedNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ whoMayReview: ['named'] }),
	},
	{
		displayName: 'Require a Different Reviewer',
		name: 'requireDifferentReviewer',
		type: 'boolean',
		default: false,
		noDataExpression: true,
		description:
			'Whether to refuse a reviewer who already reviewed any of these items in an earlier Review step (four-eyes rule; read from each item\'s review.reviewed_by, emails compared case aside)',
		displayOptions: show({ whoMayReview: ['named', 'signedIn', 'listed'] }),
	},
	{
		displayName: 'Page Title',
		name: 'pageTitle',
		type: 'string',
		default: 'Review the clone\'s decisions',
		description: 'Heading of the review page',
	},
	{
		displayName: 'Page Message',
		name: 'pageMessage',
		type: 'string',
		default: '',
		typeOptions: { rows: 2 },
		placeholder: 'e.g. Refunds the clone was unsure about. Please decide by 5 pm.',
		description: 'Optional text under the heading (plain text)',
	},
	{
		displayName: 'Notify Reviewer',
		name: 'notifyVia',
		type: 'options',
		default: 'none',
		noDataExpression: true,
		description: 'Whether this node posts the review link to a chat before it waits',
		options: [
			{
				name: 'No (Send the Link Yourself)',
				value: 'none',
				description: 'An earlier node sends $execution.resumeUrl (e.g. by email): it opens the same page',
			},
			{
				name: 'Incoming Webhook',
				value: 'webhook',
				description: 'POST the link to an incoming-webhook URL (Slack, Teams, Discord, Mattermost, Google Chat, …); with Named Reviewers, one POST per reviewer with their personal link',
			},
		],
	},
	{
		displayName: 'Webhook URL',
		name: 'notifyUrl',
		type: 'string',
		typeOptions: { password: true },
		default: '',
		required: true,
		placeholder: 'e.g. https://hooks.slack.com/services/…',
		description: 'The incoming-webhook URL of the channel; it is a secret, shown to nobody',
		displayOptions: show({ notifyVia: ['webhook'] }),
	},
	{
		displayName: 'Message Format',
		name: 'notifyFormat',
		type: 'options',
		default: 'text',
		noDataExpression: true,
		description: 'The JSON body the webhook expects',
		displayOptions: show({ notifyVia: ['webhook'] }),
		options: [
			{
				name: 'Text Field (Slack, Teams, Mattermost, Google Chat)',
				value: 'text',
				description: 'Sends {"text": …}; also for Discord through its Slack-compatible address ending in /slack',
			},
			{ name: 'Content Field (Discord)', value: 'discord', description: 'Sends {"content": …}' },
			{
				name: 'Generic JSON',
				value: 'generic',
				description: 'Sends text, the link, execution_id, item_count and expires_at as JSON for your own receiver (see the README)',
			},
		],
	},
	{
		displayName: 'Limit Wait Time',
		name: 'limitWaitTime',
		type: 'boolean',
		default: true,
		noDataExpression: true,
		description:
			'Whether the run goes on without a review after a while (on by default: nothing waits forever unless you turn this off); the items then leave unchanged on the first output, "Not Reviewed"',
	},
	{
		displayName:
			'When the limit passes, n8n resumes the run without running this node: the items leave unchanged (the clone\'s decision, no "review" field) on the first output, "Not Reviewed". Connect it to what should happen to unreviewed items.',
		name: 'limitNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ limitWaitTime: [true] }),
	},
	{
		displayName: 'Limit Type',
		name: 'limitType',
		type: 'options',
		default: 'afterTimeInterval',
		description: 'Whether the limit is a duration from the pause or a date and time',
		displayOptions: show({ limitWaitTime: [true] }),
		options: [
			{ name: 'After Time Interval', value: 'afterTimeInterval', description: 'Wait at most this long' },
			{ name: 'At Specified Time', value: 'atSpecifiedTime', description: 'Wait until this date and time' },
		],
	},
	{
		displayName: 'Amount',
		name: 'resumeAmount',
		type: 'number',
		default: 1,
		typeOptions: { minValue: 0, numberPrecision: 2 },
		description: 'How long to wait for the review',
		displayOptions: show({ limitWaitTime: [true], limitType: ['afterTimeInterval'] }),
	},
	{
		displayName: 'Unit',
		name: 'resumeUnit',
		type: 'options',
		default: 'days',
		description: 'Unit of the amount',
		displayOptions: show({ limitWaitTime: [true], limitType: ['afterTimeInterval'] }),
		options: [
			{ name: 'Minutes', value: 'minutes' },
			{ name: 'Hours', value: 'hours' },
			{ name: 'Days', value: 'days' },
		],
	},
	{
		displayName: 'Max Date and Time',
		name: 'maxDateAndTime',
		type: 'dateTime',
		default: '',
		description: 'The run goes on without a review at this date and time',
		displayOptions: show({ limitWaitTime: [true], limitType: ['atSpecifiedTime'] }),
	},
];
