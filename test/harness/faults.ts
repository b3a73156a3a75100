/**
 * Shared helpers for the fault, bad-input and secrets tests (issue 5): a stand-in that also records
 * every answer it finished (status, headers, body, time), a seeded PRNG, a fault plan per item that
 * does not depend on request order, the randomized fault run and its invariants, and a capture of
 * everything written to console / stdout / stderr / n8n's logger while a run is going.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { LoggerProxy } from 'n8n-workflow';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { startStandin } from '../standin/server';
import type { Fault, RecordedRequest, Standin, StandinOptions } from '../standin/server';
import { runCloMan } from './engine';
import type { RunResult } from './engine';

export const GOOD_KEY = 'cloman_sk_test_good';

/** What the stand-in put on the wire for one request, recorded when the response finished or was cut. */
export interface Answer {
	requestId: string;
	status: number;
	headers: Record<string, unknown>;
	/** The bytes written, as UTF-8 (cut short for a dropped response). */
	body: string;
	/** ms epoch when the last byte was handed to the socket (or the socket was destroyed). */
	at: number;
	/** false when the socket was destroyed before the response ended. */
	complete: boolean;
}

export interface RecordingStandin extends Standin {
	/** Answers by stand-in request id (req_N). */
	answers: Map<string, Answer>;
}

const open: RecordingStandin[] = [];

/** Start a stand-in and record every answer it writes. Close them all with closeStandins(). */
export async function openStandin(options: StandinOptions = {}): Promise<RecordingStandin> {
	const standin = (await startStandin(options)) as RecordingStandin;
	const answers = new Map<string, Answer>();
	// Registered after the stand-in's own handler, which only starts writing after an await, so every
	// write and end of the response goes through these wrappers.
	standin.server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
		const chunks: Buffer[] = [];
		const keep = (chunk: unknown, encoding?: unknown) => {
			if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
			chunks.push(
				Buffer.isBuffer(chunk)
					? chunk
					: Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'),
			);
		};
		// The stand-in passes its headers to writeHead, where getHeader() cannot see them: keep them here.
		const written: Record<string, unknown> = {};
		const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
		(res as unknown as { writeHead: unknown }).writeHead = (...args: unknown[]) => {
			const headers = args.find((arg, index) => index > 0 && typeof arg === 'object' && arg !== null);
			if (headers && !Array.isArray(headers)) {
				for (const [name, value] of Object.entries(headers)) written[name.toLowerCase()] = value;
			}
			return writeHead(...args);
		};
		const write = res.write.bind(res) as (...args: unknown[]) => boolean;
		const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
		(res as unknown as { write: unknown }).write = (...args: unknown[]) => {
			keep(args[0], args[1]);
			return write(...args);
		};
		(res as unknown as { end: unknown }).end = (...args: unknown[]) => {
			keep(args[0], args[1]);
			return end(...args);
		};
		let done = false;
		const record = (complete: boolean) => {
			if (done || !res.headersSent) return;
			done = true;
			const headers = { ...res.getHeaders(), ...written };
			const requestId = String(headers['x-request-id'] ?? '');
			answers.set(requestId, {
				requestId,
				status: res.statusCode,
				headers,
				body: Buffer.concat(chunks).toString('utf8'),
				at: Date.now(),
				complete,
			});
		};
		res.on('finish', () => record(true));
		res.on('close', () => record(res.writableFinished));
	});
	standin.answers = answers;
	open.push(standin);
	return standin;
}

export async function closeStandins(): Promise<void> {
	await Promise.all(open.splice(0).map((standin) => standin.close()));
}

/** The `id` an item carried in its request's data, if any. */
export function idOf(request: RecordedRequest): string | undefined {
	const id = request.body?.data?.id;
	return typeof id === 'string' ? id : undefined;
}

/** Recorded requests grouped by data.id, in arrival order. */
export function requestsById(standin: Standin): Map<string, RecordedRequest[]> {
	const byId = new Map<string, RecordedRequest[]>();
	for (const request of standin.requests) {
		const id = idOf(request);
		if (id === undefined) continue;
		const list = byId.get(id) ?? [];
		list.push(request);
		byId.set(id, list);
	}
	return byId;
}

/** mulberry32: small, fast, good enough to draw a fault schedule. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** The seed of the randomized run: FAULT_SEED if set, else a fresh one. Always printed. */
export function faultSeed(): number {
	const fromEnv = process.env.FAULT_SEED;
	const seed =
		fromEnv !== undefined && fromEnv.trim() !== '' ? Number(fromEnv) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
	// eslint-disable-next-line no-console
	console.log(`fault run seed: ${seed} (rerun with FAULT_SEED=${seed})`);
	return seed;
}

