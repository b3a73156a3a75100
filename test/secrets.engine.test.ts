/**
 * Issue 5 — nothing leaked. A distinctive API key (accepted by the stand-in through its `keys`
 * option) must never appear in output items, error messages or descriptions, the whole IRun, or
 * anything written to console / stdout / stderr / n8n's logger while the node runs; and the stand-in
 * must see it only in the X-API-Key header — never in the body, the URL or another header.
 *
 * "Appear" is checked strictly: the whole key, or any 8-character piece of its secret part (the
 * part after the public "cloman_sk_live_" prefix), so a key cut in half by an excerpt also counts.
 */
import type { IDataObject } from 'n8n-workflow';

import { runCloMan } from './harness/engine';
import type { RunResult } from './harness/engine';
import {
	BAD_INPUT_PARAMETERS,
	BAD_INPUT_PARAMETERS_B,
	badBaseUrls,
	badInputItems,
	badInputItemsB,
	captureOutput,
	checkBadInputRun,
	checkFaultRun,
	closeStandins,
	everything,
	faultRun,
	faultSeed,
	keySightings,
	openStandin,
} from './harness/faults';
import type { Capture, RecordingStandin } from './harness/faults';
import type { Fault } from './standin/server';

afterAll(closeStandins);

const PREFIX = 'cloman_sk_live_';
const KEY = `${PREFIX}Zq8TfW3nKx91PaeV7uRb`;
const SECRET = KEY.slice(PREFIX.length);
const WINDOW = 8;

/** Where `text` shows the key: whole, or any WINDOW-character piece of its secret part. */
function leaks(text: string): string[] {
	const found: string[] = [];
	if (text.includes(KEY)) found.push('the whole key');
	for (let start = 0; start + WINDOW <= SECRET.length; start++) {
		const piece = SECRET.slice(start, start + WINDOW);
		const at = text.indexOf(piece);
		if (at >= 0) found.push(`"${piece}" …${text.slice(Math.max(0, at - 60), at + 40)}…`);
	}
	return found;
}

/** Run `body` with console/stdout/stderr/logger captured; returns what was written. */
async function captured<T>(body: () => Promise<T>): Promise<{ value: T; written: string }> {
	const capture: Capture = captureOutput();
	try {
		const value = await body();
		return { value, written: capture.text() };
	} finally {
		capture.restore();
	}
}

function expectNoLeak(label: string, result: RunResult, written: string, standin?: RecordingStandin) {
	expect({ label, inRun: leaks(everything(result)) }).toEqual({ label, inRun: [] });
	expect({ label, written: leaks(written) }).toEqual({ label, written: [] });
	if (standin) {
		expect({ label, sightings: keySightings(standin, KEY) }).toEqual({ label, sightings: [] });
		for (const request of standin.requests) expect(request.headers['x-api-key']).toBe(KEY);
	}
}

const keys = { [KEY]: 'good' as const };

test('the randomized fault run (300 items, concurrency 16) with a distinctive key: the key is nowhere', async () => {
	const seed = faultSeed();
	const { value: run, written } = await captured(() =>
		faultRun({ seed, count: 300, concurrency: 16, maxRetries: 2, key: KEY, standin: { keys } }),
	);
	const figures = checkFaultRun(run);
	// eslint-disable-next-line no-console
	console.log(`secrets fault run seed ${seed}: ${JSON.stringify(figures)}`);
	expect(run.standin.requests.length).toBeGreaterThanOrEqual(300);
	// The capture is live: n8n-core's own log lines for this run went through it.
	expect(written).toContain('[n8n debug]');
	expectNoLeak('fault run', run.result, written, run.standin);
});

test('the bad-input runs (Continue using error output and Stop Workflow) with a distinctive key: the key is nowhere', async () => {
	const standin = await openStandin({ keys });
	for (const [parameters, build] of [
		[BAD_INPUT_PARAMETERS, badInputItems],
		[BAD_INPUT_PARAMETERS_B, badInputItemsB],
	] as const) {
		const cases = build();
		for (const onError of ['continueErrorOutput', 'stopWorkflow'] as const) {
			standin.reset();
			const { value: result, written } = await captured(() =>
				runCloMan({
					items: cases.map((entry) => entry.json),
					parameters,
					credential: { apiKey: KEY, baseUrl: standin.url },
					onError,
				}),
			);
			if (onError === 'continueErrorOutput') checkBadInputRun(result, standin, cases);
			else expect(result.status).toBe('error');
			expectNoLeak(`bad input ${onError}`, result, written, standin);
		}
	}
});

