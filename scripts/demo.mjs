// The main job in a real n8n (run it as `bash scripts/demo.sh`, see that file for the options).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
	DEMO_CREDENTIAL,
	CREDENTIAL_TYPE,
	EXAMPLES,
	LINES,
	OWNER,
	REVIEW_CHANNEL,
	ROOT,
	batchExampleWithChannel,
	buildAndPack,
	ensureN8n,
	ensureRepoDeps,
	importCredentials,
	importWorkflows,
	installCleanup,
	killAll,
	log,
	n8nCli,
	nodeItems,
	nodeOutputs,
	phase,
	prepareInstance,
	parseRawOutput,
	printTimings,
	restLogin,
	sleep,
	startIncomingWebhookProcess,
	startN8n,
	startStandinProcess,
	writeBatchExample,
} from './lib/harness.mjs';
import { waitForExecution, workflowExecutionIds } from './lib/executions.mjs';
import { reviewInChromium, startChromium } from './lib/reviewer.mjs';

const REVIEW_NODE = 'Human review';
const REVIEW_OUTPUT_NODES = ['Refund after review', 'Decline after review', 'Ask customer for details'];

function usage() {
	return `Usage: bash scripts/demo.sh [--editor] [--line 2|1] [--review-wait SECONDS]

Builds and packs n8n-nodes-cloman, installs it into a real n8n (cached in .cache/) as a community
package, then:
  (default)  starts n8n, publishes the "scheduled batch approvals" example (started by a webhook
             instead of its schedule) and runs it: CloMan decides 12 refund requests, the ones it
             leaves to a person wait on one review page whose link goes to a local incoming webhook.
             Without a terminal (CI) a headless Chromium plays the reviewer: it changes one decision
             with a note and keeps the rest. In a terminal the link is yours to open first (see
             --review-wait). Prints where every item ended, who decided and the note; stops n8n.
  --editor   starts the n8n editor on 127.0.0.1 instead and waits (Ctrl-C stops everything).

  --review-wait S  in a terminal, how long to wait for your own submit before the headless reviewer
                   steps in (default 300; 0: the headless reviewer at once). Without a terminal the
                   headless reviewer always reviews.
  --line 2   n8n 2.41.1 on Node 24 (default; N8N_LINE=2)
  --line 1   n8n 1.123.81 on the system Node (N8N_LINE=1): runs the example with \`n8n execute\`;
             its Review step needs n8n 2.x and refuses, which the demo shows.

Backend: the CloMan stand-in on 127.0.0.1, unless CLOMAN_API_KEY is set (then the real API at
CLOMAN_BASE_URL, default https://api.cloman.app). The flow is the same for both.

The last line of the output is "DEMO_SUMMARY {json}" (items, where each ended, who reviewed); the
exit code is 0 only when every item ended on an output of the workflow.
`;
}

function parseArgs(argv) {
	const opts = { editor: false, line: process.env.N8N_LINE || '2', reviewWait: 300 };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--editor') opts.editor = true;
		else if (a === '--line') opts.line = argv[++i];
		else if (a.startsWith('--line=')) opts.line = a.slice(7);
		else if (a === '--review-wait' || a.startsWith('--review-wait=')) {
			const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
			opts.reviewWait = Number(v);
			if (!(opts.reviewWait >= 0)) {
				process.stderr.write(`--review-wait must be a number of seconds, not ${v}\n`);
				process.exit(2);
			}
		} else if (a === '-h' || a === '--help') {
			process.stdout.write(usage());
			process.exit(0);
		} else {
			process.stderr.write(`unknown argument: ${a}\n\n${usage()}`);
			process.exit(2);
		}
	}
	if (!LINES[opts.line]) {
		process.stderr.write(`--line must be 2 or 1, not ${opts.line}\n`);
		process.exit(2);
	}
	return opts;
}

const pad = (s, n) => String(s ?? '').slice(0, n).padEnd(n);
const padL = (s, n) => String(s ?? '').slice(0, n).padStart(n);

