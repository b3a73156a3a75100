import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { normalizeDecision, routeReviewed } from '../../routing';
import type { ReviewPlan } from '../../routing';
import { inputFailure, isObject } from '../../transport/errors';
import { failedItem, failureJson } from '../failures';
import type { Reviewer } from './access';
import { earlierReviewersOf } from './access';
import type { CloneDecision } from './items';

/** Select value: keep the clone's decision. */
export const KEEP = '__keep__';
/** Select value: the decision typed into custom_<i>. */
export const OTHER = '__other__';
/**
 * Items per page. n8n parses a form body with at most 1,000 fields (querystring's maxKeys, and
 * formidable's maxFields for multipart) and silently drops the rest; an item has 3 fields, so a page
 * holds 250 items (754 fields with the page's own). Bigger batches are reviewed page by page, the
 * earlier pages' choices carried in the form ("state"); only the last submit resumes the run.
 */
export const PAGE_SIZE = 250;
export const MAX_NOTE_CHARS = 2_000;
export const MAX_DECISION_CHARS = 200;

/** One input item as the review sees it: reviewable (the clone's decision) or not (why). */
export interface ReviewEntry {
	index: number;
	clone?: CloneDecision;
	problem?: string;
}

/** A reviewer's choice for one item: the decision they set (null = keep the clone's) and a note. */
export interface Choice {
	decision: string | null;
	note: string;
}

/** What the reviewer typed for one item, shown again when the page comes back with an error. */
export interface Typed {
	decision: string;
	custom: string;
	note: string;
}

export type Submission =
	| { kind: 'invalid'; general: string[]; errors: Map<number, string>; typed: Map<number, Typed>; start: number; state: string }
	| { kind: 'next'; start: number; state: string }
	| { kind: 'done'; choices: Map<number, Choice>; keptRemaining: boolean };

/** Choices offered besides "keep": the listed values, then the alternatives, without the clone's own, once each. */
export function choicesFor(clone: CloneDecision, listed: string[]): string[] {
	const seen = new Set([normalizeDecision(clone.decision)]);
	const choices: string[] = [];
	for (const value of [...listed, ...clone.alternatives.map((alternative) => alternative.action)]) {
		const key = normalizeDecision(value);
		if (key === '' || seen.has(key)) continue;
		seen.add(key);
		choices.push(value.trim());
	}
	return choices;
}

/** Entries that can be reviewed, in input order: the page numbers its positions. */
export function reviewable(entries: ReviewEntry[]): ReviewEntry[] {
	return entries.filter((entry) => entry.clone !== undefined);
}

/** A form value as n8n's body parser gives it: a string, or an array when the name repeats. */
function field(body: IDataObject, name: string): string | undefined {
	const value = body[name];
	if (Array.isArray(value)) return value.length ? String(value[0]) : undefined;
	return typeof value === 'string' ? value : undefined;
}

interface ChoiceRules {
	allowCustom: boolean;
	listed: string[];
}

/** Check one chosen decision (not KEEP): a choice offered, or free text when allowed. */
function checkDecision(entry: ReviewEntry, value: string, rules: ChoiceRules): { decision: string | null } | { error: string } {
	const clone = entry.clone as CloneDecision;
	const decision = value.trim();
	if (decision === '') return { error: 'Type the decision you want, or choose one from the list' };
	if (decision.length > MAX_DECISION_CHARS) {
		return { error: `The decision has ${decision.length} characters; at most ${MAX_DECISION_CHARS} are allowed` };
	}
	const key = normalizeDecision(decision);
	if (key === normalizeDecision(clone.decision)) return { decision: null };
	const offered = choicesFor(clone, rules.listed).find((choice) => normalizeDecision(choice) === key);
	if (offered !== undefined) return { decision: offered };
	if (!rules.allowCustom) return { error: `"${decision}" is not one of the decisions offered for this item` };
	return { decision };
}

function checkNote(note: string): string | undefined {
	return note.length > MAX_NOTE_CHARS
		? `The note has ${note.length} characters; at most ${MAX_NOTE_CHARS} are allowed`
		: undefined;
}

