'use strict';
// The review page with 1,000 items (issue 9): figures, not a timed test. `npm run build` first.
//
//   node bench/review-page.js [--rounds N]
//
// 1. The builder alone (dist/…/review/page.js): one page of 250 items (what a 1,000-item batch shows
//    per page, n8n reads at most 1,000 form fields) and, for comparison, all 1,000 items on one page.
//    Bytes, median build time, form fields.
// 2. The whole GET in n8n-core's engine (test/harness: WebhookContext over a real 127.0.0.1 request,
//    the item title/details expressions evaluated per item): time to first page, 250- and 1,000-item batches.
// 3. The submits that review every item (1 or 4) (each POST answers 303 and the browser GETs the next
//    page from the address that holds the choices; the time is POST + GET; the last POST resumes).
process.env.N8N_USER_FOLDER ??= require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'cloman-bench-'));
process.env.N8N_LOG_LEVEL ??= 'silent';
require('./ts-require.js');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const ROOT = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const roundsArg = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : NaN;
const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 15;

const page = require(path.join(ROOT, 'dist/nodes/CloMan/actions/review/page.js'));
const shape = require(path.join(ROOT, 'dist/nodes/CloMan/actions/review/shape.js'));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

function clone(i) {
	return {
		decision: i % 3 ? 'approve' : 'deny',
		reasoning: `Refund request ${i}: the amount is within the customer's usual range, but the reason given <${'x'.repeat(40)}> needs a look.`,
		confidence: 0.62,
		confidenceLevel: 'medium',
		requiresHumanReview: true,
		wasEscalated: i % 7 === 0,
		alternatives: [{ action: 'escalate', reason: 'unclear policy', confidence: 0.3 }],
	};
}

function pageOf(count) {
	const items = Array.from({ length: count }, (_, i) => {
		const c = clone(i);
		return { index: i, title: `Customer ${i} – ${100 + i} USD`, details: `Order R-${1000 + i}`, clone: c, choices: shape.choicesFor(c, ['approve', 'deny']), needsPerson: c.wasEscalated };
	});
	return {
		title: "Review the clone's decisions",
		message: '',
		action: '?signature=' + 'a'.repeat(64),
		allowCustom: true,
		items,
		view: { decision: '', flag: '', band: '', sort: '', start: 0 },
		shown: 1000,
		total: 1000,
		tally: { kept: 1000, changed: 0, open: 0 },
		state: { s: '', t: '' },
		decisions: ['approve', 'deny'],
		bulkTargets: ['approve', 'deny'],
		attention: [],
		notice: '',
		alerts: [],
		notReviewable: 0,
		nonce: 'bm9uY2Vub25jZW5vbmNlMQ==',
	};
}

function builder(count) {
	const options = pageOf(count);
	const times = [];
	let html = '';
	for (let round = 0; round < ROUNDS; round++) {
		const started = performance.now();
		html = page.renderReviewPage(options);
		times.push(performance.now() - started);
	}
	const fields = (html.match(/<(input|select|textarea)\b[^>]*\sname="/g) ?? []).length;
	return { count, bytes: Buffer.byteLength(html), ms: median(times), fields };
}

async function engine(count) {
	const { runCloMan, loadRun, HARNESS_BASE_URL, EXECUTION_ID } = require(path.join(ROOT, 'test/harness/engine.ts'));
	const { callWaitingWebhook, formBody, pathOf } = require(path.join(ROOT, 'test/harness/resume.ts'));
	const { formFields, submitWith } = require(path.join(ROOT, 'test/harness/review-page.ts'));
	const items = Array.from({ length: count }, (_, i) => ({ id: `i${i}`, customer: `Customer ${i}`, amount: 100 + i, cloman: { decision: i % 3 ? 'approve' : 'deny', reasoning: `Reason ${i}`, confidence: 0.6 } }));
	const paused = await runCloMan({
		items,
		credential: { apiKey: 'cloman_sk_test_good', baseUrl: 'http://127.0.0.1:9' },
		parameters: { operation: 'review', reviewTitle: '={{ $json.customer }} – {{ $json.amount }} USD', reviewDetails: '=Order {{ $json.id }}' },
	});
	const token = loadRun(paused.stored).resumeToken;
	const link = pathOf(`${HARNESS_BASE_URL}/webhook-waiting/${EXECUTION_ID}/cloman-node-id?signature=${token}`);
	const gets = [];
	let answer;
	for (let round = 0; round < Math.min(ROUNDS, 5); round++) {
		const started = performance.now();
		answer = await callWaitingWebhook(paused.stored, { method: 'GET', pathAndQuery: link });
		gets.push(performance.now() - started);
	}
	const posts = [];
	for (let n = 0; n < Math.ceil(count / 250); n++) {
		const body = formBody(submitWith(formFields(answer.body), 'submit'));
		const started = performance.now();
		answer = await callWaitingWebhook(paused.stored, { method: 'POST', pathAndQuery: link, contentType: 'application/x-www-form-urlencoded', body });
		posts.push({ ms: performance.now() - started, requestBytes: Buffer.byteLength(body), answerBytes: Buffer.byteLength(answer.body), status: answer.status, resumed: answer.resumed !== undefined });
	}
	const out = answer.resumed ? answer.resumed.outputs.flat().length : 0;
	return { getMs: median(gets), getBytes: Buffer.byteLength(answer.body), posts, out };
}

(async () => {
	console.log(`review page builder, median of ${ROUNDS} (node ${process.version}):`);
	for (const count of [250, 1000]) {
		const r = builder(count);
		console.log(`  ${String(count).padStart(4)} items on one page: ${kb(r.bytes)} (${(r.bytes / count).toFixed(0)} B/item), built in ${r.ms.toFixed(1)} ms, ${r.fields} form fields${r.fields >= 1000 ? ' (over n8n’s 1,000-field limit: hence pages of 250)' : ''}`);
	}
	for (const count of [250, 1000]) {
		const e = await engine(count);
		console.log(`${count.toLocaleString('en')}-item batch through n8n-core (WebhookContext, real 127.0.0.1 request, titles evaluated per item):`);
		console.log(`  GET first page (${Math.min(count, 250)} items): ${e.getMs.toFixed(0)} ms median`);
		e.posts.forEach((p, n) => console.log(`  POST page ${n + 1}${n < e.posts.length - 1 ? ' (+ the GET of the next page after the 303)' : ''}: ${p.ms.toFixed(0)} ms, request ${kb(p.requestBytes)}, answer ${p.status} ${kb(p.answerBytes)}${p.resumed ? ', resumed the run' : ''}`));
		console.log(`  items out after the last submit: ${e.out}`);
	}
})().catch((error) => {
	console.error(error);
	process.exit(1);
});
