/**
 * Continuing a waiting execution the two ways n8n does, with n8n-core's real WebhookContext and
 * WorkflowExecute and nothing carried in memory: every step starts from the execution as n8n stores
 * it (StoredExecution, JSON) and builds its own Workflow, as another n8n process would.
 *
 * - `callWaitingWebhook`: a real HTTP request over 127.0.0.1 to a server that replays what n8n 2.41.1's
 *   WaitingWebhooks.executeWebhook (cli/dist/webhooks/waiting-webhooks.js) and WebhookHelpers
 *   (webhook-helpers.js: parseRequestBody, prepareExecutionData) do around the node's webhook(): the
 *   resume-token check (401), the finished/running checks (409), the webhook lookup by method and path
 *   (404), the body parsed as n8n's body parser does (urlencoded with querystring, at most 1,000 keys),
 *   then, when webhook() returns workflowData, the waiting node disabled with that data (and marked
 *   `forwardAllOutputs` where that release's CLI does it: 2.39.0 on), and the run continued by WorkflowExecute.
 * - `continueAfterTimeout`: what n8n's WaitTracker does when waitTill passes: run the stored execution
 *   again as it is; WorkflowExecute.handleWaitingState disables the waiting node.
 * The real n8n behind these steps is exercised by the e2e (e2e/), not here.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';

import { WebhookContext } from 'n8n-core';
import type { IDataObject, INodeExecutionData, IRun, IRunExecutionData, IWebhookData, IWebhookResponseData } from 'n8n-workflow';

import type { StoredExecution } from './engine';

/**
 * The n8n-core version the tests run on (2.41.1 from devDependencies, 2.38.2 under
 * jest.config.n8n238.js, 1.122.48 under jest.config.n8n1.js), and whether the n8n CLI of that release
 * marks the resumed node `forwardAllOutputs` (webhook-helpers.js prepareExecutionData, n8n 2.39.0 on;
 * n8n pins n8n-core to its own version, so the CLI and the engine come from the same release).
 */
export const ENGINE_CORE_VERSION: string = require('n8n-core/package.json').version;
const [coreMajor, coreMinor] = ENGINE_CORE_VERSION.split('.').map(Number);
export const CLI_FORWARDS_ALL_OUTPUTS = coreMajor > 2 || (coreMajor === 2 && coreMinor >= 39);
import { clomanOutputs, continueRun, engineContext, loadPackage, loadRun, workflowFrom } from './engine';
import { validateSession } from './session';

export interface WebhookAnswer {
	status: number;
	headers: Record<string, string>;
	body: string;
	/** The execution after the request: resumed and continued when webhook() returned workflowData. */
	stored: StoredExecution;
	/** The continued run, when the request resumed the execution. */
	resumed?: { run: IRun; outputs: INodeExecutionData[][] };
	/** What the node's webhook() returned, when n8n let the request reach it. */
	result?: IWebhookResponseData;
}

export interface WebhookRequest {
	method: 'GET' | 'POST' | 'PUT';
	/** Path and query, e.g. the review link's, relative to the harness's base URL. */
	pathAndQuery: string;
	body?: string;
	contentType?: string;
	/** 'manual' returns a redirect as it came (default: followed, as a browser does). */
	redirect?: 'follow' | 'manual';
	/** The raw Cookie header (e.g. `n8n-auth=<session.ts token>`). */
	cookie?: string;
	/** Leave additionalData.validateCookieAuth unset, as an n8n that does not wire it for this path. */
	withoutCookieAuth?: boolean;
}

/** The path and query of a link the node built (its host is the harness's placeholder base URL). */
export function pathOf(link: string): string {
	const url = new URL(link);
	return `${url.pathname}${url.search}`;
}

/** n8n's check of a non-send-and-wait waiting request: `signature` (optionally "token/suffix") equals the resume token. */
function tokenCheck(query: URLSearchParams, stored: IRunExecutionData): { valid: boolean; suffix?: string } {
	let token = query.get('signature') ?? undefined;
	let suffix: string | undefined;
	if (token?.includes('/')) {
		suffix = token.slice(token.indexOf('/') + 1);
		token = token.slice(0, token.indexOf('/'));
	}
	const expected = (stored as { resumeToken?: string }).resumeToken;
	if (!token || !expected || token.length !== expected.length) return { valid: false };
	return { valid: timingSafeEqual(Buffer.from(token), Buffer.from(expected)), suffix };
}

async function readBody(req: http.IncomingMessage): Promise<IDataObject> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	const raw = Buffer.concat(chunks).toString('utf8');
	if (raw === '') return {};
	const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
	if (type === 'application/x-www-form-urlencoded') return parseQuery(raw, undefined, undefined, { maxKeys: 1000 }) as IDataObject;
	if (type === 'application/json') return JSON.parse(raw) as IDataObject;
	return {};
}

