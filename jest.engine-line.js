// Engine tests against another n8n line than the devDependencies': n8n-core / n8n-workflow (and the
// @n8n/* packages they share with the harness) mapped to an install under .cache/ (written by
// scripts/install-n8n-engine.sh). moduleNameMapper applies to every require in the test run — the
// harness, n8n-core and the built node in dist/ (loaded by PackageDirectoryLoader) — so all of them
// get that line's copies. Used by jest.config.n8n1.js and jest.config.n8n238.js.
const { existsSync } = require('node:fs');
const path = require('node:path');

const base = require('./jest.config');

/**
 * @param {object} line
 * @param {string} line.folder   folder under .cache/ with node_modules/n8n-core and n8n-workflow
 * @param {string} line.install  the script that installs it (named in the error when it is missing)
 * @param {string} line.name     N8N_LINE, read by the tests for line-specific expectations
 * @param {string} line.displayName
 * @param {string[]} line.testMatch
 */
module.exports = function engineLineConfig({ folder, install, name, displayName, testMatch }) {
	const engine = path.join(__dirname, '.cache', folder, 'node_modules');
	if (!existsSync(path.join(engine, 'n8n-core', 'package.json'))) {
		throw new Error(`${displayName} missing in ${engine}: run ${install}`);
	}
	// Read by the tests (test/n8n-line.engine.test.ts and others); jest workers inherit it.
	process.env.N8N_LINE = name;

	const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	// Packages the harness/tests could import that n8n-core also uses: they must be the same instances
	// (@n8n/di's Container is a singleton; n8n-workflow's classes are checked with instanceof).
	const SHARED = ['n8n-workflow', 'n8n-core', '@n8n/di', '@n8n/config', '@n8n/backend-common', '@n8n/decorators', '@n8n/constants'];

	const moduleNameMapper = { ...(base.moduleNameMapper ?? {}) };
	// n8n-workflow's package.json "exports" maps "./common" to dist/cjs; a path mapping bypasses "exports".
	moduleNameMapper['^n8n-workflow/common$'] = path.join(engine, 'n8n-workflow', 'dist', 'cjs', 'common', 'index.js');
	for (const shared of SHARED) {
		moduleNameMapper[`^${escape(shared)}$`] = path.join(engine, shared);
		moduleNameMapper[`^${escape(shared)}/(.*)$`] = `${path.join(engine, shared)}/$1`;
	}
	return { ...base, displayName, testMatch, moduleNameMapper };
};
