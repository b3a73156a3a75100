/**
 * The harness's stand-in for n8n's sign-in: n8n's CLI gives webhook executions
 * `additionalData.validateCookieAuth`, backed by its AuthService (a signed JWT in the `n8n-auth` cookie,
 * checked against the users table). Here a session is an HMAC-SHA256-signed token of the harness that
 * names a user of a small user table; `validateSession` checks the signature and the user, and throws
 * like n8n's does for anything else. Real checks, so a forged or altered cookie is refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { IUser } from 'n8n-workflow';

const SECRET = randomBytes(32);

export const USERS: Record<string, IUser> = {
	owner: { id: 'u-owner', email: 'owner@example.com', firstName: 'Olga', lastName: 'Owner' },
	alice: { id: 'u-alice', email: 'Alice@Example.com', firstName: 'Alice', lastName: 'Approver' },
	bob: { id: 'u-bob', email: 'bob@example.com', firstName: 'Bob', lastName: '' },
};

const sign = (payload: string) => createHmac('sha256', SECRET).update(payload).digest('base64url');

/** A session token for one of USERS (what the `n8n-auth` cookie carries after sign-in). */
export function sessionFor(user: keyof typeof USERS): string {
	const payload = Buffer.from(JSON.stringify({ id: USERS[user].id })).toString('base64url');
	return `${payload}.${sign(payload)}`;
}

/** The check n8n's AuthService makes, in small: signature, then the user exists. */
export async function validateSession(token: string): Promise<IUser> {
	const [payload, signature] = token.split('.');
	if (!payload || !signature) throw new Error('Unauthorized');
	const expected = Buffer.from(sign(payload));
	const given = Buffer.from(signature);
	if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new Error('Unauthorized');
	const { id } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { id: string };
	const user = Object.values(USERS).find((candidate) => candidate.id === id);
	if (!user) throw new Error('Unauthorized');
	return { ...user };
}
