// The engine-level tests (test/**/*.engine.test.ts) against the n8n 1.x line: n8n 1.123.81 ships
// n8n-core 1.122.48 / n8n-workflow 1.120.31, installed by scripts/install-n8n-core-1x.sh into
// .cache/n8n-core-1x. moduleNameMapper applies to every require in the test run — the harness, n8n-core
// and the built node in dist/ (loaded by PackageDirectoryLoader) — so all of them get the 1.x copies.
// `npm run test:n8n1` installs, builds and runs this config.
const { existsSync } = require('node:fs');
const path = require('node:path');

const base = require('./jest.config');

const ENGINE_1X = path.join(__dirname, '.cache', 'n8n-core-1x', 'node_modules');
if (!existsSync(path.join(ENGINE_1X, 'n8n-core', 'package.json'))) {
	throw new Error(`n8n 1.x engine missing in ${ENGINE_1X}: run scripts/install-n8n-core-1x.sh`);
}

// Read by test/n8n-line.engine.test.ts (and any line-specific expectation); jest workers inherit it.
process.env.N8N_LINE = '1';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Packages the harness/tests could import that n8n-core 1.x also uses: they must be the same instances
// (@n8n/di's Container is a singleton; n8n-workflow's classes are checked with instanceof).
const SHARED = ['n8n-workflow', 'n8n-core', '@n8n/di', '@n8n/config', '@n8n/backend-common', '@n8n/decorators', '@n8n/constants'];

const moduleNameMapper = { ...(base.moduleNameMapper ?? {}) };
// n8n-workflow's package.json "exports" maps "./common" to dist/cjs; a path mapping bypasses "exports".
moduleNameMapper['^n8n-workflow/common$'] = path.join(ENGINE_1X, 'n8n-workflow', 'dist', 'cjs', 'common', 'index.js');
for (const name of SHARED) {
	moduleNameMapper[`^${escape(name)}$`] = path.join(ENGINE_1X, name);
	moduleNameMapper[`^${escape(name)}/(.*)$`] = `${path.join(ENGINE_1X, name)}/$1`;
}

module.exports = {
	...base,
	displayName: 'n8n 1.x engine',
	testMatch: ['<rootDir>/test/**/*.engine.test.ts'],
	moduleNameMapper,
};
