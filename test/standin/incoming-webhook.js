#!/usr/bin/env node
'use strict';
/**
 * A local stand-in for a chat tool's incoming webhook (Slack, Microsoft Teams, Mattermost, Discord), for the
 * e2e tier and `bash scripts/editor.sh`: the CloMan Review node posts its review link here.
 * Plain CommonJS, node: built-ins only. Listens on 127.0.0.1; closes itself after `lifetimeMs`.
 *
 * What it accepts, as those services do: a POST with a JSON object body.
 *   /slack, /teams, /mattermost  `{"text": "..."}` (a non-empty string `text`)         → 200 "ok"
 *   /discord                     `{"content": "..."}` (a non-empty string `content`)   → 200 "ok"
 *   any other path               any JSON object (a generic webhook)                   → 200 "ok"
 * A body that is not JSON, not an object, or lacks the field the path asks for → 400 with Slack's words
 * (`invalid_payload`, `no_text`); other methods → 405. Every request is recorded, accepted or not.
 */
const http = require('node:http');
const { readBody, listenOnLoopback, numberArg } = require('./loopback');

const MAX_BODY_BYTES = 256 * 1024;
/** The field each chat tool's incoming webhook reads the message from. */
const TEXT_FIELD = { slack: 'text', teams: 'text', mattermost: 'text', discord: 'content' };

/**
 * @typedef {{ n: number, at: number, method: string, path: string, headers: Record<string, string | string[] | undefined>,
 *   rawBody: string, body: any, status: number, shape: 'text' | 'content' | 'generic' | undefined, message: string | undefined,
 *   links: string[] }} IncomingPost
 * @typedef {{ port?: number, lifetimeMs?: number, onPost?: (post: IncomingPost) => void }} IncomingWebhookOptions
 * @typedef {{
 *   url: string, port: number, server: import('node:http').Server,
 *   posts: IncomingPost[],
 *   urlFor: (kind: 'slack' | 'teams' | 'mattermost' | 'discord' | 'generic') => string,
 *   waitForPost: (predicate?: (post: IncomingPost) => boolean, timeoutMs?: number) => Promise<IncomingPost>,
 *   reset: () => void,
 *   close: () => Promise<void>,
 *   closed: Promise<void>,
 * }} IncomingWebhook
 */

/** @param {unknown} v */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every http(s) address in the string values of a JSON value (the review link, wherever the shape puts it). */
function linksIn(value, found = []) {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/https?:\/\/[^\s<>"'|)\]]+/g)) if (!found.includes(m[0])) found.push(m[0]);
  } else if (Array.isArray(value)) {
    for (const v of value) linksIn(v, found);
  } else if (isObject(value)) {
    for (const v of Object.values(value)) linksIn(v, found);
  }
  return found;
}

/**
 * @param {IncomingWebhookOptions} [options]
 * @returns {Promise<IncomingWebhook>}
 */
async function startIncomingWebhook(options = {}) {
  /** @type {IncomingPost[]} */
  const posts = [];
  /** @type {{ predicate: (post: IncomingPost) => boolean, resolve: (post: IncomingPost) => void }[]} */
  const waiters = [];
  let n = 0;

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function handle(req, res) {
    const rawBody = await readBody(req, MAX_BODY_BYTES).catch(() => null);
    const path = (req.url ?? '').split('?')[0];
    /** @type {IncomingPost} */
    const post = {
      n: ++n,
      at: Date.now(),
      method: req.method ?? '',
      path,
      headers: { ...req.headers },
      rawBody: rawBody ?? '',
      body: undefined,
      status: 0,
      shape: undefined,
      message: undefined,
      links: [],
    };
    const answer = (status, text, headers = {}) => {
      post.status = status;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(text);
    };
    posts.push(post);
    if (req.method !== 'POST') answer(405, 'method_not_allowed', { allow: 'POST' });
    else if (rawBody === null) answer(413, 'payload_too_large');
    else {
      try {
        post.body = JSON.parse(rawBody);
      } catch {
        post.body = undefined;
      }
      const kind = path.split('/').filter(Boolean)[0] ?? '';
      const field = TEXT_FIELD[/** @type {keyof typeof TEXT_FIELD} */ (kind)];
      if (!isObject(post.body)) answer(400, 'invalid_payload');
      else if (field !== undefined && !(typeof post.body[field] === 'string' && post.body[field].trim() !== '')) answer(400, 'no_text');
      else {
        post.shape = field === 'text' ? 'text' : field === 'content' ? 'content' : 'generic';
        post.message = typeof post.body.text === 'string' ? post.body.text : typeof post.body.content === 'string' ? post.body.content : JSON.stringify(post.body);
        post.links = linksIn(post.body);
        answer(200, 'ok');
      }
    }
    if (post.status === 200) {
      options.onPost?.(post);
      for (const w of [...waiters]) {
        if (w.predicate(post)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(post);
        }
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const { port, close, closed } = await listenOnLoopback(server, { port: options.port, lifetimeMs: options.lifetimeMs ?? 15 * 60 * 1000 });
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    server,
    posts,
    urlFor: (kind) => `${url}/${kind}/incoming`,
    waitForPost(predicate = () => true, timeoutMs = 60_000) {
      const done = posts.find((p) => p.status === 200 && predicate(p));
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve: (/** @type {IncomingPost} */ p) => (clearTimeout(timer), resolve(p)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`incoming webhook: no matching post within ${timeoutMs} ms (${posts.length} requests seen)`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    reset() {
      posts.length = 0;
    },
    close,
    closed,
  };
}

/** CLI: node test/standin/incoming-webhook.js [--port N] [--lifetime-ms N]; prints its address, then each message. */
async function main(argv) {
  /** @param {string} name */
  const num = (name) => numberArg(argv, name);
  const receiver = await startIncomingWebhook({
    port: num('--port'),
    lifetimeMs: num('--lifetime-ms'),
    onPost(post) {
      const stamp = new Date(post.at).toISOString();
      process.stdout.write(`INCOMING_WEBHOOK_POST ${stamp} ${post.path} (${post.shape}): ${JSON.stringify(post.message)}\n`);
      for (const link of post.links) process.stdout.write(`INCOMING_WEBHOOK_LINK ${link}\n`);
    },
  });
  receiver.server.ref();
  process.stdout.write(`INCOMING_WEBHOOK_URL=${receiver.url}\n`);
  const stop = () => void receiver.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await receiver.closed;
  process.exit(0);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

module.exports = { startIncomingWebhook, linksIn };
