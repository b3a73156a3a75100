/**
 * "Who May Review" and the four-eyes rule in n8n-core's real engine: the page and the submit go through
 * n8n-core's WebhookContext over real 127.0.0.1 HTTP (test/harness/resume.ts), the reviewer comes from
 * the request's `n8n-auth` cookie through `validateCookieAuth`, which the harness backs with its own
 * signed sessions (test/harness/session.ts) the way n8n's CLI backs it with its AuthService. Every step
 * starts from the stored execution (JSON): nothing of the reviewer is kept across the pause.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { EXECUTION_ID, HARNESS_BASE_URL, loadRun, runCloMan } from './harness/engine';
import type { RunOptions, StoredExecution } from './harness/engine';
import { callWaitingWebhook, formBody, pathOf } from './harness/resume';
import { fill, formFields, submitWith, unescapeHtml } from './harness/review-page';
import { USERS, sessionFor } from './harness/session';
import { startIncomingWebhook } from './standin/incoming-webhook';
import { personalToken } from '../nodes/CloMan/actions/review/personal';
import { decidedItem } from './harness/review-items';

const LINE_1 = process.env.N8N_LINE === '1';
const describe2 = LINE_1 ? describe.skip : describe;

const CREDENTIAL = { apiKey: 'cloman_sk_test_good', baseUrl: 'http://127.0.0.1:9' };
const NODE_ID = 'cloman-node-id';

const decided = (id: string, decision: string, fields: IDataObject = {}): IDataObject => decidedItem(id, decision, {}, fields);

async function pause(items: IDataObject[], parameters: IDataObject) {
	return await runCloMan({
		items,
		credential: CREDENTIAL,
		parameters: { operation: 'review', reviewTitle: '={{ $json.customer }} – {{ $json.amount }} USD', ...parameters },
	} as RunOptions);
}

function linkOf(stored: StoredExecution): string {
	const token = (loadRun(stored) as { resumeToken?: string }).resumeToken;
	return `${HARNESS_BASE_URL}/webhook-waiting/${EXECUTION_ID}/${NODE_ID}?signature=${token}`;
}

const cookieOf = (user?: keyof typeof USERS | string) =>
	user === undefined ? undefined : `theme=dark; n8n-auth=${user in USERS ? sessionFor(user as keyof typeof USERS) : user}; other=1`;

const get = async (stored: StoredExecution, user?: string, link = linkOf(stored)) =>
	await callWaitingWebhook(stored, { method: 'GET', pathAndQuery: pathOf(link), cookie: cookieOf(user), redirect: 'manual' });

const post = async (stored: StoredExecution, fields: Array<[string, string]>, user?: string) =>
	await callWaitingWebhook(stored, {
		method: 'POST',
		pathAndQuery: pathOf(linkOf(stored)),
		contentType: 'application/x-www-form-urlencoded',
		body: formBody(fields),
		cookie: cookieOf(user),
	});

/** The form of a page as alice sees it (any signed-in reviewer gets the same form). */
async function formAs(stored: StoredExecution, user: string, values: Record<string, string> = {}) {
	const page = await get(stored, user);
	expect(page.status).toBe(200);
	return submitWith(fill(formFields(page.body), values), 'submit');
}

const reviews = (items: INodeExecutionData[]) => items.map((item) => item.json.review as IDataObject);
const alice = { id: 'u-alice', email: 'Alice@Example.com', name: 'Alice Approver' };
const bob = { id: 'u-bob', email: 'bob@example.com', name: 'Bob' };

describe2('Who May Review: Anyone With the Link (the default)', () => {
	test('no sign-in asked, no "Reviewing as", no reviewed_by: as before', async () => {
		const { stored } = await pause([decided('a', 'approve'), decided('b', 'deny')], {});
		const page = await get(stored, 'alice');
		expect(page.status).toBe(200);
		expect(page.body).not.toContain('Reviewing as');
		const done = await post(stored, submitWith(formFields(page.body), 'submit'));
		expect(done.status).toBe(200);
		const items = done.resumed!.outputs.flat();
		expect(items).toHaveLength(2);
		for (const review of reviews(items)) {
			expect(review).not.toHaveProperty('reviewed_by');
			expect(review).not.toHaveProperty('earlier_reviewers');
			expect(Object.keys(review).sort()).toEqual(['changed', 'clone_decision', 'decided_by', 'decision', 'note', 'reviewed_at']);
		}
	});
});

