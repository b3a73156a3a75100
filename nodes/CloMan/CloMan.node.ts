import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import { forOperation } from './actions/common';
import * as decide from './actions/decide';
import { configuredOutputs } from './routing';

/** The operations this node offers; execute() runs the selected one. */
const operations = {
	decide,
} as const;

type Operation = keyof typeof operations;

export class CloMan implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'CloMan',
		name: 'cloMan',
		icon: { light: 'file:cloman.svg', dark: 'file:cloman.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle:
			'={{"Decide: " + ($parameter["actionType"] === "custom" ? $parameter["customActionType"] : $parameter["actionType"])}}',
		description:
			'Ask your CloMan clone to decide (approve, deny, …) and route each item by its decision or by whether a human must review it',
		defaults: { name: 'CloMan' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: `={{(${configuredOutputs})($parameter)}}`,
		credentials: [{ name: 'cloManApi', required: true }],
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
				],
			},
			...forOperation('decide', decide.description),
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const operation = this.getNodeParameter('operation', 0, 'decide') as Operation;
		const run = operations[operation]?.execute;
		if (!run) throw new NodeOperationError(this.getNode(), `Unknown operation "${String(operation)}"`);
		return await run.call(this);
	}
}
