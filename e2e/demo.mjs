// The demo as a new user runs it (npm run test:demo): `bash scripts/demo.sh` without a terminal, as
// in CI, so the headless reviewer reviews. Checks its exit code, its final table and the
// DEMO_SUMMARY line against the stand-in's own policy (test/standin/server.js): all 12 refund
// requests end on the output their final decision leads to, 0 wait, the ones the clone left to a
// person were reviewed, exactly one was changed by the reviewer with a note.
//
// N8N_LINE=2 (default) runs the n8n 2.41.1 demo; N8N_LINE=1 runs the n8n 1.123.81 one instead, where
// the Review step refuses (it needs n8n 2.x) and the demo must say so and end with exit code 0.
// DEMO_E2E_TERMINAL=1 adds a second 2.x run in a terminal (script(1) gives it a pty): the demo offers
// the link and waits; a "person" (the reviewer module, from the link the demo printed) submits, and
// the demo must take that review instead of its headless one.
// Ends with one line "demo: N passed, N failed".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { EXAMPLES, LOGS, ROOT, installCleanup, log, phase, run, sleep } from '../scripts/lib/harness.mjs';
import { reviewInChromium } from '../scripts/lib/reviewer.mjs';
import { checkRunner } from './checks.mjs';
import { codeNodeItems, needsReview, sameIds } from './expect.mjs';

const require = createRequire(import.meta.url);
const { check, runTier } = checkRunner('demo');
const line = process.env.N8N_LINE || '2';

/** Where the example sends an item: the clone's own decisions, and the Review step's outputs. */
const AUTO_NODE = (decision) => (decision === 'approve' ? 'Mark refunded' : 'Mark declined');
const REVIEWED_NODE = (decision) => (decision === 'approve' ? 'Refund after review' : decision === 'deny' ? 'Decline after review' : 'Ask customer for details');

async function main() {
	installCleanup();
	const inputs = codeNodeItems(EXAMPLES.batch.file, 'Refund requests');
	const { defaultPolicy } = require('../test/standin/server.js');
	const expected = new Map(inputs.map((input) => [input.id, { input, decision: defaultPolicy({ data: input }) }]));
	const toReview = [...expected.values()].filter((e) => needsReview(e.decision)).map((e) => e.input.id);

	// No CLOMAN_API_KEY: the stand-in's answers are what the expectations are computed from.
	const env = { ...process.env, N8N_LINE: line };
	delete env.CLOMAN_API_KEY;
	delete env.CLOMAN_BASE_URL;
	const started = Date.now();
	const r = await phase(`bash scripts/demo.sh (n8n line ${line}, no terminal)`, () => run('bash', ['scripts/demo.sh'], { env, echo: true, allowFail: true, timeoutMs: 15 * 60_000 }));
	const seconds = (Date.now() - started) / 1000;
	const out = r.stdout;
	// A figure, not a check: the demo's own timings are in its output ("Demo timings").
	log(`  the demo took ${seconds.toFixed(1)} s (exit ${r.code})`);

	if (line === '1') {
		await check('n8n 1.x: the demo ends with exit code 0 and says the Review step needs n8n 2.x', () => {
			assert.equal(r.code, 0, `exit code ${r.code}\n${(r.stdout + r.stderr).split('\n').slice(-30).join('\n')}`);
			assert.match(out, /"Human review" refused to run: [^]*?needs n8n 2\.x/, 'no refusal message');
			assert.match(out, /12 of 12 input items on exactly one output: yes/);
		});
		return;
	}

	await check('the demo exits with code 0', () => {
		assert.equal(r.code, 0, `exit code ${r.code}\n${(r.stdout + r.stderr).split('\n').slice(-40).join('\n')}`);
	});
	await check('the demo prints no API key (the stand-in accepts keys starting cloman_sk_)', () => {
		assert.ok(!/cloman_sk_/.test(r.stdout + r.stderr), 'an API key is in the output');
	});

	let summary;
	await check('the demo prints one DEMO_SUMMARY line: 12 items, 12 on their final outputs, 0 waiting, execution success', () => {
		const lines = out.split('\n').filter((l) => l.startsWith('DEMO_SUMMARY '));
		assert.equal(lines.length, 1, `${lines.length} DEMO_SUMMARY lines`);
		summary = JSON.parse(lines[0].slice('DEMO_SUMMARY '.length));
		assert.equal(summary.ok, true);
		assert.equal(summary.status, 'success');
		assert.equal(summary.items, inputs.length);
		assert.equal(summary.onOutputs, inputs.length);
		assert.equal(summary.waiting, 0);
		sameIds(summary.rows.map((row) => row.id), inputs.map((i) => i.id), 'rows');
	});
	if (!summary) return;

	await check(`the items the clone left to a person (${toReview.length}) were reviewed by the headless reviewer; exactly one changed, with a note`, () => {
		sameIds(summary.reviewed, toReview, 'reviewed');
		assert.match(summary.reviewer, /^headless Chromium/, `reviewer: ${summary.reviewer}`);
		assert.equal(summary.changed.length, 1, `changed: ${JSON.stringify(summary.changed)}`);
		const changed = summary.rows.find((row) => row.id === summary.changed[0]);
		assert.ok(toReview.includes(changed.id), `${changed.id} was not up for review`);
		assert.equal(changed.decidedBy, 'reviewer');
		assert.notEqual(changed.decision, changed.clone, 'the changed item kept the clone decision');
		assert.ok(changed.note.length > 0, 'the changed item has no note');
	});

	await check("every item ended where its final decision leads (the clone's own on Mark refunded/declined, reviewed ones on the Review step's outputs), decided by the right one", () => {
		for (const row of summary.rows) {
			const { decision } = expected.get(row.id);
			assert.equal(row.clone, decision.decision, `${row.id}: the clone's decision`);
			if (!toReview.includes(row.id)) {
				assert.deepEqual([row.cloneOutput, row.review, row.final, row.decidedBy], ['Auto-Decided', null, AUTO_NODE(decision.decision), 'clone'], `${row.id}: ${JSON.stringify(row)}`);
			} else if (row.review === 'changed') {
				assert.deepEqual([row.cloneOutput, row.final], ['Needs Review', REVIEWED_NODE(row.decision)], `${row.id}: ${JSON.stringify(row)}`);
			} else {
				assert.deepEqual([row.cloneOutput, row.review, row.decision, row.final, row.decidedBy, row.note], ['Needs Review', 'kept', decision.decision, REVIEWED_NODE(decision.decision), 'clone', ''], `${row.id}: ${JSON.stringify(row)}`);
			}
		}
	});

	await check('the printed final table has one row per request with its final output, and the closing lines say 12 of 12, 0 waiting, and which were reviewed', () => {
		const table = out.slice(out.indexOf('after the review:'), out.indexOf('DEMO_SUMMARY'));
		for (const row of summary.rows) {
			const printed = table.split('\n').filter((l) => l.trimStart().startsWith(`${row.id} `));
			assert.equal(printed.length, 1, `${row.id}: ${printed.length} rows in the table`);
			assert.ok(printed[0].includes(row.final), `${row.id}: the row lacks ${row.final}: ${printed[0]}`);
			if (row.note) assert.ok(printed[0].includes(row.note), `${row.id}: the row lacks the note`);
		}
		assert.match(table, new RegExp(`${inputs.length} of ${inputs.length} items on their final outputs, 0 waiting; execution: success`));
		assert.match(table, new RegExp(`reviewed: ${toReview.length} \\(${summary.reviewed.join(', ')}\\)`));
	});

	if (process.env.DEMO_E2E_TERMINAL === '1') await checkInTerminal(env, expected, toReview);
}

