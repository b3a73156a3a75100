// The review page's layout in headless Chromium (issue 17): figures, not a timed test.
// `npm run build` first.
//
//   node bench/review-layout.mjs [--rounds N] [--shots DIR]   (DIR: a screenshot of each first screen)
//
// For a 250-item and a 1,000-item batch (pages of 250 items, n8n reads at most 1,000 form fields):
// the first page's bytes and form fields, the builder's median time per page, then the page served
// from 127.0.0.1 with its real headers (CSP) and opened in Debian's chromium through playwright-core
// (both from the e2e set-up): the desktop height per item in the default view (rows folded) at
// 1280×800, how many items are fully visible on the first screen and below the page's head, the
// whole page's height, and at 390×844 (a phone) the height per item and whether anything overflows
// sideways. The server time of a whole GET/POST in n8n-core is bench/review-page.js.
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { launchLoopbackBrowser, prepareBrowser } from '../e2e/browser.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const page = require(path.join(ROOT, 'dist/nodes/CloMan/actions/review/page.js'));
const shape = require(path.join(ROOT, 'dist/nodes/CloMan/actions/review/shape.js'));
const state = require(path.join(ROOT, 'dist/nodes/CloMan/actions/review/state.js'));

const argv = process.argv.slice(2);
const roundsArg = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : NaN;
const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 15;
const LISTED = ['approve', 'deny'];
const SHOTS = argv.includes('--shots') ? path.resolve(argv[argv.indexOf('--shots') + 1]) : undefined;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

/** A refund the clone was unsure about: a long reason, long reasoning, alternatives, some escalated. */
function entry(i) {
	return {
		index: i,
		clone: {
			decision: i % 3 ? 'approve' : 'deny',
			reasoning: `Refund request ${i}: the amount is within the customer's usual range and the order arrived, but the reason given ("${'the parcel was left outside and got wet; '.repeat(2)}") needs a look because two earlier refunds were granted this quarter.`,
			confidence: Math.round((0.35 + ((i * 37) % 60) / 100) * 100) / 100,
			confidenceLevel: 'medium',
			requiresHumanReview: true,
			wasEscalated: i % 25 === 0,
			alternatives: [
				{ action: 'escalate', reason: 'unclear policy for repeated refunds', confidence: 0.3 },
				{ action: i % 3 ? 'deny' : 'approve', reason: 'history', confidence: 0.2 },
			],
		},
	};
}

function options(count) {
	const list = Array.from({ length: count }, (_, i) => entry(i));
	const rules = { allowCustom: true, listed: LISTED };
	const choices = new Map();
	const view = { ...state.DEFAULT_VIEW };
	const shown = state.shownEntries(list, choices, view, rules);
	const items = shown.slice(0, shape.PAGE_SIZE).map((e) => ({
		index: e.index,
		title: `Customer ${e.index} (customer-${e.index}@example.com) – ${100 + e.index} USD refund for order R-${10000 + e.index}`,
		details: `Order R-${10000 + e.index}, placed 2026-10-${String((e.index % 28) + 1).padStart(2, '0')}; reason: the parcel was left outside and got wet`,
		clone: e.clone,
		choices: state.choicesFor(e.clone, LISTED),
		needsPerson: state.needsPerson(e.clone, LISTED),
	}));
	return {
		title: "Review the clone's decisions",
		message: 'Refunds the clone was unsure about. Change what you disagree with, then submit.',
		action: `?signature=${'a'.repeat(64)}`,
		allowCustom: true,
		items,
		view,
		shown: shown.length,
		total: list.length,
		tally: state.tally(list, choices, rules),
		state: state.encodeState(list, choices, rules),
		decisions: ['approve', 'deny'],
		bulkTargets: LISTED,
		attention: [],
		notice: '',
		alerts: [],
		notReviewable: 0,
		nonce: 'bm9uY2Vub25jZW5vbmNlMQ==',
	};
}

