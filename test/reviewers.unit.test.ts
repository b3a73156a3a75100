/** Pure parts of accountable review: the access helpers, the page's text helper, the notification escaping. */
import {
	earlierReviewersOf,
	pageUrlOf,
	parseNamedReviewers,
	parseReviewerList,
	readCookie,
	sameReviewer,
	signInLocation,
} from '../nodes/CloMan/actions/review/access';
import { escapeChatText, escapeDiscordText, notificationBody } from '../nodes/CloMan/actions/review/link';
import { escapeHtml, escapeValue, renderMessagePage, text } from '../nodes/CloMan/actions/review/page';
import { personalLink, personalToken, validPersonalToken } from '../nodes/CloMan/actions/review/personal';

const ZW = '\u200B';

describe('notification text per format', () => {
	const info = { url: 'https://n8n.example/webhook-waiting/1/n?signature=abc', itemCount: 2, executionId: '1' };

	test('Slack / Mattermost / Teams / Google Chat ("text"): no mentions, no links, no markup from the title', () => {
		const title = 'Refunds <!channel> <!here|here> <@U123> <users/all> <https://evil.example|click> & [pay](https://evil.example) @channel @all';
		const body = notificationBody('text', { ...info, title });
		const text = String(body.text);
		expect(text).not.toMatch(/<[!@]|<users|<https|\]\(|@channel|@all|https:\/\/evil/);
		expect(text).toBe(
			`Refunds &lt;!channel&gt; &lt;!here|here&gt; &lt;@${ZW}U123&gt; &lt;users/all&gt; &lt;https:${ZW}//evil.example|click&gt; &amp; [pay]${ZW}(https:${ZW}//evil.example) @${ZW}channel @${ZW}all: 2 items wait for your review (if the link says the execution is running, reload it a few seconds later): ${info.url}`,
		);
		// the node's own link stays a link
		expect(text.endsWith(` ${info.url}`)).toBe(true);
		expect(escapeChatText('Refunds (EU) 5 & up')).toBe('Refunds (EU) 5 &amp; up');
	});

	test('Discord: mentions broken and allowed_mentions empty, masked links broken', () => {
		const body = notificationBody('discord', { ...info, title: '@everyone @here <@123> <@&456> [pay](https://evil.example)' });
		expect(body.allowed_mentions).toEqual({ parse: [] });
		expect(String(body.content)).not.toMatch(/@everyone|@here|<@|\]\(|https:\/\/evil/);
		expect(escapeDiscordText('Refunds (EU)')).toBe('Refunds (EU)');
	});

	test('generic JSON: the title is data, as it is', () => {
		const title = '<!channel> @all [x](y)';
		const body = notificationBody('generic', { ...info, title });
		expect(body.title).toBe(title);
		expect(body.text).toBe(`${title}: 2 items wait for your review (if the link says the execution is running, reload it a few seconds later): ${info.url}`);
	});
});

describe('page text', () => {
	test('direction controls become visible; marks stay; text() isolates; values round-trip', () => {
		expect(escapeHtml('Müller\u202E – 205 USD')).toBe('Müller[U+202E] – 205 USD');
		expect(escapeHtml('\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069')).toBe(
			'[U+202A][U+202B][U+202C][U+202D][U+2066][U+2067][U+2068][U+2069]',
		);
		expect(escapeHtml('שלום\u200F 5 <b>')).toBe('שלום\u200F 5 &lt;b&gt;');
		expect(text('a\u202Eb & c')).toBe('<bdi>a[U+202E]b &amp; c</bdi>');
		expect(escapeValue('a\u202E"b')).toBe('a\u202E&quot;b');
	});

	test('a message page may carry one link, escaped', () => {
		const html = renderMessagePage('T', 'M', 'n', { href: 'https://x/signin?redirect=a&b="c"', label: 'Sign in' });
		expect(html).toContain('<a id="page-link" href="https://x/signin?redirect=a&amp;b=&quot;c&quot;">Sign in</a>');
	});
});

describe('access helpers', () => {
	test('reviewer list: commas, semicolons, spaces, new lines or an array; lower-cased, once each; a bad entry is an error', () => {
		expect(parseReviewerList('Alice@Example.com, bob@example.com;\ncarol@example.com  alice@example.com')).toEqual([
			'alice@example.com',
			'bob@example.com',
			'carol@example.com',
		]);
		expect(parseReviewerList(['A@b.c', ' '])).toEqual(['a@b.c']);
		expect(parseReviewerList('')).toEqual([]);
		expect(() => parseReviewerList('alice@example.com, bob')).toThrow('Reviewers: "bob" is not an email address');
	});

	test('the n8n-auth cookie from a raw Cookie header', () => {
		expect(readCookie('a=1; n8n-auth=tok.en%3D; b=2', 'n8n-auth')).toBe('tok.en=');
		expect(readCookie('xn8n-auth=1; n8n-authx=2', 'n8n-auth')).toBeUndefined();
		expect(readCookie(undefined, 'n8n-auth')).toBeUndefined();
		expect(readCookie(['a=1', 'n8n-auth=z'], 'n8n-auth')).toBe('z');
	});

	test('the same reviewer: by id when both have one, else by email (case aside)', () => {
		const a = { id: '1', email: 'a@x.y', name: '' };
		expect(sameReviewer(a, { id: '1', email: 'other@x.y', name: '' })).toBe(true);
		expect(sameReviewer(a, { id: '2', email: 'a@x.y', name: '' })).toBe(false);
		expect(sameReviewer(a, { id: '', email: 'A@X.Y', name: '' })).toBe(true);
		expect(sameReviewer({ id: '', email: '', name: '' }, { id: '', email: '', name: '' })).toBe(false);
	});

	test('earlier reviewers: reviewed_by and earlier_reviewers of the item\'s review, once each', () => {
		const json = {
			review: {
				reviewed_by: { id: '2', email: 'b@x.y', name: 'B' },
				earlier_reviewers: [{ id: '1', email: 'a@x.y', name: 'A' }, { id: '2', email: 'b@x.y', name: 'B' }],
			},
		};
		expect(earlierReviewersOf(json)).toEqual([
			{ id: '1', email: 'a@x.y', name: 'A' },
			{ id: '2', email: 'b@x.y', name: 'B' },
		]);
		expect(earlierReviewersOf({ review: 'x' })).toEqual([]);
		expect(earlierReviewersOf({})).toEqual([]);
	});

	test('sign-in: n8n\'s /signin on the instance URL, back to this page on the instance\'s origin, marked', () => {
		const page = pageUrlOf('https://n8n.example/', '/webhook-waiting/7/node?signature=abc');
		expect(page).toBe('https://n8n.example/webhook-waiting/7/node?signature=abc');
		const location = new URL(signInLocation('https://n8n.example/', page));
		expect(`${location.origin}${location.pathname}`).toBe('https://n8n.example/signin');
		expect(location.searchParams.get('redirect')).toBe('https://n8n.example/webhook-waiting/7/node?signature=abc&signed_in=1');
		// an absolute URL in the request line cannot move the way back to another origin
		expect(pageUrlOf('https://n8n.example', 'https://evil.example/x?y')).toBe('https://n8n.example/x?y');
	});
});

