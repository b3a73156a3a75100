import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import type { CloManFailure } from '../transport/errors';

/** What a failed item carries in `error`: the failure, and which item it was. */
export function failureJson(failure: CloManFailure, itemIndex: number): IDataObject {
	return { ...failure, item_index: itemIndex } as unknown as IDataObject;
}

/**
 * A failed item under "Continue": with "using error output", an item whose json holds only `error`
 * (n8n moves it to the error output and adds the input's fields back); otherwise the input item
 * with `error` added, for the output the caller chose.
 */
export function failedItem(
	item: INodeExecutionData,
	itemIndex: number,
	error: IDataObject,
	toErrorOutput: boolean,
): INodeExecutionData {
	const pairedItem = { item: itemIndex };
	return toErrorOutput ? { json: { error }, pairedItem } : { json: { ...item.json, error }, pairedItem };
}

/**
 * Under "Continue", when the settings shared by all items are wrong, every item fails with the same
 * failure: none may pass as if it had been decided (or reviewed).
 */
export function placeSettingsFailure(
	items: INodeExecutionData[],
	failure: CloManFailure,
	outputCount: number,
	target: number,
	toErrorOutput: boolean,
): INodeExecutionData[][] {
	const failed: INodeExecutionData[][] = Array.from({ length: outputCount }, () => []);
	items.forEach((item, i) => failed[target].push(failedItem(item, i, failureJson(failure, i), toErrorOutput)));
	return failed;
}
