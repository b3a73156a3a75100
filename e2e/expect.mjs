// What the e2e tiers (run.mjs, review.mjs, queue.mjs) compute their expectations from and read
// executions with: the example's own input items, the stand-in's review flags, id comparison, and
// one execution over n8n's REST API.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

/** The items a workflow file's Code node returns, by running its code the way n8n's Code node does. */
export function codeNodeItems(file, nodeName) {
	const workflow = JSON.parse(fs.readFileSync(file, 'utf8'));
	const node = workflow.nodes.find((n) => n.name === nodeName);
	assert.ok(node, `${file}: no node named ${nodeName}`);
	// eslint-disable-next-line no-new-func
	return new Function(node.parameters.jsCode)().map((i) => i.json);
}

/** Whether CloMan's answer `d` needs a person (Decide's Human Review routing, confidence floor off). */
export const needsReview = (d) => d.requires_human_review === true || d.was_escalated === true;

export function sameIds(actual, expected, label) {
	assert.deepEqual([...actual].sort(), [...expected].sort(), `${label}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/** Execution `id` over REST (logged-in `api`), its run data unpacked with the instance's own `flatted`. */
export async function restExecution(api, instance, id) {
	const { parse } = createRequire(path.join(instance.n8n.dir, 'node_modules', 'n8n', 'package.json'))('flatted');
	const r = await api.get(`/rest/executions/${id}`);
	assert.equal(r.status, 200, `GET /rest/executions/${id}: ${r.status} ${r.text.slice(0, 300)}`);
	return { status: r.json.data.status, data: parse(r.json.data.data), raw: r.json.data };
}
