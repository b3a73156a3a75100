/**
 * The reviewer's work between requests, without anything kept on the server: the choices so far
 * (compact, in the form's hidden fields and in the address after each step) and the view (filter,
 * sort, position). Everything read back from a request is checked as strictly as a submitted page.
 */
import { normalizeDecision } from '../../routing';
import type { CloneDecision } from './items';

/** One input item as the review sees it: reviewable (the clone's decision) or not (why). */
export interface ReviewEntry {
	index: number;
	clone?: CloneDecision;
	problem?: string;
}

/**
 * A reviewer's choice for one item: the decision they set (null = keep the clone's) and a note.
 * `open` marks an item that needs a person (escalated, or a decision not listed) and has no choice
 * yet; only the note is kept for it.
 */
export interface Choice {
	decision: string | null;
	note: string;
	open?: boolean;
}

export interface ChoiceRules {
	allowCustom: boolean;
	listed: string[];
}

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

/**
 * Items a person must decide: the clone escalated them, or (when decision values are listed) its
 * decision is none of them. Neither submit button keeps their decision without an explicit choice.
 */
export function needsPerson(clone: CloneDecision, listed: string[]): boolean {
	if (clone.wasEscalated) return true;
	if (listed.length === 0) return false;
	const key = normalizeDecision(clone.decision);
	return !listed.some((value) => normalizeDecision(value) === key);
}

/** A needs-person item without a decision yet. */
export function isOpen(entry: ReviewEntry, choices: Map<number, Choice>, listed: string[]): boolean {
	const choice = choices.get(entry.index);
	return needsPerson(entry.clone!, listed) && (choice === undefined || choice.open === true);
}

// ---- the view -----------------------------------------------------------------------------------

export const FLAGS = ['', 'open', 'escalated', 'requested', 'changed', 'untouched'] as const;
export const BANDS = ['', 'low', 'medium', 'high'] as const;
export const SORTS = ['', 'asc', 'desc'] as const;
export type Flag = (typeof FLAGS)[number];
export type Band = (typeof BANDS)[number];
export type Sort = (typeof SORTS)[number];

export const FLAG_LABELS: Record<Flag, string> = {
	'': 'any',
	open: 'needs your decision',
	escalated: 'escalated',
	requested: 'review requested',
	changed: 'changed by you',
	untouched: 'not chosen yet',
};
export const BAND_LABELS: Record<Band, string> = { '': 'any', low: 'low (< 50%)', medium: 'medium (50–79%)', high: 'high (≥ 80%)' };
export const SORT_LABELS: Record<Sort, string> = { '': 'input order', asc: 'confidence, lowest first', desc: 'confidence, highest first' };

/** What the reviewer looks at: a filter, an order and the position of the first item shown. */
export interface View {
	/** The clone's decision, normalized ('' = any). */
	decision: string;
	flag: Flag;
	band: Band;
	sort: Sort;
	start: number;
}

export const DEFAULT_VIEW: View = { decision: '', flag: '', band: '', sort: '', start: 0 };

const bandOf = (confidence: number | undefined): Band | undefined =>
	confidence === undefined || !Number.isFinite(confidence)
		? undefined
		: confidence < 0.5
			? 'low'
			: confidence < 0.8
				? 'medium'
				: 'high';

/** Whether the view's filter differs from "everything". */
export const filtered = (view: View): boolean => view.decision !== '' || view.flag !== '' || view.band !== '';

