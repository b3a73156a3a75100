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

/** Parameters of an IETF `RateLimit` header item (drafts 03–07 name them in full, 08+ by letter). */
const LIMIT_PARAMETER = /(?:^|[\s,;])limit\s*=\s*(\d+)/i;
const REMAINING_PARAMETER = /(?:^|[\s,;])(?:remaining|r)\s*=\s*(\d+)/i;
const RESET_PARAMETER = /(?:^|[\s,;])(?:reset|t)\s*=\s*(\d+)/i;

/** What an answer's rate-limit headers say of the key's quota (see parseQuota). */
export interface QuotaReport {
	/** The lowest number of requests left over the policies named. */
	remaining?: number;
	/** The lowest share of a policy's quota left (remaining / limit), for the policies whose limit is named too. */
	fractionLeft?: number;
	/** The lowest rate, in requests per second, that what is left of a policy sustains until it resets (remaining / seconds to reset; unbounded for a reset within a second), for the policies whose reset is named. */
	sustainablePerSecond?: number;
}

/**
 * What an answer's rate-limit headers say is left of the key's quota, if it sends any. CloMan documents
 * no such headers, so the node uses them when present and never needs them. Read:
 * - `RateLimit-Remaining` / `X-RateLimit-Remaining` (an integer, or a list, one per policy) with
 *   `RateLimit-Limit` / `X-RateLimit-Limit` and `RateLimit-Reset` / `X-RateLimit-Reset` in the same order
 *   (`10, 10;w=1` names the window after `;`; a reset over 10^9 is a Unix time, else seconds from now);
 * - an IETF `RateLimit` header: `limit=20, remaining=0, reset=1` (drafts 03–07), or
 *   `"burst";r=0;t=1, "daily";r=900;t=3600` (08+) with the limits in `RateLimit-Policy: "burst";q=20;w=1`.
 * Each figure is the lowest over the policies that name it (see QuotaReport); unreadable values are
 * skipped; all undefined when nothing is readable. `nowMs` reads Unix-time resets.
 */
export function parseQuota(headers: Record<string, unknown>, nowMs: number = Date.now()): QuotaReport {
	const text = (value: unknown): string => (Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
	const integers = (value: unknown, leading: boolean): Array<number | undefined> =>
		text(value)
			.split(',')
			.map((part) => (leading ? /^\s*(\d+)\s*(?:;|$)/ : /^\s*(\d+)\s*$/).exec(part))
			.map((match) => (match ? Number(match[1]) : undefined));
	const remaining: number[] = [];
	const fractions: number[] = [];
	const sustainable: number[] = [];
	const policy = (left: number | undefined, limit: number | undefined, resetSeconds: number | undefined) => {
		if (left === undefined) return;
		remaining.push(left);
		if (limit !== undefined && limit > 0) fractions.push(left / limit);
		if (resetSeconds !== undefined) {
			const seconds = resetSeconds > 1e9 ? resetSeconds - nowMs / 1000 : resetSeconds;
			// Within a second (whole seconds, rounded up) it says nothing: a bucket refilling continuously reads 1.
			sustainable.push(seconds > 1 ? left / seconds : Number.POSITIVE_INFINITY);
		}
	};
	for (const prefix of ['', 'x-']) {
		const limits = integers(headers[`${prefix}ratelimit-limit`], true);
		const resets = integers(headers[`${prefix}ratelimit-reset`], true);
		integers(headers[`${prefix}ratelimit-remaining`], false).forEach((left, index) => policy(left, limits[index], resets[index]));
	}
	const policies = new Map<string, number>();
	for (const match of text(headers['ratelimit-policy']).matchAll(/"([^"]*)"[^,]*?;\s*q\s*=\s*(\d+)/g)) policies.set(match[1], Number(match[2]));
	const parameter = (item: string, pattern: RegExp) => {
		const match = pattern.exec(item);
		return match ? Number(match[1]) : undefined;
	};
	for (const item of text(headers.ratelimit).split(/,(?=\s*")/)) {
		const name = /^\s*"([^"]*)"/.exec(item)?.[1];
		const limit = name !== undefined ? policies.get(name) : parameter(item, LIMIT_PARAMETER);
		policy(parameter(item, REMAINING_PARAMETER), limit, parameter(item, RESET_PARAMETER));
	}
	const lowest = (values: number[]) => (values.length ? Math.min(...values) : undefined);
	return { remaining: lowest(remaining), fractionLeft: lowest(fractions), sustainablePerSecond: lowest(sustainable) };
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