// ---------------------------------------------------------------------------------------------
// How the node is expected to treat each fault (the contract these tests hold it to).

export type Outcome =
	/** a usable decision: the item is decided */
	| 'decided'
	/** the item fails at once with this code (not retried) */
	| { fails: string; status?: number }
	/** retried if retries are left, else the item fails with this code */
	| { retry: string; status?: number };

/** The bad 200 bodies: each must give INVALID_RESPONSE, never a retry, never a guess. */
export const UNUSABLE_200: Record<string, Fault> = {
	truncated: { truncated: true },
	'invalid JSON': { invalidJson: true },
	'missing decision': {
		body: {
			decision_id: 'dec_x',
			clone_id: 'cln_x',
			clone_name: 'X',
			reasoning: 'no decision field',
			confidence: 0.9,
			confidence_level: 'high',
			requires_human_review: false,
			was_escalated: false,
			alternatives_considered: [],
			processing_time_ms: 1,
			created_at: '2026-02-19T12:00:00Z',
		},
	},
	'confidence as a string': { body: goodBody({ confidence: '0.9' }) },
	'confidence above 1': { body: goodBody({ confidence: 1.5 }) },
	'confidence below 0': { body: goodBody({ confidence: -0.1 }) },
	'a JSON array': { body: [goodBody()] },
	'JSON null': { body: null },
	'requires_human_review as a string': { body: goodBody({ requires_human_review: 'false' }) },
};

/** A contract-shaped decision body, with overrides. */
export function goodBody(overrides: IDataObject = {}): IDataObject {
	return {
		decision_id: 'dec_fixed',
		clone_id: 'cln_standin',
		clone_name: 'Stand-in Clone',
		decision: 'approve',
		reasoning: 'Fixed body.',
		confidence: 0.93,
		confidence_level: 'high',
		requires_human_review: false,
		was_escalated: false,
		alternatives_considered: [{ action: 'deny', reason: 'alt', confidence: 0.07 }],
		processing_time_ms: 1.5,
		created_at: '2026-02-19T12:00:00Z',
		...overrides,
	};
}

const UNUSABLE: ReadonlySet<Fault> = new Set(Object.values(UNUSABLE_200));

export function expectedOutcome(fault: Fault | undefined): Outcome {
	if (fault === undefined) return 'decided';
	const f = fault as Record<string, unknown>;
	if ('body' in f) {
		const status = (f.status as number | undefined) ?? 200;
		if (status !== 200) throw new Error('plan: body faults here are 200s');
		return UNUSABLE.has(fault) ? { fails: 'INVALID_RESPONSE', status: 200 } : 'decided';
	}
	if (typeof f.status === 'number') {
		const status = f.status;
		const code = (f.code as string | undefined) ?? STATUS_CODES[status];
		return [429, 500, 502, 503, 504].includes(status) ? { retry: code, status } : { fails: code, status };
	}
	if (typeof f.html === 'number') {
		const status = f.html;
		if (status >= 200 && status < 300) return { fails: 'INVALID_RESPONSE', status };
		// A proxy's page carries no CloMan code; the node names it by its status only.
		const code = `HTTP_${status}`;
		return [429, 500, 502, 503, 504].includes(status) ? { retry: code, status } : { fails: code, status };
	}
	if (f.drop !== undefined) return { retry: '*connection*' };
	if (f.truncated || f.invalidJson) return { fails: 'INVALID_RESPONSE', status: 200 };
	if (typeof f.delayMs === 'number') return f.delayMs >= 1000 ? { retry: 'TIMEOUT' } : 'decided';
	if (typeof f.hugeBody === 'number') return 'decided';
	throw new Error(`plan: unknown fault ${JSON.stringify(fault)}`);
}

export const STATUS_CODES: Record<number, string> = {
	400: 'BAD_REQUEST',
	401: 'AUTHENTICATION_ERROR',
	403: 'AUTHORIZATION_ERROR',
	404: 'CLONE_NOT_FOUND',
	422: 'VALIDATION_ERROR',
	429: 'RATE_LIMIT_EXCEEDED',
	500: 'INTERNAL_ERROR',
	502: 'LLM_SERVICE_ERROR',
	503: 'SERVICE_UNAVAILABLE',
	504: 'GATEWAY_TIMEOUT',
};

/** Per item: the fault for attempt 1, 2, 3… (undefined = answer normally), and what must come of it. */
export interface ItemPlan {
	id: string;
	faults: Array<Fault | undefined>;
	/** requests the stand-in must see for this id */
	attempts: number;
	/** the final outcome: decided, or failed with this code (status when an HTTP answer came) */
	final: 'decided' | { code: string; status?: number };
}

