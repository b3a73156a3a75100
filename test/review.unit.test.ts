/**
 * The Review operation's pure parts: outputs and routing, reading an item, the page builder (escaping),
 * reading a submitted form, shaping the outputs, the link and the notification bodies.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { cloneDecisionOf } from '../nodes/CloMan/actions/review/items';
import { notificationBody, reviewLink } from '../nodes/CloMan/actions/review/link';
import { escapeHtml, pageHeaders, renderDonePage, renderReviewPage } from '../nodes/CloMan/actions/review/page';
import { noticeText } from '../nodes/CloMan/actions/review/page';
import type { ReviewEntry } from '../nodes/CloMan/actions/review/shape';
import { KEEP, OTHER, PAGE_SIZE, choicesFor, readState, readSubmission, reviewable, shapeOutputs } from '../nodes/CloMan/actions/review/shape';
import type { Choice, View } from '../nodes/CloMan/actions/review/state';
import { DEFAULT_VIEW, decodeView, encodeState, encodeView, needsPerson, shownEntries, tally } from '../nodes/CloMan/actions/review/state';
import { configuredOutputs, planReviewRoutes, routeReviewed } from '../nodes/CloMan/routing';
import { formFields, unescapeHtml } from './harness/review-page';

const names = (parameters: Record<string, unknown>) =>
	configuredOutputs({ operation: 'review', ...parameters } as never).map((output) => output.displayName);

describe('Review outputs', () => {
	const decisions = { values: [{ value: 'approve', outputName: 'Pay out' }, { value: 'deny' }] };
	test('decision mode: "Not Reviewed", the listed values, "Other" (with or without a limit)', () => {
		expect(names({ decisions })).toEqual(['Not Reviewed', 'Pay out', 'deny', 'Other']);
		expect(names({ decisions, reviewRouteBy: 'decision', limitWaitTime: true })).toEqual(['Not Reviewed', 'Pay out', 'deny', 'Other']);
	});
	test('one output: "Reviewed" alone without a limit; with one (the default) "Not Reviewed" first', () => {
		expect(names({ reviewRouteBy: 'single', decisions, limitWaitTime: false })).toEqual(['Reviewed']);
		expect(names({ reviewRouteBy: 'single', limitWaitTime: true })).toEqual(['Not Reviewed', 'Reviewed']);
		// the limit is on unless turned off
		expect(names({ reviewRouteBy: 'single' })).toEqual(['Not Reviewed', 'Reviewed']);
	});
	test('Decide\'s parameters do not change Review\'s outputs', () => {
		expect(names({ decisions, routeBy: 'single', divertReview: true, fallbackOutput: 'none' })).toEqual(['Not Reviewed', 'Pay out', 'deny', 'Other']);
	});
	test('routing by the final decision, trimmed and case-insensitive; failures never on a decision output', () => {
		const plan = planReviewRoutes({ decisions, limitWaitTime: true });
		expect(routeReviewed(plan, ' APPROVE ')).toBe(1);
		expect(routeReviewed(plan, 'deny')).toBe(2);
		expect(routeReviewed(plan, 'escalate')).toBe(3);
		expect([plan.failureOutput, plan.notReviewedOutput]).toEqual([0, 0]);
		expect(planReviewRoutes({ decisions }).failureOutput).toBe(0);
		const single = planReviewRoutes({ reviewRouteBy: 'single', decisions, limitWaitTime: false });
		expect([routeReviewed(single, 'x'), single.failureOutput, single.outputCount, single.notReviewedOutput]).toEqual([0, 0, 1, undefined]);
		const singleLimited = planReviewRoutes({ reviewRouteBy: 'single', limitWaitTime: true });
		expect([routeReviewed(singleLimited, 'x'), singleLimited.failureOutput, singleLimited.outputCount]).toEqual([1, 0, 2]);
		expect(() => planReviewRoutes({ decisions: { values: [] } })).toThrow('needs at least one decision value');
	});
});

describe('reading the clone\'s decision from an item', () => {
	test('root first, then the field; alternatives as objects or strings', () => {
		const root = cloneDecisionOf({ decision: ' deny ', confidence: 0.4, alternatives_considered: ['approve', { action: 'escalate', reason: 'r', confidence: 0.2 }, { nope: 1 }] }, 'cloman', 0);
		expect(root).toEqual({
			decision: 'deny',
			reasoning: '',
			confidence: 0.4,
			confidenceLevel: '',
			requiresHumanReview: false,
			wasEscalated: false,
			alternatives: [{ action: 'approve', reason: '' }, { action: 'escalate', reason: 'r', confidence: 0.2 }],
		});
		expect(cloneDecisionOf({ cloman: { decision: 'approve', was_escalated: true } }, 'cloman', 0)).toMatchObject({ decision: 'approve', wasEscalated: true });
	});
	test('what is missing, named', () => {
		expect(cloneDecisionOf({ decision: 5 }, 'cloman', 3)).toEqual({
			problem: 'Item 3 has no decision to review: expected a non-empty "decision" text at its root or under "cloman"; its "decision" is empty or not text',
		});
		expect(cloneDecisionOf({}, '', 0)).toEqual({ problem: 'Item 0 has no decision to review: expected a non-empty "decision" text at its root' });
	});
});

const clone = (decision: string, alternatives: string[] = []) => ({
	decision,
	reasoning: '',
	confidenceLevel: '',
	requiresHumanReview: false,
	wasEscalated: false,
	alternatives: alternatives.map((action) => ({ action, reason: '' })),
});

describe('the page builder', () => {
	const hostile = '<script>alert("x")</script>\'&';
	const html = renderReviewPage({
		title: hostile,
		message: hostile,
		action: '?signature=a"b&c',
		allowCustom: true,
		items: [
			{
				index: 7,
				title: hostile,
				details: hostile,
				clone: { ...clone(`deny${hostile}`, [`x${hostile}`]), reasoning: hostile, confidenceLevel: hostile, alternatives: [{ action: `x${hostile}`, reason: hostile }] },
				choices: [`x${hostile}`],
				needsPerson: false,
				typed: { decision: OTHER, custom: hostile, note: hostile },
				error: hostile,
			},
		],
		view: { ...DEFAULT_VIEW, decision: hostile },
		shown: 1,
		total: 1,
		tally: { kept: 0, changed: 1, open: 0 },
		state: { s: '~', t: JSON.stringify({ 0: [hostile, ''] }) },
		decisions: [hostile],
		bulkTargets: [hostile],
		attention: [7],
		notice: hostile,
		alerts: [hostile],
		notReviewable: 0,
		nonce: 'n"once',
	});

	test('escapes every text, in content and attributes', () => {
		expect(html).not.toContain('<script');
		expect(html).not.toMatch(/"b&c|a"b/);
		expect(escapeHtml(hostile)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;');
		// 10 places the text appears: title ×2, message, alert, h2, details, decision ×2 (kept label), reasoning, level, alternative…
		expect(html.split(escapeHtml(hostile)).length - 1).toBeGreaterThanOrEqual(10);
		expect(html).toContain('action="?signature=a&quot;b&amp;c"');
		expect(html).toContain('<style nonce="n&quot;once">');
	});

	test('the fields round-trip: what a browser sends is what was put in', () => {
		const fields = Object.fromEntries(formFields(html));
		expect(fields).toEqual({
			view: `${hostile.toLowerCase()}||||0`,
			state: '~',
			state_text: JSON.stringify({ 0: [hostile, ''] }),
			fd: hostile,
			ff: '',
			fc: '',
			sort: '',
			bulk_to: '',
			bulk_min: '80',
			decision_7: OTHER,
			custom_7: hostile,
			note_7: hostile,
			form_end: '1',
		});
		expect(unescapeHtml(escapeHtml(hostile))).toBe(hostile);
	});

	test('headers: CSP with the nonce, nothing else allowed', () => {
		expect(pageHeaders('abc')['Content-Security-Policy']).toBe(
			"default-src 'none'; style-src 'nonce-abc'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		);
	});

	test('the done page counts', () => {
		const done = renderDonePage('T', { kept: 2, changed: 1, failed: 1 }, 'n');
		expect(done).toContain('3 items: 2 kept as the clone decided, 1 changed.');
		expect(done).toContain('1 item without a decision went on with an error.');
	});
});

describe('reading a submitted form', () => {
	const entries: ReviewEntry[] = [
		{ index: 0, clone: clone('approve', ['escalate']) },
		{ index: 1, problem: 'no decision' },
		{ index: 2, clone: clone('deny') },
	];
	const rules = { allowCustom: true, listed: ['approve', 'deny'] };
	const base = { view: '', state: '', form_end: '1' };

	test('choices offered: listed then alternatives, once, without the clone\'s own', () => {
		expect(choicesFor(clone('Approve', ['deny', 'DENY ', 'escalate', 'approve']), ['approve', 'deny'])).toEqual(['deny', 'escalate']);
	});

	test('keep, listed value, alternative, free text; notes trimmed', () => {
		const result = readSubmission({ ...base, decision_0: 'escalate', note_0: '  why  ', decision_2: OTHER, custom_2: ' Refund half ' }, entries, rules);
		expect(result).toEqual({
			kind: 'done',
			keptRemaining: false,
			choices: new Map([
				[0, { decision: 'escalate', note: 'why' }],
				[2, { decision: 'Refund half', note: '' }],
			]),
		});
	});

	test('a repeated field (an array from n8n\'s parser) counts once, the first', () => {
		const result = readSubmission({ ...base, decision_0: ['deny', 'approve'], decision_2: KEEP }, entries, rules);
		expect(result.kind === 'done' && result.choices.get(0)).toEqual({ decision: 'deny', note: '' });
	});

	test('refusals: no choice, free text off, bad page number, cut form', () => {
		const missing = readSubmission({ ...base, decision_0: KEEP }, entries, rules);
		expect(missing.kind === 'invalid' && missing.errors.get(2)).toBe('No choice arrived for this item');
		const off = readSubmission({ ...base, decision_0: OTHER, custom_0: 'x', decision_2: KEEP }, entries, { ...rules, allowCustom: false });
		expect(off.kind === 'invalid' && off.errors.get(0)).toMatch(/turned off/);
		expect(readSubmission({ ...base, view: '||||3' }, entries, rules)).toMatchObject({ kind: 'invalid', general: [expect.stringMatching(/page position/)] });
		expect(readSubmission({ ...base, view: '|nope|||0' }, entries, rules)).toMatchObject({ kind: 'invalid', general: [expect.stringMatching(/page position/)] });
		expect(readSubmission({ view: '' }, entries, rules)).toMatchObject({ kind: 'invalid', general: [expect.stringMatching(/incomplete/)] });
	});

	test('paging: the next page carries the choices; the state is checked like a page', () => {
		const many: ReviewEntry[] = Array.from({ length: PAGE_SIZE + 3 }, (_, index) => ({ index, clone: clone('approve') }));
		const page1: Record<string, string> = { ...base };
		for (let i = 0; i < PAGE_SIZE; i++) page1[`decision_${i}`] = KEEP;
		page1.decision_4 = 'deny';
		page1.note_5 = 'n';
		const next = readSubmission(page1, many, rules);
		expect(next).toMatchObject({ kind: 'show', view: { ...DEFAULT_VIEW, start: PAGE_SIZE }, notice: '' });
		const carried = encodeState(reviewable(many), (next as { choices: Map<number, Choice> }).choices, rules);
		// one character per item up to the last chosen: "deny" is offered choice "a", "." kept with a note
		expect(carried).toEqual({ s: '----a.', t: '{"5":["","n"]}' });
		const page2: Record<string, string> = { ...base, view: `||||${PAGE_SIZE}`, state: carried.s, state_text: carried.t };
		for (let i = PAGE_SIZE; i < PAGE_SIZE + 3; i++) page2[`decision_${i}`] = KEEP;
		const done = readSubmission(page2, many, rules);
		expect(done.kind === 'done' && [...done.choices.entries()]).toEqual([
			[4, { decision: 'deny', note: '' }],
			[5, { decision: null, note: 'n' }],
		]);
		for (const [state, text] of [['x1', ''], ['-'.repeat(PAGE_SIZE + 4), ''], ['~', ''], ['~', '{"0":["not offered",""]}'], ['a', '{"0":["deny",""]}'], ['', '{"999":["","n"]}'], ['', 'nope'], ['', '[1]']]) {
			const bad = readSubmission({ ...page2, state, state_text: text }, many, { ...rules, allowCustom: false });
			expect(bad).toMatchObject({ kind: 'invalid', general: [expect.stringMatching(/damaged/)] });
		}
		// "keep all remaining" on page 1 finishes at once
		expect(readSubmission({ ...page1, keep_remaining: '1' }, many, rules).kind).toBe('done');
	});
});

describe('filters, order, bulk actions and items that need a person', () => {
	const rules = { allowCustom: true, listed: ['approve', 'deny'] };
	const confidences = [0.9, 0.3, 0.55, 0.2, undefined, 0.85];
	const entries: ReviewEntry[] = confidences.map((confidence, index) => ({
		index,
		clone: { ...clone(index % 2 ? 'deny' : 'approve', ['escalate']), confidence, wasEscalated: index === 5 },
	}));
	const list = reviewable(entries);
	const indexes = (view: Partial<View>, choices = new Map<number, Choice>()) =>
		shownEntries(list, choices, { ...DEFAULT_VIEW, ...view }, rules).map((entry) => entry.index);
	const keepAll = (ids: number[]) => Object.fromEntries(ids.map((i) => [`decision_${i}`, i === 5 ? '' : KEEP]));

	test('filter by the clone\'s decision, flag and confidence band; order by confidence (no confidence last)', () => {
		expect(indexes({ decision: 'deny' })).toEqual([1, 3, 5]);
		expect(indexes({ band: 'low' })).toEqual([1, 3]);
		expect(indexes({ band: 'medium' })).toEqual([2]);
		expect(indexes({ band: 'high' })).toEqual([0, 5]);
		expect(indexes({ flag: 'escalated' })).toEqual([5]);
		expect(indexes({ flag: 'open' })).toEqual([5]);
		expect(indexes({ sort: 'asc' })).toEqual([3, 1, 2, 5, 0, 4]);
		expect(indexes({ sort: 'desc' })).toEqual([0, 5, 2, 1, 3, 4]);
		expect(indexes({ flag: 'changed' }, new Map([[2, { decision: 'deny', note: '' }]]))).toEqual([2]);
		expect(indexes({ flag: 'open' }, new Map([[5, { decision: null, note: '' }]]))).toEqual([]);
	});

	test('the view round-trips through its text; a damaged one is refused', () => {
		const view: View = { decision: 'deny', flag: 'open', band: 'low', sort: 'asc', start: 250 };
		expect(decodeView(encodeView(view))).toEqual(view);
		for (const bad of ['a|b', '|x|||0', '||x||0', '|||x|0', '||||-1', '||||x']) expect(decodeView(bad)).toBeUndefined();
	});

	test('an escalated item is not preselected: a plain submit is refused, the view switches to it, other choices kept', () => {
		const result = readSubmission({ view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4, 5]), decision_1: 'approve', submit: '1' }, entries, rules);
		expect(result).toMatchObject({ kind: 'invalid', attention: [5], view: { flag: 'open', start: 0 } });
		expect((result as { general: string[] }).general[0]).toMatch(/1 item needs your decision/);
		expect((result as { choices: Map<number, Choice> }).choices.get(1)).toEqual({ decision: 'approve', note: '' });
		// "keep all remaining" does not pass it either
		expect(readSubmission({ view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4, 5]), keep_remaining: '1' }, entries, rules).kind).toBe('invalid');
		// chosen explicitly, "Keep" passes
		const kept = readSubmission({ view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4]), decision_5: KEEP, submit: '1' }, entries, rules);
		expect(kept.kind === 'done' && kept.choices.get(5)).toEqual({ decision: null, note: '' });
		// a decision not listed needs a person too
		expect(needsPerson(clone('refund half'), rules.listed)).toBe(true);
		expect(needsPerson(clone('refund half'), [])).toBe(false);
	});

	test('bulk: set every shown item (all pages of the filter), keep above a confidence; the page\'s own fields count first', () => {
		const low = { view: '||low||0', state: '', form_end: '1', ...keepAll([1, 3]) };
		const set = readSubmission({ ...low, decision_3: 'escalate', bulk_set: '1', bulk_to: 'approve' }, entries, rules);
		expect(set).toMatchObject({ kind: 'show', notice: 'set.2.0', view: { band: 'low', start: 0 } });
		const choices = (set as { choices: Map<number, Choice> }).choices;
		expect([...choices.entries()]).toEqual([
			[3, { decision: 'approve', note: '' }],
			[1, { decision: 'approve', note: '' }],
		]);
		const keep = readSubmission({ view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4, 5]), bulk_keep: '1', bulk_min: '80' }, entries, rules);
		expect(keep).toMatchObject({ kind: 'show', notice: 'keep.2.80' });
		expect((keep as { choices: Map<number, Choice> }).choices.get(5)).toEqual({ decision: null, note: '' });
		// 0 % also takes items without a confidence
		const all = readSubmission({ view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4, 5]), bulk_keep: '1', bulk_min: '0' }, entries, rules);
		expect(all).toMatchObject({ notice: 'keep.6.0' });
		// a value an item does not offer (free text off) leaves it as it was
		const strict = readSubmission({ ...low, bulk_set: '1', bulk_to: 'refund half' }, entries, { ...rules, allowCustom: false });
		expect(strict).toMatchObject({ kind: 'show', notice: 'set.0.2' });
		expect(noticeText('set.0.2')).toBe('0 items set. 2 items left as they were: that decision is not offered for them.');
		expect(noticeText('<b>.1.2')).toBe('');
	});

	test('"Show" applies the chosen filter from the first item; "go" moves; bad values are refused', () => {
		const form = { view: '', state: '', form_end: '1', ...keepAll([0, 1, 2, 3, 4, 5]) };
		expect(readSubmission({ ...form, apply_view: '1', fd: 'Deny', ff: 'escalated', fc: 'high', sort: 'desc' }, entries, rules)).toMatchObject({
			kind: 'show',
			view: { decision: 'deny', flag: 'escalated', band: 'high', sort: 'desc', start: 0 },
		});
		expect(readSubmission({ ...form, apply_view: '1', ff: 'nope' }, entries, rules).kind).toBe('invalid');
		expect(readSubmission({ ...form, go: '250' }, entries, rules)).toMatchObject({ kind: 'show', view: { start: 250 } });
		expect(readSubmission({ ...form, go: 'x' }, entries, rules).kind).toBe('invalid');
	});

	test('the carried choices: one character per item, texts apart; everything checked on the way back', () => {
		const choices = new Map<number, Choice>([
			[0, { decision: 'deny', note: '' }],
			[2, { decision: 'Refund half', note: 'why' }],
			[5, { decision: null, note: 'looked', open: true }],
		]);
		const encoded = encodeState(list, choices, rules);
		expect(encoded).toEqual({ s: 'a-~', t: '{"2":["Refund half","why"],"5":["","looked"]}' });
		expect(readState(encoded.s, encoded.t, list, rules)).toEqual(choices);
		expect(readState(encoded.s, encoded.t, list, { ...rules, allowCustom: false })).toBeUndefined();
		// 1,000 items all changed fit in 1,000 characters
		const big: ReviewEntry[] = Array.from({ length: 1000 }, (_, index) => ({ index, clone: clone('approve') }));
		const all = new Map(big.map((entry) => [entry.index, { decision: 'deny', note: '' }] as [number, Choice]));
		expect(encodeState(big, all, rules)).toEqual({ s: 'a'.repeat(1000), t: '' });
		expect(tally(big, all, rules)).toEqual({ kept: 0, changed: 1000, open: 0 });
	});
});

describe('shaping the outputs', () => {
	test('fields and binary kept, review added, failures with error, paired to the input', () => {
		const items: INodeExecutionData[] = [
			{ json: { id: 'a', cloman: { decision: 'approve' } }, binary: { file: { data: 'QQ==', mimeType: 'text/plain' } } },
			{ json: { id: 'b' } },
			{ json: { id: 'c', decision: 'deny' } },
		];
		const entries: ReviewEntry[] = [
			{ index: 0, clone: clone('approve') },
			{ index: 1, problem: 'Item 1 has no decision' },
			{ index: 2, clone: clone('deny') },
		];
		const plan = planReviewRoutes({ decisions: { values: [{ value: 'approve' }, { value: 'deny' }] } });
		const { outputs, counts } = shapeOutputs(items, entries, new Map([[2, { decision: 'approve', note: 'ok' }]]), plan, '2026-01-01T00:00:00.000Z', false);
		expect(counts).toEqual({ kept: 1, changed: 1, failed: 1 });
		expect(outputs[1]).toEqual([
			{
				json: { id: 'a', cloman: { decision: 'approve' }, review: { decision: 'approve', decided_by: 'clone', changed: false, note: '', reviewed_at: '2026-01-01T00:00:00.000Z', clone_decision: 'approve' } },
				binary: items[0].binary,
				pairedItem: { item: 0 },
			},
			{
				json: { id: 'c', decision: 'deny', review: { decision: 'approve', decided_by: 'reviewer', changed: true, note: 'ok', reviewed_at: '2026-01-01T00:00:00.000Z', clone_decision: 'deny' } },
				pairedItem: { item: 2 },
			},
		]);
		expect(outputs[2]).toEqual([]);
		expect(outputs[0]).toEqual([
			{ json: { id: 'b', error: expect.objectContaining({ kind: 'InputError', message: 'Item 1 has no decision', field: 'decisionField', item_index: 1 }) }, pairedItem: { item: 1 } },
		]);
		// with the error output: error-only json on output 0, for n8n to move
		const toError = shapeOutputs(items, entries, new Map(), plan, 'now', true).outputs;
		expect(toError[0][0]).toEqual({ json: { error: expect.objectContaining({ item_index: 1 }) }, pairedItem: { item: 1 } });
	});
});

describe('the link and the notification', () => {
	test('the node id goes into the path, the signature stays', () => {
		expect(reviewLink('https://n8n.example.com/webhook-waiting/42?signature=abc', 'node-1')).toEqual({
			url: 'https://n8n.example.com/webhook-waiting/42/node-1?signature=abc',
			signed: true,
		});
		expect(reviewLink('http://localhost:5678/webhook-waiting/42', 'n').signed).toBe(false);
		expect(reviewLink('http://localhost:5678/webhook-waiting/42?signature=', 'n').signed).toBe(false);
	});
	test('bodies per format', () => {
		const info = { title: 'Refunds', url: 'https://x/y?signature=s', itemCount: 3, executionId: '42' };
		expect(notificationBody('text', info)).toEqual({ text: 'Refunds: 3 items wait for your review (if the link says the execution is running, reload it a few seconds later): https://x/y?signature=s' });
		expect(notificationBody('discord', { ...info, itemCount: 1 })).toEqual({
			content: 'Refunds: 1 item waits for your review (if the link says the execution is running, reload it a few seconds later): https://x/y?signature=s',
			allowed_mentions: { parse: [] },
		});
		expect(notificationBody('generic', info)).toEqual({
			text: 'Refunds: 3 items wait for your review (if the link says the execution is running, reload it a few seconds later): https://x/y?signature=s',
			title: 'Refunds',
			url: 'https://x/y?signature=s',
			execution_id: '42',
			item_count: 3,
			expires_at: null,
		});
	});
});
