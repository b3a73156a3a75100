import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import { forOperation } from './actions/common';
import * as decide from './actions/decide';
import * as review from './actions/review';
import { configuredOutputs } from './routing';

/** The operations this node offers; execute() runs the selected one. */
const operations = { decide, review } as const;

type Operation = keyof typeof operations;

export class CloMan implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'CloMan',
		name: 'cloMan',
		icon: { light: 'file:cloman.svg', dark: 'file:cloman.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle:
			'={{$parameter["operation"] === "review" ? "Wait for Human Review" : "Decide: " + ($parameter["actionType"] === "custom" ? $parameter["customActionType"] : $parameter["actionType"])}}',
		description:
			'Ask your CloMan clone to decide (approve, deny, …), route each item by its decision or by whether a human must review it, and let a person confirm the doubtful ones on one review page',
		defaults: { name: 'CloMan' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: `={{(${configuredOutputs})($parameter)}}`,
		credentials: [{ name: 'cloManApi', required: true }],
		// The review page's waiting webhooks (used only while a run waits on a Review step).
		webhooks: review.REVIEW_WEBHOOKS,
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				default: 'decide',
				options: [
					{
						name: 'Decide',
						value: 'decide',
						action: 'Ask the clone to decide',
						description:
							'Send a question (context), an action type and data; get back the decision, reasoning, confidence and review flags',
					},
					{
						name: 'Wait for Human Review',
						value: 'review',
						action: 'Wait for a person to review the decisions',
						description:
							'Pause the run and let a person keep or change the clone\'s decisions for the whole batch on one page',
					},
				],
			},
			...forOperation('decide', decide.description),
			...forOperation('review', review.description),
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const operation = this.getNodeParameter('operation', 0, 'decide') as Operation;
		const run = operations[operation]?.execute;
		if (!run) throw new NodeOperationError(this.getNode(), `Unknown operation "${String(operation)}"`);
		return await run.call(this);
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		// Only Review waits; a request for any other operation finds no waiting webhook in n8n.
		return await review.webhook.call(this);
	}
}