/** n8n 1.x: prints, per refund request, the CloMan output it left on and what the workflow then did. */
function printBatchReport(run, backendLabel) {
	const outputs = nodeOutputs(run, 'CloMan');
	if (!outputs) throw new Error('the CloMan node did not run');
	const outputNames = ['Auto-Decided', 'Needs Review'];
	const then = new Map();
	const mark = (node, label) => {
		for (const item of nodeItems(run, node)) then.set(item.json.id, label(item.json));
	};
	mark('Mark refunded', () => 'refunded');
	mark('Mark declined', () => 'declined');
	const waiting = run.status === 'waiting' && run.data.resultData.lastNodeExecuted === REVIEW_NODE;
	const refused = run.data.resultData.error?.node?.name === REVIEW_NODE;
	for (const { json } of outputs[1] ?? []) then.set(json.id, waiting ? 'waiting for a reviewer' : refused ? 'not reviewed (see below)' : '');
	for (const node of REVIEW_OUTPUT_NODES) mark(node, (j) => `reviewed: ${j.status}`);

	const rows = [];
	outputs.forEach((items, index) => {
		for (const { json } of items) rows.push({ json, output: outputNames[index] ?? `output ${index}` });
	});
	rows.sort((a, b) => String(a.json.id).localeCompare(String(b.json.id)));

	const total = nodeItems(run, 'Refund requests').length;
	process.stdout.write(`\nScheduled batch approvals: ${total} refund requests decided by CloMan (${backendLabel})\n\n`);
	process.stdout.write(
		`  ${pad('id', 7)} ${pad('customer', 18)} ${padL('amount', 6)}  ${pad('reason', 30)} ${pad('→ output', 15)} ${pad('decision', 16)} ${padL('conf', 4)}  then\n`,
	);
	process.stdout.write(`  ${'-'.repeat(119)}\n`);
	for (const { json, output } of rows) {
		const c = json.cloman ?? {};
		const decision = json.error ? `error: ${json.error.message ?? json.error}` : c.decision;
		const flags = [c.requires_human_review ? 'review' : '', c.was_escalated ? 'escalated' : ''].filter(Boolean).join(',');
		process.stdout.write(
			`  ${pad(json.id, 7)} ${pad(json.customer, 18)} ${padL(json.amount ?? '—', 6)}  ${pad(json.reason, 30)} ${pad('→ ' + output, 15)} ${pad(decision, 16)} ${padL(typeof c.confidence === 'number' ? c.confidence.toFixed(2) : '', 4)}  ${then.get(json.id) ?? ''}${flags ? `  (${flags})` : ''}\n`,
		);
	}
	const counts = outputs.map((items, i) => `${outputNames[i]}: ${items.length}`).join(' · ');
	const byThen = {};
	for (const v of then.values()) byThen[v] = (byThen[v] ?? 0) + 1;
	process.stdout.write(`\n  ${counts}   (${Object.entries(byThen).map(([k, v]) => `${k}: ${v}`).join(', ')})\n`);
	const status = run.status ?? (run.finished ? 'success' : 'unknown');
	process.stdout.write(`  execution: ${status}, ${rows.length} of ${total} input items on exactly one output: ${rows.length === total && new Set(rows.map((r) => r.json.id)).size === total ? 'yes' : 'NO'}\n`);
	if (refused) {
		const error = run.data.resultData.error;
		process.stdout.write(`\n  "${REVIEW_NODE}" refused to run: ${error.message}${error.description ? `\n  ${error.description}` : ''}\n`);
	}
	process.stdout.write('\n');
}

/** A port that is free now: the one the editor's receiver had last time (so its saved workflow still points at it), else any. */
function portIsFree(port) {
	return new Promise((resolve) => {
		const server = net.createServer();
		server.once('error', () => resolve(false));
		server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
	});
}

// ---------------------------------------------------------------------------------------------
// The whole flow in a running n8n 2.x: publish, trigger, review, finish.

/** The example as the demo publishes it: the same nodes, started by a webhook instead of its schedule. */
const DEMO_TRIGGER = { name: 'Start demo', path: 'cloman-demo-batch' };
/** Where an item of the example ends: the last node of each branch. */
const FINAL_NODES = ['Mark refunded', 'Mark declined', 'Refund after review', 'Decline after review', 'Ask customer for details', 'Queue unreviewed'];
const REVIEWER_NOTE = 'Demo reviewer: changed after a second look at the order history.';

