import type { IDataObject, IExecuteFunctions, INodeParameters } from 'n8n-workflow';

import { planRoutes } from '../../routing';
import type { RoutePlan } from '../../routing';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_RATE_LIMIT_WAIT_S, MAX_CONCURRENCY } from '../../transport/limiter';
import { DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS } from '../../transport/retry';

/** Decide's options, read once per run (shared by every item). */
export interface Settings {
	timeoutMs: number;
	maxRetries: number;
	concurrency: number;
	maxRequestsPerMinute: number;
	maxRateLimitWaitMs: number;
	responseLocation: 'item' | 'key';
	responseKey: string;
	includeMetadata: boolean;
}

/** Read and check the Options collection; throws an Error with a user-facing message. */
export function readSettings(options: IDataObject): Settings {
	const number = (value: unknown, fallback: number, min: number, max: number, label: string) => {
		const parsed = value === undefined || value === '' ? fallback : Number(value);
		if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
			throw new Error(`Option "${label}" must be a number from ${min} to ${max}, not "${String(value)}"`);
		}
		return parsed;
	};
	const responseKey = String(options.responseKey ?? 'cloman').trim();
	if (options.responseLocation === 'key' && responseKey === '') {
		throw new Error('Option "Response Field Name" must not be empty');
	}
	return {
		timeoutMs: number(options.timeout, DEFAULT_TIMEOUT_MS / 1000, 1, 600, 'Timeout (Seconds)') * 1000,
		maxRetries: Math.floor(number(options.maxRetries, DEFAULT_MAX_RETRIES, 0, 10, 'Max Retries')),
		concurrency: Math.floor(number(options.concurrency, DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY, 'Concurrency')),
		maxRequestsPerMinute: number(options.maxRequestsPerMinute, 0, 0, 1_000_000, 'Max Requests per Minute'),
		maxRateLimitWaitMs:
			number(options.maxRateLimitWait, DEFAULT_MAX_RATE_LIMIT_WAIT_S, 0, 86_400, 'Max Rate-Limit Wait per Item') * 1000,
		responseLocation: options.responseLocation === 'key' ? 'key' : 'item',
		responseKey,
		includeMetadata: options.includeMetadata === true,
	};
}

/** Decide's routing parameters as a plan; throws an Error with a user-facing message when they contradict. */
export function readPlan(ctx: IExecuteFunctions, asTool: boolean): RoutePlan {
	return planRoutes(
		{
			routeBy: ctx.getNodeParameter('routeBy', 0, 'review') as string,
			decisions: ctx.getNodeParameter('decisions', 0, {}) as INodeParameters,
			fallbackOutput: ctx.getNodeParameter('fallbackOutput', 0, 'extra') as string,
			fallbackDecision: ctx.getNodeParameter('fallbackDecision', 0, '') as string,
			divertReview: ctx.getNodeParameter('divertReview', 0, false) as boolean,
			confidenceFloor: ctx.getNodeParameter('confidenceFloor', 0, 0) as number,
		},
		asTool,
	);
}