/** A 429 that names a wait (Retry-After, or details.retry_after): waited out without spending a retry. */
export function isServerWait(fault: Fault | undefined): boolean {
	const f = fault as { status?: number; retryAfter?: unknown } | undefined;
	return f?.status === 429 && f.retryAfter !== null;
}

/** Follow the retry policy through a fault list: how many attempts, and how it ends. */
export function simulate(faults: Array<Fault | undefined>, maxRetries: number): Pick<ItemPlan, 'attempts' | 'final'> {
	let retries = 0;
	for (let attempt = 1; ; attempt++) {
		const fault = faults[attempt - 1];
		const outcome = expectedOutcome(fault);
		if (outcome === 'decided') return { attempts: attempt, final: 'decided' };
		if ('fails' in outcome) return { attempts: attempt, final: { code: outcome.fails, status: outcome.status } };
		if (isServerWait(fault)) continue;
		if (retries >= maxRetries) return { attempts: attempt, final: { code: outcome.retry, status: outcome.status } };
		retries++;
	}
}

/** Requests of one item that spent from Max Retries' budget: all but the 429s that named a wait. */
export function budgetedAttempts(sent: RecordedRequest[], answers: Map<string, Answer>): number {
	return sent.filter((request) => {
		const answer = answers.get(request.requestId);
		return !(request.status === 429 && answer !== undefined && notBefore(answer) !== undefined);
	}).length;
}

interface Weighted {
	weight: number;
	make: (random: () => number) => Fault;
	/** a scarce fault: at most this many in the whole plan (they make everyone wait) */
	cap?: { name: string; max: number };
}

const pick = <T>(random: () => number, list: T[]): T => list[Math.floor(random() * list.length)];

/** Faults for a first attempt: anything. */
const FIRST: Weighted[] = [
	{ weight: 10, make: (r) => ({ status: pick(r, [500, 502, 503, 504] as const), retryAfter: null }) },
	{ weight: 2, make: (r) => ({ html: pick(r, [502, 503, 504]) }) },
	{ weight: 3, make: (r) => ({ drop: pick(r, ['before-response', 'mid-body'] as const) }) },
	{ weight: 5, make: (r) => ({ status: pick(r, [400, 401, 403, 404, 422] as const) }) },
	{ weight: 4, make: (r) => pick(r, Object.values(UNUSABLE_200)) },
	{ weight: 2, make: () => ({ body: goodBody({ decision: 'approve', x_unknown_field: { nested: [1, 'two'] } }) }) },
	{ weight: 2, make: () => ({ status: 429, retryAfter: 1 }), cap: { name: 'wait', max: 2 } },
	{ weight: 2, make: () => ({ status: 429, retryAfter: 'http-date:0' }), cap: { name: 'wait', max: 2 } },
	{ weight: 1, make: () => ({ status: 503, retryAfter: 1 }), cap: { name: 'wait', max: 2 } },
	{ weight: 2, make: () => ({ status: 429, retryAfter: null }), cap: { name: '429-bare', max: 2 } },
	{ weight: 2, make: () => ({ delayMs: 1500 }), cap: { name: 'timeout', max: 1 } },
	{ weight: 1, make: () => ({ hugeBody: 2 * 1024 * 1024 }), cap: { name: 'huge', max: 2 } },
];

/**
 * A fault plan for `count` items drawn from `random`: most items are answered normally; a few get a
 * fault on their first attempt, and some of those again on later attempts. Fixed per item and
 * attempt, so the same seed gives the same plan at any concurrency.
 */
export function drawPlan(random: () => number, count: number, maxRetries: number, faultRate = 0.07): ItemPlan[] {
	const used = new Map<string, number>();
	const draw = (table: Weighted[]): Fault => {
		for (;;) {
			const total = table.reduce((sum, entry) => sum + entry.weight, 0);
			let x = random() * total;
			const entry = table.find((candidate) => (x -= candidate.weight) < 0) ?? table[table.length - 1];
			if (entry.cap) {
				const n = used.get(entry.cap.name) ?? 0;
				if (n >= entry.cap.max) continue;
				used.set(entry.cap.name, n + 1);
			}
			return entry.make(random);
		}
	};
	return Array.from({ length: count }, (_, index) => {
		const id = itemId(index);
		const faults: Array<Fault | undefined> = [];
		if (random() < faultRate) {
			faults.push(draw(FIRST));
			// Later attempts: a retryable fault again now and then, or anything else.
			for (let attempt = 2; attempt <= maxRetries + 1; attempt++) {
				faults.push(random() < 0.3 ? draw(FIRST) : undefined);
			}
		}
		return { id, faults, ...simulate(faults, maxRetries) };
	});
}

