import type { IDataObject, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';

import { isObject } from '../../transport/errors';
import { REVIEWER_PARAM, TOKEN_PARAM, validPersonalToken } from './personal';

/**
 * Who may review (the "Who May Review" option) and who is reviewing, read from the request itself on
 * every GET and POST: nothing is kept across the pause, so the process that serves the page (main or a
 * webhook process in queue mode) decides with what the browser sends. The reviewer is n8n's own session:
 * the `n8n-auth` cookie, resolved by `IWebhookFunctions.validateCookieAuth` as n8n's Form node ("n8n
 * user" authentication) and Chat Trigger do. The cookie is read from the raw Cookie header (n8n's
 * webhook paths do not always parse cookies) and never stored or shown.
 */

export type WhoMayReview = 'anyone' | 'signedIn' | 'listed' | 'named';

/** One reviewer of "Named Reviewers (Personal Links)": the email as typed (compared case aside) and an optional name. */
export interface NamedReviewer {
	email: string;
	name: string;
}

export interface AccessSettings {
	who: WhoMayReview;
	/** Lower-cased emails of "Only These n8n Users". */
	reviewers: string[];
	/** The reviewers of "Named Reviewers (Personal Links)", each with their own link. */
	named: NamedReviewer[];
	/** Refuse a reviewer who already reviewed any of these items in an earlier Review step. */
	fourEyes: boolean;
}

/** The n8n user who reviewed, as recorded in `review.reviewed_by` (no session, no token). */
export interface Reviewer extends IDataObject {
	id: string;
	email: string;
	name: string;
}

export const AUTH_COOKIE = 'n8n-auth';
/** Query parameter added to the page's address when sending the reviewer to sign in: marks the way back. */
export const SIGNIN_MARK = 'signed_in';

const EMAIL = /^[^\s@,;]+@[^\s@,;]+$/;

/** "Only These n8n Users": emails separated by commas, semicolons, spaces or new lines (or an array from an expression). */
export function parseReviewerList(raw: unknown): string[] {
	const parts = Array.isArray(raw) ? raw.map((value) => String(value ?? '')) : String(raw ?? '').split(/[\s,;]+/);
	const emails: string[] = [];
	for (const part of parts) {
		const email = part.trim().toLowerCase();
		if (email === '') continue;
		if (!EMAIL.test(email)) throw new Error(`Reviewers: "${part.trim()}" is not an email address`);
		if (!emails.includes(email)) emails.push(email);
	}
	return emails;
}

/** "Named Reviewers": the fixed collection's entries ({email, name}); the same email twice (case aside) is refused. */
export function parseNamedReviewers(raw: unknown): NamedReviewer[] {
	const entries = isObject(raw) && Array.isArray(raw.reviewers) ? raw.reviewers : [];
	const named: NamedReviewer[] = [];
	entries.forEach((entry, position) => {
		const email = textOf(isObject(entry) ? entry.email : undefined).trim();
		const name = textOf(isObject(entry) ? entry.name : undefined).trim();
		if (email === '' && name === '') return;
		if (!EMAIL.test(email)) {
			throw new Error(`Named Reviewers: reviewer ${position + 1}'s email "${email}" is not an email address`);
		}
		if (named.some((known) => known.email.toLowerCase() === email.toLowerCase())) {
			throw new Error(`Named Reviewers: ${email} is listed twice`);
		}
		named.push({ email, name });
	});
	return named;
}

/** Throws an Error with a user-facing message when the access settings contradict. */
export function readAccessSettings(read: (name: string, fallback: unknown) => unknown): AccessSettings {
	const raw = String(read('whoMayReview', 'anyone') ?? 'anyone');
	if (raw !== 'anyone' && raw !== 'signedIn' && raw !== 'listed' && raw !== 'named') {
		throw new Error(
			`Who May Review must be "Anyone With the Link", "Named Reviewers (Personal Links)", "Any Signed-In User of This n8n" or "Only These n8n Users", not "${raw}"`,
		);
	}
	const who = raw as WhoMayReview;
	if (who === 'anyone') return { who, reviewers: [], named: [], fourEyes: false };
	const reviewers = who === 'listed' ? parseReviewerList(read('reviewerEmails', '')) : [];
	if (who === 'listed' && reviewers.length === 0) {
		throw new Error('Reviewers is empty: list the emails of the n8n users who may review, or choose another "Who May Review"');
	}
	const named = who === 'named' ? parseNamedReviewers(read('namedReviewers', {})) : [];
	if (who === 'named' && named.length === 0) {
		throw new Error('Named Reviewers is empty: add the email of each person who may review, or choose another "Who May Review"');
	}
	return { who, reviewers, named, fourEyes: read('requireDifferentReviewer', false) === true };
}

/** One cookie's value from a raw Cookie header, or undefined. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
	const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
	for (const part of text.split(';')) {
		const at = part.indexOf('=');
		if (at === -1 || part.slice(0, at).trim() !== name) continue;
		const value = part.slice(at + 1).trim();
		try {
			return decodeURIComponent(value);
		} catch {
			return value;
		}
	}
	return undefined;
}

function textOf(value: unknown): string {
	return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** The reviewer as recorded: n8n's user id, email and name (first and last, when set). */
export function reviewerOf(user: unknown): Reviewer | undefined {
	if (!isObject(user)) return undefined;
	const id = textOf(user.id);
	const email = textOf(user.email);
	if (id === '' && email === '') return undefined;
	const name = [textOf(user.firstName), textOf(user.lastName)].map((part) => part.trim()).filter(Boolean).join(' ');
	return { id, email, name };
}

/** How a reviewer is named on the page: "Name <email>", or whichever is known. */
export function reviewerLabel(reviewer: Reviewer): string {
	if (reviewer.name && reviewer.email) return `${reviewer.name} <${reviewer.email}>`;
	return reviewer.name || reviewer.email || reviewer.id;
}

/** Who reviewed an item in earlier Review steps: its `review.reviewed_by` and `review.earlier_reviewers`. */
export function earlierReviewersOf(json: IDataObject | undefined): Reviewer[] {
	const review = json?.review;
	if (!isObject(review)) return [];
	const found: Reviewer[] = [];
	const earlier = Array.isArray(review.earlier_reviewers) ? review.earlier_reviewers : [];
	for (const entry of [...earlier, review.reviewed_by]) {
		const reviewer = isObject(entry) ? reviewerOf({ ...entry, firstName: entry.name }) : undefined;
		if (reviewer && !found.some((known) => sameReviewer(known, reviewer))) found.push(reviewer);
	}
	return found;
}

/** The same n8n user: same id, or (an id missing on either side) the same email, case aside. */
export function sameReviewer(a: Reviewer, b: Reviewer): boolean {
	if (a.id !== '' && b.id !== '') return a.id === b.id;
	return a.email !== '' && a.email.toLowerCase() === b.email.toLowerCase();
}

/** How many of the items this reviewer already reviewed in an earlier Review step. */
export function alreadyReviewed(items: INodeExecutionData[], reviewer: Reviewer): number {
	return items.filter((item) => earlierReviewersOf(item.json).some((earlier) => sameReviewer(earlier, reviewer))).length;
}

export type Gate =
	/** Anyone with the link: the reviewer is not known. */
	| { kind: 'open' }
	| { kind: 'reviewer'; reviewer: Reviewer }
	/** Not signed in: send the browser to n8n's sign-in, which comes back to `location`'s redirect. */
	| { kind: 'signIn'; location: string }
	| { kind: 'refused'; status: number; title: string; message: string; signInUrl?: string };

/** n8n's sign-in page with a way back to this page (marked, so a way back without a session is seen). */
export function signInLocation(instanceBaseUrl: string, pageUrl: string): string {
	const back = new URL(pageUrl);
	back.searchParams.set(SIGNIN_MARK, '1');
	const signIn = new URL('signin', instanceBaseUrl.endsWith('/') ? instanceBaseUrl : `${instanceBaseUrl}/`);
	signIn.searchParams.set('redirect', back.toString());
	return signIn.toString();
}

/** This page's absolute address on the instance's base URL (where n8n's sign-in cookie belongs). */
export function pageUrlOf(instanceBaseUrl: string, originalUrl: string): string {
	const base = new URL(instanceBaseUrl.endsWith('/') ? instanceBaseUrl : `${instanceBaseUrl}/`);
	const page = new URL(originalUrl, base);
	// The instance may run under a path (N8N_PATH): the request path already carries it.
	return `${base.origin}${page.pathname}${page.search}`;
}

/**
 * Decide whether this request may see or submit the review. GET without a session goes to n8n's
 * sign-in (once: coming back still without a session gets a page that says why); POST without a
 * session, a user not listed, and a user who already reviewed these items (four-eyes) are refused.
 */
export async function checkAccess(
	ctx: IWebhookFunctions,
	settings: AccessSettings,
	items: INodeExecutionData[],
): Promise<Gate> {
	if (settings.who === 'anyone') return { kind: 'open' };
	if (settings.who === 'named') return await personalGate(ctx, settings, items);
	const req = ctx.getRequestObject();
	const original = req.originalUrl ?? req.url ?? '/';
	const base = ctx.getInstanceBaseUrl();
	const pageUrl = pageUrlOf(base, original);
	const signInUrl = signInLocation(base, pageUrl);
	const cameBack = new URL(original, 'http://page.invalid').searchParams.get(SIGNIN_MARK) === '1';

	if (typeof (ctx as Partial<IWebhookFunctions>).validateCookieAuth !== 'function') {
		return {
			kind: 'refused',
			status: 501,
			title: 'This n8n cannot tell who is reviewing',
			message:
				'This review admits only signed-in n8n users, but this n8n version does not let a node check the sign-in. Nothing was recorded. Ask the workflow owner to set "Who May Review" to "Anyone With the Link" or to upgrade n8n.',
		};
	}
	const cookie = readCookie(req.headers?.cookie, AUTH_COOKIE);
	let reviewer: Reviewer | undefined;
	let noCheck = false;
	if (cookie) {
		try {
			reviewer = reviewerOf(await ctx.validateCookieAuth(cookie));
		} catch (error) {
			// n8n-core without the check wired for webhooks says so; any other failure is "not signed in".
			noCheck = /not available/i.test((error as Error).message ?? '');
		}
	}
	if (noCheck) {
		return {
			kind: 'refused',
			status: 501,
			title: 'This n8n cannot tell who is reviewing',
			message:
				'This review admits only signed-in n8n users, but this n8n does not check sign-ins on this address. Nothing was recorded. Ask the workflow owner to set "Who May Review" to "Anyone With the Link".',
		};
	}
	if (reviewer === undefined) {
		if (req.method === 'GET' && !cameBack) return { kind: 'signIn', location: signInUrl };
		return {
			kind: 'refused',
			status: 401,
			title: 'Sign in to n8n to review',
			message: cameBack
				? 'This review is only for signed-in n8n users, and your n8n sign-in did not reach this page. n8n 2.38 to 2.41 remove the sign-in from every request to a review page of a community node, so on those versions this review cannot tell who you are; otherwise the page is on another address than the n8n editor (the browser sends the sign-in only to the address that set it). Nothing was recorded. Ask the workflow owner to set "Who May Review" to "Anyone With the Link", or to serve the review link on the editor\'s address.'
				: 'This review is only for signed-in n8n users and your n8n sign-in has ended. Sign in again, then open the review link. Nothing was recorded.',
			signInUrl,
		};
	}
	if (settings.who === 'listed' && !settings.reviewers.includes(reviewer.email.toLowerCase())) {
		return {
			kind: 'refused',
			status: 403,
			title: 'You may not review this batch',
			message: `You are signed in as ${reviewerLabel(reviewer)}, who is not one of the reviewers of this batch. Nothing was recorded; the workflow still waits for one of them.`,
		};
	}
	return fourEyesGate(settings, items, reviewer);
}

/** The four-eyes rule: refuse a reviewer who already reviewed any of these items in an earlier Review step. */
function fourEyesGate(settings: AccessSettings, items: INodeExecutionData[], reviewer: Reviewer): Gate {
	if (settings.fourEyes) {
		const count = alreadyReviewed(items, reviewer);
		if (count > 0) {
			return {
				kind: 'refused',
				status: 403,
				title: 'Another person must review this batch',
				message: `You (${reviewerLabel(reviewer)}) already reviewed ${count === 1 ? '1 of these items' : `${count} of these items`} in an earlier review step, and this step needs a second person. Nothing was recorded; the workflow still waits for another reviewer.`,
			};
		}
	}
	return { kind: 'reviewer', reviewer };
}

const NOT_YOUR_LINK =
	'This review admits only the people it was sent to, each through their own link. Open the link that was sent to you, as it was sent (a link without your name and token, or an altered one, admits nobody). Nothing was recorded; the workflow still waits.';

/**
 * "Named Reviewers (Personal Links)": the reviewer is whoever the link's `reviewer` and `rt` name, when
 * the token is the one this execution, node and email get (personal.ts) and the email is on the list.
 * The API key comes from the node's CloMan credential on every request; it is used only to derive the key.
 */
async function personalGate(ctx: IWebhookFunctions, settings: AccessSettings, items: INodeExecutionData[]): Promise<Gate> {
	const req = ctx.getRequestObject();
	const query = new URL(req.originalUrl ?? req.url ?? '/', 'http://page.invalid').searchParams;
	const email = (query.get(REVIEWER_PARAM) ?? '').trim();
	const token = query.get(TOKEN_PARAM) ?? '';
	if (email === '' || token === '') {
		return { kind: 'refused', status: 403, title: 'Open your personal review link', message: NOT_YOUR_LINK };
	}
	let apiKey = '';
	try {
		const credentials = await ctx.getCredentials<{ apiKey?: string }>('cloManApi');
		apiKey = typeof credentials?.apiKey === 'string' ? credentials.apiKey : '';
	} catch {
		apiKey = '';
	}
	if (apiKey === '') {
		return {
			kind: 'refused',
			status: 500,
			title: 'This review cannot check its links',
			message:
				'The personal review links are checked with the CloMan credential of this node, which this n8n could not read. Nothing was recorded. Ask the workflow owner to check the credential.',
		};
	}
	const executionId = String(ctx.getExecutionId() ?? '');
	if (!validPersonalToken(apiKey, executionId, ctx.getNode().id, email, token)) {
		return { kind: 'refused', status: 403, title: 'This review link is not valid', message: NOT_YOUR_LINK };
	}
	const listed = settings.named.find((named) => named.email.toLowerCase() === email.toLowerCase());
	if (!listed) {
		return {
			kind: 'refused',
			status: 403,
			title: 'You may not review this batch',
			message: 'This link names someone who is not one of the reviewers of this batch. Nothing was recorded; the workflow still waits for one of them.',
		};
	}
	return fourEyesGate(settings, items, { id: '', email: listed.email, name: listed.name });
}
