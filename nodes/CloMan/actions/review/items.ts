import type { IDataObject } from 'n8n-workflow';

import { isObject } from '../../transport/errors';

/** An alternative the clone considered. */
export interface Alternative {
	action: string;
	reason: string;
	confidence?: number;
}

/** The clone's answer as the review page shows it. */
export interface CloneDecision {
	decision: string;
	reasoning: string;
	confidence?: number;
	confidenceLevel: string;
	requiresHumanReview: boolean;
	wasEscalated: boolean;
	alternatives: Alternative[];
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function alternativesOf(value: unknown): Alternative[] {
	if (!Array.isArray(value)) return [];
	const alternatives: Alternative[] = [];
	for (const entry of value) {
		if (typeof entry === 'string' && entry.trim() !== '') {
			alternatives.push({ action: entry.trim(), reason: '' });
		} else if (isObject(entry)) {
			const action = text(entry.action ?? entry.decision).trim();
			if (action === '') continue;
			const confidence = typeof entry.confidence === 'number' ? entry.confidence : undefined;
			alternatives.push({ action, reason: text(entry.reason).trim(), confidence });
		}
	}
	return alternatives;
}

function fromResponse(response: IDataObject): CloneDecision {
	return {
		decision: text(response.decision).trim(),
		reasoning: text(response.reasoning),
		confidence: typeof response.confidence === 'number' ? response.confidence : undefined,
		confidenceLevel: text(response.confidence_level),
		requiresHumanReview: response.requires_human_review === true,
		wasEscalated: response.was_escalated === true,
		alternatives: alternativesOf(response.alternatives_considered),
	};
}

const errorOf = (value: unknown): IDataObject | undefined =>
	isObject(value) && isObject(value.error) ? value.error : undefined;

const hasDecision = (value: unknown): boolean => typeof value === 'string' && value.trim() !== '';

/**
 * The clone's answer in an item: at the item's root when it has "decision", else under `field`.
 * Returns a message saying what is missing when the item holds no usable decision.
 */
export function cloneDecisionOf(json: IDataObject, field: string, itemIndex: number): CloneDecision | { problem: string } {
	if (hasDecision(json.decision)) return fromResponse(json);
	const nested = field === '' ? undefined : json[field];
	if (isObject(nested) && hasDecision(nested.decision)) return fromResponse(nested);
	const where = field === '' ? 'at its root' : `at its root or under "${field}"`;
	let problem = `Item ${itemIndex} has no decision to review: expected a non-empty "decision" text ${where}`;
	const error = errorOf(json) ?? errorOf(nested);
	if (typeof error?.message === 'string') {
		problem += `; it carries an error from an earlier step instead: ${error.message}`;
	} else if ('decision' in json || (isObject(nested) && 'decision' in nested)) {
		problem += '; its "decision" is empty or not text';
	}
	return { problem };
}
