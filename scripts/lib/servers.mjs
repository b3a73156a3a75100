// The CloMan stand-in (test/standin/server.js) and the local incoming-webhook receiver
// (test/standin/incoming-webhook.js) as child processes, for the demo and the editor.
import fs from 'node:fs';
import path from 'node:path';
import { LOGS, ROOT } from './paths.mjs';
import { startProcess } from './processes.mjs';

export async function startStandinProcess({ lifetimeMs = 24 * 3600_000 } = {}) {
	const script = path.join(ROOT, 'test', 'standin', 'server.js');
	if (!fs.existsSync(script)) throw new Error(`the CloMan stand-in is missing: ${path.relative(ROOT, script)}`);
	let resolveUrl;
	const urlPromise = new Promise((r) => (resolveUrl = r));
	const child = startProcess(process.execPath, [script, '--port', '0', '--lifetime-ms', String(lifetimeMs)], {
		logFile: path.join(LOGS, 'standin.log'),
		onLine: (line) => {
			const m = /^CLOMAN_STANDIN_URL=(\S+)/.exec(line);
			if (m) resolveUrl(m[1]);
		},
	});
	const url = await Promise.race([
		urlPromise,
		new Promise((_, reject) => setTimeout(() => reject(new Error('the stand-in printed no CLOMAN_STANDIN_URL within 20 s')), 20_000)),
		new Promise((_, reject) => child.once('close', (code) => reject(new Error(`the stand-in exited (code ${code})`)))),
	]);
	return { url, child, stop: () => child.stop() };
}

/**
 * The local incoming-webhook receiver (test/standin/incoming-webhook.js) as a child process, for the
 * demo and the editor. onPost(post) gets { path, shape, message, links } for every accepted post.
 * port: 0 for any free port; a given port that is taken rejects.
 */
export async function startIncomingWebhookProcess({ port = 0, lifetimeMs = 24 * 3600_000, onPost } = {}) {
	const script = path.join(ROOT, 'test', 'standin', 'incoming-webhook.js');
	let resolveUrl;
	const urlPromise = new Promise((r) => (resolveUrl = r));
	let current;
	const child = startProcess(process.execPath, [script, '--port', String(port), '--lifetime-ms', String(lifetimeMs)], {
		logFile: path.join(LOGS, 'incoming-webhook.log'),
		onLine: (line) => {
			let m = /^INCOMING_WEBHOOK_URL=(\S+)/.exec(line);
			if (m) return resolveUrl(m[1]);
			m = /^INCOMING_WEBHOOK_POST (\S+) (\S+) \((\w+)\): (.*)$/.exec(line);
			if (m) {
				if (current) onPost?.(current);
				current = { at: m[1], path: m[2], shape: m[3], message: JSON.parse(m[4]), links: [] };
				// The links follow on their own lines; hand the post on once they are read.
				const post = current;
				setTimeout(() => {
					if (current === post) {
						current = undefined;
						onPost?.(post);
					}
				}, 300).unref();
				return;
			}
			m = /^INCOMING_WEBHOOK_LINK (\S+)/.exec(line);
			if (m && current) current.links.push(m[1]);
		},
	});
	const url = await Promise.race([
		urlPromise,
		new Promise((_, reject) => setTimeout(() => reject(new Error('the incoming-webhook receiver printed no address within 20 s')), 20_000)),
		new Promise((_, reject) => child.once('close', (code) => reject(new Error(`the incoming-webhook receiver exited (code ${code}); log: .cache/logs/incoming-webhook.log`)))),
	]);
	return { url, urlFor: (kind) => `${url}/${kind}/incoming`, child, stop: () => child.stop() };
}
