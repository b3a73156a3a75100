/**
 * The CloMan stand-in (test/standin/server.js) over real HTTP on 127.0.0.1, every answer checked against
 * openapi/cloman-decide.openapi.json through test/standin/contract.js.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { startStandin } from './standin/server';
import type { Fault, Standin, StandinOptions } from './standin/server';
import { openapi, validateDecideRequest, validateDecideResponse } from './standin/contract';

const DECIDE = '/api/v1/public/decide';
const GOOD = 'cloman_sk_test_good';
const SERVER_JS = path.join(__dirname, 'standin', 'server.js');
// The contract documents live in ../shared/reference beside the repository (as in CI's fresh clone).
const REFERENCE_MD = path.join(
	process.env.CLOMAN_REFERENCE_DIR ?? path.resolve(__dirname, '..', '..', 'shared', 'reference'),
	'cloman-decide-endpoint.md',
);

const agent = new Agent({ connections: 32 });
const open: Standin[] = [];

async function standin(options?: StandinOptions): Promise<Standin> {
  const s = await startStandin(options);
  open.push(s);
  return s;
}

afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await agent.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits until the wall clock is at or after `at` (ms epoch); never returns early. */
async function sleepUntil(at: number) {
  for (let i = 0; i < 100 && Date.now() < at; i++) await sleep(at - Date.now());
  expect(Date.now()).toBeGreaterThanOrEqual(at);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
  ms: number;
}

