import type { IDataObject, INodeParameters } from 'n8n-workflow';

export type RouteBy = 'single' | 'review' | 'decision';

export interface OutputEntry {
	type: 'main';
	displayName: string;
}

/**
 * The node's outputs, computed from its parameters. n8n evaluates this function's source text in
 * an expression (`outputs: '={{(' + configuredOutputs + ')($parameter)}}'`), in the editor and at
 * run time, so it must be self-contained: no imports, no helpers, plain ES2019.
 */
export const configuredOutputs = (parameters: INodeParameters): OutputEntry[] => {
	const collection = (parameters.decisions || {}) as { values?: Array<{ value?: string; outputName?: string }> };
	const values = Array.isArray(collection.values) ? collection.values : [];
	const valueOutputs = (): OutputEntry[] =>
		values.map((entry, index) => {
			const name = String(entry.outputName || entry.value || '').trim();
			return { type: 'main', displayName: name || 'Decision ' + (index + 1) };
		});
	if (parameters.operation === 'review') {
		// Review: "Not Reviewed" first, because n8n puts the items on output 0 when a wait limit passes,
		// and because n8n re-pairs resumed items by their position in each output, so a routed output 0
		// would point $('…').item at other items. Only "One Output" without a limit has no such output:
		// its "Reviewed" holds every item in input order, which pairs right.
		const single = parameters.reviewRouteBy === 'single';
		// The wait limit is on unless turned off (nothing waits forever unless the user says so).
		const limited = parameters.limitWaitTime !== false;
		const first: OutputEntry[] = !single || limited ? [{ type: 'main', displayName: 'Not Reviewed' }] : [];
		if (single) return first.concat([{ type: 'main', displayName: 'Reviewed' }]);
		return first.concat(valueOutputs(), [{ type: 'main', displayName: 'Other' }]);
	}
	const routeBy = parameters.routeBy || 'review';
	if (routeBy === 'single') return [{ type: 'main', displayName: 'Decision' }];
	if (routeBy !== 'decision') {
		return [
			{ type: 'main', displayName: 'Auto-Decided' },
			{ type: 'main', displayName: 'Needs Review' },
		];
	}
	const outputs = valueOutputs();
	if (parameters.divertReview === true) outputs.push({ type: 'main', displayName: 'Needs Review' });
	const fallback = parameters.fallbackOutput === undefined ? 'extra' : parameters.fallbackOutput;
	if (fallback === 'extra') outputs.push({ type: 'main', displayName: 'Other' });
	return outputs;
};

/** Decision values are matched trimmed and case-insensitively. */
export function normalizeDecision(value: unknown): string {
	return String(value ?? '').trim().toLowerCase();
}

export interface RoutePlan {
	routeBy: RouteBy;
	outputCount: number;
	confidenceFloor: number;
	/** decision mode: normalized value → output index */
	decisionOutputs: Map<string, number>;
	/** output for items that need human review, if the mode has one */
	reviewOutput?: number;
	/** where an unlisted decision goes; undefined = discarded (the user chose so) */
	fallbackOutput?: number;
	/** where a failed item goes under "Continue (regular output)" */
	failureOutput: number;
}

/**
 * The listed decision values (normalized) → their output index, counting from `firstOutput`;
 * throws an Error with a user-facing message when the list is empty or repeats a value.
 */
export function listedDecisions(parameters: INodeParameters, firstOutput: number): Map<string, number> {
	const entries = ((parameters.decisions as IDataObject | undefined)?.values ?? []) as Array<{ value?: unknown }>;
	if (entries.length === 0) {
		throw new Error('Route Items By "Decision Value" needs at least one decision value (e.g. approve, deny)');
	}
	const outputs = new Map<string, number>();
	entries.forEach((entry, index) => {
		const key = normalizeDecision(entry.value);
		if (key === '') throw new Error(`Decision value ${index + 1} is empty`);
		const earlier = outputs.get(key);
		if (earlier !== undefined) {
			throw new Error(`Decision value "${key}" is listed twice (values ${earlier - firstOutput + 1} and ${index + 1})`);
		}
		outputs.set(key, firstOutput + index);
	});
	return outputs;
}