describe2('Who May Review: Any Signed-In User of This n8n', () => {
	const params = { whoMayReview: 'signedIn' };

	test('not signed in: GET goes to n8n\'s sign-in with a way back; back without a session: a page, not a loop', async () => {
		const { stored } = await pause([decided('a', 'approve')], params);
		const first = await get(stored);
		expect(first.status).toBe(302);
		const location = new URL(first.headers.location);
		expect(`${location.origin}${location.pathname}`).toBe(`${HARNESS_BASE_URL}/signin`);
		const back = new URL(location.searchParams.get('redirect')!);
		expect(back.pathname).toBe(`/webhook-waiting/${EXECUTION_ID}/${NODE_ID}`);
		expect(back.searchParams.get('signature')).toBe(new URL(linkOf(stored)).searchParams.get('signature'));
		expect(back.searchParams.get('signed_in')).toBe('1');
		// The browser came back from the sign-in, but the cookie did not reach the page.
		const again = await get(stored, undefined, back.toString());
		expect(again.status).toBe(401);
		expect(again.headers.location).toBeUndefined();
		expect(unescapeHtml(again.body)).toContain('your n8n sign-in did not reach this page');
		expect(again.resumed).toBeUndefined();
		// A forged or altered session is "not signed in".
		const forged = await get(stored, `${sessionFor('alice').slice(0, -2)}xx`);
		expect(forged.status).toBe(302);
	});

	test('signed in: the page says whom it reviews as; the submit records reviewed_by on every item and on the confirmation', async () => {
		const { stored } = await pause([decided('a', 'approve'), decided('b', 'deny'), decided('c', 'approve')], params);
		const page = await get(stored, 'alice');
		expect(page.status).toBe(200);
		expect(unescapeHtml(page.body)).toContain('Reviewing as <bdi>Alice Approver <Alice@Example.com></bdi>');
		expect(page.body).not.toContain(sessionFor('alice'));
		// The form does not carry who reviews: the submit's own cookie says it.
		const fields = submitWith(fill(formFields(page.body), { decision_1: 'approve' }), 'submit');
		expect(fields.map(([name]) => name).join(' ')).not.toMatch(/user|reviewer|auth/);
		const unsigned = await post(stored, fields);
		expect(unsigned.status).toBe(401);
		expect(unsigned.resumed).toBeUndefined();
		const done = await post(stored, fields, 'alice');
		expect(done.status).toBe(200);
		expect(unescapeHtml(done.body)).toContain('Reviewed by <bdi>Alice Approver <Alice@Example.com></bdi>');
		const items = done.resumed!.outputs.flat();
		expect(items.map((item) => item.json.id).sort()).toEqual(['a', 'b', 'c']);
		for (const review of reviews(items)) expect(review.reviewed_by).toEqual(alice);
		expect(reviews(items).find((review) => review.changed)).toMatchObject({ decision: 'approve', decided_by: 'reviewer' });
		// No session or token in what the run stores.
		expect(done.stored.data).not.toContain(sessionFor('alice').split('.')[1]);
	});
});

describe2('an n8n that does not check sign-ins for the node', () => {
	test('the signed-in modes refuse with a page that says so (501), no redirect, nothing resumes; Anyone With the Link works', async () => {
		const { stored } = await pause([decided('a', 'approve')], { whoMayReview: 'signedIn' });
		const pathAndQuery = pathOf(linkOf(stored));
		const answer = await callWaitingWebhook(stored, { method: 'GET', pathAndQuery, cookie: cookieOf('alice'), withoutCookieAuth: true });
		expect(answer.status).toBe(501);
		expect(answer.headers.location).toBeUndefined();
		expect(unescapeHtml(answer.body)).toContain('this n8n does not check sign-ins on this address');
		const open = await pause([decided('a', 'approve')], {});
		const page = await callWaitingWebhook(open.stored, { method: 'GET', pathAndQuery: pathOf(linkOf(open.stored)), withoutCookieAuth: true });
		expect(page.status).toBe(200);
	});
});