// ---------------------------------------------------------------------------------------------
// The randomized fault run.

export interface FaultRunOptions {
	/** a seed to draw the plan from… */
	seed?: number;
	count?: number;
	/** …or the fault list of each item, in order (item i gets id item-000i) */
	faults?: Array<Array<Fault | undefined>>;
	concurrency: number;
	maxRetries: number;
	/** Options → Timeout (s); 1 unless given */
	timeout?: number;
	key?: string;
	/** more stand-in options (keys for a distinctive key, rateLimit…) */
	standin?: StandinOptions;
	onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';
}

export interface FaultRun {
	plan: ItemPlan[];
	standin: RecordingStandin;
	result: RunResult;
	ms: number;
	parameters: Record<string, unknown>;
}

export const itemId = (index: number) => `item-${String(index).padStart(4, '0')}`;

export async function faultRun(options: FaultRunOptions): Promise<FaultRun> {
	const plan: ItemPlan[] = options.faults
		? options.faults.map((faults, index) => ({ id: itemId(index), faults, ...simulate(faults, options.maxRetries) }))
		: drawPlan(prng(options.seed ?? 1), options.count ?? 300, options.maxRetries);
	const byId = new Map(plan.map((entry) => [entry.id, entry]));
	const standin = await openStandin({
		...options.standin,
		faults: (ctx) => {
			const id = ctx.body?.data?.id;
			return typeof id === 'string' ? byId.get(id)?.faults[ctx.attempt - 1] : undefined;
		},
	});
	const items = plan.map((entry, index) => ({ id: entry.id, amount: (index * 37) % 900 }));
	const parameters = {
		operation: 'decide',
		context: "={{ 'Refund ' + $json.amount + ' for ' + $json.id + '?' }}",
		actionType: 'refund',
		dataMode: 'inputItem',
		routeBy: 'review',
		options: {
			concurrency: options.concurrency,
			maxRetries: options.maxRetries,
			timeout: options.timeout ?? 1,
			responseLocation: 'key',
			responseKey: 'cloman',
			includeMetadata: true,
		},
	};
	const started = Date.now();
	const result = await runCloMan({
		items,
		parameters,
		credential: { apiKey: options.key ?? GOOD_KEY, baseUrl: standin.url },
		onError: options.onError ?? 'continueErrorOutput',
	});
	return { plan, standin, result, ms: Date.now() - started, parameters };
}

/** Allowed earliness of a retry against Retry-After, for clock granularity between two processes' views. */
export const CLOCK_SLACK_MS = 20;

/** When a 429/503 answer says the next request for its id may come, or undefined if it set no Retry-After. */
export function notBefore(answer: Answer): number | undefined {
	const header = answer.headers['retry-after'];
	if (header === undefined) {
		// No header: the envelope's details.retry_after (seconds) is the same promise.
		try {
			const seconds = JSON.parse(answer.body)?.error?.details?.retry_after;
			return typeof seconds === 'number' ? answer.at + seconds * 1000 : undefined;
		} catch {
			return undefined;
		}
	}
	const text = String(header).trim();
	if (/^\d+(\.\d+)?$/.test(text)) return answer.at + Number(text) * 1000;
	const at = Date.parse(text);
	return Number.isNaN(at) ? undefined : at;
}

export interface RunFigures {
	items: number;
	requests: number;
	decided: number;
	failed: number;
	retried: number;
	maxAttempts: number;
	/** most requests of one item that spent from Max Retries */
	maxBudgeted: number;
	retryAfterChecks: number;
	/** requests of fault-free items sent again a whole Timeout after the one before (see checkFaultRun) */
	lateTimeouts: number;
	ms: number;
}

