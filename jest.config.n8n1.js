// The engine-level tests (test/**/*.engine.test.ts) against the n8n 1.x line: n8n 1.123.81 ships
// n8n-core 1.122.48 / n8n-workflow 1.120.31, installed by scripts/install-n8n-core-1x.sh into
// .cache/n8n-core-1x (mapping: jest.engine-line.js). `npm run test:n8n1` installs, builds and runs this config.
module.exports = require('./jest.engine-line')({
	folder: 'n8n-core-1x',
	install: 'scripts/install-n8n-core-1x.sh',
	name: '1',
	displayName: 'n8n 1.x engine',
	testMatch: ['<rootDir>/test/**/*.engine.test.ts'],
});
