/**
 * Issue 18 — after Decide, an n8n execution hint summarises the run: items per output, rate-limit
 * waits, the pace settled on, retries. The BUILT node runs through n8n-core's real WorkflowExecute
 * against the CloMan stand-in over real HTTP on 127.0.0.1; the hint is read from the run data, where
 * n8n keeps it for the editor's output pane.
 */
import type { INodeParameters, NodeExecutionHint } from 'n8n-workflow';

import { CLOMAN_NODE_NAME, runCloMan } from './harness/engine';
import type { RunResult } from './harness/engine';
import { GOOD_KEY, closeStandins, openStandin } from './harness/faults';

afterAll(closeStandins);

function hintsOf(result: RunResult): NodeExecutionHint[] {
	const runs = result.run.data.resultData.runData[CLOMAN_NODE_NAME] ?? [];
	return (runs[runs.length - 1]?.hints ?? []) as NodeExecutionHint[];
}

const parameters = (routeBy: string, options: INodeParameters = {}): INodeParameters => ({
	operation: 'decide',
	context: "={{ 'Refund ' + $json.amount + ' for ' + $json.id + '?' }}",
	actionType: 'refund',
	dataMode: 'inputItem',
	routeBy,
	options,
});

test('a run without 429s: items per output, no rate-limit waits, no retries', async () => {
	const standin = await openStandin({ latencyMs: 5 });
	// The stand-in's policy: ≤ 100 approve, 100–500 approve with review, > 500 deny.
	const amounts = [50, 300, 800, 20, 450];
	const result = await runCloMan({
		items: amounts.map((amount, i) => ({ id: `h-${i}`, amount })),
		parameters: parameters('review'),
		credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
	});
	expect(result.error).toBeUndefined();
	expect(result.outputs.map((items) => items.length)).toEqual([3, 2]);
	const hints = hintsOf(result);
	expect(hints).toHaveLength(1);
	expect(hints[0].type).toBe('info');
	expect(hints[0].location).toBe('outputPane');
	expect(hints[0].message).toMatch(/^CloMan Decide: 5 items → [^,]+ 3, [^,]+ 2\. /);
	expect(hints[0].message).toContain('Rate limits: no 429 answers');
	expect(hints[0].message).toContain('Retries: 0.');
	expect(hints[0].message).not.toContain('Pace settled on');
});

test('a rate-limited run: 429 count and retries as the stand-in saw them, the wait, the pace', async () => {
	// 4 requests/s, a burst of 2: 16 items at Concurrency 4 meet several 429s with Retry-After 1 s.
	const standin = await openStandin({ latencyMs: 20, rateLimit: { perSecond: 4, burst: 2 } });
	const count = 16;
	const result = await runCloMan({
		items: Array.from({ length: count }, (_, i) => ({ id: `r-${i}`, amount: 50 })),
		parameters: parameters('single', { concurrency: 4 }),
		credential: { apiKey: GOOD_KEY, baseUrl: standin.url },
		onError: 'continueErrorOutput',
	});
	expect(result.error).toBeUndefined();
	expect(result.outputs[0]).toHaveLength(count);
	expect(result.outputs[1] ?? []).toHaveLength(0);
	const statuses = [...standin.answers.values()].map((answer) => answer.status);
	const refused = statuses.filter((status) => status === 429).length;
	// At least the first (the slow start spaces its requests, so it can stop at one).
	expect(refused).toBeGreaterThanOrEqual(1);
	expect(statuses).toHaveLength(count + refused);

	const [hint] = hintsOf(result);
	expect(hint.type).toBe('warning');
	expect(hint.message).toMatch(new RegExp(`^CloMan Decide: ${count} items → [^.;]+ ${count}\\. `));
	expect(hint.message).toContain(`Rate limits: ${refused} 429 answer${refused === 1 ? '' : 's'}; items waited `);
	// Every 429 said Retry-After: 1 (whole seconds): each refused item waited at least that long.
	const waited = Number(/items waited ([\d.]+) s/.exec(hint.message)?.[1]);
	expect(waited).toBeGreaterThanOrEqual(refused * 0.95);
	expect(hint.message).toContain(`Retries: ${refused}.`);
	const pace = /Pace settled on: ([\d.]+) requests\/s, up to (\d+) in flight/.exec(hint.message);
	if (pace) {
		// A pace is learned only from 429s; whatever was learned lies near the stand-in's 4 requests/s.
		expect(Number(pace[1])).toBeGreaterThan(1);
		expect(Number(pace[1])).toBeLessThan(12);
		expect(Number(pace[2])).toBeLessThanOrEqual(4);
	}
});