/** The demo in a terminal: the person (here the reviewer module, from the printed link) reviews. */
async function checkInTerminal(env, expected, toReview) {
	const logFile = path.join(LOGS, 'demo-terminal.log');
	fs.rmSync(logFile, { force: true });
	const person = { id: toReview[1], note: 'a person in the terminal' };
	await check('in a terminal the demo prints the link and waits; the person submits, the demo takes their review and ends with exit code 0', async () => {
		const child = spawn('script', ['-qfec', 'bash scripts/demo.sh --review-wait 240', logFile], { cwd: ROOT, env, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
		const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
		let reviewed;
		try {
			const deadline = Date.now() + 10 * 60_000;
			let link;
			while (!link && Date.now() < deadline && child.exitCode === null) {
				const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
				link = /Your turn[^]*?(http:\/\/127\.0\.0\.1:\d+\/webhook-waiting\/\S+)/.exec(text)?.[1];
				if (!link) await sleep(500);
			}
			assert.ok(link, 'the demo offered no link to the person');
			reviewed = await reviewInChromium({ link, index: 1, notDecision: expected.get(person.id).decision.decision, note: person.note });
		} catch (error) {
			process.kill(-child.pid, 'SIGTERM'); // demo.sh passes it on and stops n8n
			throw error;
		} finally {
			// The pty's input ends only now: the demo must not have been waiting on it.
			child.stdin.end();
		}
		const code = await Promise.race([exited, sleep(5 * 60_000).then(() => 'timeout')]);
		if (code === 'timeout') process.kill(-child.pid, 'SIGTERM'); // demo.sh passes it on and stops n8n
		const out = fs.readFileSync(logFile, 'utf8').replace(/\r/g, '');
		assert.equal(code, 0, `exit ${code}\n${out.split('\n').slice(-30).join('\n')}`);
		const summary = JSON.parse(out.split('\n').find((l) => l.startsWith('DEMO_SUMMARY ')).slice('DEMO_SUMMARY '.length));
		assert.deepEqual([summary.ok, summary.onOutputs, summary.waiting, summary.reviewer], [true, 12, 0, 'you, in your browser']);
		assert.deepEqual(summary.changed, [person.id]);
		const row = summary.rows.find((r) => r.id === person.id);
		assert.deepEqual([row.decision, row.decidedBy, row.note], [reviewed.decision, 'reviewer', person.note]);
	});
}

await runTier(main);