/** Every invariant of issue 5 for one fault run; returns figures for the report. */
export function checkFaultRun(run: FaultRun, check: { exactAttempts?: boolean } = {}): RunFigures {
	const exactAttempts = check.exactAttempts ?? true;
	const { plan, standin, result } = run;
	const maxRetries = (run.parameters.options as { maxRetries: number }).maxRetries;
	expect(result.error).toBeUndefined();
	expect(result.status).toBe('success');
	// review routing: Auto-Decided, Needs Review, then the error output.
	expect(result.outputs).toHaveLength(3);
	const errorOutput = result.outputs[2];
	const decidedItems = [...result.outputs[0], ...result.outputs[1]];

	// 1. Every input item leaves exactly once, paired with its own index.
	const seen = new Map<number, { item: INodeExecutionData; failed: boolean }>();
	for (const [failed, list] of [
		[false, decidedItems],
		[true, errorOutput],
	] as const) {
		for (const item of list) {
			const paired = item.pairedItem as { item: number } | undefined;
			expect(paired).toBeDefined();
			const index = paired!.item;
			expect(seen.has(index)).toBe(false);
			seen.set(index, { item, failed });
			expect(item.json.id).toBe(plan[index].id);
		}
	}
	expect(seen.size).toBe(plan.length);

	const requests = requestsById(standin);
	const timeoutMs = (run.parameters.options as { timeout: number }).timeout * 1000;
	let lateTimeouts = 0;
	let retryAfterChecks = 0;
	let maxAttempts = 0;
	let maxBudgeted = 0;
	plan.forEach((entry, index) => {
		const sent = requests.get(entry.id) ?? [];
		const out = seen.get(index)!;
		const context = `${entry.id} faults ${JSON.stringify(entry.faults)}`;
		maxAttempts = Math.max(maxAttempts, sent.length);
		const budgeted = budgetedAttempts(sent, standin.answers);
		maxBudgeted = Math.max(maxBudgeted, budgeted);

		// 2. Attempts: exactly what the retry policy says, and bounded by 1 + Max Retries, where a 429
		// that named a wait counts for nothing (it is waited out, bounded by the total wait instead).
		// (Not exact when the stand-in's own rate limit adds 429s the plan does not know of.)
		// One exception: a fault-free item whose answer reached the client after its Timeout (the engine, the
		// client and this in-process stand-in share one event loop; on 2 busy cores an answer can take a
		// second) is sent again, as a timeout should be. Only a request that follows the one before by a
		// whole Timeout counts so; any other extra request still fails the check.
		const late =
			entry.faults.every((fault) => fault === undefined) && sent.length > entry.attempts
				? sent.filter((request, n) => n > 0 && request.at - sent[n - 1].at >= timeoutMs - CLOCK_SLACK_MS).length
				: 0;
		lateTimeouts += late;
		if (exactAttempts) expect({ context, attempts: sent.length - late }).toEqual({ context, attempts: entry.attempts });
		expect({ context, budgeted }).toEqual({ context, budgeted: Math.min(budgeted, 1 + maxRetries) });
		// No retry after 400/401/403/404/422: such an answer is the last request of its id.
		sent.forEach((request, n) => {
			if ([400, 401, 403, 404, 422].includes(request.status as number)) {
				expect({ context, retriedAfter: request.status, later: sent.length - 1 - n }).toEqual({
					context,
					retriedAfter: request.status,
					later: 0,
				});
			}
		});
		// 3. Never earlier than Retry-After.
		for (let n = 0; n + 1 < sent.length; n++) {
			const answer = standin.answers.get(sent[n].requestId);
			const earliest = answer ? notBefore(answer) : undefined;
			if (earliest === undefined) continue;
			retryAfterChecks++;
			expect({ context, early: Math.max(0, earliest - sent[n + 1].at - CLOCK_SLACK_MS) }).toEqual({
				context,
				early: 0,
			});
		}

		// 4. The item's fate, and what a failed item carries.
		if (entry.final === 'decided') {
			expect({ context, failed: out.failed }).toEqual({ context, failed: false });
			const decision = out.item.json.cloman as IDataObject;
			const last = standin.answers.get(sent[sent.length - 1].requestId)!;
			const { _meta: meta, ...body } = decision;
			// The decision passes through untouched: exactly the JSON the server sent.
			expect(body).toEqual(JSON.parse(last.body));
			expect(meta).toMatchObject({ attempts: sent.length, status: 200, request_id: last.requestId });
			return;
		}
		expect({ context, failed: out.failed }).toEqual({ context, failed: true });
		const error = out.item.json.error as IDataObject;
		const last = sent[sent.length - 1];
		const answer = standin.answers.get(last.requestId);
		expect(error.item_index).toBe(index);
		expect(error.attempts).toBe(sent.length);
		expect(typeof error.code).toBe('string');
		expect(typeof error.message).toBe('string');
		if (entry.final.code === '*connection*') {
			expect(error.kind).toBe('ConnectionError');
		} else {
			expect({ context, code: error.code }).toEqual({ context, code: entry.final.code });
		}
		const answered = answer !== undefined && answer.complete && typeof last.status === 'number' && !isTimeout(last.fault);
		if (answered) {
			expect({ context, status: error.status }).toEqual({ context, status: answer!.status });
			// The stand-in sends a request id with every answer.
			expect({ context, request_id: error.request_id }).toEqual({ context, request_id: last.requestId });
			// An answer that named a wait (Retry-After or details.retry_after) is reported with it.
			if (notBefore(answer!) !== undefined) {
				expect({ context, retry_after: typeof error.retry_after }).toEqual({ context, retry_after: 'number' });
			}
		} else {
			expect({ context, status: error.status }).toEqual({ context, status: undefined });
		}
	});

	const failed = errorOutput.length;
	return {
		items: plan.length,
		requests: standin.requests.length,
		decided: decidedItems.length,
		failed,
		retried: plan.filter((entry) => (requests.get(entry.id)?.length ?? 0) > 1).length,
		maxAttempts,
		maxBudgeted,
		retryAfterChecks,
		lateTimeouts,
		ms: run.ms,
	};
}

