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
	ROOT,
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
	startIncomingWebhookProcess,
	startN8n,
	startStandinProcess,
	writeBatchExample,
} from './lib/harness.mjs';

const REVIEW_NODE = 'Human review';
const REVIEW_OUTPUT_NODES = ['Refund after review', 'Decline after review', 'Ask customer for details'];

function usage() {
	return `Usage: bash scripts/demo.sh [--editor] [--line 2|1]

Builds and packs n8n-nodes-cloman, installs it into a real n8n (cached in .cache/) as a community
package, imports the example workflows and a CloMan credential, then:
  (default)  runs the "scheduled batch approvals" example headlessly and prints where each item went;
  --editor   starts the n8n editor on 127.0.0.1 instead and waits (Ctrl-C stops everything).

Backend: the CloMan stand-in on 127.0.0.1, unless CLOMAN_API_KEY is set (then the real API at
CLOMAN_BASE_URL, default https://api.cloman.app).
  --line 2   n8n 2.41.1 on Node 24 (default; N8N_LINE=2)
  --line 1   n8n 1.123.81 on the system Node (N8N_LINE=1)
`;
}

function parseArgs(argv) {
	const opts = { editor: false, line: process.env.N8N_LINE || '2' };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--editor') opts.editor = true;
		else if (a === '--line') opts.line = argv[++i];
		else if (a.startsWith('--line=')) opts.line = a.slice(7);
		else if (a === '-h' || a === '--help') {
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

/** Prints, per refund request, the CloMan output it left on and what the workflow then did. */
function printBatchReport(run, backendLabel, reviewLinks) {
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
	if (waiting) {
		process.stdout.write(
			`\n  The ${outputs[1].length} items that need a person wait on one review page ("${REVIEW_NODE}").\n` +
				(reviewLinks.length > 0
					? `  Its link was posted to the local incoming webhook (standing in for a Slack channel):\n    ${reviewLinks.join('\n    ')}\n`
					: '  No link reached the local incoming webhook.\n') +
				'  The link needs the n8n server: to review in a browser, run bash scripts/editor.sh and execute the workflow there.\n',
		);
	}
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
	// the batch example again if the receiver had to take another port.
	const keepWorkflows = opts.editor && fs.existsSync(path.join(instance.userFolder, '.n8n', 'database.sqlite'));
	const keepBatch = keepWorkflows && port === savedPort;
	await phase(keepWorkflows ? `import credential${keepBatch ? '' : ' + the batch example'} (workflows kept from the last run)` : 'import credential + example workflows', async () => {
		await importCredentials(instance, [
			{ ...DEMO_CREDENTIAL, type: CREDENTIAL_TYPE, data: { apiKey: backend.apiKey, baseUrl: backend.baseUrl } },
		]);
		const files = [];
		if (!keepBatch) files.push(writeBatchExample(instance.userFolder, channelUrl));
		if (!keepWorkflows) files.push(EXAMPLES.route.file);
		if (files.length > 0) await importWorkflows(instance, files);
	});
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

	// The run pauses at the review (n8n 2.x) or stops there (1.x refuses it): both end the command.
	const run = await phase(`n8n execute --id=${EXAMPLES.batch.id} (scheduled batch approvals, headless)`, async () => {
		const r = await n8nCli(instance, ['execute', `--id=${EXAMPLES.batch.id}`, '--rawOutput'], { allowFail: true });
		const parsed = parseRawOutput(r.stdout + '\n' + r.stderr);
		const error = parsed.data?.resultData?.error;
		if (error && error.node?.name !== REVIEW_NODE) throw new Error(`the workflow failed: ${error.message}${error.node ? ` (node ${error.node.name ?? error.node})` : ''}`);
		return parsed;
	});
	await new Promise((r) => setTimeout(r, 500)); // the receiver's last lines
	printBatchReport(run, backend.label, reviewLinks);
	if (backend.standin) await backend.standin.stop();
	await receiver.stop();
	printTimings('Demo timings');
	fs.rmSync(path.join(instance.userFolder, 'credentials-import.json'), { force: true });
}

main().then(
	() => {
		killAll();
		process.exit(0);
	},
	(error) => {
		process.stderr.write(`\ndemo failed: ${error.message}\n`);
		printTimings('Demo timings');
		killAll();
		process.exit(1);
	},
);
