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
	const routeBy = parameters.routeBy || 'review';
	if (routeBy === 'single') return [{ type: 'main', displayName: 'Decision' }];
	if (routeBy !== 'decision') {
		return [
			{ type: 'main', displayName: 'Auto-Decided' },
			{ type: 'main', displayName: 'Needs Review' },
		];
	}
	const collection = (parameters.decisions || {}) as { values?: Array<{ value?: string; outputName?: string }> };
	const values = Array.isArray(collection.values) ? collection.values : [];
	const outputs: OutputEntry[] = values.map((entry, index) => {
		const name = String(entry.outputName || entry.value || '').trim();
		return { type: 'main', displayName: name || 'Decision ' + (index + 1) };
	});
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

	const entries = ((parameters.decisions as IDataObject | undefined)?.values ?? []) as Array<{ value?: unknown }>;
	if (entries.length === 0) {
		throw new Error('Route Items By "Decision Value" needs at least one decision value (e.g. approve, deny)');
	}
	entries.forEach((entry, index) => {
		const key = normalizeDecision(entry.value);
		if (key === '') throw new Error(`Decision value ${index + 1} is empty`);
		const earlier = plan.decisionOutputs.get(key);
		if (earlier !== undefined) {
			throw new Error(`Decision value "${key}" is listed twice (values ${earlier + 1} and ${index + 1})`);
		}
		plan.decisionOutputs.set(key, index);
	});
	let next = entries.length;
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
