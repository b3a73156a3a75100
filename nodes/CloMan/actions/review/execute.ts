import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError, WAIT_INDEFINITELY } from 'n8n-workflow';

import { configuredOutputs } from '../../routing';
import type { CloManFailure } from '../../transport/errors';
import { inputFailure } from '../../transport/errors';
import { failedItem, failureJson, placeSettingsFailure } from '../failures';
import { cloneDecisionOf } from './items';
import type { NotifyFormat } from './link';
import { notificationBody, postNotification, reviewLink } from './link';
import { personalLink, personalToken } from './personal';
import type { ReviewSettings } from './settings';
import { readReviewSettings, readWaitTill } from './settings';

/** Why Review refuses to wait where the resume link is unsigned (n8n 1.x), and what to do instead. */
export const UNSIGNED_RESUME_MESSAGE =
	'"Wait for Human Review" needs n8n 2.x: this n8n gives resume links without a signature, so anyone who knows the execution id could submit the review, and it keeps only the first output when a run resumes.';
export const UNSIGNED_RESUME_HINT =
	'Upgrade n8n to 2.x, or send the Needs Review items to n8n\'s Wait node (Resume: On Form Submitted) or a "send and wait" node instead. Nothing was paused.';

/** Item `i`'s text parameter, or an error naming the item and the field when its expression fails. */
function itemText(ctx: IExecuteFunctions, name: string, label: string, i: number): string {
	try {
		const value = ctx.getNodeParameter(name, i, '');
		return value == null ? '' : String(value);
	} catch (error) {
		throw new NodeOperationError(ctx.getNode(), `${label} of item ${i} could not be computed: ${(error as Error).message}`, {
			itemIndex: i,
			description: `Check the expression in "${label}" (parameter "${name}").`,
		});
	}
}

/** The CloMan credential's API key, only to sign personal review links ('' when there is none). */
async function apiKeyOf(ctx: IExecuteFunctions): Promise<string> {
	const credentials = await ctx.getCredentials<{ apiKey?: string }>('cloManApi');
	return typeof credentials?.apiKey === 'string' ? credentials.apiKey : '';
}

/**
 * Review, before the pause: check the items and settings, build the link, optionally post it, then
 * put the execution to wait. Nothing is kept in memory: the page and the resume read the waiting
 * node's input and parameters from what n8n stores for the execution (see webhook.ts).
 */
