import { createHmac, timingSafeEqual } from 'crypto';

/**
 * Personal review links ("Who May Review: Named Reviewers (Personal Links)"). Each named reviewer gets
 * the review link plus `reviewer=<email>&rt=<token>`, where the token is HMAC-SHA256 over
 * "execution id | node id | lower-cased email", keyed with a key derived from the CloMan credential's API
 * key. The page recomputes it from the request on every GET and POST (nothing is kept across the pause,
 * so any n8n process that can read the credential can check it). The token binds the link to one
 * execution, one Review node and one person; the key itself never leaves this file's functions.
 */

/** Query parameter with the reviewer's email. */
export const REVIEWER_PARAM = 'reviewer';
/** Query parameter with the reviewer's token. */
export const TOKEN_PARAM = 'rt';

/** Separates the derived key from any other use of the API key (a change here invalidates every open link). */
const KEY_PURPOSE = 'n8n-nodes-cloman review personal link v1';

function linkKey(apiKey: string): Buffer {
	return createHmac('sha256', apiKey).update(KEY_PURPOSE).digest();
}

/** The token of one reviewer's link (base64url, 43 characters). */
export function personalToken(apiKey: string, executionId: string, nodeId: string, email: string): string {
	return createHmac('sha256', linkKey(apiKey))
		.update(`${executionId}|${nodeId}|${email.trim().toLowerCase()}`)
		.digest('base64url');
}

/** Whether `token` is the token for this execution, node and email (constant-time comparison). */
export function validPersonalToken(apiKey: string, executionId: string, nodeId: string, email: string, token: string): boolean {
	const expected = Buffer.from(personalToken(apiKey, executionId, nodeId, email));
	const given = Buffer.from(token);
	return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The review link with the reviewer's email and token added (the resume token stays in the query). */
export function personalLink(reviewLink: string, email: string, token: string): string {
	const url = new URL(reviewLink);
	url.searchParams.set(REVIEWER_PARAM, email);
	url.searchParams.set(TOKEN_PARAM, token);
	return url.toString();
}
