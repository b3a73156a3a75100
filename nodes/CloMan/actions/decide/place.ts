import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { routeResponse } from '../../routing';
import type { RoutePlan } from '../../routing';
import type { DecideResult } from '../../transport';
import type { CloManFailure } from '../../transport/errors';
import { redact } from '../../transport/errors';
import type { Settings } from './settings';

/** What a failed item carries in `error`: the failure, and which item it was. */
export function failureJson(failure: CloManFailure, itemIndex: number): IDataObject {
	return { ...failure, item_index: itemIndex } as unknown as IDataObject;
}

/**
 * Under "Continue", when the settings shared by all items are wrong, every item fails with the same
 * failure: none may pass as if it had been decided.
 */
export function placeSettingsFailure(
	items: INodeExecutionData[],
	failure: CloManFailure,
	outputCount: number,
	target: number,
	toErrorOutput: boolean,
): INodeExecutionData[][] {
	const failed: INodeExecutionData[][] = Array.from({ length: outputCount }, () => []);
	items.forEach((item, i) => {
		const errorJson = failureJson(failure, i);
		failed[target].push({
			json: toErrorOutput ? { error: errorJson } : { ...item.json, error: errorJson },
			pairedItem: { item: i },
		});
	});
	return failed;
}

/** Place every item, in input order, on exactly one output (or none, when the plan discards it). */
export function placeResults(
	items: INodeExecutionData[],
	results: DecideResult[],
	plan: RoutePlan,
	settings: Settings,
	toErrorOutput: boolean,
	apiKey: string,
): INodeExecutionData[][] {
	const outputs: INodeExecutionData[][] = Array.from({ length: plan.outputCount }, () => []);
	items.forEach((item, i) => {
		const result = results[i];
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
