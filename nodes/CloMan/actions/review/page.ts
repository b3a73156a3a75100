/**
 * The review page: plain HTML forms, no framework, no script, no external resource. Every text that
 * comes from CloMan, from the items or from the node's parameters goes through `escapeHtml`, in
 * element content and in attribute values alike. The one inline style sheet is allowed by a nonce
 * in the Content-Security-Policy the page is sent with (see `pageHeaders`).
 */
import type { CloneDecision } from './items';
import type { Typed } from './shape';
import { KEEP, MAX_DECISION_CHARS, MAX_NOTE_CHARS, OTHER, PAGE_SIZE, UNSET } from './shape';
import type { Choice, EncodedState, Tally, View } from './state';
import { BANDS, BAND_LABELS, FLAGS, FLAG_LABELS, SORTS, SORT_LABELS, encodeView } from './state';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Unicode's explicit direction controls (embeddings, overrides, isolates: U+202A–202E, U+2066–2069).
 * Shown as a visible "[U+202E]" so item data cannot reorder what the reviewer reads (an unclosed
 * U+202E after a name turns "205 USD" into "DSU 502"). Marks (U+200E/200F/061C) stay: they reorder nothing past the field.
 */
const DIRECTION_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

function showControls(text: string): string {
	return text.replace(DIRECTION_CONTROLS, (char) => `[U+${char.charCodeAt(0).toString(16).toUpperCase()}]`);
}

