import type { IDataObject, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';

import { failedItem } from '../failures';

/**
 * Which outputs n8n passes on when the review resumes the run.
 *
 * The run resumes with what webhook() returns (`workflowData`, one list per output). n8n-core before
 * 2.39.0 (every n8n 1.x and 2.0–2.38) passes on only the FIRST of those lists: WorkflowExecute's
 * handleDisabledNode returns `[main[0]]` for the resumed node. n8n-core 2.39.0 added
 * `forwardAllOutputs` (set by n8n's waiting-webhook handler for the resumed node), which passes them all.
 *
 * The node cannot read n8n's version, and nothing differs in the execute context between n8n-core
 * 2.38.2 and 2.39.0. The webhook context does: n8n-core 2.39.0 added `getTestWebhookUser()` to its
 * WebhookContext (declared optional on IWebhookFunctions in n8n-workflow 2.39.0), in the same release
 * as `forwardAllOutputs`. Every n8n release pins its n8n-core exactly (n8n 2.38.x → n8n-core 2.38.2 at
 * most, n8n 2.39.0 → 2.39.0), so the method is there exactly where all outputs are passed on. The
 * context object is n8n's own (not a copy of n8n-workflow installed beside this package), so the
 * check cannot be fooled by this package's dependencies. Should a later n8n drop the method, the
 * answer becomes "first output only": items still all arrive (on output 0), never lost.
 * test/resume-outputs.engine.test.ts checks the answer against the engine's own behaviour on
 * n8n-core 2.41.1, 2.38.2 and 1.122.48.
 */
export function forwardsAllOutputs(ctx: IWebhookFunctions): boolean {
	return typeof (ctx as { getTestWebhookUser?: unknown }).getTestWebhookUser === 'function';
}

/**
 * The first output when Review has more than one: "Not Reviewed" (only "One Output" without a wait
 * limit has a single output, "Reviewed", and loses nothing on any n8n).
 */
export const FIRST_OUTPUT_NAME = 'Not Reviewed';

/**
 * Whether this resume must put everything on output 0: n8n passes on only the first output, and the
 * node has more than one.
 */
export function mustUseFirstOutput(ctx: IWebhookFunctions, outputCount: number): boolean {
	return outputCount > 1 && !forwardsAllOutputs(ctx);
}

/** Where the items go on an n8n that passes on only the first output, said to the reviewer up front. */
export function firstOutputNotice(firstOutputName = FIRST_OUTPUT_NAME): string {
	return (
		`This n8n is older than 2.39 and passes on only the first output of a resumed node, so every item ` +
		`you review goes on the "${firstOutputName}" output, in input order, with your decision in its ` +
		`review fields (review.decision), not on the output of its decision. Upgrade n8n to 2.39 or ` +
		`newer for routing by decision.`
	);
}

/** What the done page says on such an n8n: where the reviewed items went and why. */
export function firstOutputDoneNotice(count: number, firstOutputName = FIRST_OUTPUT_NAME): string {
	const what = count === 1 ? 'The reviewed item went' : `All ${count} reviewed items went`;
	return (
		`${what} on the "${firstOutputName}" output, in input order, with the final decision in ` +
		`review.decision: this n8n is older than 2.39 and passes on only the first output of a resumed ` +
		`node, so the items were not split by decision.`
	);
}

/**
 * Every item of every output on output 0, in input order (by pairedItem), the other outputs empty: what
 * an n8n that passes on only the first output needs so that nothing is dropped. n8n pairs resumed
 * items by their position in each output, and output 0 then holds item i at position i.
 */
export function onFirstOutput(outputs: INodeExecutionData[][]): INodeExecutionData[][] {
	const all = outputs.flat().sort((a, b) => pairedIndex(a) - pairedIndex(b));
	return outputs.map((_, index) => (index === 0 ? all : []));
}

/**
 * Under "Continue (using error output)" on an n8n that passes on every output (2.39+): n8n moves an item
 * whose json holds only `error` to the error output and merges into it the fields of the input item its
 * pairedItem names, `{...input.json, ...item.json}`. On a resume, though, n8n has just re-paired every
 * item to its position in its output (WorkflowExecute.addPairedItemLineage), so a failed item at
 * position p of output 0 is merged with input item p: unless p is its own index, another item's fields
 * (`cloman` included) would arrive on the error output as if they were its own, and nothing the node
 * returns can prevent that merge. So then the failed items stay on output 0 (*Not Reviewed*) as under
 * "Continue (regular output)": each with its own fields and `error`, never another item's data. When
 * every failed item sits at its own index (they come first in the input, or the node has one output
 * holding every item in input order), n8n pairs them rightly and they go to the error output.
 */
export function keepFailedItemsOwnData(outputs: INodeExecutionData[][], inputs: INodeExecutionData[]): INodeExecutionData[][] {
	const first = outputs[0] ?? [];
	const failed = (item: INodeExecutionData) => Object.keys(item.json).length === 1 && item.json.error !== undefined;
	if (first.every((item, position) => !failed(item) || pairedIndex(item) === position)) return outputs;
	const kept = first.map((item) => {
		if (!failed(item)) return item;
		const index = pairedIndex(item);
		return failedItem(inputs[index] ?? { json: {} }, index, item.json.error as IDataObject, false);
	});
	return [kept, ...outputs.slice(1)];
}

function pairedIndex(item: INodeExecutionData): number {
	const paired = Array.isArray(item.pairedItem) ? item.pairedItem[0] : item.pairedItem;
	return typeof paired === 'object' && paired !== null ? paired.item : typeof paired === 'number' ? paired : 0;
}
