import type { INodeProperties } from 'n8n-workflow';

import type { CloManFailure } from '../transport/errors';

type ShowValues = Record<string, Array<string | number | boolean>>;

/** displayOptions that show a parameter when the named parameters have one of the given values. */
export const show = (values: ShowValues) => ({ show: values });

/** The parameters of one operation, each shown only when that operation is selected. */
export function forOperation(operation: string, properties: INodeProperties[]): INodeProperties[] {
	return properties.map((property) => ({
		...property,
		displayOptions: {
			...property.displayOptions,
			show: { ...property.displayOptions?.show, operation: [operation] },
		},
	}));
}

/**
 * The listed decision values, each with its own output (Decide's Decision Value routing, and the
 * outputs and choices of Review). Each operation adds its displayOptions.
 */
export const decisionValues: INodeProperties = {
	displayName: 'Decision Values',
	name: 'decisions',
	type: 'fixedCollection',
	typeOptions: { multipleValues: true, sortable: true },
	default: { values: [{ value: 'approve' }, { value: 'deny' }] },
	placeholder: 'Add Decision Value',
	description: 'The decision values your clone answers with; each gets an output, in this order',
	noDataExpression: true,
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
};

export function isFailure<T extends object>(value: T | CloManFailure): value is CloManFailure {
	return 'kind' in value;
}
