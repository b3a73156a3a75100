// What the e2e tiers (run.mjs, review.mjs, queue.mjs) compute their expectations from and read
// executions with: the example's own input items, the stand-in's review flags, id comparison, and
// one execution over n8n's REST API.
import assert from 'node:assert/strict';
import fs from 'node:fs';

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

/** Execution `id` over REST (logged-in `api`), its run data unpacked: shared with the demo. */
export { restExecution } from '../scripts/lib/executions.mjs';