/** The choices of earlier pages, as carried in the form: {"<index>": [decision or null, note]}. */
function readState(raw: string, before: ReviewEntry[], rules: ChoiceRules): Map<number, Choice> | undefined {
	if (raw.trim() === '') return new Map();
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch {
		return undefined;
	}
	if (!isObject(parsed)) return undefined;
	const byIndex = new Map(before.map((entry) => [entry.index, entry]));
	const choices = new Map<number, Choice>();
	for (const [key, value] of Object.entries(parsed)) {
		const entry = byIndex.get(Number(key));
		if (!/^\d+$/.test(key) || entry === undefined || !Array.isArray(value) || value.length !== 2) return undefined;
		const [decision, note] = value as unknown[];
		if (typeof note !== 'string' || checkNote(note) !== undefined) return undefined;
		if (decision !== null && typeof decision !== 'string') return undefined;
		let checked: string | null = null;
		if (typeof decision === 'string') {
			const result = checkDecision(entry, decision, rules);
			if ('error' in result) return undefined;
			checked = result.decision;
		}
		choices.set(entry.index, { decision: checked, note });
	}
	return choices;
}

function writeState(choices: Map<number, Choice>): string {
	const state: Record<string, [string | null, string]> = {};
	for (const [index, choice] of choices) {
		if (choice.decision !== null || choice.note !== '') state[String(index)] = [choice.decision, choice.note];
	}
	return Object.keys(state).length ? JSON.stringify(state) : '';
}

/** Item fields (decision_<i>, custom_<i>, note_<i>) of the body whose item is not on the submitted page. */
function unknownItemFields(body: IDataObject, page: ReviewEntry[]): string[] {
	const onPage = new Set(page.map((entry) => String(entry.index)));
	return Object.keys(body).filter((name) => {
		const match = /^(?:decision|custom|note)_(\d+)$/.exec(name);
		return match !== null && !onPage.has(match[1]);
	});
}

/**
 * Read a submitted page. Nothing here resumes anything: the caller resumes the run only on "done".
 * A form that arrived incomplete, choices that are not allowed or a damaged carried state come back
 * as "invalid" with what the reviewer typed, so the page can be shown again.
 */
export function readSubmission(body: IDataObject, entries: ReviewEntry[], rules: ChoiceRules): Submission {
	const list = reviewable(entries);
	const typed = new Map<number, Typed>();
	const errors = new Map<number, string>();
	const general: string[] = [];
	const rawStart = field(body, 'page_start') ?? '';
	const start = /^\d+$/.test(rawStart) ? Number(rawStart) : -1;
	const rawState = field(body, 'state') ?? '';
	const invalid = (message: string, at = 0): Submission => ({
		kind: 'invalid',
		general: [message],
		errors,
		typed,
		start: at,
		state: '',
	});
	if (field(body, 'form_end') === undefined) {
		return invalid(
			'The form arrived incomplete (n8n reads at most 1,000 form fields, or the page was altered), so nothing was recorded. Open the review link again.',
		);
	}
	if (start < 0 || start % PAGE_SIZE !== 0 || (start >= list.length && list.length > 0)) {
		return invalid('The page number of the form is not valid. Open the review link again.');
	}
	const state = readState(rawState, list.slice(0, start), rules);
	if (state === undefined) {
		return invalid('The choices carried from the earlier pages are damaged. Open the review link again to start over.');
	}

	const page = list.slice(start, start + PAGE_SIZE);
	const unknown = unknownItemFields(body, page);
	if (unknown.length > 0) {
		return invalid(
			`The form carries choices for items that are not on this page (${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}), so nothing was recorded. Open the review link again.`,
		);
	}
	for (const entry of page) {
		const i = entry.index;
		const chosen = field(body, `decision_${i}`);
		const custom = field(body, `custom_${i}`) ?? '';
		const note = (field(body, `note_${i}`) ?? '').trim();
		typed.set(i, { decision: chosen ?? KEEP, custom, note });
		const noteError = checkNote(note);
		if (chosen === undefined) {
			errors.set(i, 'No choice arrived for this item');
			continue;
		}
		if (noteError) {
			errors.set(i, noteError);
			continue;
		}
		if (chosen === KEEP) {
			state.set(i, { decision: null, note });
			continue;
		}
		if (chosen === OTHER && !rules.allowCustom) {
			errors.set(i, 'Typing your own decision is turned off for this review; choose one from the list');
			continue;
		}
		const result = checkDecision(entry, chosen === OTHER ? custom : chosen, rules);
		if ('error' in result) errors.set(i, result.error);
		else state.set(i, { decision: result.decision, note });
	}
	if (errors.size > 0) {
		general.push(`${errors.size} item${errors.size === 1 ? '' : 's'} need${errors.size === 1 ? 's' : ''} your attention; nothing was recorded yet.`);
		return { kind: 'invalid', general, errors, typed, start, state: rawState };
	}
	const keptRemaining = field(body, 'keep_remaining') !== undefined;
	if (!keptRemaining && start + PAGE_SIZE < list.length) {
		return { kind: 'next', start: start + PAGE_SIZE, state: writeState(state) };
	}
	return { kind: 'done', choices: state, keptRemaining };
}