export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const node = this.getNode();
	const continueOnFail = this.continueOnFail();
	const toErrorOutput = continueOnFail && node.onError === 'continueErrorOutput';
	const read = (name: string, fallback: unknown) => this.getNodeParameter(name, 0, fallback);

	let settings: ReviewSettings | undefined;
	/** Settings shared by all items are wrong: stop, or under "Continue" fail every item (never on a decision's output). */
	const refuse = (message: string, description: string): INodeExecutionData[][] => {
		if (!continueOnFail) throw new NodeOperationError(node, message, { description });
		const failure: CloManFailure = { kind: 'InputError', code: 'REVIEW_NOT_STARTED', message, details: {}, attempts: 0 };
		const count = settings?.plan.outputCount ?? configuredOutputs(node.parameters).length;
		const target = toErrorOutput ? 0 : (settings?.plan.failureOutput ?? count - 1);
		return placeSettingsFailure(items, failure, count, target, toErrorOutput);
	};
	const fixSettings = "Fix the node's settings; the run did not pause.";

	if (node.type.endsWith('Tool')) {
		return refuse('"Wait for Human Review" cannot run as an AI agent\'s tool: it pauses the whole run for a person', fixSettings);
	}
	try {
		settings = readReviewSettings(read);
	} catch (error) {
		return refuse((error as Error).message, fixSettings);
	}
	const named = settings.access.who === 'named';
	if (named && read('notifyVia', 'none') !== 'webhook') {
		return refuse(
			'"Named Reviewers (Personal Links)" hands each reviewer their own link through "Notify Reviewer", which is off: nobody would receive a link',
			'Set "Notify Reviewer" to "Incoming Webhook" (e.g. Generic JSON to an n8n workflow that emails each reviewer their link), or choose another "Who May Review". Nothing was paused.',
		);
	}
	const { plan, decisionField } = settings;
	const outputs: INodeExecutionData[][] = Array.from({ length: plan.outputCount }, () => []);
	// An empty batch has nothing to review: no page, no wait.
	if (items.length === 0) return outputs;

	// 1. Every item must hold the clone's decision; titles and details must compute.
	const problems = new Map<number, string>();
	items.forEach((item, i) => {
		const clone = cloneDecisionOf(item.json, decisionField, i);
		if ('problem' in clone) {
			if (!continueOnFail) {
				throw new NodeOperationError(node, clone.problem, {
					itemIndex: i,
					description:
						'Put this node after a CloMan "Decide" node (e.g. on its Needs Review output), or set "Decision Field" to the field that holds the decision.',
				});
			}
			problems.set(i, clone.problem);
		} else if (!continueOnFail) {
			// Under "Continue", the page shows the expression's error in place of the text instead.
			itemText(this, 'reviewTitle', 'Item Title', i);
			itemText(this, 'reviewDetails', 'Item Details', i);
		}
	});
	if (problems.size === items.length) {
		// Under "Continue", every item failed alone: nothing to wait for.
		for (const [i, problem] of problems) {
			const error = failureJson(inputFailure('decisionField', problem), i);
			outputs[toErrorOutput ? 0 : plan.failureOutput].push(failedItem(items[i], i, error, toErrorOutput));
		}
		return outputs;
	}
	const reviewable = items.length - problems.size;

	// 2. The link: only a signed one (n8n 2.x) may be handed out.
	const resumeUrl = String(this.evaluateExpression('{{ $execution.resumeUrl }}', 0) ?? '');
	const link = reviewLink(resumeUrl, node.id);
	if (!link.signed) return refuse(UNSIGNED_RESUME_MESSAGE, UNSIGNED_RESUME_HINT);
	let waitTill: Date;
	try {
		waitTill = readWaitTill(read, Date.now());
	} catch (error) {
		return refuse((error as Error).message, fixSettings);
	}

	// 3. Tell the reviewer, before waiting: a link nobody received would wait in vain.
	if (read('notifyVia', 'none') === 'webhook') {
		const executionId = String(this.getExecutionId() ?? '');
		const info = {
			title: settings.pageTitle,
			url: link.url,
			itemCount: reviewable,
			executionId,
			expiresAt: waitTill.getTime() === WAIT_INDEFINITELY.getTime() ? undefined : waitTill.toISOString(),
		};
		const format = read('notifyFormat', 'text') as NotifyFormat;
		const notifyUrl = String(read('notifyUrl', ''));
		const check = 'Check "Webhook URL" and "Message Format" of "Notify Reviewer".';
		if (named) {
			// One message per reviewer, each with that reviewer's own link (personal.ts).
			const apiKey = await apiKeyOf(this);
			if (apiKey === '') return refuse('The CloMan credential has no API Key, which signs the personal review links', 'Set the API Key of the CloMan credential. Nothing was paused.');
			for (const reviewer of settings.access.named) {
				const url = personalLink(link.url, reviewer.email, personalToken(apiKey, executionId, node.id, reviewer.email));
				const problem = await postNotification(this, notifyUrl, notificationBody(format, { ...info, url, reviewer }));
				if (problem) return refuse(`${problem} (the link for ${reviewer.email}). The run did not pause.`, check);
			}
		} else {
			const problem = await postNotification(this, notifyUrl, notificationBody(format, info));
			if (problem) return refuse(`${problem}. The run did not pause.`, check);
		}
	}

	await this.putExecutionToWait(waitTill);
	// A placeholder: what the page's final submit returns replaces it when the run resumes.
	return outputs;
}
