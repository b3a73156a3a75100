import { randomBytes } from 'crypto';
import type { INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';

import { cloneDecisionOf } from './items';
import type { PageItem } from './page';
import { pageHeaders, renderDonePage, renderMessagePage, renderReviewPage } from './page';
import type { ReviewSettings } from './settings';
import { readReviewSettings } from './settings';
import { firstOutputDoneNotice, firstOutputNotice, mustUseFirstOutput, onFirstOutput } from './resume';
import type { ReviewEntry, Typed } from './shape';
import { PAGE_SIZE, choicesFor, readSubmission, reviewable, shapeOutputs } from './shape';

/**
 * What n8n checks before this runs (2.x, waiting-webhooks): the request's `signature` query value
 * equals the execution's resume token (else 401, nothing runs), the execution exists, is waiting and
 * has not failed or finished (else 404/409), and it waits on this node's webhook (method and path).
 * What this checks: the form's own consistency and the reviewer's choices; only a complete, valid
 * submit of the last page returns workflowData, which resumes the run.
 */

interface PageState {
	start: number;
	state: string;
	alerts: string[];
	typed?: Map<number, Typed>;
	errors?: Map<number, string>;
}

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

/** The form posts to the link it came from: same path, same query (the resume token). */
function formAction(url: string | undefined): string {
	const text = url ?? '';
	const query = text.indexOf('?');
	return query === -1 ? '' : text.slice(query);
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

	const page = (state: PageState): string => {
		const rawTitle = this.getNodeParameter('reviewTitle', '', { rawExpressions: true });
		const rawDetails = this.getNodeParameter('reviewDetails', '', { rawExpressions: true });
		const pageItems: PageItem[] = list.slice(state.start, state.start + PAGE_SIZE).map((entry, position) => {
			const clone = entry.clone!;
			return {
				index: entry.index,
				title: itemText(this, rawTitle, entry.index) || `Item ${state.start + position + 1}`,
				details: itemText(this, rawDetails, entry.index),
				clone,
				choices: choicesFor(clone, settings.listed),
				typed: state.typed?.get(entry.index),
				error: state.errors?.get(entry.index),
			};
		});
		return renderReviewPage({
			title: settings.pageTitle,
			message: settings.pageMessage,
			action: formAction(req.originalUrl ?? req.url),
			allowCustom: settings.allowCustom,
			items: pageItems,
			start: state.start,
			total: list.length,
			state: state.state,
			alerts: firstOutputOnly ? [firstOutputNotice(), ...state.alerts] : state.alerts,
			notReviewable: entries.length - list.length,
			nonce,
		});
	};

	// GET shows the page and never resumes.
	if (req.method === 'GET') {
		send(200, page({ start: 0, state: '', alerts: [] }));
		return { noWebhookResponse: true };
	}

	const submission = readSubmission(this.getBodyData() ?? {}, entries, settings);
	if (submission.kind === 'invalid') {
		const { start, state, general, typed, errors } = submission;
		send(422, page({ start, state, alerts: general, typed, errors }));
		return { noWebhookResponse: true };
	}
	if (submission.kind === 'next') {
		send(200, page({ start: submission.start, state: submission.state, alerts: [] }));
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
	);
	if (firstOutputOnly) {
		send(200, renderDonePage(settings.pageTitle, counts, nonce, firstOutputDoneNotice(counts.kept + counts.changed)));
		return { noWebhookResponse: true, workflowData: onFirstOutput(outputs) };
	}
	send(200, renderDonePage(settings.pageTitle, counts, nonce));
	// workflowData resumes the run with every output (n8n 2.39+ forwards them all).
	return { noWebhookResponse: true, workflowData: outputs };
}
