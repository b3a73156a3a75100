/**
 * Retry policy: named constants with units and pure functions, so it can be read and tested apart
 * from any HTTP. What is retried: 429 (after Retry-After), 500/502/503/504, dropped or refused
 * connections and timeouts. Never: 400, 401, 403, 404, 422, an unusable 200, or anything unrecognised.
 */

/** First backoff step when the server gives no Retry-After. */
export const BACKOFF_BASE_MS = 500;
/** Longest single backoff step. */
export const BACKOFF_MAX_MS = 8_000;
/** Longest Retry-After we wait for; a longer one fails the item (we never retry before it). */
export const RETRY_AFTER_CAP_MS = 60_000;
/** Default number of retries after the first attempt (the Python SDK's max_retries). */
export const DEFAULT_MAX_RETRIES = 3;
/** Default per-attempt timeout (the Python SDK's 30 s). */
export const DEFAULT_TIMEOUT_MS = 30_000;

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** Network failures worth another attempt: the request may not have reached the server, or timed out. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
	'ECONNRESET',
	'ECONNREFUSED',
	'ECONNABORTED',
	'ETIMEDOUT',
	'ESOCKETTIMEDOUT',
	'EPIPE',
	'EAI_AGAIN',
	'EHOSTUNREACH',
	'ENETUNREACH',
	'ERR_BAD_RESPONSE',
	'UND_ERR_SOCKET',
	'UND_ERR_CONNECT_TIMEOUT',
]);

export function isRetryableStatus(status: number): boolean {
	return RETRYABLE_STATUSES.has(status);
}

export function isRetryableNetworkCode(code: string | undefined): boolean {
	return code !== undefined && RETRYABLE_NETWORK_CODES.has(code);
}

/**
 * Milliseconds to wait from `nowMs` according to a Retry-After value: delta-seconds ("120", "1.5")
 * or an HTTP date. Undefined when absent or unreadable; 0 for a date in the past.
 */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
	if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
	if (typeof value !== 'string') return undefined;
	const text = value.trim();
	if (text === '') return undefined;
	if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
	// An HTTP date names its weekday and month ("Wed, 21 Oct 2015 07:28:00 GMT"); anything else is unreadable.
	if (!/[a-z]/i.test(text)) return undefined;
	const at = Date.parse(text);
	if (Number.isNaN(at)) return undefined;
	return Math.max(0, at - nowMs);
}

/**
 * What an answer's rate-limit headers say is left of the key's quota, if it sends any: the lowest of
 * `RateLimit-Remaining` / `X-RateLimit-Remaining` (an integer, or a list of them, one per policy) and the
 * `remaining=` / `r=` parameters of an IETF `RateLimit` header (`limit=20, remaining=0, reset=1` or
 * `"default";r=0;t=1`). Undefined when there is none or none is readable: CloMan documents no such
 * headers, so the node uses them when present and never needs them.
 */
export function parseQuotaRemaining(headers: Record<string, unknown>): number | undefined {
	const found: number[] = [];
	const text = (value: unknown): string => (Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
	for (const name of ['ratelimit-remaining', 'x-ratelimit-remaining']) {
		for (const part of text(headers[name]).split(',')) {
			if (/^\s*\d+\s*$/.test(part)) found.push(Number(part));
		}
	}
	for (const match of text(headers.ratelimit).matchAll(/(?:^|[\s,;])(?:remaining|r)\s*=\s*(\d+)/gi)) found.push(Number(match[1]));
	return found.length ? Math.min(...found) : undefined;
}

/** Exponential backoff with full jitter for retry number `retry` (1 = first retry). */
export function backoffDelay(retry: number, random: () => number = Math.random): number {
	const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, retry - 1));
	// Never less than half the step, so a burst of failures does not hammer the server at once.
	return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export type RetryDecision =
	| {
			retry: true;
			delayMs: number;
			fromServer: boolean;
			/** Whether this retry counts against Max Retries (a 429 with a Retry-After within the cap does not). */
			spendsRetry: boolean;
	  }
	| { retry: false; reason: 'not-retryable' | 'exhausted' | 'retry-after-too-long' | 'wait-limit' };

/**
 * Whether a failed attempt should be retried, and after how long.
 *
 * - A server-given wait is obeyed exactly; one longer than the cap is not shortened but refused.
 * - A 429 with such a wait is the server asking for time, not a failure: it spends none of Max Retries.
 *   What bounds it is the item's total rate-limit wait: past `maxRateLimitWaitMs` the item fails. A
 *   Retry-After of 0 is stretched to the backoff of the item's 429 count, so it cannot spin.
 * - Everything else retryable (5xx, dropped connections, timeouts, a 429 that names no wait) spends
 *   one of Max Retries; a 429 without a wait also counts its backoff towards the total wait.
 */
export function decideRetry(args: {
	/** Retries already spent from Max Retries. */
	retriesUsed: number;
	maxRetries: number;
	retryable: boolean;
	/** The answer was a 429. */
	rateLimited?: boolean;
	/** 429s this item has had, this one included (the backoff step for a Retry-After of 0). */
	rateLimits?: number;
	retryAfterMs?: number;
	/** Time this item has already waited for rate limits. */
	rateLimitWaitedMs?: number;
	/** Longest total rate-limit wait per item. */
	maxRateLimitWaitMs?: number;
	random?: () => number;
}): RetryDecision {
	if (!args.retryable) return { retry: false, reason: 'not-retryable' };
	const overWaitLimit = (delayMs: number) =>
		args.rateLimited === true &&
		args.maxRateLimitWaitMs !== undefined &&
		(args.rateLimitWaitedMs ?? 0) + delayMs > args.maxRateLimitWaitMs;
	if (args.rateLimited && args.retryAfterMs !== undefined) {
		if (args.retryAfterMs > RETRY_AFTER_CAP_MS) return { retry: false, reason: 'retry-after-too-long' };
		const delayMs = args.retryAfterMs > 0 ? args.retryAfterMs : backoffDelay(args.rateLimits ?? 1, args.random);
		if (overWaitLimit(delayMs)) return { retry: false, reason: 'wait-limit' };
		return { retry: true, delayMs, fromServer: true, spendsRetry: false };
	}
	if (args.retriesUsed >= args.maxRetries) return { retry: false, reason: 'exhausted' };
	if (args.retryAfterMs !== undefined) {
		if (args.retryAfterMs > RETRY_AFTER_CAP_MS) return { retry: false, reason: 'retry-after-too-long' };
		return { retry: true, delayMs: args.retryAfterMs, fromServer: true, spendsRetry: true };
	}
	const delayMs = backoffDelay(args.retriesUsed + 1, args.random);
	if (overWaitLimit(delayMs)) return { retry: false, reason: 'wait-limit' };
	return { retry: true, delayMs, fromServer: false, spendsRetry: true };
}
