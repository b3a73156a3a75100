import type { ICredentialsDecrypted, IDataObject, IExecuteFunctions, IHttpRequestOptions } from 'n8n-workflow';

import type { CloManFailure } from './errors';
import { envelopeOf, failureFromResponse, invalidResponseFailure, isObject, networkFailure, redact } from './errors';
import type { RequestLimiter } from './limiter';
import { CancelledError, wait } from './limiter';
import { decideRetry, isRetryableNetworkCode, isRetryableStatus, parseQuota, parseRetryAfter } from './retry';

export const CREDENTIAL_TYPE = 'cloManApi';
export const DECIDE_PATH = '/api/v1/public/decide';
export const DEFAULT_BASE_URL = 'https://api.cloman.app';

/** The body of POST /api/v1/public/decide. */
export interface DecideRequest {
	context: string;
	action_type: string;
	data: IDataObject;
}

export interface DecideSuccess {
	ok: true;
	response: IDataObject;
	attempts: number;
	latencyMs: number;
	requestId?: string;
	status: number;
}

export type DecideResult = DecideSuccess | { ok: false; failure: CloManFailure };

export interface DecideOptions {
	endpoint: string;
	timeoutMs: number;
	maxRetries: number;
	limiter: RequestLimiter;
	signal?: AbortSignal;
	/** Removed from anything the server echoes before it is cut into excerpts. */
	secret?: string;
	/**
	 * The node's credential, read once per run. Without it n8n's helper looks the credential up again
	 * for every request (in n8n: a database read and a decryption each time).
	 */
	credentials?: ICredentialsDecrypted;
}

/**
 * The base URL of a CloMan server: scheme, host and optional port, nothing else (the node adds
 * the endpoint path itself). Returns the endpoint URL, or a message saying what is wrong.
 */
export function endpointFromBaseUrl(raw: unknown): { url: string } | { error: string } {
	const text = typeof raw === 'string' ? raw.trim() : '';
	const example = `like ${DEFAULT_BASE_URL} or http://127.0.0.1:8000`;
	if (text === '') return { error: `Base URL is empty: set it to the CloMan server's address, ${example}` };
	if (/\s/.test(text)) return { error: `Base URL "${text}" contains spaces: use the bare address, ${example}` };
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return { error: `Base URL "${text}" is not a URL: use an http(s) address, ${example}` };
	}
	if (url.protocol !== 'https:' && url.protocol !== 'http:') {
		return { error: `Base URL must start with http:// or https://, not "${url.protocol}"` };
	}
	if (url.username || url.password) {
		return { error: 'Base URL must not contain a user name or password: the API key goes in the API Key field' };
	}
	if (url.pathname.replace(/\/+$/, '') !== '' || url.search || url.hash) {
		return {
			error: `Base URL must be the server's root, ${example}, without a path such as "${url.pathname}${url.search}": the node adds ${DECIDE_PATH} itself`,
		};
	}
	return { url: `${url.origin}${DECIDE_PATH}` };
}


/** Why a 200 body cannot be used as a decision, or undefined when it can. */
export function unusableDecisionProblem(body: unknown): string | undefined {
	if (!isObject(body)) return 'the body is not a JSON object';
	const problems: string[] = [];
	if (typeof body.decision !== 'string' || body.decision.trim() === '') problems.push('"decision" is not a non-empty string');
	if (typeof body.decision_id !== 'string') problems.push('"decision_id" is not a string');
	if (typeof body.confidence !== 'number' || !(body.confidence >= 0 && body.confidence <= 1)) {
		problems.push('"confidence" is not a number from 0 to 1');
	}
	for (const flag of ['requires_human_review', 'was_escalated']) {
		if (typeof body[flag] !== 'boolean') problems.push(`"${flag}" is not true or false`);
	}
	return problems.length ? `its body is not a usable decision: ${problems.join('; ')}` : undefined;
}

function parseBody(body: unknown): unknown {
	if (typeof body !== 'string') return Buffer.isBuffer(body) ? parseBody(body.toString('utf8')) : body;
	try {
		return JSON.parse(body);
	} catch {
		return body;
	}
}

interface HttpAnswer {
	statusCode: number;
	headers: IDataObject;
	body: unknown;
}

function errorCode(error: unknown): string | undefined {
	// n8n wraps the transport error in NodeApiError; the socket's code sits on it or on its cause.
	let current: unknown = error;
	for (let depth = 0; depth < 4 && isObject(current); depth++) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string' && code !== '') return code;
		current = (current as { cause?: unknown }).cause;
	}
	// n8n-workflow 1.x's NodeApiError loses an Error cause (a class field resets it); what survives is
	// httpCode: the socket's code when no response came (ECONNABORTED, ECONNRESET, ...), or a status
	// when the response broke off in the body (with ignoreHttpStatusErrors nothing else throws with one).
	const httpCode = isObject(error) ? (error as { httpCode?: unknown }).httpCode : undefined;
	if (typeof httpCode === 'string' && /^[A-Z][A-Z0-9_]+$/.test(httpCode)) return httpCode;
	if (typeof httpCode === 'string' && /^\d{3}$/.test(httpCode)) return 'ERR_BAD_RESPONSE';
	return undefined;
}

function errorMessage(error: unknown): string {
	if (error instanceof Error) return error.message;
	return String(error);
}

