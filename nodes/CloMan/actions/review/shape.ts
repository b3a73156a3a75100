import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { normalizeDecision, routeReviewed } from '../../routing';
import type { ReviewPlan } from '../../routing';
import { inputFailure } from '../../transport/errors';
import { failedItem, failureJson } from '../failures';
import type { Reviewer } from './access';
import { earlierReviewersOf } from './access';
import type { CloneDecision } from './items';
import type { Choice, ChoiceRules, ReviewEntry, View } from './state';
import {
	BANDS,
	DEFAULT_VIEW,
	FLAGS,
	SORTS,
	bulkKeepAbove,
	bulkSet,
	choicesFor,
	decodeState,
	decodeView,
	isOpen,
	needsPerson,
	shownEntries,
} from './state';

export type { Choice, ChoiceRules, ReviewEntry, View } from './state';
export { choicesFor } from './state';

/** Select value: keep the clone's decision. */
export const KEEP = '__keep__';
/** Select value: the decision typed into custom_<i>. */
export const OTHER = '__other__';
/** Select value of an item that needs a person and has no decision yet. */
export const UNSET = '';
/**
 * Items per page. n8n parses a form body with at most 1,000 fields (querystring's maxKeys, and
 * formidable's maxFields for multipart) and silently drops the rest; an item has 3 fields, so a page
 * holds 250 items (about 760 fields with the page's own). Bigger batches are reviewed page by page,
 * the choices carried in the form ("state", see state.ts); only a final submit resumes the run.
 */
export const PAGE_SIZE = 250;
export const MAX_NOTE_CHARS = 2_000;
export const MAX_DECISION_CHARS = 200;

/** What the reviewer typed for one item, shown again when the page comes back with an error. */
export interface Typed {
	decision: string;
	custom: string;
	note: string;
}

export type Submission =
	| {
			kind: 'invalid';
			general: string[];
			errors: Map<number, string>;
			typed: Map<number, Typed>;
			/** The items the alert links to. */
			attention: number[];
			view: View;
			choices: Map<number, Choice>;
	  }
	| { kind: 'show'; view: View; choices: Map<number, Choice>; notice: string }
	| { kind: 'done'; choices: Map<number, Choice>; keptRemaining: boolean };

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

