import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { routeResponse } from '../../routing';
import type { RoutePlan } from '../../routing';
import type { DecideResult } from '../../transport';
import { redact } from '../../transport/errors';
import { failedItem, failureJson } from '../failures';
import type { Settings } from './settings';

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
			outputs[toErrorOutput ? 0 : plan.failureOutput].push(failedItem(item, i, error, toErrorOutput));
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