describe2('Who May Review: Only These n8n Users', () => {
	const params = { whoMayReview: 'listed', reviewerEmails: 'owner@example.com,\n alice@example.com' };

	test('a signed-in user not listed gets 403 on GET and POST, nothing resumes; a listed one (email case aside) submits', async () => {
		const { stored } = await pause([decided('a', 'approve'), decided('b', 'deny')], params);
		const refused = await get(stored, 'bob');
		expect(refused.status).toBe(403);
		expect(unescapeHtml(refused.body)).toContain('signed in as Bob <bob@example.com>, who is not one of the reviewers');
		expect(refused.body).not.toContain('<form');
		const fields = await formAs(stored, 'alice');
		const posted = await post(stored, fields, 'bob');
		expect(posted.status).toBe(403);
		expect(posted.resumed).toBeUndefined();
		expect(posted.stored.status).toBe('waiting');
		const done = await post(stored, fields, 'alice');
		expect(done.status).toBe(200);
		for (const review of reviews(done.resumed!.outputs.flat())) expect(review.reviewed_by).toEqual(alice);
	});

	test('the list may come from an expression; an empty list or a bad email stops before the pause', async () => {
		const fromExpression = await pause([decided('a', 'approve', { approvers: ['bob@example.com'] })], {
			...params,
			reviewerEmails: '={{ $json.approvers }}',
		});
		expect(fromExpression.status).toBe('waiting');
		expect((await get(fromExpression.stored, 'alice')).status).toBe(403);
		expect((await get(fromExpression.stored, 'bob')).status).toBe(200);
		const empty = await pause([decided('a', 'approve')], { ...params, reviewerEmails: ' ' });
		expect(empty.status).not.toBe('waiting');
		expect(empty.error?.message).toMatch(/Reviewers is empty/);
		const bad = await pause([decided('a', 'approve')], { ...params, reviewerEmails: 'alice@example.com, bob' });
		expect(bad.error?.message).toBe('Reviewers: "bob" is not an email address');
	});
});

describe2('four-eyes: Require a Different Reviewer', () => {
	const firstReview = { decision: 'approve', decided_by: 'reviewer', changed: true, note: '', clone_decision: 'deny', reviewed_by: alice };

	test('refuses the reviewer of an earlier Review step (read from the items), accepts another, keeps the trail', async () => {
		const { stored } = await pause(
			[decided('a', 'approve', { review: firstReview }), decided('b', 'approve', { review: firstReview }), decided('c', 'approve')],
			{ whoMayReview: 'signedIn', requireDifferentReviewer: true },
		);
		const refused = await get(stored, 'alice');
		expect(refused.status).toBe(403);
		expect(unescapeHtml(refused.body)).toContain('already reviewed 2 of these items in an earlier review step');
		const fields = await formAs(stored, 'bob');
		const posted = await post(stored, fields, 'alice');
		expect(posted.status).toBe(403);
		expect(posted.resumed).toBeUndefined();
		const done = await post(stored, fields, 'bob');
		expect(done.status).toBe(200);
		const items = done.resumed!.outputs.flat();
		expect(items.map((item) => item.json.id)).toEqual(['a', 'b', 'c']);
		for (const review of reviews(items)) expect(review.reviewed_by).toEqual(bob);
		expect(reviews(items).map((review) => review.earlier_reviewers)).toEqual([[alice], [alice], undefined]);
	});

	test('the same user is recognised by id, and by email (case aside) when an id is missing', async () => {
		const byEmail = { ...firstReview, reviewed_by: { email: 'ALICE@example.com', name: 'someone' } };
		const { stored } = await pause([decided('a', 'approve', { review: byEmail })], {
			whoMayReview: 'listed',
			reviewerEmails: 'alice@example.com, bob@example.com',
			requireDifferentReviewer: true,
		});
		expect((await get(stored, 'alice')).status).toBe(403);
		expect((await get(stored, 'bob')).status).toBe(200);
	});

	test('off: the earlier reviewer may review again', async () => {
		const { stored } = await pause([decided('a', 'approve', { review: firstReview })], { whoMayReview: 'signedIn' });
		expect((await get(stored, 'alice')).status).toBe(200);
	});
});

