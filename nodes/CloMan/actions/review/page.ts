/**
 * The review page: plain HTML forms, no framework, no script, no external resource. Every text that
 * comes from CloMan, from the items or from the node's parameters goes through `escapeHtml`, in
 * element content and in attribute values alike. The one inline style sheet is allowed by a nonce
 * in the Content-Security-Policy the page is sent with (see `pageHeaders`).
 */
import type { CloneDecision } from './items';
import type { Typed } from './shape';
import { KEEP, MAX_DECISION_CHARS, MAX_NOTE_CHARS, OTHER } from './shape';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML element content or a quoted attribute value. */
export function escapeHtml(value: unknown): string {
	return String(value ?? '').replace(/[&<>"']/g, (char) => ENTITIES[char]);
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
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0}
h2{font-size:1.05rem;margin:0 0 .4rem;overflow-wrap:anywhere}
.lead,.progress{color:#4a5264;white-space:pre-wrap;overflow-wrap:anywhere}
.item{background:#fff;border:1px solid #d9dde5;border-radius:.5rem;padding:.8rem;margin:.8rem 0}
.item.bad{border-color:#c62828}
.details,.reasoning{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0}
.decision{font-weight:600}
.meta{color:#4a5264;font-size:.9rem}
.flag{display:inline-block;background:#fff4e5;color:#7a4300;border-radius:.3rem;padding:0 .35rem;margin-right:.3rem;font-size:.85rem}
.alts{margin:.3rem 0 .5rem 1.1rem;padding:0;font-size:.92rem;overflow-wrap:anywhere}
label{display:block;font-size:.9rem;margin-top:.5rem;color:#333a48}
select,input,textarea{width:100%;font:inherit;padding:.45rem;border:1px solid #b8bfcc;border-radius:.35rem;background:#fff}
.err,.alert{color:#b71c1c;font-weight:600}
.alert{background:#fdecea;border-radius:.4rem;padding:.6rem}
.actions{padding:.6rem 0;display:flex;flex-wrap:wrap;gap:.5rem}
button{font:inherit;padding:.65rem 1rem;border-radius:.4rem;border:1px solid #2d4fd6;background:#2d4fd6;color:#fff;flex:1 1 14rem}
button.secondary{background:#fff;color:#2d4fd6}
.counts{font-size:1.1rem}
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
	typed?: Typed;
	error?: string;
}

export interface ReviewPageOptions {
	title: string;
	message: string;
	/** Form action: the link's query (signature) on the same path. */
	action: string;
	allowCustom: boolean;
	items: PageItem[];
	/** Position of this page's first item among the reviewable items, and how many there are. */
	start: number;
	total: number;
	/** The choices of earlier pages, carried as they came. */
	state: string;
	/** Messages for the whole page (e.g. why nothing was recorded). */
	alerts: string[];
	/** Input items that cannot be reviewed (no decision): they leave with an error. */
	notReviewable: number;
	nonce: string;
}

const percent = (confidence: number | undefined): string =>
	confidence === undefined || !Number.isFinite(confidence) ? '' : `${Math.round(confidence * 100)}%`;

function cloneBlock(clone: CloneDecision): string {
	const confidence = [percent(clone.confidence), clone.confidenceLevel].filter(Boolean).join(', ');
	const flags = [
		clone.requiresHumanReview ? '<span class="flag">review requested</span>' : '',
		clone.wasEscalated ? '<span class="flag">escalated</span>' : '',
	].join('');
	let html = `<p>Clone decided: <span class="decision">${escapeHtml(clone.decision)}</span>`;
	if (confidence) html += ` <span class="meta">(confidence ${escapeHtml(confidence)})</span>`;
	html += '</p>';
	if (flags) html += `<p>${flags}</p>`;
	if (clone.reasoning) html += `<p class="reasoning">${escapeHtml(clone.reasoning)}</p>`;
	if (clone.alternatives.length) {
		html += '<p class="meta">Alternatives considered:</p><ul class="alts">';
		for (const alternative of clone.alternatives) {
			const share = percent(alternative.confidence);
			html += `<li><b>${escapeHtml(alternative.action)}</b>${share ? ` (${escapeHtml(share)})` : ''}`;
			html += `${alternative.reason ? `: ${escapeHtml(alternative.reason)}` : ''}</li>`;
		}
		html += '</ul>';
	}
	return html;
}

function itemBlock(item: PageItem, allowCustom: boolean): string {
	const i = item.index;
	const typed = item.typed;
	const typedDecision = typed?.decision ?? KEEP;
	const offered = [KEEP, ...item.choices, ...(allowCustom ? [OTHER] : [])];
	// A value typed into the list by hand (not offered) comes back as free text.
	const selected = offered.includes(typedDecision) ? typedDecision : allowCustom ? OTHER : KEEP;
	const custom = offered.includes(typedDecision) ? (typed?.custom ?? '') : typedDecision;
	const option = (value: string, label: string) =>
		`<option value="${escapeHtml(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(label)}</option>`;

	let html = `<section class="item${item.error ? ' bad' : ''}" data-index="${i}" id="item-${i}">`;
	html += `<h2>${escapeHtml(item.title)}</h2>`;
	if (item.details) html += `<p class="details">${escapeHtml(item.details)}</p>`;
	html += cloneBlock(item.clone);
	if (item.error) html += `<p class="err" role="alert">${escapeHtml(item.error)}</p>`;
	html += `<label for="decision_${i}">Your decision</label><select id="decision_${i}" name="decision_${i}">`;
	html += option(KEEP, `Keep: ${item.clone.decision}`);
	for (const choice of item.choices) html += option(choice, choice);
	if (allowCustom) html += option(OTHER, 'Other (type it below)');
	html += '</select>';
	if (allowCustom) {
		html += `<label for="custom_${i}">Other decision (used when "Other" is chosen)</label>`;
		html += `<input id="custom_${i}" name="custom_${i}" type="text" maxlength="${MAX_DECISION_CHARS}" value="${escapeHtml(custom)}" autocomplete="off">`;
	}
	html += `<label for="note_${i}">Note (optional)</label>`;
	html += `<textarea id="note_${i}" name="note_${i}" rows="2" maxlength="${MAX_NOTE_CHARS}">${escapeHtml(typed?.note ?? '')}</textarea>`;
	return `${html}</section>`;
}

/** The review page (or one page of a big batch). */
export function renderReviewPage(options: ReviewPageOptions): string {
	const { items, start, total } = options;
	const end = start + items.length;
	const remaining = total - end;
	let body = `<h1>${escapeHtml(options.title)}</h1>`;
	if (options.message) body += `<p class="lead">${escapeHtml(options.message)}</p>`;
	const range = total > items.length ? `Items ${start + 1}–${end} of ${total}` : `${total} item${total === 1 ? '' : 's'}`;
	body += `<p class="progress">${escapeHtml(range)}. Each item keeps the clone's decision unless you choose another.</p>`;
	if (start > 0) body += '<p class="progress">Your choices on the earlier pages are kept in this form.</p>';
	if (options.notReviewable > 0) {
		body += `<p class="alert">${options.notReviewable} item${options.notReviewable === 1 ? ' has' : 's have'} no decision to review; ${options.notReviewable === 1 ? 'it goes' : 'they go'} on with an error.</p>`;
	}
	for (const alert of options.alerts) body += `<p class="alert" role="alert">${escapeHtml(alert)}</p>`;
	body += `<form id="review" method="post" action="${escapeHtml(options.action)}">`;
	body += `<input type="hidden" name="page_start" value="${start}">`;
	body += `<input type="hidden" name="state" value="${escapeHtml(options.state)}">`;
	for (const item of items) body += itemBlock(item, options.allowCustom);
	const submitLabel = remaining > 0 ? `Save and show the next items (${remaining} left)` : 'Submit review';
	const keepLabel =
		remaining > 0
			? `Submit, and keep the clone's decision for the ${remaining} items not shown yet`
			: "Submit, keeping the clone's decision wherever I chose nothing";
	body += '<div class="actions">';
	body += `<button type="submit" name="submit" value="1">${escapeHtml(submitLabel)}</button>`;
	body += `<button type="submit" name="keep_remaining" value="1" class="secondary">${escapeHtml(keepLabel)}</button>`;
	body += '</div><input type="hidden" name="form_end" value="1"></form>';
	return document(options.title, options.nonce, body);
}

export interface DoneCounts {
	kept: number;
	changed: number;
	failed: number;
}

/** The answer to the submit that resumed the run. */
export function renderDonePage(title: string, counts: DoneCounts, nonce: string, notice?: string): string {
	const total = counts.kept + counts.changed;
	let body = '<h1>Review recorded</h1>';
	body += `<p class="counts" id="counts" data-kept="${counts.kept}" data-changed="${counts.changed}">`;
	body += `${total} item${total === 1 ? '' : 's'}: ${counts.kept} kept as the clone decided, ${counts.changed} changed.</p>`;
	if (counts.failed > 0) body += `<p>${counts.failed} item${counts.failed === 1 ? '' : 's'} without a decision went on with an error.</p>`;
	// Where the items went, when it is not the output of each one's decision (n8n before 2.39).
	if (notice) body += `<p class="alert" id="where" role="status">${escapeHtml(notice)}</p>`;
	body += '<p>The workflow goes on now. You can close this page; the link does not accept another review.</p>';
	return document(`${title}: recorded`, nonce, body);
}

/** A short page with one message (e.g. a request that is neither GET nor POST). */
export function renderMessagePage(title: string, message: string, nonce: string): string {
	return document(title, nonce, `<h1>${escapeHtml(title)}</h1><p class="lead">${escapeHtml(message)}</p>`);
}