/** The items of the view (all its pages): filtered, then sorted (stable: input order among equals). */
export function shownEntries(list: ReviewEntry[], choices: Map<number, Choice>, view: View, rules: ChoiceRules): ReviewEntry[] {
	const shown = list.filter((entry) => {
		const clone = entry.clone!;
		if (view.decision !== '' && normalizeDecision(clone.decision) !== view.decision) return false;
		if (view.band !== '' && bandOf(clone.confidence) !== view.band) return false;
		const choice = choices.get(entry.index);
		switch (view.flag) {
			case 'open':
				return isOpen(entry, choices, rules.listed);
			case 'escalated':
				return clone.wasEscalated;
			case 'requested':
				return clone.requiresHumanReview;
			case 'changed':
				return choice !== undefined && !choice.open && choice.decision !== null;
			case 'untouched':
				return choice === undefined || choice.open === true;
			default:
				return true;
		}
	});
	if (view.sort === '') return shown;
	const sign = view.sort === 'asc' ? 1 : -1;
	// Items without a confidence go last either way.
	const key = (entry: ReviewEntry) => {
		const confidence = entry.clone!.confidence;
		return confidence === undefined || !Number.isFinite(confidence) ? undefined : confidence;
	};
	return shown
		.map((entry, position) => ({ entry, position, confidence: key(entry) }))
		.sort((a, b) => {
			if (a.confidence === undefined || b.confidence === undefined) {
				if (a.confidence === b.confidence) return a.position - b.position;
				return a.confidence === undefined ? 1 : -1;
			}
			return sign * (a.confidence - b.confidence) || a.position - b.position;
		})
		.map(({ entry }) => entry);
}

/** The view as one text (a hidden field and the `v` of the address): "decision|flag|band|sort|start". */
export function encodeView(view: View): string {
	return [view.decision, view.flag, view.band, view.sort, String(view.start)].join('|');
}

/** A view read back; undefined when it is damaged. The decision filter is any text (it only selects). */
export function decodeView(raw: string): View | undefined {
	if (raw === '') return { ...DEFAULT_VIEW };
	const parts = raw.split('|');
	if (parts.length !== 5) return undefined;
	const [decision, flag, band, sort, start] = parts;
	if (!(FLAGS as readonly string[]).includes(flag) || !(BANDS as readonly string[]).includes(band)) return undefined;
	if (!(SORTS as readonly string[]).includes(sort) || !/^\d{1,7}$/.test(start)) return undefined;
	if (decision.length > 200) return undefined;
	return { decision: normalizeDecision(decision), flag: flag as Flag, band: band as Band, sort: sort as Sort, start: Number(start) };
}

// ---- the choices, compact -----------------------------------------------------------------------

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const UNTOUCHED = '-';
const KEPT = '.';
const TYPED = '~';

/** The carried choices: `s` one character per reviewable item, `t` the texts ({"<position>": [decision, note]}). */
export interface EncodedState {
	s: string;
	t: string;
}

/**
 * Compact form of the choices, so that they fit in the address after each step: per reviewable
 * item (input order) "-" nothing chosen, "." kept, a letter = the n-th offered choice, "~" = a decision
 * given as text in `t` (free text, or an offered choice past the 52nd). Notes go in `t` too.
 */
export function encodeState(list: ReviewEntry[], choices: Map<number, Choice>, rules: ChoiceRules): EncodedState {
	let s = '';
	const texts: Record<string, [string, string]> = {};
	list.forEach((entry, position) => {
		const choice = choices.get(entry.index);
		if (choice === undefined) {
			s += UNTOUCHED;
			return;
		}
		let char = UNTOUCHED;
		let text = '';
		if (!choice.open) {
			if (choice.decision === null) char = KEPT;
			else {
				const offered = choicesFor(entry.clone!, rules.listed).indexOf(choice.decision);
				if (offered >= 0 && offered < LETTERS.length) char = LETTERS[offered];
				else {
					char = TYPED;
					text = choice.decision;
				}
			}
		}
		s += char;
		if (text !== '' || choice.note !== '') texts[String(position)] = [text, choice.note];
	});
	return { s: s.replace(/-+$/, ''), t: Object.keys(texts).length ? JSON.stringify(texts) : '' };
}

export type DecisionCheck = (entry: ReviewEntry, value: string) => { decision: string | null } | { error: string };

