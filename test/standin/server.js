#!/usr/bin/env node
'use strict';
/**
 * Stand-in for the CloMan decide API (POST /api/v1/public/decide), for tests, benchmarks and e2e runs.
 * Plain CommonJS, node: built-ins only. Listens on 127.0.0.1; never keeps the process alive on its own.
 * Contract: openapi/cloman-decide.openapi.json. Default decision policy and test keys: docs/DESIGN.md.
 */
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { readBody, listenOnLoopback, numberArg } = require('./loopback');

const DECIDE_PATH = '/api/v1/public/decide';
const MAX_BODY_BYTES = 1024 * 1024;

/** @typedef {'good' | 'noscope' | 'orphan' | 'invalid'} KeyKind */
/** @type {Record<string, KeyKind>} */
const DEFAULT_KEYS = {
  cloman_sk_test_good: 'good',
  cloman_sk_test_noscope: 'noscope',
  cloman_sk_test_orphan: 'orphan',
};

/** Error code and default message per HTTP status. */
const ERRORS = /** @type {Record<number, [string, string]>} */ ({
  400: ['BAD_REQUEST', 'Bad request.'],
  401: ['AUTHENTICATION_ERROR', 'Missing or invalid API key.'],
  403: ['AUTHORIZATION_ERROR', 'API key lacks the decide scope.'],
  404: ['CLONE_NOT_FOUND', 'Clone does not exist or key is not linked.'],
  405: ['METHOD_NOT_ALLOWED', 'Method not allowed.'],
  413: ['PAYLOAD_TOO_LARGE', 'Request body too large.'],
  422: ['VALIDATION_ERROR', 'Invalid request body.'],
  429: ['RATE_LIMIT_EXCEEDED', 'Rate limit exceeded.'],
  500: ['INTERNAL_ERROR', 'Server error.'],
  502: ['LLM_SERVICE_ERROR', 'AI service temporarily unavailable.'],
  503: ['SERVICE_UNAVAILABLE', 'Service temporarily unavailable.'],
  504: ['GATEWAY_TIMEOUT', 'Gateway timeout.'],
});
const FAULT_STATUSES = [400, 401, 403, 404, 422, 429, 500, 502, 503, 504];

