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

export function isFailure<T extends object>(value: T | CloManFailure): value is CloManFailure {
	return 'kind' in value;
}