/** Read the routing parameters; throws an Error with a user-facing message when they contradict. */
export function planRoutes(parameters: INodeParameters, asTool = false): RoutePlan {
	const routeBy = (parameters.routeBy || 'review') as RouteBy;
	const floor = Number(parameters.confidenceFloor ?? 0);
	if (!Number.isFinite(floor) || floor < 0 || floor > 1) {
		throw new Error(`Confidence Floor must be a number from 0 to 1, not "${String(parameters.confidenceFloor)}"`);
	}
	const outputCount = configuredOutputs(parameters).length;
	const plan: RoutePlan = {
		routeBy,
		outputCount,
		confidenceFloor: floor,
		decisionOutputs: new Map(),
		failureOutput: 0,
	};
	if (asTool) {
		// An AI agent reads only the first output: every decision comes out there, flags included.
		return { ...plan, routeBy: 'single', outputCount: 1 };
	}
	if (routeBy === 'single') return plan;
	if (routeBy === 'review') return { ...plan, reviewOutput: 1, failureOutput: 1 };

	plan.decisionOutputs = listedDecisions(parameters, 0);
	let next = plan.decisionOutputs.size;
	if (parameters.divertReview === true) plan.reviewOutput = next++;
	const fallback = parameters.fallbackOutput === undefined ? 'extra' : parameters.fallbackOutput;
	if (fallback === 'extra') {
		plan.fallbackOutput = next++;
	} else if (fallback === 'decision') {
		const target = normalizeDecision(parameters.fallbackDecision);
		plan.fallbackOutput = plan.decisionOutputs.get(target);
		if (plan.fallbackOutput === undefined) {
			throw new Error(
				`Fallback Decision Value "${String(parameters.fallbackDecision ?? '')}" is not one of the listed decision values`,
			);
		}
	}
	plan.failureOutput = plan.reviewOutput ?? plan.fallbackOutput ?? 0;
	return plan;
}

/** Whether a decision needs a human: the clone says so, guardrails escalated, or confidence is under the floor. */
export function needsReview(response: IDataObject, confidenceFloor: number): boolean {
	if (response.requires_human_review === true || response.was_escalated === true) return true;
	return confidenceFloor > 0 && Number(response.confidence) < confidenceFloor;
}

/** The output index for a decided item, or undefined when the plan discards it. */
export function routeResponse(plan: RoutePlan, response: IDataObject): number | undefined {
	if (plan.routeBy === 'single') return 0;
	if (plan.reviewOutput !== undefined && needsReview(response, plan.confidenceFloor)) return plan.reviewOutput;
	if (plan.routeBy === 'review') return 0;
	return plan.decisionOutputs.get(normalizeDecision(response.decision)) ?? plan.fallbackOutput;
}

/** Where the Review operation puts items; output indexes as configuredOutputs lists them. */
export interface ReviewPlan {
	outputCount: number;
	/**
	 * "Not Reviewed" (output 0) when there is one: where n8n puts the items when the wait limit passes,
	 * and where items that cannot be reviewed go under "Continue".
	 */
	notReviewedOutput?: number;
	/** "Reviewed", the one reviewed output in single mode. */
	singleOutput?: number;
	/** decision mode: normalized listed value → output index */
	decisionOutputs: Map<string, number>;
	/** decision mode: "Other", for a final decision nobody listed */
	otherOutput?: number;
	/** where an item that cannot be reviewed goes under "Continue (regular output)": never a decision's output */
	failureOutput: number;
}

/** Read Review's routing parameters; throws an Error with a user-facing message when they contradict. */
export function planReviewRoutes(parameters: INodeParameters): ReviewPlan {
	const outputs = configuredOutputs({ ...parameters, operation: 'review' });
	const first = outputs[0].displayName === 'Not Reviewed' ? 1 : 0;
	const plan: ReviewPlan = { outputCount: outputs.length, decisionOutputs: new Map(), failureOutput: 0 };
	if (first === 1) plan.notReviewedOutput = 0;
	if (parameters.reviewRouteBy === 'single') {
		plan.singleOutput = first;
	} else {
		plan.decisionOutputs = listedDecisions(parameters, first);
		plan.otherOutput = outputs.length - 1;
	}
	return plan;
}

/** The output for an item whose final (reviewed) decision is `decision`. */
export function routeReviewed(plan: ReviewPlan, decision: string): number {
	if (plan.singleOutput !== undefined) return plan.singleOutput;
	return plan.decisionOutputs.get(normalizeDecision(decision)) ?? (plan.otherOutput as number);
}