function escapeOnly(value: unknown): string {
	return String(value ?? '').replace(/[&<>"']/g, (char) => ENTITIES[char]);
}

/** Text for HTML element content or a quoted attribute value; direction controls made visible. */
export function escapeHtml(value: unknown): string {
	return escapeOnly(showControls(String(value ?? '')));
}

/** A form control's value that must come back as it was (an option value, typed text): escaped only. */
export function escapeValue(value: unknown): string {
	return escapeOnly(value);
}

/**
 * Data shown as text (from the items, CloMan or parameters): escaped, direction controls made
 * visible, and isolated in <bdi> so right-to-left text cannot move the text around it.
 */
export function text(value: unknown): string {
	return `<bdi>${escapeHtml(value)}</bdi>`;
}

/** Response headers of every page: a CSP that allows only the page's own style sheet and a same-origin form. */
export function pageHeaders(nonce: string): Record<string, string> {
	return {
		'Content-Type': 'text/html; charset=utf-8',
		'Content-Security-Policy': [
			"default-src 'none'",
			`style-src 'nonce-${nonce}'`,
			"form-action 'self'",
			"base-uri 'none'",
			"frame-ancestors 'none'",
		].join('; '),
		'X-Content-Type-Options': 'nosniff',
		'X-Frame-Options': 'DENY',
		'Referrer-Policy': 'no-referrer',
		'Cache-Control': 'no-store',
	};
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:80rem;margin:0 auto;padding:.6rem 1rem 5rem}
h1{font-size:1.3rem;margin:.3rem 0}
.lead,.progress{color:#4a5264;white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0}
.err,.alert{color:#b71c1c;font-weight:600}
.alert{background:#fdecea;border-radius:.4rem;padding:.5rem .6rem;margin:.4rem 0}
.alert a{color:#b71c1c}
.notice{background:#e8f0fe;border-radius:.4rem;padding:.5rem .6rem;margin:.4rem 0}
.tools{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:end;background:#fff;border:1px solid #d9dde5;border-radius:.5rem;padding:.5rem .6rem;margin:.4rem 0}
.tools fieldset{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.3rem;align-items:end}
.tools legend{font-weight:600;font-size:.85rem;padding:0;margin-bottom:.15rem}
.tools label{font-size:.8rem;color:#4a5264;display:flex;flex-direction:column}
.counts{font-size:.95rem;margin:.3rem 0}
.counts b{font-weight:600}
.who{font-weight:600}
bdi{unicode-bidi:isolate}
select,input,textarea{font:inherit;padding:.25rem .35rem;border:1px solid #b8bfcc;border-radius:.3rem;background:#fff;max-width:100%}
textarea{width:100%}
button{font:inherit;padding:.3rem .7rem;border-radius:.35rem;border:1px solid #2d4fd6;background:#fff;color:#2d4fd6;cursor:pointer}
button.primary{background:#2d4fd6;color:#fff}
.list{background:#fff;border:1px solid #d9dde5;border-radius:.5rem}
.item{display:grid;grid-template-columns:minmax(0,1fr) 11rem 9rem 15rem;grid-template-areas:"t c f p" "d d d d";gap:0 .6rem;align-items:center;padding:.3rem .6rem;border-top:1px solid #e6e9ef;scroll-margin-top:1rem}
.item:first-child{border-top:0}
.item.need{box-shadow:inset 4px 0 #e08a00}
.item.bad{box-shadow:inset 4px 0 #c62828;background:#fff8f7}
.item:target{background:#fffbe6}
.item h2{grid-area:t;font-size:.95rem;font-weight:600;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.clone{grid-area:c;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.clone b{font-weight:600}
.meta{color:#4a5264;font-size:.85rem}
.flags{grid-area:f;white-space:nowrap;overflow:hidden}
.flag{display:inline-block;background:#fff4e5;color:#7a4300;border-radius:.3rem;padding:0 .3rem;margin-right:.2rem;font-size:.78rem}
.flag.need{background:#e08a00;color:#fff}
.pick{grid-area:p}
.pick select,.pick input{width:100%}
.pick .custom{display:none;margin-top:.2rem}
.item:has(option[value="__other__"]:checked) .custom{display:block}
.item>details{grid-area:d;min-width:0}
.item>details>summary{cursor:pointer;color:#4a5264;font-size:.85rem;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.item>details[open]>summary{white-space:normal}
.more{padding:.2rem 0 .4rem 1rem;font-size:.9rem}
.more p{margin:.2rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.alts{margin:.2rem 0 .3rem 1.1rem;padding:0;overflow-wrap:anywhere}
.more label{display:block;font-size:.85rem;color:#333a48;margin-top:.3rem}
.err{grid-column:1/-1;margin:.1rem 0}
.pages{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
.actions{position:sticky;bottom:0;background:#f4f5f7;border-top:1px solid #d9dde5;padding:.5rem 0;display:flex;flex-wrap:wrap;gap:.5rem}
.actions button{flex:1 1 16rem;padding:.55rem .9rem}
@media (max-width:46rem){
main{padding:.5rem .5rem 6rem}
.item{grid-template-columns:minmax(0,1fr) auto;grid-template-areas:"t t" "c f" "p p" "d d";padding:.45rem .5rem}
.flags{text-align:right}
.tools fieldset{width:100%}
.tools label{flex:1 1 8rem}
.tools label select{width:100%}
}
`;

function document(title: string, nonce: string, body: string): string {
	return (
		'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
		'<meta name="viewport" content="width=device-width,initial-scale=1">' +
		'<meta name="robots" content="noindex,nofollow">' +
		`<title>${escapeHtml(title)}</title><style nonce="${escapeHtml(nonce)}">${CSS}</style></head>` +
		`<body><main>${body}</main></body></html>`
	);
}

export interface PageItem {
	index: number;
	title: string;
	details: string;
	clone: CloneDecision;
	/** Decisions offered besides keeping, in order. */
	choices: string[];
	/** The clone escalated it, or its decision is not listed: no decision is preselected. */
	needsPerson: boolean;
	/** The reviewer's choice so far (from the carried state). */
	choice?: Choice;
	typed?: Typed;
	error?: string;
}

export interface ReviewPageOptions {
	title: string;
	message: string;
	/** Form action: the link's query (signature) on the same path. */
	action: string;
	allowCustom: boolean;
	/** This page's items, in view order. */
	items: PageItem[];
	view: View;
	/** Items in the view (all its pages), and reviewable items in the batch. */
	shown: number;
	total: number;
	tally: Tally;
	/** The carried choices (hidden fields). */
	state: EncodedState;
	/** Distinct clone decisions in the batch (for the filter), as shown. */
	decisions: string[];
	/** Decisions the bulk action can set (listed values, else the decisions seen). */
	bulkTargets: string[];
	/** Items the alerts link to (anchors on this page). */
	attention: number[];
	/** A short confirmation of what the last step did. */
	notice: string;
	/** Messages for the whole page (e.g. why nothing was recorded). */
	alerts: string[];
	/** Input items that cannot be reviewed (no decision): they leave with an error. */
	notReviewable: number;
	nonce: string;
	/** The signed-in reviewer, as the page names them ("Reviewing as …"); unset under "Anyone With the Link". */
	reviewingAs?: string;
}

const percent = (confidence: number | undefined): string =>
	confidence === undefined || !Number.isFinite(confidence) ? '' : `${Math.round(confidence * 100)}%`;

const SHORT = 160;
/** A text cut to one line's worth; the whole text is in the item's details. */
const shorten = (text: string, max = SHORT): string => {
	const flat = text.replace(/\s+/g, ' ').trim();
	return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function moreBlock(item: PageItem): string {
	const clone = item.clone;
	let html = '<div class="more">';
	html += `<p><b>${text(item.title)}</b></p>`;
	if (item.details) html += `<p>${text(item.details)}</p>`;
	const level = [percent(clone.confidence), clone.confidenceLevel].filter(Boolean).join(', ');
	html += `<p>Clone decided <b>${text(clone.decision)}</b>${level ? ` (confidence ${escapeHtml(level)})` : ''}</p>`;
	if (clone.reasoning) html += `<p class="reasoning">${text(clone.reasoning)}</p>`;
	if (clone.alternatives.length) {
		html += '<p class="meta">Alternatives considered:</p><ul class="alts">';
		for (const alternative of clone.alternatives) {
			const share = percent(alternative.confidence);
			html += `<li><b>${text(alternative.action)}</b>${share ? ` (${escapeHtml(share)})` : ''}`;
			html += `${alternative.reason ? `: ${text(alternative.reason)}` : ''}</li>`;
		}
		html += '</ul>';
	}
	return html;
}

function itemBlock(item: PageItem, allowCustom: boolean): string {
	const i = item.index;
	const { clone, typed, choice } = item;
	const offered = [KEEP, ...item.choices, ...(allowCustom ? [OTHER] : [])];
	// What the select shows: what was typed (page sent back), else the carried choice, else the default.
	let current: string;
	let custom = '';
	let note = '';
	if (typed) {
		current = typed.decision;
		custom = typed.custom;
		note = typed.note;
	} else {
		note = choice?.note ?? '';
		if (choice === undefined || choice.open) current = item.needsPerson ? UNSET : KEEP;
		else current = choice.decision ?? KEEP;
	}
	// A value not offered (typed by hand, or free text carried) comes back as free text.
	let selected = current;
	if (!offered.includes(current) && !(item.needsPerson && current === UNSET)) {
		selected = allowCustom ? OTHER : KEEP;
		custom = current;
	}
	const option = (value: string, label: string) =>
		`<option value="${escapeValue(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(label)}</option>`;

	const classes = ['item', item.error ? 'bad' : '', item.needsPerson ? 'need' : ''].filter(Boolean).join(' ');
	let html = `<section class="${classes}" data-index="${i}" id="item-${i}"><h2>${text(shorten(item.title, 120))}</h2>`;
	const level = percent(clone.confidence);
	html += `<div class="clone"><span class="meta">Clone:</span> <b>${text(shorten(clone.decision, 40))}</b>`;
	html += `${level ? ` <span class="meta">${escapeHtml(level)}</span>` : ''}</div>`;
	const flags = [
		item.needsPerson ? '<span class="flag need">needs you</span>' : '',
		clone.wasEscalated ? '<span class="flag">escalated</span>' : '',
		clone.requiresHumanReview && !clone.wasEscalated ? '<span class="flag">review</span>' : '',
		note ? '<span class="flag">note</span>' : '',
	].join('');
	html += `<div class="flags">${flags}</div>`;
	html += `<div class="pick"><select id="decision_${i}" name="decision_${i}" aria-label="Your decision">`;
	if (item.needsPerson) html += option(UNSET, '— choose a decision —');
	html += option(KEEP, `Keep: ${shorten(clone.decision, 60)}`);
	for (const value of item.choices) html += option(value, shorten(value, 60));
	if (allowCustom) html += option(OTHER, 'Other (type it)');
	html += '</select>';
	if (allowCustom) {
		html += `<input class="custom" id="custom_${i}" name="custom_${i}" type="text" maxlength="${MAX_DECISION_CHARS}" value="${escapeValue(custom)}" autocomplete="off" aria-label="Other decision" placeholder="Other decision">`;
	}
	html += '</div>';
	if (item.error) html += `<p class="err" role="alert">${escapeHtml(item.error)}</p>`;
	const summary = shorten([item.details, clone.reasoning].filter(Boolean).join(' · ')) || 'Details and note';
	html += `<details${item.error ? ' open' : ''}><summary>${text(summary)}</summary>${moreBlock(item)}`;
	html += `<label for="note_${i}">Note (optional)</label>`;
	html += `<textarea id="note_${i}" name="note_${i}" rows="2" maxlength="${MAX_NOTE_CHARS}">${escapeValue(note)}</textarea></div></details>`;
	return `${html}</section>`;
}

/** The text of a notice code (see shape.ts): only numbers come from the request, never text. */
export function noticeText(code: string): string {
	const [kind, a, b] = code.split('.');
	const n = Number(a);
	const m = Number(b);
	const items = (count: number) => `${count} item${count === 1 ? '' : 's'}`;
	if (kind === 'set' && Number.isInteger(n) && Number.isInteger(m)) {
		return `${items(n)} set.${m > 0 ? ` ${items(m)} left as they were: that decision is not offered for ${m === 1 ? 'it' : 'them'}.` : ''}`;
	}
	if (kind === 'keep' && Number.isInteger(n) && Number.isInteger(m)) return `The clone's decision kept for ${items(n)} (confidence ≥ ${m}%).`;
	if (kind === 'pick') return 'Choose the decision to set first.';
	return '';
}

function viewTools(options: ReviewPageOptions): string {
	const { view } = options;
	const select = (name: string, label: string, values: Array<[string, string]>, current: string) =>
		`<label>${escapeHtml(label)}<select name="${name}">${values
			.map(([value, text]) => `<option value="${escapeValue(value)}"${value === current ? ' selected' : ''}>${escapeHtml(text)}</option>`)
			.join('')}</select></label>`;
	let html = '<div class="tools"><fieldset><legend>Show</legend>';
	html += select('fd', 'Clone decided', [['', 'any'], ...options.decisions.map((d): [string, string] => [d.toLowerCase(), shorten(d, 40)])], view.decision);
	html += select('ff', 'Flag', FLAGS.map((f): [string, string] => [f, FLAG_LABELS[f]]), view.flag);
	html += select('fc', 'Confidence', BANDS.map((b): [string, string] => [b, BAND_LABELS[b]]), view.band);
	html += select('sort', 'Order', SORTS.map((o): [string, string] => [o, SORT_LABELS[o]]), view.sort);
	html += '<button type="submit" name="apply_view" value="1">Show</button></fieldset>';
	const shown = `${options.shown} shown`;
	html += `<fieldset><legend>For all ${escapeHtml(shown)}</legend>`;
	html += select('bulk_to', 'Set the decision to', [['', '…'], [KEEP, "the clone's own"], ...options.bulkTargets.map((d): [string, string] => [d, shorten(d, 40)])], '');
	html += '<button type="submit" name="bulk_set" value="1">Set</button>';
	html += select('bulk_min', "Keep the clone's decision where confidence ≥", ['90', '80', '70', '60', '50', '0'].map((v): [string, string] => [v, `${v}%`]), '80');
	html += '<button type="submit" name="bulk_keep" value="1">Keep</button></fieldset></div>';
	return html;
}

/** The review page (or one page of a big batch). */
export function renderReviewPage(options: ReviewPageOptions): string {
	const { items, view, shown, total, tally } = options;
	const start = view.start;
	const end = start + items.length;
	const remaining = shown - end;
	let body = `<h1>${text(options.title)}</h1>`;
	if (options.reviewingAs) body += `<p class="who" id="reviewing-as">Reviewing as ${text(options.reviewingAs)}</p>`;
	if (options.message) body += `<p class="lead">${text(options.message)}</p>`;
	if (options.notReviewable > 0) {
		body += `<p class="alert">${options.notReviewable} item${options.notReviewable === 1 ? ' has' : 's have'} no decision to review; ${options.notReviewable === 1 ? 'it goes' : 'they go'} on with an error.</p>`;
	}
	for (const alert of options.alerts) body += `<p class="alert" role="alert">${escapeHtml(alert)}</p>`;
	if (options.attention.length) {
		const onPage = new Set(items.map((item) => item.index));
		const titled = new Map(items.map((item) => [item.index, item.title]));
		const links = options.attention
			.filter((i) => onPage.has(i))
			.slice(0, 50)
			.map((i) => `<a href="#item-${i}">${text(shorten(titled.get(i) ?? `Item ${i}`, 40))}</a>`);
		const more = options.attention.length - links.length;
		body += `<p class="alert">Go to: ${links.join(', ')}${more > 0 ? ` and ${more} more (next pages)` : ''}</p>`;
	}
	if (options.notice) body += `<p class="notice" role="status">${escapeHtml(options.notice)}</p>`;
	body += `<p class="counts" id="tally" data-total="${total}" data-shown="${shown}" data-kept="${tally.kept}" data-changed="${tally.changed}" data-open="${tally.open}">`;
	body += `<b>${total}</b> items: <b>${tally.changed}</b> changed, <b>${tally.kept}</b> keep the clone's decision`;
	body += tally.open ? `, <b>${tally.open}</b> need your decision (marked "needs you": the clone escalated them or decided a value not listed; nothing is kept for them unless you choose).` : '.';
	body += '</p>';
	body += `<form id="review" method="post" action="${escapeValue(options.action)}">`;
	body += `<input type="hidden" name="view" value="${escapeValue(encodeView(view))}">`;
	body += `<input type="hidden" name="state" value="${escapeValue(options.state.s)}">`;
	body += `<input type="hidden" name="state_text" value="${escapeValue(options.state.t)}">`;
	body += viewTools(options);
	const range = shown === 0 ? 'No item matches this filter.' : `Showing ${start + 1}–${end} of ${shown}${shown < total ? ` (filtered from ${total})` : ''}.`;
	body += `<p class="progress" id="range">${escapeHtml(range)} Choices are kept when you change page, filter or order${shown > 0 ? '; open a row for the reasoning, the details and a note' : ''}.</p>`;
	body += `<div class="list">${items.map((item) => itemBlock(item, options.allowCustom)).join('')}</div>`;
	if (start > 0 || remaining > 0) {
		body += '<div class="pages">';
		if (start > 0) body += `<button type="submit" name="go" value="${Math.max(0, start - PAGE_SIZE)}">Previous ${PAGE_SIZE}</button>`;
		if (remaining > 0) body += `<button type="submit" name="go" value="${end}">Next ${Math.min(PAGE_SIZE, remaining)}</button>`;
		body += '</div>';
	}
	const filteredOut = total - shown;
	const submitLabel =
		remaining > 0
			? `Save and show the next items (${remaining} left)`
			: filteredOut > 0
				? `Submit review (the ${filteredOut} items not shown stay as they are)`
				: 'Submit review';
	const keepLabel =
		remaining > 0 || filteredOut > 0
			? "Submit now: every item I did not choose keeps the clone's decision"
			: "Submit, keeping the clone's decision wherever I chose nothing";
	body += '<div class="actions">';
	body += `<button type="submit" name="submit" value="1" class="primary">${escapeHtml(submitLabel)}</button>`;
	body += `<button type="submit" name="keep_remaining" value="1">${escapeHtml(keepLabel)}</button>`;
	body += '</div><input type="hidden" name="form_end" value="1"></form>';
	return document(options.title, options.nonce, body);
}

export interface DoneCounts {
	kept: number;
	changed: number;
	failed: number;
}

/** The answer to the submit that resumed the run. */
export function renderDonePage(title: string, counts: DoneCounts, nonce: string, reviewedBy?: string, notice?: string): string {
	const total = counts.kept + counts.changed;
	let body = '<h1>Review recorded</h1>';
	body += `<p class="counts" id="counts" data-kept="${counts.kept}" data-changed="${counts.changed}">`;
	body += `${total} item${total === 1 ? '' : 's'}: ${counts.kept} kept as the clone decided, ${counts.changed} changed.</p>`;
	if (counts.failed > 0) body += `<p>${counts.failed} item${counts.failed === 1 ? '' : 's'} without a decision went on with an error.</p>`;
	if (reviewedBy) body += `<p class="who" id="reviewed-by">Reviewed by ${text(reviewedBy)}</p>`;
	// Where the items went, when it is not the output of each one's decision (n8n before 2.39).
	if (notice) body += `<p class="alert" id="where" role="status">${escapeHtml(notice)}</p>`;
	body += '<p>The workflow goes on now. You can close this page; the link does not accept another review.</p>';
	return document(`${title}: recorded`, nonce, body);
}

/** A short page with one message (e.g. a request that is neither GET nor POST). */
export function renderMessagePage(title: string, message: string, nonce: string, link?: { href: string; label: string }): string {
	let body = `<h1>${text(title)}</h1><p class="lead">${text(message)}</p>`;
	if (link) body += `<p><a id="page-link" href="${escapeValue(link.href)}">${escapeHtml(link.label)}</a></p>`;
	return document(title, nonce, body);
}