/**
 * @typedef {{ status: 400|401|403|404|422|429|500|502|503|504, retryAfter?: number | `http-date:${number}` | null, code?: string, message?: string }} StatusFault
 *   An error envelope (code from the status unless given). retryAfter sets Retry-After (and details.retry_after):
 *   seconds, or an HTTP date that many seconds ahead; null = no header. A 429 without retryAfter says 1 second.
 * @typedef {{ html: number }} HtmlFault                An HTML error page (text/html) with that status, as a proxy sends.
 * @typedef {{ drop: 'before-response' | 'mid-body' }} DropFault  Destroy the socket before answering / after 200 headers and half the body.
 * @typedef {{ truncated: true }} TruncatedFault        200, application/json, a cut JSON body, cleanly ended.
 * @typedef {{ invalidJson: true }} InvalidJsonFault    200, application/json, body `not json`.
 * @typedef {{ body: unknown, status?: number }} BodyFault  Exactly this JSON (status 200 unless given).
 * @typedef {{ delayMs: number }} DelayFault            Wait, then answer normally.
 * @typedef {{ hugeBody: number }} HugeBodyFault        A valid decision whose `reasoning` is that many bytes.
 * @typedef {StatusFault | HtmlFault | DropFault | TruncatedFault | InvalidJsonFault | BodyFault | DelayFault | HugeBodyFault} Fault
 *
 * @typedef {{ n: number, body: any, key: string, attempt: number }} FaultContext
 *   n: 1-based request counter; attempt: 1-based count of requests seen with the same body.data.id (or same body).
 *
 * @typedef {{ perSecond: number, burst?: number, retryAfter?: 'seconds' | 'http-date' | 'none', headers?: boolean }} RateLimit
 *   Per API key (as CloMan limits each key): a token bucket of `burst` (default max(1, perSecond)) tokens,
 *   refilled at perSecond; retryAfter default 'seconds'. headers: every answer the bucket let through, and
 *   every 429, carries RateLimit-Limit (the burst), RateLimit-Remaining (whole tokens left) and
 *   RateLimit-Reset (seconds until the bucket is full), as servers that send the IETF draft headers do;
 *   CloMan documents none, so they are off by default.
 *
 * @typedef {{
 *   decision?: string, confidence?: number, confidence_level?: string, requires_human_review?: boolean,
 *   was_escalated?: boolean, reasoning?: string, alternatives_considered?: unknown[], [field: string]: unknown
 * }} PartialDecision
 *
 * @typedef {{
 *   port?: number,
 *   keys?: Record<string, KeyKind>,
 *   policy?: (body: any) => PartialDecision,
 *   latencyMs?: number | ((body: any) => number),
 *   rateLimit?: RateLimit,
 *   faults?: (ctx: FaultContext) => Fault | undefined,
 *   lifetimeMs?: number,
 * }} StandinOptions
 *   keys: merged over the DESIGN.md test keys (map a key to 'invalid' to remove it).
 *   policy: replaces the default DESIGN.md policy; data.expect still overrides its result.
 *   latencyMs: added (with data.expect.latency_ms) before a valid request is answered or its fault applied.
 *   lifetimeMs: the stand-in closes itself after this long (default 15 minutes).
 *
 * @typedef {{
 *   n: number, at: number, method: string, path: string, headers: Record<string, string | string[] | undefined>,
 *   rawBody: string, body: any, status: number | 'dropped' | undefined, fault: Fault | undefined, requestId: string
 * }} RecordedRequest  status is undefined while the request is being handled.
 *
 * @typedef {{ total: number, byStatus: Record<string, number>, inFlight: number, maxInFlight: number }} StandinStats
 *
 * @typedef {{
 *   url: string, port: number, server: import('node:http').Server,
 *   requests: RecordedRequest[],
 *   enqueueFaults: (...faults: Fault[]) => void,
 *   reset: () => void,
 *   stats: () => StandinStats,
 *   close: () => Promise<void>,
 *   closed: Promise<void>,
 * }} Standin
 */

/** @param {number} confidence */
const confidenceLevel = (confidence) => (confidence >= 0.8 ? 'high' : confidence >= 0.5 ? 'medium' : 'low');

/** @param {unknown} v */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** @param {unknown} v a number, or a numeric string */
function toNumber(v) {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The DESIGN.md policy.
 * @param {any} body
 * @returns {PartialDecision}
 */
function defaultPolicy(body) {
  const data = isObject(body.data) ? body.data : {};
  const amount = toNumber(data.amount);
  if (typeof data.reason === 'string' && /fraud|chargeback/i.test(data.reason)) {
    return { decision: 'deny', confidence: 0.88, was_escalated: true, requires_human_review: true, reasoning: 'The stated reason indicates fraud or a chargeback; escalated.' };
  }
  if (amount === undefined) {
    return { decision: 'needs_more_info', confidence: 0.4, requires_human_review: true, reasoning: 'No numeric amount was given.' };
  }
  if (amount <= 100) return { decision: 'approve', confidence: 0.93, reasoning: `Amount ${amount} is within the auto-approval limit of 100.` };
  if (amount <= 500) return { decision: 'approve', confidence: 0.71, requires_human_review: true, reasoning: `Amount ${amount} is above 100; approve with review.` };
  return { decision: 'deny', confidence: 0.84, reasoning: `Amount ${amount} exceeds the limit of 500.` };
}

/** @param {any} body */
function expectOf(body) {
  return isObject(body?.data) && isObject(body.data.expect) ? body.data.expect : {};
}

/**
 * Pydantic-style validation of the decide body.
 * @param {string} rawBody
 * @returns {{ body: any, errors: { loc: (string|number)[], msg: string, type: string }[] }}
 */
function parseDecideBody(rawBody) {
  let body;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { body: undefined, errors: [{ loc: ['body'], msg: 'Request body is not valid JSON.', type: 'json_invalid' }] };
  }
  if (!isObject(body)) return { body, errors: [{ loc: ['body'], msg: 'Input should be a JSON object.', type: 'model_type' }] };
  const errors = [];
  if (body.context === undefined) errors.push({ loc: ['body', 'context'], msg: 'Field required.', type: 'missing' });
  else if (typeof body.context !== 'string') errors.push({ loc: ['body', 'context'], msg: 'Input should be a valid string.', type: 'string_type' });
  else if (body.context.trim() === '') errors.push({ loc: ['body', 'context'], msg: 'Context must be non-empty.', type: 'string_too_short' });
  if (body.action_type !== undefined && typeof body.action_type !== 'string') {
    errors.push({ loc: ['body', 'action_type'], msg: 'Input should be a valid string.', type: 'string_type' });
  }
  if (body.data !== undefined && !isObject(body.data)) {
    errors.push({ loc: ['body', 'data'], msg: 'Input should be a valid dictionary.', type: 'dict_type' });
  }
  return { body, errors };
}

