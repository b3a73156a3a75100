// The main job in a real n8n (run it as `bash scripts/demo.sh`, see that file for the options).
import fs from 'node:fs';
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
	executeWorkflow,
	importCredentials,
	importWorkflows,
	installCleanup,
	killAll,
	log,
	nodeItems,
	nodeOutputs,
	phase,
	prepareInstance,
	printTimings,
	startN8n,
	startStandinProcess,
} from './lib/harness.mjs';

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
	mark('Queue for review', () => 'queued for a reviewer');
	mark('Record review', (j) => `reviewed: ${j.status}`);

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
	process.stdout.write(`  execution: ${status}, ${rows.length} of ${total} input items on exactly one output: ${rows.length === total && new Set(rows.map((r) => r.json.id)).size === total ? 'yes' : 'NO'}\n\n`);
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

	// The editor's user folder is kept between runs: the examples are imported into a new one only,
	// so a person's changes survive; the credential is imported every time (the stand-in's port changes).
	const keepWorkflows = opts.editor && fs.existsSync(path.join(instance.userFolder, '.n8n', 'database.sqlite'));
	await phase(keepWorkflows ? 'import credential (workflows kept from the last run)' : 'import credential + example workflows', async () => {
		await importCredentials(instance, [
			{ ...DEMO_CREDENTIAL, type: CREDENTIAL_TYPE, data: { apiKey: backend.apiKey, baseUrl: backend.baseUrl } },
		]);
		if (!keepWorkflows) await importWorkflows(instance, [EXAMPLES.batch.file, EXAMPLES.route.file]);
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
  Everything listens on 127.0.0.1 only. Ctrl-C stops n8n${backend.standin ? ' and the stand-in' : ''}.
  n8n log: ${path.relative(ROOT, instance.logFile)}
`);
		await new Promise((resolve) => child.once('close', resolve));
		log('n8n stopped');
		return;
	}

	const result = await phase(`n8n execute --id=${EXAMPLES.batch.id} (scheduled batch approvals, headless)`, () =>
		executeWorkflow(instance, EXAMPLES.batch.id),
	);
	printBatchReport(result.run, backend.label);
	if (backend.standin) await backend.standin.stop();
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