function demoWorkflow(channelUrl, credential) {
	const workflow = batchExampleWithChannel(channelUrl);
	workflow.name = `${workflow.name} (demo: started by a webhook)`;
	const triggers = new Set(['Every hour', 'Run now']);
	const position = workflow.nodes.find((n) => n.name === 'Run now')?.position ?? [0, 100];
	workflow.nodes = workflow.nodes.filter((n) => !triggers.has(n.name));
	for (const name of triggers) delete workflow.connections[name];
	workflow.nodes.unshift({
		id: 'd3e00000-0000-4000-8000-000000000001',
		name: DEMO_TRIGGER.name,
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position,
		webhookId: 'd3e00000-0000-4000-8000-000000000002',
		parameters: { httpMethod: 'POST', path: DEMO_TRIGGER.path, responseMode: 'onReceived', options: {} },
	});
	workflow.connections[DEMO_TRIGGER.name] = { main: [[{ node: REVIEW_CHANNEL.node, type: 'main', index: 0 }]] };
	for (const node of workflow.nodes) {
		if (node.credentials?.[CREDENTIAL_TYPE]) node.credentials[CREDENTIAL_TYPE] = { id: credential.id, name: credential.name };
	}
	return workflow;
}

/** The credential and the workflow, created and published over n8n's REST API as the owner. */
async function publishDemo(api, backend, channelUrl) {
	const cred = await api.post('/rest/credentials', { name: DEMO_CREDENTIAL.name, type: CREDENTIAL_TYPE, data: { apiKey: backend.apiKey, baseUrl: backend.baseUrl } });
	if (cred.status !== 200) throw new Error(`creating the credential: ${cred.status} ${cred.text.slice(0, 300).replaceAll(backend.apiKey, '***')}`);
	const workflow = demoWorkflow(channelUrl, cred.json.data);
	const created = await api.post('/rest/workflows', { ...workflow, active: false });
	if (created.status !== 200) throw new Error(`creating the workflow: ${created.status} ${created.text.slice(0, 300)}`);
	const activated = await api.post(`/rest/workflows/${workflow.id}/activate`, { versionId: created.json.data.versionId });
	if (activated.status !== 200) throw new Error(`publishing the workflow: ${activated.status} ${activated.text.slice(0, 300)}`);
	return workflow;
}

