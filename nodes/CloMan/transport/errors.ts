import type { IDataObject, INode, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

/** Error kinds, named as the official Python SDK names its exception classes, plus three of our own. */
export type CloManErrorKind =
	| 'AuthenticationError'
	| 'AuthorizationError'
	| 'NotFoundError'
	| 'ValidationError'
	| 'RateLimitError'
	| 'ServerError'
	| 'TimeoutError'
	| 'ConnectionError'
	| 'InvalidResponseError'
	| 'InputError'
	| 'CloManError';

/** Everything known about one failed item; plain data, safe to put in an output item. */
export interface CloManFailure {
	kind: CloManErrorKind;
	code: string;
	message: string;
	status?: number;
	details: IDataObject;
	request_id?: string;
	retry_after?: number;
	attempts: number;
	/** The parameter at fault, for bad input. */
	field?: string;
}

const KIND_BY_STATUS: Record<number, CloManErrorKind> = {
	401: 'AuthenticationError',
	403: 'AuthorizationError',
	404: 'NotFoundError',
	422: 'ValidationError',
	429: 'RateLimitError',
};

export function kindForStatus(status: number): CloManErrorKind {
	return KIND_BY_STATUS[status] ?? (status >= 500 ? 'ServerError' : 'CloManError');
}

const EXCERPT_CHARS = 200;

/** A short single-line excerpt of a body that is not what we expected (an HTML page from a proxy, say). */
export function excerpt(body: unknown): string {
	let text: string;
	if (typeof body === 'string') text = body;
	else if (Buffer.isBuffer(body)) text = body.toString('utf8', 0, EXCERPT_CHARS * 4);
	else {
		try {
			text = JSON.stringify(body) ?? String(body);
		} catch {
			text = String(body);
		}
	}
	const flat = text.replace(/\s+/g, ' ').trim();
	return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/** A JSON object: not null, not an array. */
export function isObject(value: unknown): value is IDataObject {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `error` object of CloMan's error envelope, if `body` is one. */
export function envelopeOf(body: unknown): IDataObject | undefined {
	return isObject(body) && isObject(body.error) ? body.error : undefined;
}

function headerValue(headers: IDataObject | undefined, name: string): string | undefined {
	const value = headers?.[name] ?? headers?.[name.toLowerCase()];
	if (Array.isArray(value)) return value.length ? String(value[0]) : undefined;
	return value === undefined || value === null ? undefined : String(value);
}

export function requestIdFrom(headers: IDataObject | undefined, body?: unknown): string | undefined {
	const requestId = envelopeOf(body)?.request_id;
	if (typeof requestId === 'string') return requestId;
	return headerValue(headers, 'x-request-id');
}

/** Map an HTTP error answer — the CloMan envelope, or anything else a proxy may send — to a failure. */
export function failureFromResponse(
	status: number,
	headers: IDataObject | undefined,
	body: unknown,
	attempts: number,
	retryAfterSeconds?: number,
): CloManFailure {
	const envelope = envelopeOf(body);
	const kind = kindForStatus(status);
	// Without a CloMan envelope (a proxy's page, say) we do not claim the API's code for it.
	const code = typeof envelope?.code === 'string' ? envelope.code : `HTTP_${status}`;
	const message =
		typeof envelope?.message === 'string'
			? envelope.message
			: `HTTP ${status} without a CloMan error body: ${excerpt(body) || '(empty body)'}`;
	const failure: CloManFailure = {
		kind,
		code,
		message,
		status,
		details: isObject(envelope?.details) ? envelope.details : {},
		attempts,
	};
	const requestId = requestIdFrom(headers, body);
	if (requestId !== undefined) failure.request_id = requestId;
	if (retryAfterSeconds !== undefined) failure.retry_after = retryAfterSeconds;
	return failure;
}

export function networkFailure(
	code: string | undefined,
	message: string,
	attempts: number,
	timeoutMs: number,
): CloManFailure {
	const timedOut =
		code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || /timeout/i.test(message);
	if (timedOut) {
		return {
			kind: 'TimeoutError',
			code: 'TIMEOUT',
			message: `No answer from CloMan within ${timeoutMs / 1000} s`,
			details: { cause: code ?? 'timeout' },
			attempts,
		};
	}
	return {
		kind: 'ConnectionError',
		code: code ?? 'CONNECTION_ERROR',
		message: `Could not reach CloMan: ${message}`,
		details: {},
		attempts,
	};
}

export function invalidResponseFailure(
	problem: string,
	status: number,
	headers: IDataObject | undefined,
	body: unknown,
	attempts: number,
): CloManFailure {
	const failure: CloManFailure = {
		kind: 'InvalidResponseError',
		code: 'INVALID_RESPONSE',
		message: `CloMan answered ${status} but ${problem}`,
		status,
		details: { body_excerpt: excerpt(body) },
		attempts,
	};
	const requestId = requestIdFrom(headers);
	if (requestId !== undefined) failure.request_id = requestId;
	return failure;
}

export function inputFailure(field: string, message: string): CloManFailure {
	return { kind: 'InputError', code: 'INVALID_INPUT', message, details: {}, attempts: 0, field };
}

/** Replace every occurrence of `secret` in the strings of `value` (deeply); the key never leaves the node. */
export function redact<T>(value: T, secret: string): T {
	if (!secret) return value;
	if (typeof value === 'string') return value.split(secret).join('[redacted]') as T;
	if (Array.isArray(value)) return value.map((entry) => redact(entry, secret)) as T;
	if (isObject(value)) {
		const copy: IDataObject = {};
		for (const [key, entry] of Object.entries(value)) copy[key] = redact(entry, secret);
		return copy as T;
	}
	return value;
}

/** One line for n8n's error view: what happened, which kind, which code. */
export function failureTitle(failure: CloManFailure): string {
	const status = failure.status !== undefined ? `${failure.status} ` : '';
	return `CloMan ${failure.kind} (${status}${failure.code}): ${failure.message}`;
}

export function failureDescription(failure: CloManFailure, itemIndex: number): string {
	const parts = [`Item ${itemIndex}`];
	if (failure.field) parts.push(`field "${failure.field}"`);
	if (failure.request_id) parts.push(`request_id ${failure.request_id}`);
	if (failure.retry_after !== undefined) parts.push(`retry_after ${failure.retry_after} s`);
	if (failure.attempts) parts.push(`${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}`);
	if (Object.keys(failure.details).length) parts.push(`details ${excerpt(failure.details)}`);
	return parts.join(' · ');
}

/** The error n8n shows (and stops on) for a failed item: NodeApiError for API answers, else NodeOperationError. */
export function toNodeError(node: INode, failure: CloManFailure, itemIndex: number) {
	const options = {
		message: failureTitle(failure),
		description: failureDescription(failure, itemIndex),
		itemIndex,
	};
	if (failure.kind === 'InputError') return new NodeOperationError(node, options.message, options);
	return new NodeApiError(node, { ...failure } as unknown as JsonObject, {
		...options,
		httpCode: failure.status !== undefined ? String(failure.status) : undefined,
	});
}
