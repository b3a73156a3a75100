import { randomBytes } from 'crypto';
import type { IDataObject, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';

import type { Reviewer } from './access';
import { checkAccess, reviewerLabel } from './access';
import { cloneDecisionOf } from './items';
import { REVIEWER_PARAM, TOKEN_PARAM } from './personal';
import type { PageItem } from './page';
import { noticeText, pageHeaders, renderDonePage, renderMessagePage, renderReviewPage } from './page';
import type { ReviewSettings } from './settings';
import { readReviewSettings } from './settings';
import { firstOutputDoneNotice, firstOutputNotice, mustUseFirstOutput, onFirstOutput, keepFailedItemsOwnData } from './resume';
import type { ReviewEntry, Typed } from './shape';
import { PAGE_SIZE, choicesFor, readState, readSubmission, reviewable, shapeOutputs } from './shape';
import type { Choice, View } from './state';
import { DEFAULT_VIEW, decodeView, encodeState, encodeView, needsPerson, shownEntries, tally } from './state';

/**
 * What n8n checks before this runs (2.x, waiting-webhooks): the request's `signature` query value
 * equals the execution's resume token (else 401, nothing runs), the execution exists, is waiting and
 * has not failed or finished (else 404/409), and it waits on this node's webhook (method and path).
 * What this checks: the form's own consistency and the reviewer's choices; only a complete, valid
 * submit of the last page returns workflowData, which resumes the run.
 */

interface PageState {
	view: View;
	choices: Map<number, Choice>;
	notice: string;
	alerts: string[];
	attention?: number[];
	typed?: Map<number, Typed>;
	errors?: Map<number, string>;
}

/**
 * Longest address a step redirects to. Node's HTTP server refuses request heads over 16 KiB (431),
 * and the head also carries cookies (n8n's own session cookie when the reviewer uses the editor in the
 * same browser); the choices take one character per item, notes and typed decisions more.
 */
export const MAX_ADDRESS = 8_000;

/** Text of an item-level parameter for item `i`: its expression evaluated for that item, or the error. */
function itemText(ctx: IWebhookFunctions, raw: unknown, i: number): string {
	if (typeof raw !== 'string' || raw === '') return '';
	if (!raw.startsWith('=')) return raw;
	try {
		const value = ctx.evaluateExpression(raw.slice(1), i);
		if (value === null || value === undefined) return '';
		return typeof value === 'object' ? JSON.stringify(value) : String(value);
	} catch (error) {
		return `(could not be computed: ${(error as Error).message})`;
	}
}

/** The form posts to the link it came from: same path, only the resume token as query. */
function formAction(url: string | undefined, link: URLSearchParams): string {
	const text = url ?? '';
	const query = text.indexOf('?');
	if (query === -1) return '';
	return link.has('signature') ? `?${link.toString()}` : text.slice(query);
}

/** A query value as n8n parses it (a repeated name gives an array: the first counts). */
function queryValue(query: IDataObject, name: string): string {
	const value = query[name];
	if (Array.isArray(value)) return value.length ? String(value[0]) : '';
	return typeof value === 'string' ? value : '';
}

export async function webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const req = this.getRequestObject();
	const res = this.getResponseObject();
	const nonce = randomBytes(16).toString('base64');
	const send = (status: number, html: string) => {
		res.statusCode = status;
		for (const [name, value] of Object.entries(pageHeaders(nonce))) res.setHeader(name, value);
		res.end(html);
	};

	let settings: ReviewSettings;
	try {
		settings = readReviewSettings((name, fallback) => this.getNodeParameter(name, fallback));
	} catch (error) {
		send(500, renderMessagePage('This review cannot be shown', (error as Error).message, nonce));
		return { noWebhookResponse: true };
	}
	if (req.method !== 'GET' && req.method !== 'POST') {
		send(405, renderMessagePage(settings.pageTitle, 'Open the review link in a browser.', nonce));
		return { noWebhookResponse: true };
	}

	// The waiting node's input, as n8n stored it with the execution (the resume may run in another process).
	const items = (this.evaluateExpression('{{ $input.all() }}') ?? []) as unknown as INodeExecutionData[];
	const entries: ReviewEntry[] = items.map((item, index) => {
		const clone = cloneDecisionOf(item.json ?? {}, settings.decisionField, index);
		return 'problem' in clone ? { index, problem: clone.problem } : { index, clone };
	});
	const list = reviewable(entries);
	// n8n before 2.39 passes on only output 0 when the run resumes: everything goes there (resume.ts).
	const firstOutputOnly = mustUseFirstOutput(this, settings.plan.outputCount);

	// Who May Review: from this request's n8n sign-in, on every GET and POST (nothing is kept across the pause).
	const gate = await checkAccess(this, settings.access, items);
	if (gate.kind === 'signIn') {
		res.statusCode = 302;
		res.setHeader('Location', gate.location);
		res.setHeader('Cache-Control', 'no-store');
		res.end();
		return { noWebhookResponse: true };
	}
	if (gate.kind === 'refused') {
		const link = gate.signInUrl ? { href: gate.signInUrl, label: 'Sign in to n8n' } : undefined;
		send(gate.status, renderMessagePage(gate.title, gate.message, nonce, link));
		return { noWebhookResponse: true };
	}
	const reviewer: Reviewer | undefined = gate.kind === 'reviewer' ? gate.reviewer : undefined;

	const rules = { allowCustom: settings.allowCustom, listed: settings.listed };
	const query = (this.getQueryData() ?? {}) as IDataObject;
	const signature = queryValue(query, 'signature');
	// The link's own parameters (n8n's resume token; a personal link's reviewer and token) stay on every
	// form post and every redirect, so each request is checked as the first one was.
	const link = new URLSearchParams();
	for (const name of ['signature', REVIEWER_PARAM, TOKEN_PARAM]) {
		const value = queryValue(query, name);
		if (value !== '') link.set(name, value);
	}
	const action = formAction(req.originalUrl ?? req.url, link);
	const path = (req.originalUrl ?? req.url ?? '').split('?')[0];

	const page = (state: PageState): string => {
		const rawTitle = this.getNodeParameter('reviewTitle', '', { rawExpressions: true });
		const rawDetails = this.getNodeParameter('reviewDetails', '', { rawExpressions: true });
		const shown = shownEntries(list, state.choices, state.view, rules);
		// A position past the end (the view got shorter) shows its last page.
		const start = state.view.start < shown.length ? state.view.start : Math.max(0, Math.floor((shown.length - 1) / PAGE_SIZE) * PAGE_SIZE);
		const view = { ...state.view, start };
		const pageItems: PageItem[] = shown.slice(start, start + PAGE_SIZE).map((entry) => {
			const clone = entry.clone!;
			return {
				index: entry.index,
				title: itemText(this, rawTitle, entry.index) || `Item ${list.indexOf(entry) + 1}`,
				details: itemText(this, rawDetails, entry.index),
				clone,
				choices: choicesFor(clone, settings.listed),
				needsPerson: needsPerson(clone, settings.listed),
				choice: state.choices.get(entry.index),
				typed: state.typed?.get(entry.index),
				error: state.errors?.get(entry.index),
			};
		});
		const decisions = new Map<string, string>();
		for (const entry of list) decisions.set(entry.clone!.decision.toLowerCase(), entry.clone!.decision);
		const bulkTargets = settings.listed.length ? settings.listed : [...decisions.values()].slice(0, 50);
		return renderReviewPage({
			title: settings.pageTitle,
			message: settings.pageMessage,
			action,
			allowCustom: settings.allowCustom,
			items: pageItems,
			view,
			shown: shown.length,
			total: list.length,
			tally: tally(list, state.choices, rules),
			state: encodeState(list, state.choices, rules),
			decisions: [...decisions.values()].slice(0, 50),
			bulkTargets,
			attention: state.attention ?? [],
			notice: state.notice ? noticeText(state.notice) : '',
			alerts: firstOutputOnly ? [firstOutputNotice(), ...state.alerts] : state.alerts,
			notReviewable: entries.length - list.length,
			nonce,
			reviewingAs: reviewer ? reviewerLabel(reviewer) : undefined,
		});
	};

	// GET shows the page and never resumes. After each step the address carries the view and the
	// choices (see below), so a reload or a bookmarked address shows the same page with the same choices.
	if (req.method === 'GET') {
		const view = decodeView(queryValue(query, 'v'));
		const choices = readState(queryValue(query, 's'), queryValue(query, 't'), list, rules);
		if (view === undefined || choices === undefined) {
			const alerts = ['This address does not hold valid choices (it was changed or cut). The review starts again from the link you were sent.'];
			send(400, page({ view: { ...DEFAULT_VIEW }, choices: new Map(), notice: '', alerts }));
			return { noWebhookResponse: true };
		}
		send(200, page({ view, choices, notice: queryValue(query, 'r'), alerts: [] }));
		return { noWebhookResponse: true };
	}

	const submission = readSubmission(this.getBodyData() ?? {}, entries, rules);
	if (submission.kind === 'invalid') {
		const { view, choices, general, typed, errors, attention } = submission;
		send(422, page({ view, choices, notice: '', alerts: general, typed, errors, attention }));
		return { noWebhookResponse: true };
	}
	if (submission.kind === 'show') {
		// POST, then 303 to an address holding the view and the choices: reload and Back do not resend
		// the form, and the address keeps the work. When the notes make it too long, the page is sent
		// directly (a reload then asks to resend the form, which keeps the work too).
		const { view, choices, notice } = submission;
		const encoded = encodeState(list, choices, rules);
		const params = new URLSearchParams(link);
		params.set('v', encodeView(view));
		if (encoded.s) params.set('s', encoded.s);
		if (encoded.t) params.set('t', encoded.t);
		if (notice) params.set('r', notice);
		const location = `${path}?${params.toString()}`;
		if (signature !== '' && location.length <= MAX_ADDRESS) {
			res.statusCode = 303;
			for (const [name, value] of Object.entries(pageHeaders(nonce))) res.setHeader(name, value);
			res.setHeader('Location', location);
			res.end();
			return { noWebhookResponse: true };
		}
		const alerts = ['Your notes are too long to be kept in the page address: reloading this page asks to send the form again (do so to keep your choices).'];
		send(200, page({ view, choices, notice, alerts }));
		return { noWebhookResponse: true };
	}
	const node = this.getNode();
	const toErrorOutput = node.onError === 'continueErrorOutput';
	const { outputs, counts } = shapeOutputs(
		items,
		entries,
		submission.choices,
		settings.plan,
		new Date().toISOString(),
		toErrorOutput,
		reviewer,
	);
	const reviewedBy = reviewer ? reviewerLabel(reviewer) : undefined;
	if (firstOutputOnly) {
		send(200, renderDonePage(settings.pageTitle, counts, nonce, reviewedBy, firstOutputDoneNotice(counts.kept + counts.changed)));
		return { noWebhookResponse: true, workflowData: onFirstOutput(outputs) };
	}
	send(200, renderDonePage(settings.pageTitle, counts, nonce, reviewedBy));
	// workflowData resumes the run with every output (n8n 2.39+ forwards them all).
	return { noWebhookResponse: true, workflowData: toErrorOutput ? keepFailedItemsOwnData(outputs, items) : outputs };
}