/** POSTs to the workflow's webhook; n8n registers it shortly after publishing, so a 404 is retried for a while. */
async function triggerWebhook(instance) {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const r = await fetch(`${instance.url}/webhook/${DEMO_TRIGGER.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
		const text = await r.text();
		if (r.status === 404 && Date.now() < deadline) {
			await sleep(250);
			continue;
		}
		if (r.status !== 200) throw new Error(`POST /webhook/${DEMO_TRIGGER.path}: ${r.status} ${text.slice(0, 300)}`);
		return;
	}
}

async function until(what, timeoutMs, fn) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await fn();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
		await sleep(300);
	}
}

const asRun = (e) => ({ status: e.status, data: e.data });

/**
 * In a terminal: offers the person the link and waits for their submit (the execution leaves
 * "waiting"), for at most `seconds`; Enter hands over to the headless reviewer at once.
 * Returns 'person' when they submitted, else why not.
 */
async function waitForPerson(api, instance, executionId, link, count, seconds) {
	const mmss = `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, '0')}`;
	process.stdout.write(
		`\n  ▶ Your turn: open the review page in a browser on this machine, keep or change the ${count} decisions, submit:\n\n` +
			`      ${link}\n\n` +
			`    Waiting up to ${mmss} for your submit. Press Enter to let a headless browser review instead.\n\n`,
	);
	let enter = false;
	const onData = () => (enter = true);
	process.stdin.on('data', onData);
	process.stdin.resume();
	try {
		const e = await waitForExecution(api, instance, executionId, ['success'], { timeoutMs: seconds * 1000, pollMs: 1000, stop: () => enter });
		if (e.status !== 'waiting') return 'person';
		return enter ? 'you pressed Enter' : `no submit within ${mmss}`;
	} finally {
		process.stdin.off('data', onData);
		process.stdin.pause();
	}
}

/** Starts n8n, runs the example through the review to its end; returns the finished execution and who reviewed. */
async function runWithReview({ instance, n8nStarting, browserStarting, interactive, backend, receiver, reviewLinks, opts }) {
	const child = await n8nStarting;
	const api = await restLogin(instance);
	await phase('credential + the batch example (webhook-started copy), created and published over REST', () => publishDemo(api, backend, receiver.urlFor('slack')));

	const { executionId, paused } = await phase('trigger: CloMan decides the batch, the run pauses at the review', async () => {
		reviewLinks.length = 0;
		await triggerWebhook(instance);
		const id = await until('no execution of the demo workflow started', 60_000, async () => (await workflowExecutionIds(api, EXAMPLES.batch.id))[0]);
		const e = await waitForExecution(api, instance, id, ['waiting', 'success'], { timeoutMs: 180_000 });
		if (!['waiting', 'success'].includes(e.status)) {
			const error = e.data?.resultData?.error;
			throw new Error(`the run ended with status ${e.status}${error ? `: ${error.message}${error.node ? ` (node ${error.node.name ?? error.node})` : ''}` : ''}`);
		}
		return { executionId: id, paused: e };
	});

	const review = { by: 'nobody', reason: 'no item needed a person', changed: undefined, link: undefined };
	if (paused.status === 'waiting') {
		const waiting = nodeOutputs(asRun(paused), 'CloMan')?.[1] ?? [];
		review.link = await until(`the review link of execution ${executionId} did not reach the incoming webhook`, 30_000, () =>
			reviewLinks.find((l) => new URL(l).pathname.startsWith(`/webhook-waiting/${executionId}/`)),
		);
		const auto = (nodeOutputs(asRun(paused), 'CloMan')?.[0] ?? []).length;
		process.stdout.write(
			`\n  CloMan decided ${auto + waiting.length} refund requests: ${auto} went on by themselves, ${waiting.length} wait for a person on "${REVIEW_NODE}".\n` +
				`  Its review link reached the local incoming webhook (standing in for a Slack channel):\n    ${review.link}\n`,
		);
		let person = process.stdin.isTTY && process.stdout.isTTY ? '--review-wait 0' : 'no terminal';
		if (interactive) {
			person = await phase(`review: waiting for you (up to ${opts.reviewWait} s)`, () => waitForPerson(api, instance, executionId, review.link, waiting.length, opts.reviewWait));
		}
		if (person === 'person') {
			review.by = 'you, in your browser';
		} else {
			const first = waiting[0].json;
			review.changed = await phase(`review: headless Chromium opens the link, changes ${first.id}, keeps the rest, submits`, async () =>
				reviewInChromium({ link: review.link, index: 0, notDecision: first.cloman?.decision, note: REVIEWER_NOTE, session: await browserStarting }),
			);
			review.changed.id = first.id;
			review.by = `headless Chromium (${person})`;
		}
	} else {
		await (await browserStarting)?.browser.close();
	}

	const finished = await phase('the run resumes and finishes', async () => {
		const e = await waitForExecution(api, instance, executionId, ['success'], { timeoutMs: 120_000 });
		if (e.status === 'waiting') throw new Error(`execution ${executionId} still waits after the review`);
		return e;
	});
	await phase('n8n stop', () => child.stop());
	return { run: asRun(finished), review, executionId };
}

const FINAL_LABEL = {
	'Mark refunded': 'refunded',
	'Mark declined': 'declined',
	'Refund after review': 'refunded',
	'Decline after review': 'declined',
	'Ask customer for details': 'asks customer',
	'Queue unreviewed': 'queued, unreviewed',
};

/**
 * The final table: every refund request, where CloMan sent it, what the review did, where it ended,
 * who decided and the note. Returns the summary (also printed as the DEMO_SUMMARY line); `ok` is
 * true only when every input item ended on exactly one final node and the run finished.
 */
function printFinalReport(run, backendLabel, review) {
	const inputs = nodeItems(run, 'Refund requests').map((i) => i.json);
	const outputs = nodeOutputs(run, 'CloMan') ?? [];
	const cloneOutput = new Map();
	['Auto-Decided', 'Needs Review'].forEach((name, o) => (outputs[o] ?? []).forEach((i) => cloneOutput.set(i.json.id, { name, cloman: i.json.cloman })));
	const ended = new Map();
	for (const node of FINAL_NODES) {
		for (const { json } of nodeItems(run, node)) ended.set(json.id, [...(ended.get(json.id) ?? []), { node, json }]);
	}

	const rows = inputs.map((input) => {
		const c = cloneOutput.get(input.id);
		const ends = ended.get(input.id) ?? [];
		const end = ends.length === 1 ? ends[0] : undefined;
		const r = end?.json.review;
		const reviewed = c?.name === 'Needs Review';
		return {
			id: input.id,
			customer: input.customer,
			amount: input.amount ?? null,
			clone: c?.cloman?.decision ?? null,
			confidence: c?.cloman?.confidence ?? null,
			cloneOutput: c?.name ?? null,
			reviewed,
			review: !reviewed ? null : r ? (r.changed ? 'changed' : 'kept') : 'not reviewed',
			final: end ? end.node : ends.length > 1 ? `${ends.length} nodes` : null,
			status: end?.json.status ?? null,
			decision: r?.decision ?? c?.cloman?.decision ?? null,
			decidedBy: !end ? null : r ? r.decided_by : reviewed ? 'nobody' : 'clone',
			note: r?.note ?? '',
		};
	});
	const onOutputs = rows.filter((r) => r.final && FINAL_NODES.includes(r.final)).length;
	const waiting = rows.filter((r) => !r.final).length;
	const ok = run.status === 'success' && inputs.length > 0 && onOutputs === inputs.length;

	process.stdout.write(`\nScheduled batch approvals, after the review: ${inputs.length} refund requests decided by CloMan (${backendLabel})\n\n`);
	process.stdout.write(
		`  ${pad('id', 7)} ${pad('customer', 17)} ${padL('amount', 6)}  ${pad('clone said', 15)} ${padL('conf', 4)}  ${pad('CloMan output', 13)}  ${pad('review', 8)} ${pad('final output', 24)} ${pad('→ status', 15)} ${pad('decided by', 10)} note\n`,
	);
	process.stdout.write(`  ${'-'.repeat(144)}\n`);
	for (const r of rows) {
		process.stdout.write(
			`  ${pad(r.id, 7)} ${pad(r.customer, 17)} ${padL(r.amount ?? '—', 6)}  ${pad(r.clone ?? '—', 15)} ${padL(typeof r.confidence === 'number' ? r.confidence.toFixed(2) : '', 4)}  ${pad(r.cloneOutput ?? '—', 13)}  ${pad(r.review ?? '—', 8)} ${pad(r.final ?? 'NOT ON AN OUTPUT', 24)} ${pad(r.status ? `→ ${r.status}` : '', 15)} ${pad(r.decidedBy ?? '', 10)} ${r.note}\n`,
		);
	}
	const reviewed = rows.filter((r) => r.reviewed);
	const changed = rows.filter((r) => r.review === 'changed');
	const byFinal = {};
	for (const r of rows) if (r.status) byFinal[r.status] = (byFinal[r.status] ?? 0) + 1;
	process.stdout.write(
		`\n  ${onOutputs} of ${inputs.length} items on their final outputs, ${waiting} waiting; execution: ${run.status}\n` +
			`  ${Object.entries(byFinal).map(([k, v]) => `${k}: ${v}`).join(' · ')}\n` +
			`  decided by the clone alone: ${rows.length - reviewed.length}; reviewed: ${reviewed.length}${reviewed.length ? ` (${reviewed.map((r) => r.id).join(', ')})` : ''}` +
			`, of which changed: ${changed.length}${changed.length ? ` (${changed.map((r) => `${r.id} ${r.clone} → ${r.decision}`).join(', ')})` : ''}\n` +
			`  reviewer: ${review.by}\n`,
	);
	const summary = {
		ok,
		status: run.status,
		items: inputs.length,
		onOutputs,
		waiting,
		reviewed: reviewed.map((r) => r.id),
		changed: changed.map((r) => r.id),
		reviewer: review.by,
		rows,
	};
	return summary;
}

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	const lineInfo = LINES[opts.line];
	installCleanup();

	const realKey = process.env.CLOMAN_API_KEY;
	const realBase = process.env.CLOMAN_BASE_URL || 'https://api.cloman.app';

	await phase('repository dependencies (npm install if node_modules is missing)', ensureRepoDeps);
	const pack = await phase('npm run build + npm pack', buildAndPack);
	log(`  ${path.relative(ROOT, pack.tarball)} (${pack.files.length} files)`);
	const n8n = await phase(`n8n ${lineInfo.version} on ${lineInfo.node === 'node24' ? 'Node 24' : 'the system Node'} (cached in .cache/)`, () => ensureN8n(lineInfo));
	log(`  n8n ${lineInfo.version}, Node ${n8n.node.version}${n8n.cached ? ' (cached)' : ' (installed now)'}`);

	const instance = await phase('n8n user folder + community package install', () =>
		prepareInstance({ name: `${opts.editor ? 'editor' : 'demo'}-n8n${lineInfo.line}`, lineInfo, tarball: pack.tarball, fresh: !opts.editor }),
	);
	log(`  N8N_USER_FOLDER=${path.relative(ROOT, instance.userFolder)}`);
	// n8n 2.x, the whole flow: n8n starts now (its slowest step) while the stand-in and the incoming
	// webhook start; the credential and the workflow are created over REST once it runs.
	const withReview = !opts.editor && lineInfo.line === 2;
	const n8nStarting = withReview ? phase('n8n start', () => startN8n(instance)) : undefined;
	n8nStarting?.catch(() => undefined); // awaited (and reported) in runWithReview
	// Without a person to ask, the headless reviewer's browser starts meanwhile too.
	const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY && opts.reviewWait > 0);
	const browserStarting = withReview && !interactive ? startChromium() : undefined;
	browserStarting?.catch(() => undefined); // awaited in runWithReview; a failure to launch is reported there

	let backend;
	if (realKey) {
		backend = { apiKey: realKey, baseUrl: realBase, label: `the real API at ${realBase}` };
		log(`  backend: ${backend.label} (CLOMAN_API_KEY is set)`);
	} else {
		const standin = await phase('CloMan stand-in on 127.0.0.1', () => startStandinProcess());
		backend = { apiKey: 'cloman_sk_test_good', baseUrl: standin.url, label: `stand-in at ${standin.url}`, standin };
		log(`  backend: ${backend.label}`);
	}

	// The review link of the batch example goes to a local incoming webhook (standing in for a chat
	// channel), which prints it here. The editor keeps its receiver's port between runs, because the
	// saved workflow holds the address.
	const portFile = path.join(instance.userFolder, 'incoming-webhook.port');
	const savedPort = opts.editor && fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, 'utf8')) : 0;
	const port = savedPort > 0 && (await portIsFree(savedPort)) ? savedPort : 0;
	const reviewLinks = [];
	const receiver = await phase('incoming webhook for the review link, on 127.0.0.1', () =>
		startIncomingWebhookProcess({
			port,
			onPost: (post) => {
				reviewLinks.push(...post.links);
				if (opts.editor) {
					process.stdout.write(
						`\n  ▶ The local incoming webhook got a message (${post.path}):\n    ${post.message.split('\n').join('\n    ')}\n` +
							post.links.map((link) => `\n    Review page: ${link}\n`).join('') +
							'\n',
					);
				}
			},
		}),
	);
	const channelUrl = receiver.urlFor('slack');
	fs.writeFileSync(portFile, String(new URL(receiver.url).port));
	log(`  review link goes to ${channelUrl}`);

	// The editor's user folder is kept between runs: the examples are imported into a new one only,
	// so a person's changes survive; the credential is imported every time (the stand-in's port changes),
	// the batch example again if the receiver had to take another port. On n8n 2.x the demo creates
	// both over REST once n8n runs (no CLI boots for the imports).
	const keepWorkflows = opts.editor && fs.existsSync(path.join(instance.userFolder, '.n8n', 'database.sqlite'));
	const keepBatch = keepWorkflows && port === savedPort;
	if (!withReview) {
		await phase(keepWorkflows ? `import credential${keepBatch ? '' : ' + the batch example'} (workflows kept from the last run)` : 'import credential + example workflows', async () => {
			await importCredentials(instance, [
				{ ...DEMO_CREDENTIAL, type: CREDENTIAL_TYPE, data: { apiKey: backend.apiKey, baseUrl: backend.baseUrl } },
			]);
			const files = [];
			if (!keepBatch) files.push(writeBatchExample(instance.userFolder, channelUrl));
			if (!keepWorkflows && opts.editor) files.push(EXAMPLES.route.file);
			if (files.length > 0) await importWorkflows(instance, files);
		});
	}
	if (keepWorkflows) log(`  to start over with fresh examples: rm -rf ${path.relative(ROOT, instance.userFolder)}`);

	if (opts.editor) {
		const child = await phase('n8n start (editor)', () => startN8n(instance));
		const url = instance.url;
		process.stdout.write(`
