/**
 * The local incoming-webhook receiver (test/standin/incoming-webhook.js) over real HTTP on 127.0.0.1:
 * the message shapes chat tools accept, what it records, and its bounded lifetime.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { startIncomingWebhook, linksIn } from './standin/incoming-webhook';

type Receiver = Awaited<ReturnType<typeof startIncomingWebhook>>;
const open: Receiver[] = [];
async function receiver(options?: Parameters<typeof startIncomingWebhook>[0]): Promise<Receiver> {
	const r = await startIncomingWebhook(options);
	open.push(r);
	return r;
}
afterAll(async () => {
	await Promise.all(open.map((r) => r.close()));
});

async function post(url: string, body: string, contentType = 'application/json') {
	const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
	return { status: res.status, text: await res.text() };
}

const LINK = 'http://127.0.0.1:5678/webhook-waiting/42/node-1?signature=abc123';

describe('incoming-webhook receiver', () => {
	test('listens on 127.0.0.1 and accepts the text shape (Slack, Teams, Mattermost) with 200 "ok"', async () => {
		const r = await receiver();
		expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
		for (const kind of ['slack', 'teams', 'mattermost'] as const) {
			expect(await post(r.urlFor(kind), JSON.stringify({ text: `Review: ${LINK}` }))).toEqual({ status: 200, text: 'ok' });
		}
		expect(r.posts.map((p) => [p.shape, p.message, p.links])).toEqual([
			['text', `Review: ${LINK}`, [LINK]],
			['text', `Review: ${LINK}`, [LINK]],
			['text', `Review: ${LINK}`, [LINK]],
		]);
	});

	test('accepts the Discord shape (content) and any JSON object on other paths', async () => {
		const r = await receiver();
		expect(await post(r.urlFor('discord'), JSON.stringify({ content: `<${LINK}>` }))).toEqual({ status: 200, text: 'ok' });
		expect(await post(r.urlFor('generic'), JSON.stringify({ event: 'review', url: LINK, items: 3 }))).toEqual({ status: 200, text: 'ok' });
		expect(r.posts[0]).toMatchObject({ shape: 'content', message: `<${LINK}>`, links: [LINK] });
		expect(r.posts[1]).toMatchObject({ shape: 'generic', links: [LINK], body: { event: 'review', url: LINK, items: 3 } });
	});

	test('refuses what the services refuse: not JSON, not an object, the wrong field, another method', async () => {
		const r = await receiver();
		expect(await post(r.urlFor('slack'), 'text=hello', 'application/x-www-form-urlencoded')).toEqual({ status: 400, text: 'invalid_payload' });
		expect(await post(r.urlFor('slack'), JSON.stringify(['a']))).toEqual({ status: 400, text: 'invalid_payload' });
		expect(await post(r.urlFor('slack'), JSON.stringify({ content: 'discord shape' }))).toEqual({ status: 400, text: 'no_text' });
		expect(await post(r.urlFor('discord'), JSON.stringify({ text: 'slack shape' }))).toEqual({ status: 400, text: 'no_text' });
		expect(await post(r.urlFor('slack'), JSON.stringify({ text: '   ' }))).toEqual({ status: 400, text: 'no_text' });
		const get = await fetch(r.urlFor('slack'));
		expect(get.status).toBe(405);
		expect(r.posts.map((p) => p.status)).toEqual([400, 400, 400, 400, 400, 405]);
	});

	test('waitForPost resolves with a post that came before or after the call, and times out otherwise', async () => {
		const r = await receiver();
		await post(r.urlFor('slack'), JSON.stringify({ text: 'first' }));
		await expect(r.waitForPost((p) => p.message === 'first', 1000)).resolves.toMatchObject({ message: 'first' });
		const later = r.waitForPost((p) => p.message === 'second', 5000);
		await post(r.urlFor('slack'), JSON.stringify({ text: 'second' }));
		await expect(later).resolves.toMatchObject({ message: 'second', n: 2 });
		await expect(r.waitForPost((p) => p.message === 'never', 200)).rejects.toThrow(/no matching post within 200 ms \(2 requests seen\)/);
	});

	test('linksIn finds every address in Slack <url|label> and Markdown [label](url) forms', () => {
		expect(linksIn({ text: `Open <${LINK}|the review page>`, blocks: [{ url: 'https://example.org/x' }] })).toEqual([LINK, 'https://example.org/x']);
		expect(linksIn(`[review](${LINK}) and again ${LINK}`)).toEqual([LINK]);
	});

	test('closes itself after its lifetime', async () => {
		const r = await receiver({ lifetimeMs: 150 });
		const started = Date.now();
		await r.closed;
		expect(Date.now() - started).toBeLessThan(2000);
		await expect(fetch(r.urlFor('slack'), { method: 'POST', body: '{}' })).rejects.toThrow();
	});

	test('the CLI prints its address and every message with its links, and stops on SIGTERM', async () => {
		const child = spawn(process.execPath, [path.join(__dirname, 'standin', 'incoming-webhook.js'), '--port', '0', '--lifetime-ms', '60000']);
		let out = '';
		child.stdout.on('data', (d) => (out += d));
		const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
		for (let i = 0; i < 100 && !/INCOMING_WEBHOOK_URL=/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
		const url = /INCOMING_WEBHOOK_URL=(\S+)/.exec(out)?.[1];
		expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
		expect(await post(`${url}/slack/incoming`, JSON.stringify({ text: `Please review: ${LINK}` }))).toEqual({ status: 200, text: 'ok' });
		for (let i = 0; i < 100 && !/INCOMING_WEBHOOK_LINK/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
		expect(out).toContain(`INCOMING_WEBHOOK_LINK ${LINK}\n`);
		expect(out).toMatch(/INCOMING_WEBHOOK_POST \S+ \/slack\/incoming \(text\): "Please review: /);
		child.kill('SIGTERM');
		expect(await exited).toBe(0);
	});
});