function isTimeout(fault: Fault | undefined): boolean {
	return fault !== undefined && typeof (fault as { delayMs?: number }).delayMs === 'number';
}

// ---------------------------------------------------------------------------------------------
// Capturing everything written while a run goes.

export interface Capture {
	text: () => string;
	restore: () => void;
}

/** Record (and still pass on) console.*, process.stdout/stderr writes and n8n LoggerProxy calls. */
export function captureOutput(): Capture {
	const chunks: string[] = [];
	const asText = (value: unknown): string => {
		if (typeof value === 'string') return value;
		if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
		if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ''}\n${safeJson(value)}`;
		return safeJson(value);
	};
	const restorers: Array<() => void> = [];
	for (const stream of [process.stdout, process.stderr]) {
		const original = stream.write;
		stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
			chunks.push(asText(chunk));
			return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
		} as typeof stream.write;
		restorers.push(() => (stream.write = original));
	}
	for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
		const spy = jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
			chunks.push(args.map(asText).join(' '));
		});
		restorers.push(() => spy.mockRestore());
	}
	// n8n's own Logger (constructed during a run) re-initialises LoggerProxy with itself: keep our
	// recorder in front of whatever logger is installed, and pass every call on to it.
	type Logger = Parameters<typeof LoggerProxy.init>[0];
	const proxy = LoggerProxy as unknown as { init: (logger: Logger) => void };
	const originalInit = proxy.init;
	let downstream: Logger | undefined;
	const recorder = Object.fromEntries(
		(['error', 'warn', 'info', 'debug'] as const).map((level) => [
			level,
			(message: unknown, meta?: unknown) => {
				chunks.push(`[n8n ${level}] ${asText(message)} ${asText(meta ?? '')}`);
				(downstream as unknown as Record<string, (m: unknown, x?: unknown) => void> | undefined)?.[level]?.(message, meta);
			},
		]),
	) as unknown as Logger;
	proxy.init = (logger: Logger) => {
		downstream = logger;
		originalInit(recorder);
	};
	originalInit(recorder);
	restorers.push(() => {
		proxy.init = originalInit;
		originalInit(downstream ?? (noLogger as unknown as Logger));
	});
	return {
		text: () => chunks.join('\n'),
		restore: () => restorers.splice(0).reverse().forEach((restore) => restore()),
	};
}

const noLogger = { error() {}, warn() {}, info() {}, debug() {} };

function safeJson(value: unknown): string {
	const seen = new WeakSet<object>();
	try {
		return (
			JSON.stringify(value, (_key, entry) => {
				if (typeof entry === 'object' && entry !== null) {
					if (seen.has(entry)) return '[circular]';
					seen.add(entry);
				}
				if (typeof entry === 'bigint') return String(entry);
				return entry;
			}) ?? String(value)
		);
	} catch {
		return String(value);
	}
}

/** Everything a run produced, as one string: the whole IRun (errors with their own properties) and the outputs. */
export function everything(result: RunResult): string {
	const withErrors = (value: unknown): unknown => {
		if (value instanceof Error) {
			const own: Record<string, unknown> = {};
			for (const key of Object.getOwnPropertyNames(value)) own[key] = (value as unknown as Record<string, unknown>)[key];
			return own;
		}
		return value;
	};
	const seen = new WeakSet<object>();
	return JSON.stringify({ run: result.run, error: result.error, outputs: result.outputs }, (_key, value) => {
		const entry = withErrors(value);
		if (typeof entry === 'object' && entry !== null) {
			if (seen.has(entry)) return '[circular]';
			seen.add(entry);
		}
		return entry;
	});
}

/** Where a stand-in saw `key`: every place other than the x-api-key header. */
export function keySightings(standin: Standin, key: string): string[] {
	const found: string[] = [];
	for (const request of standin.requests) {
		if (request.rawBody.includes(key)) found.push(`${request.requestId} body`);
		if (request.path.includes(key)) found.push(`${request.requestId} url`);
		for (const [name, value] of Object.entries(request.headers)) {
			if (name === 'x-api-key') continue;
			if (String(value ?? '').includes(key)) found.push(`${request.requestId} header ${name}`);
		}
	}
	return found;
}

// ---------------------------------------------------------------------------------------------
// Bad input: item-level cases (each bad in exactly one field) and node-level credential cases.

export interface BadItem {
	name: string;
	/** the item as the start node emits it; `tag` is unique and ends up in any request made for it */
	json: IDataObject;
	/** undefined for a good item */
	field?: string;
	/** what the error message must say besides "item <index>" */
	message?: RegExp;
}

/** The node's limit on Context (characters after trimming). */
export const MAX_CONTEXT_CHARS = 100_000;

const good = (tag: string, extra: IDataObject = {}): IDataObject => ({
	tag,
	ctx: `Refund 20 USD for ${tag}?`,
	act: 'refund',
	raw: JSON.stringify({ id: tag, amount: 20 }),
	...extra,
});

/** Run A: Context, Custom Action Type and Data (JSON) come from the item through expressions. */
export const BAD_INPUT_PARAMETERS = {
	operation: 'decide',
	context: '={{ $json.ctx }}',
	actionType: 'custom',
	customActionType: '={{ $json.act }}',
	dataMode: 'json',
	dataJson: '={{ $json.raw }}',
	routeBy: 'review',
	options: { concurrency: 4, maxRetries: 0 },
};

export function badInputItems(): BadItem[] {
	const big = 'x'.repeat(1024 * 1024);
	return [
		{ name: 'good', json: good('good-0') },
		{ name: 'context empty', json: good('bad-ctx-empty', { ctx: '' }), field: 'context', message: /Context of item \d+ is empty/ },
		{
			name: 'context whitespace',
			json: good('bad-ctx-blank', { ctx: ' \n\t  ' }),
			field: 'context',
			message: /Context of item \d+ is empty/,
		},
		{
			name: 'context a number',
			json: good('bad-ctx-number', { ctx: 42 }),
			field: 'context',
			message: /Context of item \d+ must be text, not a number/,
		},
		{
			name: 'context an object',
			json: good('bad-ctx-object', { ctx: { question: 'refund?' } }),
			field: 'context',
			message: /Context of item \d+ must be text, not an? object/,
		},
		{ name: 'good', json: good('good-1') },
		{
			name: 'context 1 MB',
			json: good('bad-ctx-huge', { ctx: `${big} bad-ctx-huge` }),
			field: 'context',
			message: new RegExp(`Context of item \\d+ has ${big.length + 13} characters, more than the ${MAX_CONTEXT_CHARS}`),
		},
		{
			name: `context of exactly ${MAX_CONTEXT_CHARS} characters (the limit)`,
			json: good('good-at-limit', { ctx: `good-at-limit ${'y'.repeat(MAX_CONTEXT_CHARS - 14)}` }),
		},
		{
			name: 'custom action type empty',
			json: good('bad-act-empty', { act: '' }),
			field: 'customActionType',
			message: /Action Type of item \d+ is empty/,
		},
		{
			name: 'custom action type whitespace',
			json: good('bad-act-blank', { act: '   ' }),
			field: 'customActionType',
			message: /Action Type of item \d+ is empty/,
		},
		{
			name: 'Data (JSON) invalid JSON',
			json: good('bad-json-invalid', { ctx: 'Refund for bad-json-invalid?', raw: '{"id": "x", "amount": }' }),
			field: 'dataJson',
			message: /Data \(JSON\) of item \d+ is not valid JSON/,
		},
		{
			name: 'Data (JSON) an array',
			json: good('bad-json-array', { ctx: 'Refund for bad-json-array?', raw: '[{"id": "x"}]' }),
			field: 'dataJson',
			message: /Data of item \d+ must be a JSON object, not an array/,
		},
		{
			name: 'Data (JSON) a string',
			json: good('bad-json-string', { ctx: 'Refund for bad-json-string?', raw: '"just text"' }),
			field: 'dataJson',
			message: /Data of item \d+ must be a JSON object, not a string/,
		},
		{
			name: 'Data (JSON) null',
			json: good('bad-json-null', { ctx: 'Refund for bad-json-null?', raw: 'null' }),
			field: 'dataJson',
			message: /Data of item \d+ must be a JSON object, not null/,
		},
		{ name: 'good', json: good('good-2') },
	];
}

/** Run B: Action Type itself from an expression, and Data as fields with a name from the item. */
export const BAD_INPUT_PARAMETERS_B = {
	operation: 'decide',
	context: '={{ $json.ctx }}',
	actionType: '={{ $json.act }}',
	// n8n cannot evaluate displayOptions against an expression, so it asks for this required field
	// even though no item picks "custom" (see the bad-input test on it).
	customActionType: 'unused',
	dataMode: 'fields',
	dataFields: {
		field: [
			{ name: 'id', value: '={{ $json.tag }}' },
			{ name: '={{ $json.fieldName }}', value: '={{ 20 }}' },
		],
	},
	routeBy: 'review',
	options: { concurrency: 2, maxRetries: 0 },
};

export function badInputItemsB(): BadItem[] {
	const item = (tag: string, extra: IDataObject = {}) => ({ tag, ctx: `Refund for ${tag}?`, act: 'refund', fieldName: 'amount', ...extra });
	return [
		{ name: 'good', json: item('good-b0') },
		{ name: 'action type empty', json: item('bad-b-act', { act: '' }), field: 'actionType', message: /Action Type of item \d+ is empty/ },
		{
			name: 'data field without a name',
			json: item('bad-b-field', { fieldName: ' ' }),
			field: 'dataFields',
			message: /Data field 2 of item \d+ has no name/,
		},
		{ name: 'good', json: item('good-b1') },
	];
}

/** Base URLs the node must refuse before sending anything (`url` is the stand-in's). */
export function badBaseUrls(url: string): Array<{ name: string; baseUrl: string; message: RegExp }> {
	const hostPort = url.replace(/^http:\/\//, '');
	return [
		{ name: 'not http(s): ftp', baseUrl: `ftp://${hostPort}`, message: /must start with http:\/\/ or https:\/\//i },
		{ name: 'not http(s): ws', baseUrl: `ws://${hostPort}`, message: /must start with http:\/\/ or https:\/\//i },
		{ name: 'no scheme (an IP and port)', baseUrl: hostPort, message: /is not a URL/ },
		{ name: 'no scheme (localhost:port)', baseUrl: `localhost:${hostPort.split(':')[1]}`, message: /must start with http:\/\/ or https:\/\//i },
		{ name: 'a space inside', baseUrl: `${url} /api`, message: /contains spaces/ },
		{ name: 'a space in the host', baseUrl: `http://127.0.0.1 :${hostPort.split(':')[1]}`, message: /contains spaces/ },
		{ name: 'a path', baseUrl: `${url}/api/v1`, message: /without a path such as "\/api\/v1"/ },
		{
			name: 'the whole endpoint',
			baseUrl: `${url}/api/v1/public/decide`,
			message: /without a path such as "\/api\/v1\/public\/decide"/,
		},
		{ name: 'a query', baseUrl: `${url}/?env=prod`, message: /without a path/ },
		{ name: 'empty', baseUrl: '', message: /Base URL is empty/ },
	];
}

/** Everything about how bad input came out of one run with onError = continueErrorOutput. */
export function checkBadInputRun(
	result: RunResult,
	standin: Standin,
	cases: BadItem[],
): { decided: number; failed: number; requests: number } {
	expect(result.error).toBeUndefined();
	expect(result.status).toBe('success');
	expect(result.outputs).toHaveLength(3);
	const errorOutput = result.outputs[2];
	const decided = [...result.outputs[0], ...result.outputs[1]];
	const bodies = standin.requests.map((request) => request.rawBody);
	cases.forEach((entry, index) => {
		const tag = entry.json.tag as string;
		const inError = errorOutput.filter((item) => (item.pairedItem as { item: number }).item === index);
		const inMain = decided.filter((item) => (item.pairedItem as { item: number }).item === index);
		const sentFor = bodies.filter((body) => body.includes(tag)).length;
		if (entry.field === undefined) {
			expect({ name: entry.name, inMain: inMain.length, inError: inError.length, sent: sentFor }).toEqual({
				name: entry.name,
				inMain: 1,
				inError: 0,
				sent: 1,
			});
			return;
		}
		expect({ name: entry.name, inMain: inMain.length, inError: inError.length, sent: sentFor }).toEqual({
			name: entry.name,
			inMain: 0,
			inError: 1,
			sent: 0,
		});
		const error = inError[0].json.error as IDataObject;
		expect({ name: entry.name, field: error.field, code: error.code, kind: error.kind, attempts: error.attempts }).toEqual({
			name: entry.name,
			field: entry.field,
			code: 'INVALID_INPUT',
			kind: 'InputError',
			attempts: 0,
		});
		expect(error.item_index).toBe(index);
		expect(String(error.message)).toContain(`item ${index}`);
		expect(String(error.message)).toMatch(entry.message!);
		// The error item keeps the input item's fields (n8n merges them back in).
		expect(inError[0].json.tag).toBe(tag);
	});
	return { decided: decided.length, failed: errorOutput.length, requests: standin.requests.length };
}