n8n ${lineInfo.version} with n8n-nodes-cloman is running:

  Editor:    ${url}/signin
  Email:     ${OWNER.email}
  Password:  ${OWNER.password}

  Workflows: ${url}/workflow/${EXAMPLES.batch.id}   (scheduled batch approvals)
             ${url}/workflow/${EXAMPLES.route.id}   (route by decision)
  Credential "${DEMO_CREDENTIAL.name}" → ${backend.label}

  Open a workflow, or a new one and search the node panel for "CloMan".

  Try the human review: open the scheduled batch approvals workflow and click "Execute workflow".
  CloMan decides 12 refund requests; the 6 it leaves to a person wait on "${REVIEW_NODE}", which
  posts its review link to a local incoming webhook (standing in for a Slack channel:
  ${channelUrl}). The link is printed here when it arrives; open it, keep or change
  each decision, submit, and watch the run finish in the editor.

  Everything listens on 127.0.0.1 only. Ctrl-C stops n8n${backend.standin ? ', the stand-in' : ''} and the incoming webhook.
  n8n log: ${path.relative(ROOT, instance.logFile)}
`);
		await new Promise((resolve) => child.once('close', resolve));
		log('n8n stopped');
		return;
	}

	if (withReview) {
		const { run, review } = await runWithReview({ instance, n8nStarting, browserStarting, interactive, backend, receiver, reviewLinks, opts });
		const summary = printFinalReport(run, backend.label, review);
		if (backend.standin) await backend.standin.stop();
		await receiver.stop();
		printTimings('Demo timings');
		process.stdout.write(`\nDEMO_SUMMARY ${JSON.stringify(summary)}\n`);
		return summary.ok ? 0 : 1;
	}

	// n8n 1.x: the run stops at the review, which refuses to run there (signed resume links need 2.x).
	const run = await phase(`n8n execute --id=${EXAMPLES.batch.id} (scheduled batch approvals, headless)`, async () => {
		const r = await n8nCli(instance, ['execute', `--id=${EXAMPLES.batch.id}`, '--rawOutput'], { allowFail: true });
		const parsed = parseRawOutput(r.stdout + '\n' + r.stderr);
		const error = parsed.data?.resultData?.error;
		if (error && error.node?.name !== REVIEW_NODE) throw new Error(`the workflow failed: ${error.message}${error.node ? ` (node ${error.node.name ?? error.node})` : ''}`);
		return parsed;
	});
	await new Promise((r) => setTimeout(r, 500)); // the receiver's last lines
	printBatchReport(run, backend.label);
	if (backend.standin) await backend.standin.stop();
	await receiver.stop();
	printTimings('Demo timings');
	fs.rmSync(path.join(instance.userFolder, 'credentials-import.json'), { force: true });
	return 0;
}

main().then(
	(code) => {
		killAll();
		process.exit(code ?? 0);
	},
	(error) => {
		process.stderr.write(`\ndemo failed: ${error.message}\n`);
		printTimings('Demo timings');
		killAll();
		process.exit(1);
	},
);
