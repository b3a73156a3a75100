// The package's names (node and credential types) and the example workflows the demo, the editor
// and the e2e import.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

export const PACKAGE_NAME = 'n8n-nodes-cloman';
export const NODE_TYPE = 'n8n-nodes-cloman.cloMan';
export const TOOL_NODE_TYPE = 'n8n-nodes-cloman.cloManTool';
export const CREDENTIAL_TYPE = 'cloManApi';

/** The CloMan credential the examples reference (by id and name). */
export const DEMO_CREDENTIAL = { id: 'ClomanCredDemo01', name: 'CloMan account' };
export const EXAMPLES = {
	batch: { id: 'ClomanBatchDemo1', file: path.join(ROOT, 'examples', 'scheduled-batch-approvals.json') },
	route: { id: 'ClomanRouteDemo1', file: path.join(ROOT, 'examples', 'route-by-decision.json') },
};

/**
 * Where the batch example's review link goes: the "Review settings" node's reviewChannelUrl (a
 * placeholder in the file). The demo, the editor and the e2e point it at the local incoming-webhook
 * receiver (test/standin/incoming-webhook.js) in a copy.
 */
export const REVIEW_CHANNEL = { node: 'Review settings', field: 'reviewChannelUrl' };

/** The batch example with its review link going to channelUrl (a parsed copy; the file keeps its placeholder). */
export function batchExampleWithChannel(channelUrl) {
	const workflow = JSON.parse(fs.readFileSync(EXAMPLES.batch.file, 'utf8'));
	const setting = workflow.nodes
		.find((n) => n.name === REVIEW_CHANNEL.node)
		?.parameters.assignments.assignments.find((a) => a.name === REVIEW_CHANNEL.field);
	if (!setting) throw new Error(`${path.relative(ROOT, EXAMPLES.batch.file)}: no "${REVIEW_CHANNEL.node}" node with ${REVIEW_CHANNEL.field}`);
	setting.value = channelUrl;
	return workflow;
}

/** Writes batchExampleWithChannel(channelUrl) into dir under the example's file name; returns the file. */
export function writeBatchExample(dir, channelUrl) {
	const file = path.join(dir, path.basename(EXAMPLES.batch.file));
	fs.writeFileSync(file, JSON.stringify(batchExampleWithChannel(channelUrl), null, 2));
	return file;
}