test('a bad Base URL, even one that contains the key, never echoes the key', async () => {
	const standin = await openStandin({ keys });
	const port = standin.url.split(':')[2];
	const urls = [
		...badBaseUrls(standin.url).map((entry) => entry.baseUrl),
		`${standin.url}/?api_key=${KEY}`,
		`${standin.url}/${KEY}`,
		`http://127.0.0.1:${port} ${KEY}`,
		`http://user:${KEY}@127.0.0.1:${port}`,
		`${KEY}://127.0.0.1:${port}`,
	];
	for (const baseUrl of urls) {
		for (const onError of ['stopWorkflow', 'continueErrorOutput'] as const) {
			standin.reset();
			const { value: result, written } = await captured(() =>
				runCloMan({
					items: [{ id: 'a', amount: 5 }],
					parameters: { operation: 'decide', context: 'Refund?', dataMode: 'inputItem' },
					credential: { apiKey: KEY, baseUrl },
					onError,
				}),
			);
			// Reported either as the node's error or (Continue) on the failed items: somewhere, but without the key.
			const itemError = result.outputs.flat().find((item) => item.json.error !== undefined)?.json.error as
				| IDataObject
				| undefined;
			expect(result.error?.message ?? itemError?.message).toEqual(expect.stringMatching(/Base URL/));
			expectNoLeak(`base URL ${baseUrl.replace(KEY, '<KEY>')} ${onError}`, result, written, standin);
			expect(standin.requests).toHaveLength(0);
		}
	}
});

describe('a server or proxy that echoes the key back: the node never passes it on', () => {
	const envelope = (status: number, details: IDataObject, message = 'Rejected.') => ({
		error: { code: 'BAD_REQUEST', message, status, details, request_id: 'req_echo', timestamp: '2026-02-19T12:00:00Z' },
	});
	// Non-envelope text puts the key where the node cuts its 200-character excerpt: 175 + 15 (prefix) + 10.
	const straddle = `${'x'.repeat(175)}${KEY} and more text after the key`;
	const cases: Array<[string, Fault]> = [
		['401 envelope message quoting the key', { status: 401, message: `Invalid API key ${KEY}` }],
		['400 envelope details echoing the headers', { status: 400, body: envelope(400, { headers: { 'x-api-key': KEY } }) }],
		['400 envelope, key in a long message', { status: 400, body: envelope(400, {}, `${'y'.repeat(300)} ${KEY}`) }],
		['proxy 502 text page quoting the key', { status: 502, body: `<html><body>Bad gateway for X-API-Key: ${KEY}</body></html>` }],
		['unusable 200 quoting the key', { body: { echo: KEY } }],
		['non-envelope 400, key across the excerpt cut', { status: 400, body: straddle }],
		['unusable 200, key across the excerpt cut', { body: straddle }],
	];

	test.each(cases)('%s (Continue using error output, then Stop Workflow)', async (_name, fault) => {
		for (const onError of ['continueErrorOutput', 'stopWorkflow'] as const) {
			const standin = await openStandin({ keys, faults: () => fault });
			const { value: result, written } = await captured(() =>
				runCloMan({
					items: [{ id: 'a', amount: 5 }],
					parameters: { operation: 'decide', context: 'Refund?', dataMode: 'inputItem', options: { maxRetries: 0 } },
					credential: { apiKey: KEY, baseUrl: standin.url },
					onError,
				}),
			);
			if (onError === 'continueErrorOutput') {
				expect(result.outputs[2]).toHaveLength(1);
			} else {
				expect(result.status).toBe('error');
			}
			expectNoLeak(`${_name} ${onError}`, result, written, standin);
		}
	});
});