interface CallOptions {
  method?: 'POST' | 'GET' | 'PUT';
  path?: string;
  key?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

async function call(s: Standin, o: CallOptions = {}): Promise<Answer> {
  const t0 = Date.now();
  const key = o.key === undefined ? GOOD : o.key;
  const res = await request(s.url + (o.path ?? DECIDE), {
    method: o.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-api-key': key }), ...o.headers },
    body: o.method === 'GET' ? undefined : o.raw ?? JSON.stringify(o.body ?? { context: 'Approve?', data: { amount: 50 } }),
    dispatcher: agent,
    signal: o.timeoutMs === undefined ? undefined : AbortSignal.timeout(o.timeoutMs),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json, ms: Date.now() - t0 };
}

/** The answer is what the OpenAPI document promises for its status, and errors carry a matching X-Request-ID. */
function expectContract(a: Answer) {
  expect(validateDecideResponse(a.status, a.json)).toEqual([]);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  if (a.status >= 400) expect(a.headers['x-request-id']).toBe(a.json.error.request_id);
}

/** Parses the whitespace-separated table that follows `heading` in the reference markdown. */
function referenceTable(md: string, heading: string, header: string): string[][] {
  const lines = md.split('\n').map((l) => l.trim());
  const start = lines.indexOf(heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const head = lines.indexOf(header, start);
  expect(head).toBeGreaterThan(start);
  const rows: string[][] = [];
  for (let i = head + 1; i < lines.length && lines[i] !== ''; i++) rows.push(lines[i].split(/\s+/));
  return rows;
}

describe('OpenAPI document vs the reference markdown', () => {
  const md = readFileSync(REFERENCE_MD, 'utf8');
  const schemas: any = openapi.components.schemas;

  test('the 200 schema requires exactly the twelve documented response fields, with matching types', () => {
    const rows = referenceTable(md, 'Response Body', 'Field Type Description');
    const fields = rows.map((r) => r[0]);
    expect(fields).toHaveLength(12);
    const decideResponse = schemas.DecideResponse;
    expect([...decideResponse.required].sort()).toEqual([...fields].sort());
    expect(Object.keys(decideResponse.properties).sort()).toEqual([...fields].sort());
    const jsonType: Record<string, string> = { string: 'string', float: 'number', boolean: 'boolean', array: 'array' };
    for (const [field, type] of rows) expect([field, decideResponse.properties[field].type]).toEqual([field, jsonType[type]]);

    const media = openapi.paths[DECIDE].post.responses['200'].content['application/json'];
    expect(Object.keys(media.example).sort()).toEqual([...fields].sort());
    expect(validateDecideResponse(200, media.example)).toEqual([]);
    for (const example of decideResponse.examples) expect(validateDecideResponse(200, example)).toEqual([]);
  });

  test('the request schema matches the documented request table', () => {
    const rows = referenceTable(md, 'Request Body', 'Field Type Required Default Description');
    const request = schemas.DecideRequest;
    expect(Object.keys(request.properties).sort()).toEqual(rows.map((r) => r[0]).sort());
    expect(request.required).toEqual(rows.filter((r) => r[2] === 'Yes').map((r) => r[0]));
    for (const [field, type, , dflt] of rows) {
      expect([field, request.properties[field].type]).toEqual([field, type]);
      if (/^(".*"|\{\}|\[\])$/.test(dflt)) expect([field, request.properties[field].default]).toEqual([field, JSON.parse(dflt)]);
    }
    expect(validateDecideRequest(JSON.parse(md.split('Example Request')[1].split('Response Body')[0]))).toEqual([]);
  });

  test('every documented error status/code pair is the only code its response accepts', () => {
    const rows = referenceTable(md, 'Error Responses', 'Status Code Meaning');
    expect(rows.map((r) => r[0])).toEqual(['401', '403', '404', '422', '429', '500', '502']);
    const envelope = (status: number, code: string) => ({
      error: { code, message: 'm', status, details: {}, request_id: 'req_1', timestamp: '2026-02-19T12:00:00Z' },
    });
    for (const [status, code] of rows) {
      expect(validateDecideResponse(Number(status), envelope(Number(status), code))).toEqual([]);
      const other = rows.find((r) => r[1] !== code)![1];
      expect(validateDecideResponse(Number(status), envelope(Number(status), other)).length).toBeGreaterThan(0);
    }
    const security = openapi.components.securitySchemes.apiKey;
    expect(security).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(openapi.paths[DECIDE].post.responses['429'].headers['Retry-After']).toBeDefined();
  });
});

describe('API keys, routes and validation', () => {
  let s: Standin;
  beforeAll(async () => {
    s = await standin({ keys: { cloman_sk_extra: 'good', cloman_sk_test_orphan: 'invalid' } });
  });

  test.each([
    ['missing key', null, 401, 'AUTHENTICATION_ERROR'],
    ['unknown key', 'cloman_sk_nope', 401, 'AUTHENTICATION_ERROR'],
    ['no decide scope', 'cloman_sk_test_noscope', 403, 'AUTHORIZATION_ERROR'],
    ['removed by options.keys', 'cloman_sk_test_orphan', 401, 'AUTHENTICATION_ERROR'],
  ])('%s → %i %s', async (_name, key, status, code) => {
    const a = await call(s, { key });
    expect(a.status).toBe(status);
    expect(a.json.error.code).toBe(code);
    expectContract(a);
  });

  test('orphan key → 404 CLONE_NOT_FOUND with the default keys', async () => {
    const a = await call(await standin(), { key: 'cloman_sk_test_orphan' });
    expect([a.status, a.json.error.code]).toEqual([404, 'CLONE_NOT_FOUND']);
    expectContract(a);
  });

  test.each([GOOD, 'cloman_sk_extra'])('%s → 200 with all twelve fields', async (key) => {
    const a = await call(s, { key, body: { context: 'Refund $49.99?', action_type: 'refund', data: { amount: 49.99 } } });
    expect(a.status).toBe(200);
    expectContract(a);
    expect(a.json).toMatchObject({ clone_id: 'cln_standin', clone_name: 'Stand-in Clone', decision: 'approve' });
    expect(a.json.decision_id).toMatch(/^dec_\d+$/);
    expect(a.json.alternatives_considered).toHaveLength(1);
    expect(Math.abs(Date.parse(a.json.created_at) - Date.now())).toBeLessThan(10_000);
  });

  test('other paths → 404 NOT_FOUND, other methods → 405 with Allow', async () => {
    const a = await call(s, { path: '/api/v1/public/decision' });
    expect([a.status, a.json.error.code, a.headers['x-request-id']]).toEqual([404, 'NOT_FOUND', a.json.error.request_id]);
    const b = await call(s, { method: 'GET' });
    expect([b.status, b.json.error.code, b.headers.allow]).toEqual([405, 'METHOD_NOT_ALLOWED', 'POST']);
  });

  test.each([
    ['missing context', { data: {} }, ['body', 'context'], 'missing', false],
    ['empty context', { context: '' }, ['body', 'context'], 'string_too_short', false],
    ['whitespace context (stricter than minLength 1)', { context: '  \n' }, ['body', 'context'], 'string_too_short', true],
    ['numeric context', { context: 42 }, ['body', 'context'], 'string_type', false],
    ['numeric action_type', { context: 'x', action_type: 7 }, ['body', 'action_type'], 'string_type', false],
    ['array data', { context: 'x', data: [1] }, ['body', 'data'], 'dict_type', false],
    ['null data', { context: 'x', data: null }, ['body', 'data'], 'dict_type', false],
    ['array body', [{ context: 'x' }], ['body'], 'model_type', false],
  ])('422 VALIDATION_ERROR: %s', async (_name, body, loc, type, schemaAccepts) => {
    const a = await call(s, { body });
    expect([a.status, a.json.error.code]).toEqual([422, 'VALIDATION_ERROR']);
    expect(a.json.error.details.errors).toEqual([expect.objectContaining({ loc, type, msg: expect.any(String) })]);
    expectContract(a);
    expect(validateDecideRequest(body).length === 0).toBe(schemaAccepts);
  });

  test('422 for a body that is not JSON', async () => {
    const a = await call(s, { raw: '{"context": ' });
    expect([a.status, a.json.error.details.errors[0].loc]).toEqual([422, ['body']]);
    expectContract(a);
  });

  test('a valid minimal body is accepted by both the stand-in and the request schema', async () => {
    expect(validateDecideRequest({ context: 'x' })).toEqual([]);
    const a = await call(s, { body: { context: 'x' } });
    expect([a.status, a.json.decision]).toEqual([200, 'needs_more_info']);
  });

  test('the key is checked before the body', async () => {
    const a = await call(s, { key: 'nope', body: { data: [] } });
    expect(a.status).toBe(401);
  });
});

describe('decision policy', () => {
  let s: Standin;
  beforeAll(async () => {
    s = await standin();
  });

  test.each([
    [{ amount: 100 }, 'approve', 0.93, 'high', false, false],
    [{ amount: 100.01 }, 'approve', 0.71, 'medium', true, false],
    [{ amount: 500 }, 'approve', 0.71, 'medium', true, false],
    [{ amount: 501 }, 'deny', 0.84, 'high', false, false],
    [{ amount: '42' }, 'approve', 0.93, 'high', false, false],
    [{ amount: 20, reason: 'Suspected FRAUD' }, 'deny', 0.88, 'high', true, true],
    [{ reason: 'chargeback filed' }, 'deny', 0.88, 'high', true, true],
    [{}, 'needs_more_info', 0.4, 'low', true, false],
    [{ amount: 'lots' }, 'needs_more_info', 0.4, 'low', true, false],
  ])('data %j → %s %d (%s)', async (data, decision, confidence, level, review, escalated) => {
    const a = await call(s, { body: { context: 'Decide', data } });
    expectContract(a);
    expect(a.json).toMatchObject({ decision, confidence, confidence_level: level, requires_human_review: review, was_escalated: escalated });
  });

  test('data.expect overrides the policy', async () => {
    const expectation = { decision: 'escalate', confidence: 0.55, requires_human_review: true, was_escalated: true };
    const a = await call(s, { body: { context: 'Decide', data: { amount: 5, expect: expectation } } });
    expectContract(a);
    expect(a.json).toMatchObject({ ...expectation, confidence_level: 'medium' });
  });

  test('data.expect.reasoning (a string) replaces the reasoning, markup and all; anything else is ignored', async () => {
    const reasoning = 'Looks fine. <script>alert(1)</script>';
    const a = await call(s, { body: { context: 'Decide', data: { amount: 5, expect: { reasoning } } } });
    expectContract(a);
    expect(a.json).toMatchObject({ decision: 'approve', reasoning });
    const b = await call(s, { body: { context: 'Decide', data: { amount: 5, expect: { reasoning: 42 } } } });
    expectContract(b);
    expect(b.json.reasoning).toBe('Amount 5 is within the auto-approval limit of 100.');
  });

  test('options.policy replaces the default policy; data.expect still wins', async () => {
    const p = await standin({ policy: (body) => ({ decision: `custom:${body.action_type}`, confidence: 0.6, reasoning: 'mine' }) });
    const a = await call(p, { body: { context: 'x', action_type: 'purchase', data: { amount: 5 } } });
    expectContract(a);
    expect(a.json).toMatchObject({ decision: 'custom:purchase', confidence: 0.6, confidence_level: 'medium', reasoning: 'mine' });
    const b = await call(p, { body: { context: 'x', data: { expect: { decision: 'deny' } } } });
    expect(b.json.decision).toBe('deny');
  });
});

describe('rate limit', () => {
  test('429 with Retry-After in seconds; retrying at Retry-After succeeds, earlier does not', async () => {
    const s = await standin({ rateLimit: { perSecond: 2, burst: 2, retryAfter: 'seconds' } });
    for (let cycle = 0; cycle < 2; cycle++) {
      let limited: Answer | undefined;
      for (let i = 0; i < 5 && !limited; i++) {
        const a = await call(s);
        if (a.status === 429) limited = a;
      }
      expect(limited).toBeDefined();
      const a = limited!;
      expectContract(a);
      expect(a.json.error.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(a.headers['retry-after']).toMatch(/^\d+$/);
      const seconds = Number(a.headers['retry-after']);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(a.json.error.details.retry_after).toBe(seconds);
      const receivedAt = Date.now();
      expect((await call(s)).status).toBe(429);
      await sleepUntil(receivedAt + seconds * 1000);
      expect((await call(s)).status).toBe(200);
    }
  });

  test('429 with Retry-After as an HTTP date; retrying at that date succeeds', async () => {
    const s = await standin({ rateLimit: { perSecond: 2, burst: 1, retryAfter: 'http-date' } });
    expect((await call(s)).status).toBe(200);
    const a = await call(s);
    expect(a.status).toBe(429);
    expectContract(a);
    const header = String(a.headers['retry-after']);
    expect(header).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const at = Date.parse(header);
    expect(at).toBeGreaterThan(Date.now() - 1000);
    expect(a.json.error.details.retry_after).toBeGreaterThanOrEqual(1);
    await sleepUntil(at);
    expect((await call(s)).status).toBe(200);
  });

  test('headers: true adds RateLimit-Limit / -Remaining / -Reset to answers the bucket let through and to its 429s; off by default', async () => {
    const s = await standin({ rateLimit: { perSecond: 0.5, burst: 3, headers: true } });
    const answers = [await call(s), await call(s), await call(s), await call(s)];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(answers.every((a) => a.headers['ratelimit-limit'] === '3')).toBe(true);
    // Seconds until the bucket is full again: 3 tokens at 0.5/s from (nearly) empty.
    expect(Number(answers[3].headers['ratelimit-reset'])).toBe(6);
    expect(answers[3].headers['retry-after']).toBe('2');
    expectContract(answers[3]);
    const plain = await standin({ rateLimit: { perSecond: 0.5, burst: 1 } });
    expect((await call(plain)).headers['ratelimit-remaining']).toBeUndefined();
  });

  test("retryAfter 'none' omits the header but keeps details.retry_after", async () => {
    const s = await standin({ rateLimit: { perSecond: 1, retryAfter: 'none' } });
    await call(s);
    const a = await call(s);
    expect([a.status, a.headers['retry-after']]).toEqual([429, undefined]);
    expect(a.json.error.details.retry_after).toBeGreaterThanOrEqual(1);
    expectContract(a);
  });

  test('order: key before rate limit (a bad key spends no token), rate limit before validation', async () => {
    const s = await standin({ rateLimit: { perSecond: 0.5, burst: 1 } });
    expect((await call(s, { key: 'bad' })).status).toBe(401);
    expect((await call(s)).status).toBe(200);
    expect((await call(s, { body: { nothing: true } })).status).toBe(429);
    expect(s.stats().byStatus).toEqual({ '200': 1, '401': 1, '429': 1 });
  });

  test('each API key has its own bucket; reset() refills them all', async () => {
    const other = 'cloman_sk_test_other';
    const s = await standin({ keys: { [other]: 'good' }, rateLimit: { perSecond: 0.5, burst: 2 } });
    expect([(await call(s)).status, (await call(s)).status, (await call(s)).status]).toEqual([200, 200, 429]);
    expect([(await call(s, { key: other })).status, (await call(s, { key: other })).status]).toEqual([200, 200]);
    expect((await call(s, { key: other })).status).toBe(429);
    s.reset();
    expect([(await call(s)).status, (await call(s, { key: other })).status]).toEqual([200, 200]);
  });
});

describe('faults', () => {
  let s: Standin;
  beforeAll(async () => {
    s = await standin();
  });
  beforeEach(() => s.reset());

  test.each([
    [400, 'BAD_REQUEST'],
    [401, 'AUTHENTICATION_ERROR'],
    [403, 'AUTHORIZATION_ERROR'],
    [404, 'CLONE_NOT_FOUND'],
    [422, 'VALIDATION_ERROR'],
    [429, 'RATE_LIMIT_EXCEEDED'],
    [500, 'INTERNAL_ERROR'],
    [502, 'LLM_SERVICE_ERROR'],
    [503, 'SERVICE_UNAVAILABLE'],
    [504, 'GATEWAY_TIMEOUT'],
  ] as const)('{ status: %i } → envelope %s', async (status, code) => {
    s.enqueueFaults({ status });
    const a = await call(s);
    expect([a.status, a.json.error.code, a.json.error.status]).toEqual([status, code, status]);
    expect(a.headers['x-request-id']).toBe(a.json.error.request_id);
    if (status === 400) expect(validateDecideResponse(400, a.json)).toEqual(['status 400 is not a documented response of POST /api/v1/public/decide']);
    else expectContract(a);
    expect(a.headers['retry-after']).toBe(status === 429 ? '1' : undefined);
  });

  test('status faults: retryAfter forms, code and message', async () => {
    s.enqueueFaults(
      { status: 429, retryAfter: 3 },
      { status: 429, retryAfter: 'http-date:2' },
      { status: 429, retryAfter: null },
      { status: 503, retryAfter: 1 },
      { status: 500, code: 'LLM_SERVICE_ERROR', message: 'model overloaded' },
    );
    const [a, b, c, d, e] = [await call(s), await call(s), await call(s), await call(s), await call(s)];
    expect([a.headers['retry-after'], a.json.error.details.retry_after]).toEqual(['3', 3]);
    const at = Date.parse(String(b.headers['retry-after']));
    expect(at - Date.now()).toBeGreaterThan(500);
    expect(at - Date.now()).toBeLessThanOrEqual(3000);
    expect(at % 1000).toBe(0);
    expect([c.status, c.headers['retry-after'], c.json.error.details]).toEqual([429, undefined, {}]);
    expect([d.status, d.headers['retry-after']]).toEqual([503, '1']);
    expect([e.status, e.json.error.code, e.json.error.message]).toEqual([500, 'LLM_SERVICE_ERROR', 'model overloaded']);
    for (const x of [a, b, c, d]) expectContract(x);
    expect(validateDecideResponse(500, e.json)).toEqual(['/error/code must be equal to constant ("INTERNAL_ERROR")']);
  });

  test('{ html } → a proxy HTML page', async () => {
    s.enqueueFaults({ html: 502 });
    const a = await call(s);
    expect(a.status).toBe(502);
    expect(a.headers['content-type']).toMatch(/^text\/html/);
    expect(a.text).toContain('<h1>502 Bad Gateway</h1>');
    expect(a.json).toBeUndefined();
  });

  test("{ drop: 'before-response' } → the socket closes without an answer", async () => {
    s.enqueueFaults({ drop: 'before-response' });
    await expect(call(s)).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(s.requests[0]).toMatchObject({ status: 'dropped', fault: { drop: 'before-response' } });
    expect((await call(s)).status).toBe(200);
  });

  test("{ drop: 'mid-body' } → 200 headers, then the body breaks off", async () => {
    s.enqueueFaults({ drop: 'mid-body' });
    const res = await request(s.url + DECIDE, {
      method: 'POST',
      headers: { 'x-api-key': GOOD },
      body: JSON.stringify({ context: 'x', data: { amount: 1 } }),
      dispatcher: agent,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    await expect(res.body.text()).rejects.toThrow();
    expect(s.requests[0].status).toBe('dropped');
  });

  test('{ truncated } → 200 application/json with a cut body', async () => {
    s.enqueueFaults({ truncated: true });
    const a = await call(s);
    expect([a.status, a.headers['content-type'], a.json]).toEqual([200, 'application/json', undefined]);
    expect(a.text.startsWith('{"decision_id":"dec_')).toBe(true);
  });

  test('{ invalidJson } → 200 "not json"', async () => {
    s.enqueueFaults({ invalidJson: true });
    const a = await call(s);
    expect([a.status, a.headers['content-type'], a.text]).toEqual([200, 'application/json', 'not json']);
  });

  test('{ body } → that exact JSON, which the contract rejects', async () => {
    const valid = (await call(s)).json;
    const { decision: _omit, ...missing } = valid;
    s.enqueueFaults({ body: missing }, { body: { ...valid, confidence: '0.9' } }, { body: { ...valid, confidence: 1.7 } }, { body: { oops: true }, status: 500 });
    const [a, b, c, d] = [await call(s), await call(s), await call(s), await call(s)];
    expect(a.json).toEqual(missing);
    expect(validateDecideResponse(a.status, a.json)).toEqual(["/ must have required property 'decision'"]);
    expect(validateDecideResponse(b.status, b.json)).toEqual(['/confidence must be number']);
    expect(validateDecideResponse(c.status, c.json)).toEqual(['/confidence must be <= 1']);
    expect(d.status).toBe(500);
    expect(validateDecideResponse(d.status, d.json)).toContain("/ must have required property 'error'");
  });

  test('{ delayMs } → a client with a shorter timeout gives up; a patient one gets the decision', async () => {
    s.enqueueFaults({ delayMs: 800 }, { delayMs: 300 });
    await expect(call(s, { timeoutMs: 200 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const a = await call(s);
    expect(a.status).toBe(200);
    expect(a.ms).toBeGreaterThanOrEqual(299);
    // Node's timers are whole milliseconds; measured with performance.now() a 300 ms wait can read 299.9.
    expect(a.json.processing_time_ms).toBeGreaterThanOrEqual(299);
    expectContract(a);
  });

  test('{ hugeBody } → a valid decision with a reasoning of that many bytes', async () => {
    s.enqueueFaults({ hugeBody: 2_000_000 });
    const a = await call(s);
    expectContract(a);
    expect(Buffer.byteLength(a.json.reasoning)).toBe(2_000_000);
  });

  test('enqueueFaults is a FIFO consumed by the next valid requests (after validation)', async () => {
    s.enqueueFaults({ status: 500 }, { status: 502 });
    expect((await call(s, { body: { context: '' } })).status).toBe(422);
    expect([(await call(s)).status, (await call(s)).status, (await call(s)).status]).toEqual([500, 502, 200]);
    expect(s.requests.map((r) => r.fault)).toEqual([undefined, { status: 500 }, { status: 502 }, undefined]);
  });

  test('enqueueFaults rejects an unknown fault', () => {
    expect(() => s.enqueueFaults({ explode: true } as unknown as Fault)).toThrow(TypeError);
  });

  test('options.faults(ctx): n, key, and attempt per data.id (or whole body)', async () => {
    const seen: { n: number; key: string; attempt: number; id: unknown }[] = [];
    const f = await standin({
      faults: (ctx) => {
        seen.push({ n: ctx.n, key: ctx.key, attempt: ctx.attempt, id: ctx.body.data?.id });
        return ctx.attempt <= 2 ? { status: 503 } : undefined;
      },
    });
    const order = { context: 'x', data: { id: 'order-1', amount: 10 } };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(f, { body: order })).status);
    expect(statuses).toEqual([503, 503, 200]);
    // the same id with a different body is the same item; a body without id is identified by its content
    expect((await call(f, { body: { ...order, context: 'changed' } })).status).toBe(200);
    expect((await call(f, { body: { context: 'no id' } })).status).toBe(503);
    expect((await call(f, { body: { context: 'no id' } })).status).toBe(503);
    expect((await call(f, { body: { context: 'no id' } })).status).toBe(200);
    expect(seen.map((x) => [x.n, x.attempt])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], [5, 1], [6, 2], [7, 3]]);
    expect(seen.every((x) => x.key === GOOD)).toBe(true);
  });

  test('a faults() function returning garbage → 500 stand-in error', async () => {
    const f = await standin({ faults: () => ({ nonsense: 1 }) as unknown as Fault });
    const a = await call(f);
    expect(a.status).toBe(500);
    expect(a.json.error.message).toMatch(/unknown fault/);
  });
});

describe('recording, latency, stats', () => {
  test('requests are recorded with lower-cased headers, raw and parsed body, status, fault and request id', async () => {
    const s = await standin();
    const before = Date.now();
    s.enqueueFaults({ status: 502 });
    const body = { context: 'Record me', data: { amount: 3 } };
    const a = await call(s, { body, headers: { 'X-Trace-Header': 'abc' } });
    const b = await call(s, { raw: 'garbage', key: 'nope' });
    expect(s.requests).toHaveLength(2);
    const [r1, r2] = s.requests;
    expect(r1).toMatchObject({ n: 1, method: 'POST', path: DECIDE, rawBody: JSON.stringify(body), body, status: 502, fault: { status: 502 } });
    expect(r1.headers['x-trace-header']).toBe('abc');
    expect(r1.headers['x-api-key']).toBe(GOOD);
    expect(r1.at).toBeGreaterThanOrEqual(before);
    expect(r1.at).toBeLessThanOrEqual(Date.now());
    expect(r1.requestId).toBe(a.headers['x-request-id']);
    expect(r2).toMatchObject({ n: 2, rawBody: 'garbage', body: undefined, status: 401, fault: undefined, requestId: b.json.error.request_id });
    expect(r1.requestId).not.toBe(r2.requestId);
    expect(s.stats()).toEqual({ total: 2, byStatus: { '401': 1, '502': 1 }, inFlight: 0, maxInFlight: 1 });

    s.enqueueFaults({ status: 500 });
    s.reset();
    expect(s.requests).toHaveLength(0);
    expect(s.stats().total).toBe(0);
    const c = await call(s);
    expect(c.status).toBe(200); // the fault queue was cleared
    expect(s.requests[0].n).toBe(1);
    expect([r1.requestId, r2.requestId]).not.toContain(s.requests[0].requestId); // ids stay unique across reset
  });

  test('latency: options.latencyMs (number and function) plus data.expect.latency_ms; in-flight tracking', async () => {
    const fixed = await standin({ latencyMs: 150 });
    const a = await call(fixed, { body: { context: 'x', data: { amount: 1, expect: { latency_ms: 100 } } } });
    expect(a.ms).toBeGreaterThanOrEqual(249);
    expect(a.json.processing_time_ms).toBeGreaterThanOrEqual(249);
    expectContract(a);

    const byAmount = await standin({ latencyMs: (body) => body.data.amount });
    const b = await call(byAmount, { body: { context: 'x', data: { amount: 200 } } });
    expect(b.json.processing_time_ms).toBeGreaterThanOrEqual(199);
    const fast = await call(byAmount, { body: { context: 'x', data: { amount: 1 } } });
    expect(fast.json.processing_time_ms).toBeLessThan(200);

    const slow = await standin({ latencyMs: 500 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(slow)));
    expect(answers.every((x) => x.status === 200)).toBe(true);
    expect(new Set(answers.map((x) => x.json.decision_id)).size).toBe(6);
    expect(slow.stats()).toMatchObject({ inFlight: 0, maxInFlight: 6 });
  });
});

describe('lifecycle and CLI', () => {
  test('close() ends in-flight connections, is idempotent, and refuses new ones', async () => {
    const s = await startStandin();
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    s.enqueueFaults({ delayMs: 10_000 });
    const pending = call(s);
    await sleep(100);
    const t0 = Date.now();
    await Promise.all([s.close(), s.close()]);
    await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(Date.now() - t0).toBeLessThan(2000);
    await expect(call(s)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await s.closed;
  });

  test('lifetimeMs closes the stand-in by itself', async () => {
    const s = await startStandin({ lifetimeMs: 200 });
    expect((await call(s)).status).toBe(200);
    await s.closed;
    await expect(call(s)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('a listening stand-in does not keep a node process alive', async () => {
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(SERVER_JS)}).startStandin().then((s) => console.log(s.url))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code] = await once(child, 'exit');
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(out).toMatch(/^http:\/\/127\.0\.0\.1:\d+\n$/);
  });

  /** Starts the CLI and returns its URL once it prints CLOMAN_STANDIN_URL. */
  async function startCli(args: string[]) {
    const child = spawn(process.execPath, [SERVER_JS, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const exited = once(child, 'exit').finally(() => clearTimeout(killer));
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /^CLOMAN_STANDIN_URL=(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error(`CLI exited early: ${out}`)));
    });
    return { child, url, exited };
  }

  async function cliDecide(url: string, key = GOOD) {
    const res = await request(url + DECIDE, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ context: 'x', data: { amount: 1 } }), dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  }

  test('CLI: prints its URL, serves with --rate-per-second and --latency, exits when stdin closes', async () => {
    const { child, url, exited } = await startCli(['--port', '0', '--latency', '20', '--rate-per-second', '1', '--exit-on-stdin-close']);
    expect(await cliDecide(url)).toBe(200);
    expect(await cliDecide(url)).toBe(429);
    child.stdin!.end();
    const [code] = await exited;
    expect(code).toBe(0);
  });

  test('CLI: exits on SIGTERM, and by itself after --lifetime-ms', async () => {
    const a = await startCli([]);
    expect(await cliDecide(a.url)).toBe(200);
    a.child.kill('SIGTERM');
    expect((await a.exited)[0]).toBe(0);

    const b = await startCli(['--lifetime-ms', '300']);
    const t0 = Date.now();
    expect((await b.exited)[0]).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