describe('personal review links (Named Reviewers)', () => {
	const key = 'cloman_sk_unit_key';
	const link = 'https://n8n.example/webhook-waiting/41/node-1?signature=abc';

	test('the token is bound to execution, node and email (case aside), never contains the key, and checks in constant time', () => {
		const token = personalToken(key, '41', 'node-1', 'Alice@Example.com');
		expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(token).not.toContain(key);
		expect(personalToken(key, '41', 'node-1', ' alice@example.COM ')).toBe(token);
		for (const other of [
			personalToken(key, '42', 'node-1', 'alice@example.com'),
			personalToken(key, '41', 'node-2', 'alice@example.com'),
			personalToken(key, '41', 'node-1', 'bob@example.com'),
			personalToken('cloman_sk_other', '41', 'node-1', 'alice@example.com'),
		]) {
			expect(other).not.toBe(token);
		}
		expect(validPersonalToken(key, '41', 'node-1', 'alice@example.com', token)).toBe(true);
		expect(validPersonalToken(key, '41', 'node-1', 'bob@example.com', token)).toBe(false);
		const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
		expect(validPersonalToken(key, '41', 'node-1', 'alice@example.com', altered)).toBe(false);
		expect(validPersonalToken(key, '41', 'node-1', 'alice@example.com', token.slice(1))).toBe(false);
		expect(validPersonalToken(key, '41', 'node-1', 'alice@example.com', '')).toBe(false);
	});

	test('the personal link keeps the resume token and adds reviewer and rt, URL-encoded', () => {
		const url = new URL(personalLink(link, 'a+b@example.com', 'tok'));
		expect(url.searchParams.get('signature')).toBe('abc');
		expect(url.searchParams.get('reviewer')).toBe('a+b@example.com');
		expect(url.searchParams.get('rt')).toBe('tok');
		expect(url.search).toContain('reviewer=a%2Bb%40example.com');
	});

	test('the list: entries with email and optional name; bad or repeated emails refused; blank rows skipped', () => {
		expect(parseNamedReviewers({ reviewers: [{ email: ' Alice@Example.com ', name: 'Alice' }, { email: '', name: '' }, { email: 'bob@example.com' }] })).toEqual([
			{ email: 'Alice@Example.com', name: 'Alice' },
			{ email: 'bob@example.com', name: '' },
		]);
		expect(() => parseNamedReviewers({ reviewers: [{ email: 'bob', name: 'Bob' }] })).toThrow('Named Reviewers: reviewer 1\'s email "bob" is not an email address');
		expect(() => parseNamedReviewers({ reviewers: [{ email: 'a@x.io' }, { email: 'A@X.io' }] })).toThrow('Named Reviewers: A@X.io is listed twice');
		expect(parseNamedReviewers({})).toEqual([]);
	});

	test('each reviewer\'s message is addressed to them; chat formats escape the name', () => {
		const info = { title: 'Refunds', url: `${link}&reviewer=x&rt=y`, itemCount: 1, executionId: '41' };
		expect(notificationBody('generic', { ...info, reviewer: { email: 'alice@example.com', name: 'Alice' } })).toEqual({
			text: `For Alice (alice@example.com), your personal link: Refunds: 1 item waits for your review (if the link says the execution is running, reload it a few seconds later): ${info.url}`,
			title: 'Refunds',
			url: info.url,
			execution_id: '41',
			item_count: 1,
			expires_at: null,
			email: 'alice@example.com',
			name: 'Alice',
		});
		const chat = String(notificationBody('text', { ...info, reviewer: { email: 'eve@example.com', name: '<!channel>' } }).text);
		expect(chat).toBe(`For &lt;!channel&gt; (eve@${ZW}example.com), your personal link: Refunds: 1 item waits for your review (if the link says the execution is running, reload it a few seconds later): ${info.url}`);
		const discord = notificationBody('discord', { ...info, reviewer: { email: 'eve@example.com', name: '@everyone' } });
		expect(String(discord.content)).not.toMatch(/@everyone/);
	});
});