/** The choices read back from `s` and `t`; undefined when anything in them is damaged or not allowed. */
export function decodeState(
	encoded: EncodedState,
	list: ReviewEntry[],
	rules: ChoiceRules,
	check: DecisionCheck,
	checkNote: (note: string) => string | undefined,
): Map<number, Choice> | undefined {
	const { s, t } = encoded;
	if (s.length > list.length || !/^[-.~a-zA-Z]*$/.test(s)) return undefined;
	let texts: Record<string, unknown> = {};
	if (t !== '') {
		try {
			const parsed: unknown = JSON.parse(t);
			if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
			texts = parsed as Record<string, unknown>;
		} catch {
			return undefined;
		}
	}
	const choices = new Map<number, Choice>();
	for (const [key, value] of Object.entries(texts)) {
		if (!/^\d+$/.test(key) || Number(key) >= list.length) return undefined;
		if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') return undefined;
		if (checkNote(value[1]) !== undefined) return undefined;
	}
	for (let position = 0; position < list.length; position++) {
		const entry = list[position];
		const char = s[position] ?? UNTOUCHED;
		const text = texts[String(position)] as [string, string] | undefined;
		const note = text?.[1] ?? '';
		if (char !== TYPED && text !== undefined && text[0] !== '') return undefined;
		if (char === UNTOUCHED) {
			if (note === '') continue;
			choices.set(entry.index, needsPerson(entry.clone!, rules.listed) ? { decision: null, note, open: true } : { decision: null, note });
			continue;
		}
		if (char === KEPT) {
			choices.set(entry.index, { decision: null, note });
			continue;
		}
		let value: string;
		if (char === TYPED) {
			if (text === undefined) return undefined;
			value = text[0];
		} else {
			const offered = choicesFor(entry.clone!, rules.listed)[LETTERS.indexOf(char)];
			if (offered === undefined) return undefined;
			value = offered;
		}
		const result = check(entry, value);
		if ('error' in result) return undefined;
		choices.set(entry.index, { decision: result.decision, note });
	}
	return choices;
}

// ---- counts and bulk actions --------------------------------------------------------------------

export interface Tally {
	/** Items that will keep the clone's decision (chosen or not), not counting open ones. */
	kept: number;
	changed: number;
	/** Needs-person items without a decision yet. */
	open: number;
}

export function tally(list: ReviewEntry[], choices: Map<number, Choice>, rules: ChoiceRules): Tally {
	const counts: Tally = { kept: 0, changed: 0, open: 0 };
	for (const entry of list) {
		const choice = choices.get(entry.index);
		if (isOpen(entry, choices, rules.listed)) counts.open++;
		else if (choice !== undefined && choice.decision !== null) counts.changed++;
		else counts.kept++;
	}
	return counts;
}

/** Set every shown item to `value` (a decision, or null = keep); items that do not offer it are left. Returns [set, left]. */
export function bulkSet(shown: ReviewEntry[], choices: Map<number, Choice>, value: string | null, check: DecisionCheck): [number, number] {
	let set = 0;
	let left = 0;
	for (const entry of shown) {
		const note = choices.get(entry.index)?.note ?? '';
		if (value === null) {
			choices.set(entry.index, { decision: null, note });
			set++;
			continue;
		}
		const result = check(entry, value);
		if ('error' in result) {
			left++;
			continue;
		}
		choices.set(entry.index, { decision: result.decision, note });
		set++;
	}
	return [set, left];
}

/** Keep the clone's decision for every shown item whose confidence is at least `min` (0 also takes items without one). */
export function bulkKeepAbove(shown: ReviewEntry[], choices: Map<number, Choice>, min: number): number {
	let kept = 0;
	for (const entry of shown) {
		const confidence = entry.clone!.confidence;
		const known = confidence !== undefined && Number.isFinite(confidence);
		if (known ? confidence < min : min > 0) continue;
		choices.set(entry.index, { decision: null, note: choices.get(entry.index)?.note ?? '' });
		kept++;
	}
	return kept;
}