/**
 * Retry-After for a wait of `ms`, rounded up so that it is truthful: as delta-seconds, or as an HTTP date
 * (whole-second resolution, so rounded up to the next whole second). `seconds` is for details.retry_after.
 * @param {number} ms
 * @param {'seconds' | 'http-date'} form
 * @param {number} now ms epoch
 */
function retryAfter(ms, form, now) {
  if (form === 'seconds') {
    const seconds = Math.ceil(ms / 1000);
    return { header: String(seconds), seconds };
  }
  const at = Math.ceil((now + ms) / 1000) * 1000;
  return { header: new Date(at).toUTCString(), seconds: Math.ceil((at - now) / 1000) };
}

/**
 * The per-key token bucket (also bench/sim.js's, on its simulated clock: `startAt` is that clock's 0).
 * @param {RateLimit} rl @param {number} [startAt] when the bucket is full (default now)
 * @returns {{ take: (now: number) => number, refill: () => void, headers: () => Record<string, string> }} take returns 0 when a token was taken, else the ms until one is available
 */
function tokenBucket(rl, startAt = Date.now()) {
  if (!(rl.perSecond > 0)) throw new TypeError('rateLimit.perSecond must be > 0');
  const capacity = rl.burst ?? Math.max(1, rl.perSecond);
  let tokens = capacity;
  let last = startAt;
  return {
    take(now) {
      tokens = Math.min(capacity, tokens + ((now - last) / 1000) * rl.perSecond);
      last = now;
      if (tokens >= 1 - 1e-9) {
        tokens -= 1;
        return 0;
      }
      return ((1 - tokens) / rl.perSecond) * 1000;
    },
    /** @returns {Record<string, string>} the IETF draft rate-limit headers for the bucket as it is now */
    headers() {
      return {
        'ratelimit-limit': String(capacity),
        'ratelimit-remaining': String(Math.max(0, Math.floor(tokens + 1e-9))),
        'ratelimit-reset': String(Math.ceil((capacity - tokens) / rl.perSecond - 1e-9)),
      };
    },
    refill() {
      tokens = capacity;
      last = Date.now();
    },
  };
}