function build(count) {
	const opts = options(count);
	const times = [];
	let html = '';
	for (let round = 0; round < ROUNDS; round++) {
		const started = performance.now();
		html = page.renderReviewPage(opts);
		times.push(performance.now() - started);
	}
	const fields = (html.match(/<(input|select|textarea)\b[^>]*\sname="/g) ?? []).length;
	return { html, bytes: Buffer.byteLength(html), ms: median(times), fields, items: opts.items.length };
}

async function serve(html) {
	const server = http.createServer((req, res) => {
		res.writeHead(200, page.pageHeaders('bm9uY2Vub25jZW5vbmNlMQ=='));
		res.end(html);
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const stop = setTimeout(() => server.close(), 10 * 60_000);
	stop.unref();
	return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function measure(tools, html, viewport) {
	const server = await serve(html);
	const { browser, context, outside } = await launchLoopbackBrowser(tools, viewport);
	try {
		const tab = await context.newPage();
		const violations = [];
		tab.on('console', (m) => m.type() === 'error' && violations.push(m.text()));
		await tab.goto(server.url);
		if (SHOTS) await tab.screenshot({ path: path.join(SHOTS, `review-layout-${viewport.width}.png`) });
		const figures = await tab.evaluate(() => {
			const rows = [...document.querySelectorAll('section.item')];
			const heights = rows.map((r) => r.getBoundingClientRect().height);
			const first = rows[0].getBoundingClientRect().top + window.scrollY;
			const last = rows.at(-1).getBoundingClientRect().bottom + window.scrollY;
			const bar = document.querySelector('.actions').getBoundingClientRect().height;
			const visible = rows.filter((r) => {
				const b = r.getBoundingClientRect();
				return b.top >= 0 && b.bottom <= window.innerHeight - bar;
			}).length;
			return {
				perItem: (last - first) / rows.length,
				maxRow: Math.max(...heights),
				visibleFirstScreen: visible,
				perScreen: Math.floor((window.innerHeight - bar) / ((last - first) / rows.length)),
				headHeight: first,
				pageHeight: document.documentElement.scrollHeight,
				overflowX: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			};
		});
		return { ...figures, outside, violations };
	} finally {
		await browser.close();
		await server.close();
	}
}

(async () => {
	const tools = await prepareBrowser();
	console.log(`review page layout (node ${process.version}, ${tools.chromium.version}, playwright-core ${tools.playwrightVersion}); builder median of ${ROUNDS}`);
	for (const count of [250, 1000]) {
		const r = build(count);
		console.log(`${count}-item batch: first page ${r.items} items, ${kib(r.bytes)} (${(r.bytes / r.items).toFixed(0)} B/item), built in ${r.ms.toFixed(1)} ms, ${r.fields} form fields; ${Math.ceil(count / shape.PAGE_SIZE)} page(s)`);
		const desktop = await measure(tools, r.html, { width: 1280, height: 800 });
		console.log(
			`  desktop 1280×800: ${desktop.perItem.toFixed(1)} px per item (tallest row ${desktop.maxRow.toFixed(0)} px), ${desktop.visibleFirstScreen} items fully visible on the first screen (below a ${desktop.headHeight.toFixed(0)} px head), ${desktop.perScreen} per screen when scrolled; page ${desktop.pageHeight} px; sideways overflow ${desktop.overflowX} px`,
		);
		const phone = await measure(tools, r.html, { width: 390, height: 844 });
		console.log(`  phone 390×844: ${phone.perItem.toFixed(1)} px per item, ${phone.perScreen} per screen when scrolled; page ${phone.pageHeight} px; sideways overflow ${phone.overflowX} px`);
		for (const m of [desktop, phone]) {
			if (m.outside.length || m.violations.length) console.log(`  requests outside 127.0.0.1: ${m.outside.length}; console errors (e.g. CSP): ${m.violations.join(' | ')}`);
		}
	}
})().catch((error) => {
	console.error(error);
	process.exit(1);
});
