/**
 * Which n8n line the engine tests run on: N8N_LINE=1 (set by jest.config.n8n1.js, `npm run test:n8n1`)
 * means n8n 1.x — n8n-core 1.122.48 / n8n-workflow 1.120.31 from .cache/n8n-core-1x, as n8n 1.123.81
 * ships them; N8N_LINE=2.38 (jest.config.n8n238.js, `npm run test:n8n238`) means n8n-core 2.38.2 /
 * n8n-workflow 2.38.1 from .cache/n8n-core-2.38, as n8n 2.38.5 ships them; anything else means the
 * 2.x devDependencies. Checks that the harness, n8n-core and the
 * built node in dist/ all got that line's single n8n-workflow, and that a run goes through.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

import { NodeOperationError } from 'n8n-workflow';
import type { INode } from 'n8n-workflow';

import { PACKAGE_ROOT, loadPackage, runCloMan } from './harness/engine';
import { startStandin } from './standin/server';
import type { Standin } from './standin/server';

const LINE_1 = process.env.N8N_LINE === '1';
const LINES: Record<string, { major: number; core?: string; workflow?: string; dir: string }> = {
	'1': { major: 1, core: '1.122.48', workflow: '1.120.31', dir: path.join(PACKAGE_ROOT, '.cache', 'n8n-core-1x', 'node_modules') },
	// N8N_LINE=2.38 (jest.config.n8n238.js, `npm run test:n8n238`): what n8n 2.38.5 ships.
	'2.38': { major: 2, core: '2.38.2', workflow: '2.38.1', dir: path.join(PACKAGE_ROOT, '.cache', 'n8n-core-2.38', 'node_modules') },
};
const EXPECTED = LINES[process.env.N8N_LINE ?? ''] ?? { major: 2, core: undefined, workflow: undefined, dir: path.join(PACKAGE_ROOT, 'node_modules') };

const packageDir = (name: string, from?: string) =>
	path.dirname(require.resolve(`${name}/package.json`, from ? { paths: [from] } : undefined));
const versionOf = (dir: string): string => require(path.join(dir, 'package.json')).version;

describe(`n8n ${EXPECTED.major}.x line (N8N_LINE=${process.env.N8N_LINE ?? ''})`, () => {
	const coreDir = packageDir('n8n-core');
	const workflowDir = packageDir('n8n-workflow');

	test('n8n-core and n8n-workflow are the expected versions, from the expected install', () => {
		const core = versionOf(coreDir);
		const workflow = versionOf(workflowDir);
		expect(Number(core.split('.')[0])).toBe(EXPECTED.major);
		expect(Number(workflow.split('.')[0])).toBe(EXPECTED.major);
		if (EXPECTED.core) expect(core).toBe(EXPECTED.core);
		if (EXPECTED.workflow) expect(workflow).toBe(EXPECTED.workflow);
		// (real paths: in a worktree .cache and node_modules may be symlinks)
		expect(realpathSync(coreDir)).toBe(realpathSync(path.join(EXPECTED.dir, 'n8n-core')));
		expect(realpathSync(workflowDir)).toBe(realpathSync(path.join(EXPECTED.dir, 'n8n-workflow')));
		// The module objects the harness imports are that install's.
		expect(require('n8n-workflow/package.json').version).toBe(workflow);
		expect(require('n8n-core/package.json').version).toBe(core);
	});

	test('n8n-core uses the same n8n-workflow as the harness', () => {
		// One copy: what n8n-core's own require('n8n-workflow') resolves to, and n8n-core's declared version.
		expect(packageDir('n8n-workflow', coreDir)).toBe(workflowDir);
		const declared = require(path.join(coreDir, 'package.json')).dependencies['n8n-workflow'];
		if (EXPECTED.workflow) expect(declared).toBe(versionOf(workflowDir));
	});

	test('the built node (dist/, loaded by PackageDirectoryLoader) gets that n8n-workflow', async () => {
		const { loader } = await loadPackage();
		expect(Object.keys(loader.nodeTypes)).toContain('cloMan');
		// Same path as the loader required → the same module instance, whose require('n8n-workflow') went
		// through the same mapping: its errors are the harness's n8n-workflow classes.
		const { inputFailure, toNodeError } = require(path.join(PACKAGE_ROOT, 'dist', 'nodes', 'CloMan', 'transport', 'errors.js'));
		const node = { id: 'n', name: 'CloMan', type: 'n8n-nodes-cloman.cloMan', typeVersion: 1, position: [0, 0], parameters: {} } as INode;
		const error = toNodeError(node, inputFailure('context', 'probe'), 0);
		expect(error).toBeInstanceOf(NodeOperationError);
	});

	describe('a run through WorkflowExecute', () => {
		let standin: Standin;
		beforeAll(async () => {
			standin = await startStandin();
		});
		afterAll(async () => {
			await standin?.close();
		});

		test('routes an item by review', async () => {
			const result = await runCloMan({
				items: [{ amount: 50 }, { amount: 300 }],
				parameters: { operation: 'decide', context: '={{ "Refund " + $json.amount }}', actionType: 'refund', dataMode: 'inputItem' },
				credential: { apiKey: 'cloman_sk_test_good', baseUrl: standin.url },
			});
			expect(result.error).toBeUndefined();
			expect(result.status).toBe('success');
			// Default policy: 50 → approve, no review ("Auto-Decided"); 300 → approve but needs review ("Needs Review").
			expect(result.outputs.map((items) => items.length)).toEqual([1, 1]);
		});
	});

	describe('Review ("Wait for Human Review") on this line', () => {
		const items = [
			{ id: 'a', cloman: { decision: 'approve' } },
			{ id: 'b', cloman: { decision: 'deny' } },
		];
		const review = async (onError?: 'continueRegularOutput') =>
			await runCloMan({
				items,
				parameters: { operation: 'review' },
				credential: { apiKey: 'cloman_sk_test_good', baseUrl: 'http://127.0.0.1:9' },
				onError,
			});

		if (LINE_1) {
			test('refuses: unsigned resume links and one output on resume; says what to do; nothing waits', async () => {
				const result = await review();
				expect(result.status).toBe('error');
				expect(result.run.waitTill).toBeUndefined();
				expect(result.error?.message).toBe(
					'"Wait for Human Review" needs n8n 2.x: this n8n gives resume links without a signature, so anyone who knows the execution id could submit the review, and it keeps only the first output when a run resumes.',
				);
				expect(result.error?.description).toMatch(/^Upgrade n8n to 2\.x, or send the Needs Review items to n8n's Wait node/);
			});

			test('under "Continue" every item fails on "Not Reviewed", none on a decision output, nothing waits', async () => {
				const result = await review('continueRegularOutput');
				expect(result.status).toBe('success');
				expect(result.run.waitTill).toBeUndefined();
				expect(result.outputs.slice(1).flat()).toEqual([]);
				expect(result.outputs[0].map((item) => item.json.id)).toEqual(['a', 'b']);
				expect(result.outputs[0][0].json.error).toMatchObject({ code: 'REVIEW_NOT_STARTED' });
			});
		} else {
			test('waits, with a resume token in the execution (the link is signed)', async () => {
				const result = await review();
				expect(result.error).toBeUndefined();
				expect(result.status).toBe('waiting');
				expect(JSON.parse(result.stored.data).resumeToken).toMatch(/^[0-9a-f]{64}$/);
			});
		}
	});
});