/** @param {unknown} fault @returns {Fault} */
function checkFault(fault) {
  const f = /** @type {any} */ (fault);
  const ok =
    isObject(f) &&
    ('body' in f ||
      FAULT_STATUSES.includes(f.status) ||
      Number.isInteger(f.html) ||
      f.drop === 'before-response' ||
      f.drop === 'mid-body' ||
      f.truncated === true ||
      f.invalidJson === true ||
      (typeof f.delayMs === 'number' && f.delayMs >= 0) ||
      (Number.isInteger(f.hugeBody) && f.hugeBody >= 0));
  if (!ok) throw new TypeError(`stand-in: unknown fault ${JSON.stringify(fault)}`);
  return f;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * @param {StandinOptions} [options]
 * @returns {Promise<Standin>}
 */
async function startStandin(options = {}) {
  const keys = { ...DEFAULT_KEYS, ...options.keys };
  const rateLimit = options.rateLimit;
  if (rateLimit) tokenBucket(rateLimit); // checks the options at start
  /** @type {Map<string, ReturnType<typeof tokenBucket>>} one bucket per API key */
  const buckets = new Map();
  /** @param {string} key */
  const bucketFor = (key) => {
    if (!rateLimit) return undefined;
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = tokenBucket(rateLimit)));
    return bucket;
  };
  const policy = options.policy ?? defaultPolicy;
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Fault[]} */
  const faultQueue = [];
  /** @type {Map<string, number>} */
  const seen = new Map();
  let n = 0;
  let requestIds = 0; // request and decision ids stay unique for the server's lifetime, across reset()
  let decisionIds = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  /**
   * Ends a response and records its status.
   * @param {import('node:http').ServerResponse} res @param {RecordedRequest} rec
   * @param {number} status @param {Record<string, string>} headers @param {string} body
   */
  function send(res, rec, status, headers, body) {
    rec.status = status;
    if (res.destroyed) return;
    res.writeHead(status, { 'x-request-id': rec.requestId, ...headers });
    res.end(body);
  }

  /**
   * @param {import('node:http').ServerResponse} res @param {RecordedRequest} rec
   * @param {number} status @param {unknown} value @param {Record<string, string>} [headers]
   */
  const sendJson = (res, rec, status, value, headers) => send(res, rec, status, { 'content-type': 'application/json', ...headers }, JSON.stringify(value));

  /**
   * The one builder of error envelopes.
   * @param {import('node:http').ServerResponse} res @param {RecordedRequest} rec @param {number} status
   * @param {{ code?: string, message?: string, details?: object, headers?: Record<string, string> }} [extra]
   */
  function sendError(res, rec, status, extra = {}) {
    const [code, message] = ERRORS[status] ?? ['ERROR', `HTTP ${status}`];
    sendJson(res, rec, status, {
      error: {
        code: extra.code ?? code,
        message: extra.message ?? message,
        status,
        details: extra.details ?? {},
        request_id: rec.requestId,
        timestamp: new Date().toISOString(),
      },
    }, extra.headers);
  }

  /**
   * A 429/5xx-style error with an optional Retry-After.
   * @param {import('node:http').ServerResponse} res @param {RecordedRequest} rec @param {number} status
   * @param {{ ms: number, form: 'seconds' | 'http-date' | 'none' } | undefined} ra @param {{ code?: string, message?: string, headers?: Record<string, string> }} [extra]
   */
  function sendRetryable(res, rec, status, ra, extra = {}) {
    if (!ra) return sendError(res, rec, status, extra);
    const now = Date.now();
    const value = retryAfter(ra.ms, ra.form === 'http-date' ? 'http-date' : 'seconds', now);
    /** @type {Record<string, string>} */
    const headers = { ...extra.headers, ...(ra.form === 'none' ? {} : { 'retry-after': value.header }) };
    sendError(res, rec, status, { ...extra, details: { retry_after: value.seconds }, headers });
  }

  /** @param {any} body @param {number} started @param {number} [reasoningBytes] */
  function decide(body, started, reasoningBytes) {
    const expect = expectOf(body);
    /** @type {PartialDecision} */
    const chosen = { ...policy(body) };
    for (const field of ['decision', 'confidence', 'requires_human_review', 'was_escalated']) {
      if (expect[field] !== undefined) chosen[field] = expect[field];
    }
    if (typeof expect.reasoning === 'string') chosen.reasoning = expect.reasoning;
    const decision = chosen.decision ?? 'needs_more_info';
    const confidence = typeof chosen.confidence === 'number' ? chosen.confidence : 0.5;
    const other = decision === 'approve' ? 'deny' : decision === 'deny' ? 'approve' : 'escalate';
    const response = {
      decision_id: `dec_${++decisionIds}`,
      clone_id: 'cln_standin',
      clone_name: 'Stand-in Clone',
      decision,
      reasoning: `Stand-in decision: ${decision}.`,
      confidence,
      confidence_level: confidenceLevel(confidence),
      requires_human_review: false,
      was_escalated: false,
      alternatives_considered: [{ action: other, reason: `Stand-in alternative to ${decision}.`, confidence: Math.round((1 - confidence) * 100) / 100 }],
      ...chosen,
      processing_time_ms: 0,
      created_at: new Date().toISOString(),
    };
    if (reasoningBytes !== undefined) response.reasoning = (response.reasoning + ' ').padEnd(reasoningBytes, 'x').slice(0, reasoningBytes);
    response.processing_time_ms = Math.round((performance.now() - started) * 10) / 10;
    return response;
  }

  /**
   * @param {import('node:http').ServerResponse} res @param {RecordedRequest} rec
   * @param {Fault} fault @param {any} body @param {number} started
   */
  async function applyFault(res, rec, fault, body, started) {
    const f = /** @type {any} */ (fault);
    if ('body' in f) return sendJson(res, rec, f.status ?? 200, f.body);
    if (f.status !== undefined) {
      const raw = f.retryAfter === undefined ? (f.status === 429 ? 1 : null) : f.retryAfter;
      const ra = raw === null ? undefined : typeof raw === 'number' ? { ms: raw * 1000, form: /** @type {const} */ ('seconds') } : { ms: Number(String(raw).replace(/^http-date:/, '')) * 1000, form: /** @type {const} */ ('http-date') };
      return sendRetryable(res, rec, f.status, ra, { code: f.code, message: f.message });
    }
    if (f.html !== undefined) {
      const title = `${f.html} ${http.STATUS_CODES[f.html] ?? 'Error'}`;
      return send(res, rec, f.html, { 'content-type': 'text/html; charset=utf-8' }, `<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`);
    }
    if (f.drop === 'before-response') {
      rec.status = 'dropped';
      return void res.socket?.destroy();
    }
    const full = JSON.stringify(decide(body, started));
    if (f.drop === 'mid-body') {
      rec.status = 'dropped';
      res.writeHead(200, { 'x-request-id': rec.requestId, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(full)) });
      res.write(full.slice(0, Math.floor(full.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (f.truncated) return send(res, rec, 200, { 'content-type': 'application/json' }, full.slice(0, Math.floor(full.length / 2)));
    if (f.invalidJson) return send(res, rec, 200, { 'content-type': 'application/json' }, 'not json');
    if (f.delayMs !== undefined) {
      await sleep(f.delayMs);
      return sendJson(res, rec, 200, decide(body, started));
    }
    return sendJson(res, rec, 200, decide(body, started, f.hugeBody));
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function handle(req, res) {
    const started = performance.now();
    const rawBody = await readBody(req, MAX_BODY_BYTES).catch(() => null);
    /** @type {RecordedRequest} */
    const rec = {
      n: ++n,
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      rawBody: rawBody ?? '',
      body: undefined,
      status: undefined,
      fault: undefined,
      requestId: `req_${++requestIds}`,
    };
    requests.push(rec);
    try {
      await respond(req, res, rec, rawBody, started);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      sendError(res, rec, 500, { message: `stand-in error: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  /**
   * The contract, in order: route, method, API key, rate limit, body validation, injected fault, decision.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {RecordedRequest} rec @param {string | null} rawBody @param {number} started
   */
  async function respond(req, res, rec, rawBody, started) {
    const path = (req.url ?? '').split('?')[0];
    if (path !== DECIDE_PATH) return sendError(res, rec, 404, { code: 'NOT_FOUND', message: `No route for ${path}.` });
    if (req.method !== 'POST') return sendError(res, rec, 405, { headers: { allow: 'POST' } });
    if (rawBody === null) return sendError(res, rec, 413);

    const parsed = parseDecideBody(rawBody);
    rec.body = parsed.body;
    const identity = isObject(parsed.body) && isObject(parsed.body.data) && parsed.body.data.id !== undefined ? `id:${JSON.stringify(parsed.body.data.id)}` : `body:${rawBody}`;
    const attempt = (seen.get(identity) ?? 0) + 1;
    seen.set(identity, attempt);

    const keyHeader = req.headers['x-api-key'];
    const key = typeof keyHeader === 'string' ? keyHeader : '';
    const kind = keys[key] ?? 'invalid';
    if (kind !== 'good') return sendError(res, rec, kind === 'noscope' ? 403 : kind === 'orphan' ? 404 : 401);

    const bucket = bucketFor(key);
    /** @type {Record<string, string> | undefined} */
    let quotaHeaders;
    if (bucket) {
      const waitMs = bucket.take(Date.now());
      if (options.rateLimit?.headers) quotaHeaders = bucket.headers();
      if (waitMs > 0) {
        const form = options.rateLimit?.retryAfter ?? 'seconds';
        return sendRetryable(res, rec, 429, { ms: waitMs, form }, { headers: quotaHeaders });
      }
    }

    if (parsed.errors.length > 0) return sendError(res, rec, 422, { details: { errors: parsed.errors } });

    const queued = faultQueue.shift();
    const fault = queued ?? (options.faults ? options.faults({ n: rec.n, body: parsed.body, key, attempt }) : undefined);
    rec.fault = fault === undefined ? undefined : checkFault(fault);

    const latency = (typeof options.latencyMs === 'function' ? options.latencyMs(parsed.body) : options.latencyMs ?? 0) + (toNumber(expectOf(parsed.body).latency_ms) ?? 0);
    if (latency > 0) await sleep(latency);

    if (rec.fault) return applyFault(res, rec, rec.fault, parsed.body, started);
    sendJson(res, rec, 200, decide(parsed.body, started), quotaHeaders);
  }

  const server = http.createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    handle(req, res)
      .catch(() => res.destroy())
      .finally(() => inFlight--);
  });

  const { port, close, closed } = await listenOnLoopback(server, { port: options.port, lifetimeMs: options.lifetimeMs ?? 15 * 60 * 1000 });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    enqueueFaults: (...faults) => void faultQueue.push(...faults.map(checkFault)),
    reset() {
      requests.length = 0;
      faultQueue.length = 0;
      seen.clear();
      n = 0;
      maxInFlight = inFlight;
      buckets.clear();
    },
    stats() {
      /** @type {Record<string, number>} */
      const byStatus = {};
      for (const r of requests) if (r.status !== undefined) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      return { total: requests.length, byStatus, inFlight, maxInFlight };
    },
    close,
    closed,
  };
}

/** CLI: node test/standin/server.js [--port N] [--latency MS] [--rate-per-second N] [--lifetime-ms N] [--exit-on-stdin-close] */
/** @param {string[]} argv */
async function main(argv) {
  /** @param {string} name */
  const num = (name) => numberArg(argv, name);
  const perSecond = num('--rate-per-second');
  const standin = await startStandin({
    port: num('--port'),
    latencyMs: num('--latency'),
    lifetimeMs: num('--lifetime-ms'),
    rateLimit: perSecond === undefined ? undefined : { perSecond },
  });
  standin.server.ref(); // the CLI process lives as long as the server does
  process.stdout.write(`CLOMAN_STANDIN_URL=${standin.url}\n`);
  const stop = () => void standin.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (argv.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', stop).on('close', stop).resume();
  }
  await standin.closed;
  process.exit(0);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

module.exports = { startStandin, defaultPolicy, tokenBucket, DECIDE_PATH };