/** Check one chosen decision (not KEEP): a choice offered, or free text when allowed. */
export function checkDecision(entry: ReviewEntry, value: string, rules: ChoiceRules): { decision: string | null } | { error: string } {
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

export function checkNote(note: string): string | undefined {
	return note.length > MAX_NOTE_CHARS
		? `The note has ${note.length} characters; at most ${MAX_NOTE_CHARS} are allowed`
		: undefined;
}

/** The carried choices ("state" + "state_text" fields, or `s` + `t` of the address); undefined when damaged. */
export function readState(s: string, t: string, list: ReviewEntry[], rules: ChoiceRules): Map<number, Choice> | undefined {
	return decodeState({ s, t }, list, rules, (entry, value) => checkDecision(entry, value, rules), checkNote);
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The filter and order chosen in the form's view controls. */
function chosenView(body: IDataObject): View | undefined {
	const flag = field(body, 'ff') ?? '';
	const band = field(body, 'fc') ?? '';
	const sort = field(body, 'sort') ?? '';
	if (!(FLAGS as readonly string[]).includes(flag) || !(BANDS as readonly string[]).includes(band)) return undefined;
	if (!(SORTS as readonly string[]).includes(sort)) return undefined;
	const decision = normalizeDecision(field(body, 'fd') ?? '');
	if (decision.length > MAX_DECISION_CHARS) return undefined;
	return { ...DEFAULT_VIEW, decision, flag: flag as View['flag'], band: band as View['band'], sort: sort as View['sort'] };
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
 * The page's own fields are merged into the carried choices first (so no button loses them), then the
 * button pressed acts: show another view or page ("show"), a bulk action ("show"), or finish ("done").
 * A form that arrived incomplete, choices that are not allowed, a damaged carried state, or a finish
 * while items that need a person have no decision come back as "invalid", nothing lost.
 */
export function readSubmission(body: IDataObject, entries: ReviewEntry[], rules: ChoiceRules): Submission {
	const list = reviewable(entries);
	const typed = new Map<number, Typed>();
	const errors = new Map<number, string>();
	const invalid = (message: string, view: View = { ...DEFAULT_VIEW }, choices = new Map<number, Choice>()): Submission => ({
		kind: 'invalid',
		general: [message],
		errors,
		typed,
		attention: [],
		view,
		choices,
	});
	if (field(body, 'form_end') === undefined) {
		return invalid(
			'The form arrived incomplete (n8n reads at most 1,000 form fields, or the page was altered), so nothing was recorded. Open the review link again.',
		);
	}
	const before = readState(field(body, 'state') ?? '', field(body, 'state_text') ?? '', list, rules);
	if (before === undefined) {
		return invalid('The choices carried in the form are damaged. Open the review link again to start over.');
	}
	const view = decodeView(field(body, 'view') ?? '');
	const shownBefore = view && shownEntries(list, before, view, rules);
	if (view === undefined || shownBefore === undefined || (view.start > 0 && view.start >= shownBefore.length)) {
		return invalid('The page position of the form is not valid. Open the review link again.');
	}

	// 1. This page's fields, into a copy of the carried choices. Fields for items not on this page
	// (not shown, or not in the batch at all) mean a form that is not this page's: nothing is taken.
	const choices = new Map(before);
	const page = shownBefore.slice(view.start, view.start + PAGE_SIZE);
	const unknown = unknownItemFields(body, page);
	if (unknown.length > 0) {
		return invalid(
			`The form carries choices for items that are not on this page (${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}), so nothing was recorded. Open the review link again.`,
			view,
			before,
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
		if (chosen === UNSET && needsPerson(entry.clone!, rules.listed)) {
			if (note === '') choices.delete(i);
			else choices.set(i, { decision: null, note, open: true });
			continue;
		}
		if (chosen === KEEP) {
			if (note === '' && !needsPerson(entry.clone!, rules.listed)) choices.delete(i);
			else choices.set(i, { decision: null, note });
			continue;
		}
		if (chosen === OTHER && !rules.allowCustom) {
			errors.set(i, 'Typing your own decision is turned off for this review; choose one from the list');
			continue;
		}
		const result = checkDecision(entry, chosen === OTHER ? custom : chosen, rules);
		if ('error' in result) errors.set(i, result.error);
		else choices.set(i, { decision: result.decision, note });
	}
	if (errors.size > 0) {
		// Nothing of this page is taken: it comes back as typed, with the carried choices unchanged.
		return {
			kind: 'invalid',
			general: [`${plural(errors.size, 'item needs', 'items need')} your attention; nothing on this page was recorded yet.`],
			errors,
			typed,
			attention: [...errors.keys()],
			view,
			choices: before,
		};
	}

	// 2. The button.
	const stay = (notice: string, next: View = view): Submission => ({ kind: 'show', view: next, choices, notice });
	if (field(body, 'apply_view') !== undefined) {
		const chosen = chosenView(body);
		if (chosen === undefined) return invalid('The filter of the form is not valid. Open the review link again.', view, choices);
		return stay('', chosen);
	}
	const go = field(body, 'go');
	if (go !== undefined) {
		if (!/^\d{1,7}$/.test(go)) return invalid('The page position of the form is not valid. Open the review link again.', view, choices);
		return stay('', { ...view, start: Number(go) });
	}
	const shownNow = () => shownEntries(list, choices, view, rules);
	if (field(body, 'bulk_set') !== undefined) {
		const to = field(body, 'bulk_to') ?? '';
		if (to === '') return stay('pick');
		const [set, left] = bulkSet(shownNow(), choices, to === KEEP ? null : to, (entry, value) => checkDecision(entry, value, rules));
		return stay(`set.${set}.${left}`, { ...view, start: 0 });
	}
	if (field(body, 'bulk_keep') !== undefined) {
		const min = field(body, 'bulk_min') ?? '';
		if (!/^\d{1,3}$/.test(min) || Number(min) > 100) return invalid('The confidence of the form is not valid.', view, choices);
		const kept = bulkKeepAbove(shownNow(), choices, Number(min) / 100);
		return stay(`keep.${kept}.${min}`, { ...view, start: 0 });
	}
	const keptRemaining = field(body, 'keep_remaining') !== undefined;
	if (!keptRemaining && view.start + PAGE_SIZE < shownBefore.length) {
		// "Save and show the next items": the items of this page that left the view (a filter on what is
		// chosen) no longer take a place, so the next page starts that much earlier.
		const stillShown = new Set(shownNow().map((entry) => entry.index));
		const gone = page.filter((entry) => !stillShown.has(entry.index)).length;
		return stay('', { ...view, start: view.start + PAGE_SIZE - gone });
	}

	// 3. Finish: every item that needs a person must have a decision.
	const open = list.filter((entry) => isOpen(entry, choices, rules.listed));
	if (open.length > 0) {
		return {
			kind: 'invalid',
			general: [
				`${plural(open.length, 'item needs', 'items need')} your decision before the review can be submitted: the clone escalated ${open.length === 1 ? 'it' : 'them'}, or its decision is not one of the listed values. Nothing was submitted yet; your other choices are kept. They are shown below.`,
			],
			errors,
			typed,
			attention: open.map((entry) => entry.index),
			view: { ...DEFAULT_VIEW, flag: 'open' },
			choices,
		};
	}
	return { kind: 'done', choices, keptRemaining };
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
