import type { ICredentialsDecrypted, IExecuteFunctions, INodeExecutionData, IDataObject } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { configuredOutputs } from '../../routing';
import type { RoutePlan } from '../../routing';
import type { DecideRequest, DecideResult } from '../../transport';
import { CREDENTIAL_TYPE, decide, endpointFromBaseUrl } from '../../transport';
import type { CloManFailure } from '../../transport/errors';
import { redact, toNodeError } from '../../transport/errors';
import { CancelledError, RequestLimiter } from '../../transport/limiter';
import { isFailure } from '../common';
import { runPool } from '../pool';
import { placeSettingsFailure } from '../failures';
import { placeResults } from './place';
import { buildRequest } from './request';
import type { Settings } from './settings';
import { readPlan, readSettings } from './settings';
import { runSummaryHint } from './summary';

/** Decide: ask the clone about every item, a bounded number at a time, and route the answers. */
export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const node = this.getNode();
	const asTool = node.type.endsWith('Tool');
	const continueOnFail = this.continueOnFail();
	const toErrorOutput = continueOnFail && node.onError === 'continueErrorOutput';

	let plan: RoutePlan | undefined;
	let settings: Settings;
	let endpoint: string;
	let apiKey = '';
	let credentialsDecrypted: ICredentialsDecrypted | undefined;
	try {
		plan = readPlan(this, asTool);
		settings = readSettings(this.getNodeParameter('options', 0, {}) as IDataObject);
		const credentials = await this.getCredentials(CREDENTIAL_TYPE);
		apiKey = typeof credentials.apiKey === 'string' ? credentials.apiKey : '';
		if (apiKey.trim() === '') throw new Error('The CloMan credential has no API key');
		const parsed = endpointFromBaseUrl(credentials.baseUrl);
		if ('error' in parsed) throw new Error(parsed.error);
		endpoint = parsed.url;
		const reference = node.credentials?.[CREDENTIAL_TYPE];
		credentialsDecrypted = {
			id: reference?.id ?? '',
			name: reference?.name ?? '',
			type: CREDENTIAL_TYPE,
			data: credentials,
		};
	} catch (error) {
		// Settings shared by all items are wrong: nothing can be sent.
		const message = redact((error as Error).message, apiKey);
		if (!continueOnFail) {
			throw new NodeOperationError(node, message, {
				description: 'Fix the node or credential settings; no request was sent.',
			});
		}
		const failure: CloManFailure = { kind: 'InputError', code: 'INVALID_SETTINGS', message, details: {}, attempts: 0 };
		const count = asTool ? 1 : configuredOutputs(node.parameters).length;
		const target = toErrorOutput ? 0 : (plan?.failureOutput ?? count - 1);
		return placeSettingsFailure(items, failure, count, target, toErrorOutput);
	}

	if (items.length === 0) return Array.from({ length: plan.outputCount }, () => []);

	// 1. When a bad item stops the node, every item's request is checked before anything is sent, so a
	//    run that will stop spends no decisions. Under "Continue", a bad item fails alone, so each
	//    request is built by the worker that sends it and the first one leaves at once.
	const requests: Array<DecideRequest | CloManFailure | undefined> = new Array(items.length);
	if (!continueOnFail) {
		for (const [i, item] of items.entries()) {
			const request = buildRequest(this, i, item);
			if (isFailure(request)) throw toNodeError(node, redact(request, apiKey), i);
			requests[i] = request;
		}
	}

	// 2. Send them, a bounded number at a time, sharing one rate-limit state.
	const signal = this.getExecutionCancelSignal?.();
	const limiter = new RequestLimiter({
		concurrency: settings.concurrency,
		maxRequestsPerMinute: settings.maxRequestsPerMinute,
		signal,
		// Shared with every run in this n8n process on the same base URL and key.
		key: { endpoint, apiKey },
		maxWaitPerItemMs: settings.maxRateLimitWaitMs,
	});
	const results: Array<DecideResult | undefined> = new Array(items.length);
	let firstFatal: number | undefined;
	let cancelled = false;
	await runPool(
		items.length,
		limiter.maxConcurrency,
		async (i) => {
			const request = requests[i] ?? buildRequest(this, i, items[i]);
			if (isFailure(request)) {
				results[i] = { ok: false, failure: request };
				return;
			}
			try {
				results[i] = await decide(this, request, {
					endpoint,
					timeoutMs: settings.timeoutMs,
					maxRetries: settings.maxRetries,
					limiter,
					signal,
					secret: apiKey,
					credentials: credentialsDecrypted,
				});
			} catch (error) {
				if (error instanceof CancelledError) {
					cancelled = true;
					return;
				}
				throw new NodeOperationError(node, redact((error as Error).message, apiKey), { itemIndex: i });
			}
			if (!results[i]!.ok && !continueOnFail && (firstFatal === undefined || i < firstFatal)) firstFatal = i;
		},
		() => cancelled || firstFatal !== undefined,
	);
	if (cancelled) throw new NodeOperationError(node, 'The execution was cancelled; no further requests were sent.');
	if (firstFatal !== undefined) {
		const result = results[firstFatal] as { ok: false; failure: CloManFailure };
		throw toNodeError(node, redact(result.failure, apiKey), firstFatal);
	}

	// 3. Place every item, in input order, on exactly one output.
	const outputs = placeResults(items, results as DecideResult[], plan, settings, toErrorOutput, apiKey);

	// 4. Say what the run did (n8n shows it in the output pane). Guarded: a host without hints runs on.
	if (typeof this.addExecutionHints === 'function') {
		this.addExecutionHints(
			runSummaryHint({
				outputNames: asTool ? ['Output'] : configuredOutputs(node.parameters).map((o) => o.displayName),
				outputs,
				results,
				failureOutput: toErrorOutput ? 'error' : plan.failureOutput,
				itemCount: items.length,
				rateLimited: limiter.stats.rateLimited,
				rateLimitWaitMs: limiter.stats.rateLimitWaitMs,
				retries: limiter.stats.retries,
				ratePerSecond: limiter.shared.ratePerSecond,
				inFlightLimit: limiter.shared.limit,
				concurrency: limiter.maxConcurrency,
			}),
		);
	}
	return outputs;
}
