import type { INodeParameters } from 'n8n-workflow';

import { configuredOutputs, needsReview, planRoutes, routeResponse } from '../nodes/CloMan/routing';

const decision = (fields: Record<string, unknown>) => ({
	decision: 'approve',
	confidence: 0.9,
	requires_human_review: false,
	was_escalated: false,
	...fields,
});

const names = (parameters: INodeParameters) => configuredOutputs(parameters).map((o) => o.displayName);

describe('outputs computed from parameters', () => {
	test('human review (the default)', () => {
		expect(names({})).toEqual(['Auto-Decided', 'Needs Review']);
		expect(names({ routeBy: 'review' })).toEqual(['Auto-Decided', 'Needs Review']);
	});
	test('one output', () => expect(names({ routeBy: 'single' })).toEqual(['Decision']));
	test('decision values with names, review output and fallback', () => {
		const parameters = {
			routeBy: 'decision',
			decisions: { values: [{ value: 'approve', outputName: 'Pay out' }, { value: 'deny' }] },
			divertReview: true,
			fallbackOutput: 'extra',
		};
		expect(names(parameters)).toEqual(['Pay out', 'deny', 'Needs Review', 'Other']);
		expect(names({ ...parameters, fallbackOutput: 'none', divertReview: false })).toEqual(['Pay out', 'deny']);
	});
	test('the function survives being evaluated from its source text, as n8n does', () => {
		// eslint-disable-next-line @typescript-eslint/no-implied-eval
		const rebuilt = new Function(`return (${configuredOutputs.toString()})`)() as typeof configuredOutputs;
		expect(rebuilt({ routeBy: 'decision', decisions: { values: [{ value: 'x' }] } })).toEqual([
			{ type: 'main', displayName: 'x' },
			{ type: 'main', displayName: 'Other' },
		]);
	});
});

describe('human review routing', () => {
	const plan = planRoutes({ routeBy: 'review', confidenceFloor: 0.8 });
	test.each([
		[decision({}), 0],
		[decision({ requires_human_review: true }), 1],
		[decision({ was_escalated: true }), 1],
		[decision({ confidence: 0.79 }), 1],
		[decision({ confidence: 0.8 }), 0],
		[decision({ decision: 'deny' }), 0],
	])('%p → output %p', (response, output) => expect(routeResponse(plan, response)).toBe(output));
	test('no floor when 0', () => expect(needsReview(decision({ confidence: 0.01 }), 0)).toBe(false));
	test('failed items go to Needs Review, never to Auto-Decided', () => expect(plan.failureOutput).toBe(1));
});

describe('decision value routing', () => {
	const base = { routeBy: 'decision', decisions: { values: [{ value: ' Approve ' }, { value: 'deny' }] } };
	test('matched trimmed and case-insensitively; unlisted to Other', () => {
		const plan = planRoutes(base);
		expect(routeResponse(plan, decision({ decision: 'APPROVE ' }))).toBe(0);
		expect(routeResponse(plan, decision({ decision: 'deny' }))).toBe(1);
		expect(routeResponse(plan, decision({ decision: 'escalate' }))).toBe(2);
		expect(plan.outputCount).toBe(3);
	});
	test('fallback to a listed decision, or discard', () => {
		const toDeny = planRoutes({ ...base, fallbackOutput: 'decision', fallbackDecision: 'DENY' });
		expect(routeResponse(toDeny, decision({ decision: 'maybe' }))).toBe(1);
		const discard = planRoutes({ ...base, fallbackOutput: 'none' });
		expect(routeResponse(discard, decision({ decision: 'maybe' }))).toBeUndefined();
		expect(discard.failureOutput).toBe(0);
	});
	test('items needing review diverted ahead of their decision', () => {
		const plan = planRoutes({ ...base, divertReview: true, confidenceFloor: 0.5 });
		expect(routeResponse(plan, decision({ requires_human_review: true }))).toBe(2);
		expect(routeResponse(plan, decision({ confidence: 0.4, decision: 'deny' }))).toBe(2);
		expect(routeResponse(plan, decision({ decision: 'other' }))).toBe(3);
		expect(plan.failureOutput).toBe(2);
	});
	test.each([
		[{ ...base, decisions: { values: [] } }, /at least one decision value/],
		[{ ...base, decisions: { values: [{ value: 'a' }, { value: ' A' }] } }, /listed twice/],
		[{ ...base, decisions: { values: [{ value: '' }] } }, /empty/],
		[{ ...base, fallbackOutput: 'decision', fallbackDecision: 'nope' }, /not one of the listed/],
		[{ routeBy: 'review', confidenceFloor: 1.5 }, /Confidence Floor/],
	])('contradictions are refused: %p', (parameters, message) => {
		expect(() => planRoutes(parameters as INodeParameters)).toThrow(message);
	});
	test('as an agent tool, everything comes out on output 0', () => {
		const plan = planRoutes({ ...base, divertReview: true }, true);
		expect(routeResponse(plan, decision({ requires_human_review: true }))).toBe(0);
		expect(plan.outputCount).toBe(1);
	});
});