describe2('the form', () => {
	test('choices for items that are not on the page are refused (422), nothing recorded', async () => {
		const { stored } = await pause([decided('a', 'approve'), decided('b', 'deny')], {});
		const page = await get(stored);
		const fields = submitWith(formFields(page.body), 'submit');
		for (const extra of [['decision_7', 'approve'], ['note_2', 'x'], ['custom_01', 'y']] as Array<[string, string]>) {
			const answer = await post(stored, [extra, ...fields]);
			expect(answer.status).toBe(422);
			expect(unescapeHtml(answer.body)).toContain(`choices for items that are not on this page (${extra[0]})`);
			expect(answer.resumed).toBeUndefined();
		}
		expect((await post(stored, fields)).status).toBe(200);
	});

	test('direction controls in item data are shown, not obeyed, and each text is isolated', async () => {
		const { stored } = await pause([decided('a', 'approve', { customer: 'Müller\u202E' })], {});
		const page = await get(stored);
		expect(page.body).toContain('<h2><bdi>Müller[U+202E] – 100 USD</bdi></h2>');
		expect(page.body).not.toContain('\u202E');
	});
});

describe2('Who May Review: Named Reviewers (Personal Links)', () => {
	const API_KEY = CREDENTIAL.apiKey;
	const annA = { email: 'Ann@Example.com', name: 'Ann Approver' };
	const benB = { email: 'ben@example.com', name: '' };
	let hook: Awaited<ReturnType<typeof startIncomingWebhook>>;
	beforeAll(async () => (hook = await startIncomingWebhook({ lifetimeMs: 10 * 60 * 1000 })));
	afterAll(async () => await hook.close());
	beforeEach(() => hook.reset());

	const named = (extra: IDataObject = {}) => ({
		whoMayReview: 'named',
		namedReviewers: { reviewers: [annA, benB] },
		notifyVia: 'webhook',
		notifyUrl: hook.urlFor('generic'),
		notifyFormat: 'generic',
		...extra,
	});
	/** The personal link each reviewer received, by lower-cased email. */
	const linksByEmail = () => new Map(hook.posts.map((p) => [String(p.body.email).toLowerCase(), String(p.body.url)]));
	const getAt = async (stored: StoredExecution, link: string) =>
		await callWaitingWebhook(stored, { method: 'GET', pathAndQuery: pathOf(link) });
	const postAt = async (stored: StoredExecution, link: string, fields: Array<[string, string]>) =>
		await callWaitingWebhook(stored, { method: 'POST', pathAndQuery: link, contentType: 'application/x-www-form-urlencoded', body: formBody(fields) });
	/** The page's form: its action (the query it posts to, on the page's path) and its fields, submitted. */
	async function formAt(stored: StoredExecution, link: string, values: Record<string, string> = {}) {
		const page = await getAt(stored, link);
		expect(page.status).toBe(200);
		const action = unescapeHtml(/<form id="review" method="post" action="([^"]*)"/.exec(page.body)![1]);
		return { page, target: `${new URL(link).pathname}${action}`, fields: submitWith(fill(formFields(page.body), values), 'submit') };
	}

	test('one POST per reviewer with their own link; the link admits that person; reviewed_by on every item; no API key anywhere', async () => {
		const { stored, status } = await pause([decided('a', 'approve'), decided('b', 'deny')], named({ pageTitle: 'Refunds' }));
		expect(status).toBe('waiting');
		expect(hook.posts).toHaveLength(2);
		expect(hook.posts.map((p) => [p.body.email, p.body.name, p.body.item_count, p.body.title])).toEqual([
			['Ann@Example.com', 'Ann Approver', 2, 'Refunds'],
			['ben@example.com', '', 2, 'Refunds'],
		]);
		const links = linksByEmail();
		const annLink = new URL(links.get('ann@example.com')!);
		expect(annLink.searchParams.get('signature')).toBe(new URL(linkOf(stored)).searchParams.get('signature'));
		expect(annLink.searchParams.get('reviewer')).toBe('Ann@Example.com');
		expect(annLink.searchParams.get('rt')).toBe(personalToken(API_KEY, EXECUTION_ID, NODE_ID, 'ann@example.com'));
		expect(links.get('ben@example.com')).not.toBe(annLink.toString());

		const { page, target, fields } = await formAt(stored, annLink.toString(), { decision_1: 'approve' });
		expect(unescapeHtml(page.body)).toContain('Reviewing as <bdi>Ann Approver <Ann@Example.com></bdi>');
		// the form posts back to the personal link (reviewer and token carried), and nothing else names the reviewer
		expect(new URL(target, HARNESS_BASE_URL).search).toBe(annLink.search);
		expect(fields.map(([name]) => name).filter((name) => /^(reviewer|rt)$|user|auth/.test(name))).toEqual([]);
		const done = await postAt(stored, target, fields);
		expect(done.status).toBe(200);
		expect(unescapeHtml(done.body)).toContain('Reviewed by <bdi>Ann Approver <Ann@Example.com></bdi>');
		const items = done.resumed!.outputs.flat();
		expect(items.map((item) => item.json.id).sort()).toEqual(['a', 'b']);
		for (const review of reviews(items)) expect(review.reviewed_by).toEqual(annA);
		for (const text of [JSON.stringify(hook.posts.map((p) => p.rawBody)), page.body, done.body, done.stored.data, JSON.stringify(items)]) {
			expect(text).not.toContain(API_KEY);
		}
	});

	test('a step that does not finish (filter, page) redirects to an address that keeps the personal link; the person stays the reviewer', async () => {
		const { stored } = await pause([decided('a', 'approve'), decided('b', 'deny')], named());
		const annLink = new URL(linksByEmail().get('ann@example.com')!);
		const { target, fields } = await formAt(stored, annLink.toString());
		const step = await callWaitingWebhook(stored, {
			method: 'POST',
			pathAndQuery: target,
			contentType: 'application/x-www-form-urlencoded',
			body: formBody(submitWith(fields.filter(([name]) => name !== 'submit'), 'apply_view')),
			redirect: 'manual',
		});
		expect(step.status).toBe(303);
		expect(step.resumed).toBeUndefined();
		const location = new URL(step.headers.location, HARNESS_BASE_URL);
		for (const name of ['signature', 'reviewer', 'rt']) expect(location.searchParams.get(name)).toBe(annLink.searchParams.get(name));
		const again = await getAt(stored, location.toString());
		expect(again.status).toBe(200);
		expect(unescapeHtml(again.body)).toContain('Reviewing as <bdi>Ann Approver <Ann@Example.com></bdi>');
	});

	test('altered token, another reviewer\'s token, an unlisted email, no token, the plain link: 403 on GET and POST, nothing resumes', async () => {
		const { stored } = await pause([decided('a', 'approve')], named());
		const links = linksByEmail();
		const ann = new URL(links.get('ann@example.com')!);
		const ben = new URL(links.get('ben@example.com')!);
		const variant = (edit: (url: URL) => void) => {
			const url = new URL(ann.toString());
			edit(url);
			return url.toString();
		};
		const token = ann.searchParams.get('rt')!;
		const bad = {
			altered: variant((url) => url.searchParams.set('rt', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)),
			otherEmail: variant((url) => url.searchParams.set('reviewer', 'ben@example.com')),
			otherToken: variant((url) => url.searchParams.set('rt', ben.searchParams.get('rt')!)),
			unlisted: variant((url) => {
				url.searchParams.set('reviewer', 'eve@example.com');
				url.searchParams.set('rt', personalToken(API_KEY, EXECUTION_ID, NODE_ID, 'eve@example.com'));
			}),
			otherExecution: variant((url) => url.searchParams.set('rt', personalToken(API_KEY, 'another-execution', NODE_ID, 'ann@example.com'))),
			noToken: variant((url) => url.searchParams.delete('rt')),
			plain: linkOf(stored),
		};
		const { fields } = await formAt(stored, ann.toString());
		for (const [what, link] of Object.entries(bad)) {
			const page = await getAt(stored, link);
			expect([what, page.status]).toEqual([what, 403]);
			expect(page.body).not.toContain('<form');
			const posted = await postAt(stored, pathOf(link), fields);
			expect([what, posted.status, posted.resumed, posted.stored.status]).toEqual([what, 403, undefined, 'waiting']);
		}
		expect(unescapeHtml((await getAt(stored, bad.unlisted)).body)).toContain('names someone who is not one of the reviewers');
		expect(unescapeHtml((await getAt(stored, bad.altered)).body)).toContain('Open the link that was sent to you');
		// the real link still works afterwards
		expect((await postAt(stored, pathOf(ann.toString()), fields)).status).toBe(200);
	});

	test('four-eyes across two Review steps: the first step\'s reviewer is refused on the second, the other accepted', async () => {
		const first = await pause([decided('a', 'approve'), decided('b', 'deny')], named());
		const firstLinks = linksByEmail();
		const step1 = await formAt(first.stored, firstLinks.get('ann@example.com')!);
		const done1 = await postAt(first.stored, step1.target, step1.fields);
		expect(done1.status).toBe(200);
		const reviewed = done1.resumed!.outputs.flat().map((item) => item.json);
		for (const json of reviewed) expect((json.review as IDataObject).reviewed_by).toEqual(annA);

		hook.reset();
		// The second Review gets the first one's items (with their review), four-eyes on; Ann's email now in other case.
		const second = await pause(reviewed, named({ requireDifferentReviewer: true, namedReviewers: { reviewers: [{ email: 'ANN@example.com', name: 'Ann' }, benB] } }));
		expect(second.status).toBe('waiting');
		const links = linksByEmail();
		const refused = await getAt(second.stored, links.get('ann@example.com')!);
		expect(refused.status).toBe(403);
		expect(unescapeHtml(refused.body)).toContain('already reviewed 2 of these items in an earlier review step');
		const step2 = await formAt(second.stored, links.get('ben@example.com')!);
		const annPost = await postAt(second.stored, pathOf(links.get('ann@example.com')!), step2.fields);
		expect([annPost.status, annPost.resumed, annPost.stored.status]).toEqual([403, undefined, 'waiting']);
		const done2 = await postAt(second.stored, step2.target, step2.fields);
		expect(done2.status).toBe(200);
		const items = done2.resumed!.outputs.flat();
		expect(items.map((item) => item.json.id)).toEqual(['a', 'b']);
		for (const review of reviews(items)) {
			expect(review.reviewed_by).toEqual(benB);
			expect(review.earlier_reviewers).toEqual([annA]);
		}
	});

	test('chat formats: each reviewer gets a message addressed to them, with their own link', async () => {
		const { stored } = await pause([decided('a', 'approve')], named({ notifyUrl: hook.urlFor('slack'), notifyFormat: 'text' }));
		expect(hook.posts.map((p) => p.status)).toEqual([200, 200]);
		const [toAnn, toBen] = hook.posts.map((p) => String(p.body.text));
		expect(toAnn).toMatch(/^For Ann Approver \(Ann@\u200BExample\.com\), your personal link: /);
		expect(toBen).toMatch(/^For ben@\u200Bexample\.com, your personal link: /);
		expect((await getAt(stored, toBen.split(' ').pop()!)).status).toBe(200);
	});

	test('refused before the pause: no notification, an empty or bad list; nothing paused, nothing posted', async () => {
		const silent = await pause([decided('a', 'approve')], named({ notifyVia: 'none' }));
		expect(silent.status).toBe('error');
		expect(silent.run.waitTill).toBeUndefined();
		expect(silent.error?.message).toMatch(/^"Named Reviewers \(Personal Links\)" hands each reviewer their own link through "Notify Reviewer", which is off/);
		const empty = await pause([decided('a', 'approve')], named({ namedReviewers: {} }));
		expect(empty.error?.message).toMatch(/^Named Reviewers is empty/);
		const bad = await pause([decided('a', 'approve')], named({ namedReviewers: { reviewers: [{ email: 'ann' }] } }));
		expect(bad.error?.message).toBe('Named Reviewers: reviewer 1\'s email "ann" is not an email address');
		expect(hook.posts).toHaveLength(0);
	});

	test('reviewer emails from expressions', async () => {
		const { stored, status } = await pause([decided('a', 'approve', { approver: 'cy@example.com' })], named({
			namedReviewers: { reviewers: [{ email: '={{ $json.approver }}', name: 'Cy' }] },
		}));
		expect(status).toBe('waiting');
		const link = linksByEmail().get('cy@example.com')!;
		const { target, fields } = await formAt(stored, link);
		const done = await postAt(stored, target, fields);
		expect(reviews(done.resumed!.outputs.flat())[0].reviewed_by).toEqual({ email: 'cy@example.com', name: 'Cy' });
	});
});
