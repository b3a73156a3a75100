// Reading n8n executions over its REST API (a client from the harness's restLogin), for the demo and
// the e2e tiers.
import path from 'node:path';
import { createRequire } from 'node:module';

import { sleep } from './harness.mjs';

/** Execution `id` over REST (logged-in `api`), its run data unpacked with the instance's own `flatted`. */
export async function restExecution(api, instance, id) {
	const { parse } = createRequire(path.join(instance.n8n.dir, 'node_modules', 'n8n', 'package.json'))('flatted');
	const r = await api.get(`/rest/executions/${id}`);
	if (r.status !== 200) throw new Error(`GET /rest/executions/${id}: ${r.status} ${r.text.slice(0, 300)}`);
	return { status: r.json.data.status, data: parse(r.json.data.data), raw: r.json.data };
}

/** The ids of a workflow's executions, newest first. */
export async function workflowExecutionIds(api, workflowId) {
	const r = await api.get(`/rest/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId }))}`);
	if (r.status !== 200) throw new Error(`GET /rest/executions: ${r.status} ${r.text.slice(0, 300)}`);
	return r.json.data.results.map((x) => String(x.id)).sort((a, b) => Number(b) - Number(a));
}

const ENDED = ['success', 'error', 'crashed', 'canceled'];

/**
 * Polls execution `id` until its status is one of `wanted` (or it ended otherwise, or `timeoutMs`
 * passed, or `stop()` returns true); returns the last execution read.
 */
export async function waitForExecution(api, instance, id, wanted, { timeoutMs = 60_000, pollMs = 500, stop } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const e = await restExecution(api, instance, id);
		if (wanted.includes(e.status) || ENDED.includes(e.status) || Date.now() > deadline || stop?.()) return e;
		await sleep(pollMs);
	}
}