export interface ReviewRecord extends IDataObject {
	decision: string;
	decided_by: 'reviewer' | 'clone';
	changed: boolean;
	note: string;
	reviewed_at: string;
	clone_decision: string;
	/** Who reviewed (not set under "Anyone With the Link"): the n8n user, or the named reviewer of a personal link (no id). */
	reviewed_by?: Partial<Reviewer>;
	/** Who reviewed the item in earlier Review steps (the four-eyes trail), when any did. */
	earlier_reviewers?: Array<Partial<Reviewer>>;
}

/** A reviewer as written on the item: without an id when there is none (a personal link names a person, not an n8n user). */
function recorded(reviewer: Reviewer): Partial<Reviewer> {
	return reviewer.id === '' ? { email: reviewer.email, name: reviewer.name } : { ...reviewer };
}

export interface ShapeCounts {
	kept: number;
	changed: number;
	failed: number;
}

/**
 * The outputs the run resumes with: every input item exactly once, its fields and binary kept, plus
 * `review`; paired to its input. Items that could not be reviewed (only under "Continue") go, with
 * `error`, to the plan's failure output or the error output.
 */
export function shapeOutputs(
	items: INodeExecutionData[],
	entries: ReviewEntry[],
	choices: Map<number, Choice>,
	plan: ReviewPlan,
	reviewedAt: string,
	toErrorOutput: boolean,
	reviewer?: Reviewer,
): { outputs: INodeExecutionData[][]; counts: ShapeCounts } {
	const outputs: INodeExecutionData[][] = Array.from({ length: plan.outputCount }, () => []);
	const counts: ShapeCounts = { kept: 0, changed: 0, failed: 0 };
	items.forEach((item, i) => {
		const entry = entries[i];
		const base: INodeExecutionData = { json: item.json, pairedItem: { item: i } };
		if (item.binary) base.binary = item.binary;
		if (entry.clone === undefined) {
			counts.failed++;
			const error = failureJson(inputFailure('decisionField', entry.problem ?? 'Item could not be reviewed'), i);
			// With "using error output", n8n moves the item from output 0 to the error output.
			outputs[toErrorOutput ? 0 : plan.failureOutput].push(failedItem(item, i, error, toErrorOutput));
			return;
		}
		const choice = choices.get(i) ?? { decision: null, note: '' };
		const changed = choice.decision !== null;
		const decision = choice.decision ?? entry.clone.decision;
		if (changed) counts.changed++;
		else counts.kept++;
		const review: ReviewRecord = {
			decision,
			decided_by: changed ? 'reviewer' : 'clone',
			changed,
			note: choice.note,
			reviewed_at: reviewedAt,
			clone_decision: entry.clone.decision,
		};
		if (reviewer) review.reviewed_by = recorded(reviewer);
		const earlier = earlierReviewersOf(item.json);
		if (earlier.length > 0) review.earlier_reviewers = earlier.map(recorded);
		outputs[routeReviewed(plan, decision)].push({ ...base, json: { ...item.json, review } });
	});
	return { outputs, counts };
}