/**
 * POST one decision request, with timeout and retries, through n8n's authenticated request helper
 * (which adds the X-API-Key header from the credential and honours n8n's proxy settings).
 * Never throws for an API or network failure: those come back as `{ok: false, failure}`.
 * Throws CancelledError when the execution is cancelled.
 */
export async function decide(
	ctx: IExecuteFunctions,
	body: DecideRequest,
	options: DecideOptions,
): Promise<DecideResult> {
	const { limiter, signal } = options;
	const started = Date.now();
	let retriesUsed = 0;
	let rateLimits = 0;
	let rateLimitWaitedMs = 0;
	let rateLimitedAt: number | undefined;
	for (let attempt = 1; ; attempt++) {
		const startedAt = await limiter.acquire();
		// From a 429 to the next request: the time this item waited for the rate limit.
		if (rateLimitedAt !== undefined) {
			const waited = Math.max(0, startedAt - rateLimitedAt);
			rateLimitWaitedMs += waited;
			limiter.stats.rateLimitWaitMs += waited;
		}
		rateLimitedAt = undefined;
		let answer: HttpAnswer | undefined;
		let thrown: unknown;
		try {
			const request: IHttpRequestOptions = {
				method: 'POST',
				url: options.endpoint,
				body: { ...body },
				json: true,
				timeout: options.timeoutMs,
				returnFullResponse: true,
				ignoreHttpStatusErrors: true,
			};
			answer = (await ctx.helpers.httpRequestWithAuthentication.call(
				ctx,
				CREDENTIAL_TYPE,
				request,
				options.credentials ? { credentialsDecrypted: options.credentials } : undefined,
			)) as HttpAnswer;
		} catch (error) {
			thrown = error;
		}
		limiter.release(
			startedAt,
			answer === undefined ? 'no-answer' : answer.statusCode === 429 ? 'rate-limited' : 'accepted',
		);
		// Rate-limit headers, if the server sends them: "nothing left" slows the pace before a 429 comes,
		// "half or more left" lets it grow into quota nobody uses.
		if (answer !== undefined && answer.statusCode !== 429) limiter.quotaReport(startedAt, parseQuota(answer.headers ?? {}));
		if (signal?.aborted) throw new CancelledError();

		let failure: CloManFailure;
		let retryable: boolean;
		let retryAfterMs: number | undefined;
		if (answer === undefined) {
			const code = errorCode(thrown);
			if (code === 'ERR_CANCELED') throw new CancelledError();
			failure = networkFailure(code, errorMessage(thrown), attempt, options.timeoutMs);
			retryable = failure.kind === 'TimeoutError' || isRetryableNetworkCode(code);
		} else {
			const status = answer.statusCode;
			const headers = answer.headers ?? {};
			const parsed = parseBody(answer.body);
			if (status >= 200 && status < 300) {
				const problem = unusableDecisionProblem(parsed);
				if (problem === undefined) {
					limiter.succeeded();
					const response = parsed as IDataObject;
					return {
						ok: true,
						response,
						attempts: attempt,
						latencyMs: Date.now() - started,
						requestId: typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : undefined,
						status,
					};
				}
				// Never retried: the server may already have recorded this decision.
				const echoed = redact(parsed, options.secret ?? '');
				return { ok: false, failure: invalidResponseFailure(problem, status, headers, echoed, attempt) };
			}
			const envelopeDetails = envelopeOf(parsed)?.details;
			const details = isObject(envelopeDetails) ? envelopeDetails : undefined;
			retryAfterMs = parseRetryAfter(headers['retry-after'], Date.now()) ?? parseRetryAfter(details?.retry_after, 0);
			failure = failureFromResponse(
				status,
				headers,
				redact(parsed, options.secret ?? ''),
				attempt,
				retryAfterMs === undefined ? undefined : retryAfterMs / 1000,
			);
			retryable = isRetryableStatus(status);
		}

		const rateLimited = failure.status === 429;
		if (rateLimited) rateLimits++;
		const verdict = decideRetry({
			retriesUsed,
			maxRetries: options.maxRetries,
			retryable,
			rateLimited,
			rateLimits,
			retryAfterMs,
			rateLimitWaitedMs,
			maxRateLimitWaitMs: limiter.maxWaitPerItemMs,
		});
		if (!verdict.retry) {
			if (verdict.reason === 'retry-after-too-long') {
				failure.message += ` (the server asks to wait ${Math.round((retryAfterMs ?? 0) / 1000)} s, longer than this node waits)`;
			} else if (verdict.reason === 'wait-limit') {
				failure.message += ` (rate-limited ${rateLimits} time${rateLimits === 1 ? '' : 's'}; this item waited ${seconds(rateLimitWaitedMs)} s in all, and another wait would pass Max Rate-Limit Wait per Item, ${seconds(limiter.maxWaitPerItemMs)} s)`;
			}
			return { ok: false, failure };
		}
		if (verdict.spendsRetry) retriesUsed++;
		limiter.stats.retries++;
		if (rateLimited) {
			// A rate limit concerns every run on this credential: the limiter holds them back (the whole
			// Retry-After at the first 429, a slot or two of a slower pace after that); this item waits
			// its whole Retry-After in any case.
			const ownWaitMs = limiter.rateLimited(verdict.delayMs, startedAt);
			rateLimitedAt = Date.now();
			if (ownWaitMs > 0) await wait(ownWaitMs, signal);
		} else {
			await wait(verdict.delayMs, signal);
		}
	}
}

function seconds(ms: number): string {
	return String(Math.round(ms / 100) / 10);
}
