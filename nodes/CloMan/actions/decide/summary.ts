import type { INodeExecutionData, NodeExecutionHint } from 'n8n-workflow';

import type { DecideResult } from '../../transport';

/** What one Decide run did, for the execution hint (see runSummaryHint). */
export interface RunSummary {
	/** Output names, as the node shows them. */
	outputNames: string[];
	outputs: INodeExecutionData[][];
	results: Array<DecideResult | undefined>;
	/** Where failed items went: an output index, or 'error' for the error output. */
	failureOutput: number | 'error';
	itemCount: number;
	/** 429 answers this run got. */
	rateLimited: number;
	/** Time items waited after a 429 before their next attempt, summed over items, in ms. */
	rateLimitWaitMs: number;
	/** Attempts after the first, over all items (after 429s and after other retryable failures). */
	retries: number;
	/** The pace learned for the credential in this process, requests per second (undefined: none needed). */
	ratePerSecond?: number;
	/** The adaptive limit on requests in flight (Infinity: none needed) and this run's Concurrency. */
	inFlightLimit: number;
	concurrency: number;
}

function plural(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}

function seconds(ms: number): string {
	return `${Math.round(ms / 100) / 10} s`;
}

/**
 * The execution hint shown after Decide (n8n's output pane): items per output, rate-limit waits, the
 * pace settled on and retries, so a slow scheduled batch explains itself in the editor.
 */
export function runSummaryHint(summary: RunSummary): NodeExecutionHint {
	const failed = summary.results.filter((r) => r !== undefined && !r.ok).length;
	const perOutput = summary.outputNames.map((name, j) => {
		const count = (summary.outputs[j]?.length ?? 0) - (summary.failureOutput === j ? failed : 0);
		return `${name} ${count}`;
	});
	const placed = summary.outputs.reduce((n, items) => n + items.length, 0);
	const parts = [`CloMan Decide: ${plural(summary.itemCount, 'item')} → ${perOutput.join(', ')}`];
	if (failed > 0) {
		const where = summary.failureOutput === 'error' ? 'the error output' : summary.outputNames[summary.failureOutput];
		parts[0] += `; ${failed} failed (on ${where})`;
	}
	if (placed < summary.itemCount) parts[0] += `; ${summary.itemCount - placed} discarded (Fallback: None)`;
	if (summary.rateLimited === 0) {
		parts.push('Rate limits: no 429 answers');
	} else {
		parts.push(
			`Rate limits: ${plural(summary.rateLimited, '429 answer')}; items waited ${seconds(summary.rateLimitWaitMs)} for them in all (summed over items)`,
		);
	}
	if (summary.ratePerSecond !== undefined) {
		const limit = Number.isFinite(summary.inFlightLimit) ? Math.min(summary.inFlightLimit, summary.concurrency) : summary.concurrency;
		parts.push(
			`Pace settled on: ${Math.round(summary.ratePerSecond * 10) / 10} requests/s, up to ${limit} in flight (learned from the 429s and any rate-limit headers of this credential in this n8n process)`,
		);
	}
	parts.push(`Retries: ${summary.retries}`);
	return {
		message: `${parts.join('. ')}.`,
		type: summary.rateLimited > 0 || failed > 0 ? 'warning' : 'info',
		location: 'outputPane',
	};
}
