import type { IExecuteFunctions, IDataObject, INodeExecutionData } from 'n8n-workflow';

import type { DecideRequest } from '../../transport';
import type { CloManFailure } from '../../transport/errors';
import { inputFailure, isObject } from '../../transport/errors';
import { isFailure } from '../common';

/** Largest context we send; the API documents none, this guards against pasting a whole file by mistake. */
export const MAX_CONTEXT_CHARS = 100_000;

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
export function buildRequest(ctx: IExecuteFunctions, i: number, item: INodeExecutionData): DecideRequest | CloManFailure {
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