/** Handle one request to the waiting execution as n8n would; resolves with what happened to it. */
async function handle(
	stored: StoredExecution,
	req: http.IncomingMessage,
	res: http.ServerResponse,
	cookieAuth = true,
): Promise<Pick<WebhookAnswer, 'stored' | 'resumed' | 'result'>> {
	const json = (status: number, body: object) => {
		res.statusCode = status;
		res.setHeader('Content-Type', 'application/json');
		res.end(JSON.stringify(body));
		return { stored };
	};
	const url = new URL(req.url ?? '/', 'http://127.0.0.1');
	const match = /^\/webhook-waiting\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
	if (!match || match[1] !== stored.executionId) return json(404, { message: 'not found' });
	let suffix: string | undefined = match[2];
	const data = loadRun(stored);

	// n8n: the resume token, before anything else (2.x executions carry one).
	if ((data as { resumeToken?: string }).resumeToken) {
		const check = tokenCheck(url.searchParams, data);
		if (!check.valid) return json(401, { error: 'Invalid token' });
		if (!suffix && check.suffix) suffix = check.suffix;
	}
	if (stored.status === 'running') return json(409, { message: `The execution "${stored.executionId}" is running already.` });
	if (data.resultData.error) return json(409, { message: `The execution "${stored.executionId}" has finished with error.` });
	if (stored.finished) return json(409, { message: `The execution "${stored.executionId} has finished already.` });

	const { nodeTypes } = await loadPackage();
	const workflow = workflowFrom(stored.workflowData, nodeTypes);
	const lastNodeExecuted = data.resultData.lastNodeExecuted as string;
	const node = workflow.getNode(lastNodeExecuted);
	if (!node) return json(404, { message: 'Could not find node to process webhook.' });
	const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	const description = (nodeType.description.webhooks ?? []).find((webhook) => {
		const path = workflow.expression.getSimpleParameterValue(node, webhook.path, stored.mode, {});
		return webhook.httpMethod === req.method && String(path ?? '') === (suffix ?? '') && webhook.restartWebhook === true;
	});
	if (!description || !nodeType.webhook) {
		return json(404, { message: `The workflow for execution "${stored.executionId}" does not contain a waiting webhook with a matching path/method.` });
	}

	// n8n: disable the waiting node, clear waitTill, drop the waiting run's entry.
	const stackEntry = data.executionData!.nodeExecutionStack[0];
	stackEntry.node.disabled = true;
	data.waitTill = undefined;
	data.resultData.runData[lastNodeExecuted].pop();

	const request = Object.assign(req, {
		body: await readBody(req),
		query: Object.fromEntries(url.searchParams),
		params: {},
		originalUrl: req.url,
	});
	const { additionalData } = await engineContext(stored.mode, stored.workflowData, stored.credential, {
		httpRequest: request,
		httpResponse: res,
		// n8n's webhook helpers wire the sign-in check (AuthService); the harness's own signed sessions here.
		validateCookieAuth: cookieAuth ? validateSession : undefined,
	} as never);
	const webhookData = {
		httpMethod: description.httpMethod,
		node: node.name,
		path: suffix ?? '',
		webhookDescription: description,
		workflowId: stored.workflowData.id,
	} as IWebhookData;
	const context = new WebhookContext(workflow, node, additionalData, stored.mode, webhookData, [], data);
	const result = await nodeType.webhook.call(context);
	if (!res.writableEnded) {
		// responseMode onReceived without a page of its own: n8n answers for the node.
		json(200, { message: 'Workflow was started' });
	}
	if (result.workflowData === undefined) return { stored, result };

	// n8n: the webhook's outputs become the disabled node's data; n8n 2.39+ has them all forwarded.
	stackEntry.data.main = result.workflowData;
	if (CLI_FORWARDS_ALL_OUTPUTS) stackEntry.metadata = { ...stackEntry.metadata, forwardAllOutputs: true };
	const running = { ...stored, status: 'running' as const };
	const continued = await continueRun(running, data);
	return {
		stored: continued.stored,
		result,
		resumed: { run: continued.run, outputs: clomanOutputs(continued.run).outputs },
	};
}

/** Send one real HTTP request to the waiting execution; n8n's part replayed by a 127.0.0.1 server. */
export async function callWaitingWebhook(stored: StoredExecution, request: WebhookRequest): Promise<WebhookAnswer> {
	let outcome: Promise<Pick<WebhookAnswer, 'stored' | 'resumed' | 'result'>> | undefined;
	const server = http.createServer((req, res) => {
		outcome = handle(stored, req, res, !request.withoutCookieAuth).catch((error: Error) => {
			if (!res.writableEnded) {
				res.statusCode = 500;
				res.end(`harness error: ${error.message}`);
			}
			throw error;
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const killer = setTimeout(() => server.close(), 60_000);
	killer.unref();
	try {
		const { port } = server.address() as AddressInfo;
		const answer = await fetch(`http://127.0.0.1:${port}${request.pathAndQuery}`, {
			method: request.method,
			headers: {
				...(request.contentType ? { 'content-type': request.contentType } : {}),
				...(request.cookie ? { cookie: request.cookie } : {}),
			},
			body: request.body,
			redirect: request.redirect ?? 'follow',
		});
		const body = await answer.text();
		const headers: Record<string, string> = {};
		answer.headers.forEach((value, name) => (headers[name] = value));
		const done = await outcome!;
		return { status: answer.status, headers, body, ...done };
	} finally {
		clearTimeout(killer);
		await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}

/** n8n's WaitTracker when waitTill passes: the stored execution runs on as it is. */
export async function continueAfterTimeout(stored: StoredExecution): Promise<{ run: IRun; outputs: INodeExecutionData[][]; stored: StoredExecution }> {
	const data = loadRun(stored);
	if (!data.waitTill) throw new Error('the execution does not wait');
	const continued = await continueRun(stored, data);
	return { ...continued, outputs: clomanOutputs(continued.run).outputs };
}

/** A urlencoded form body, fields in the order given (as a browser sends them). */
export function formBody(fields: Array<[string, string]>): string {
	return fields.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
}
