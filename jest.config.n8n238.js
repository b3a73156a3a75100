// Engine tests against the n8n 2.0–2.38 line: n8n 2.38.5 ships n8n-core 2.38.2 / n8n-workflow 2.38.1
// (the last n8n-core before 2.39.0, which passes on every output of a resumed node), installed by
// scripts/install-n8n-core-2.38.sh into .cache/n8n-core-2.38 (mapping: jest.engine-line.js).
// Only what differs below 2.39: the resume's outputs (Review), Decide's routing, and the line check.
// `npm run test:n8n238` installs, builds and runs this config.
module.exports = require('./jest.engine-line')({
	folder: 'n8n-core-2.38',
	install: 'scripts/install-n8n-core-2.38.sh',
	name: '2.38',
	displayName: 'n8n 2.38 engine',
	testMatch: ['<rootDir>/test/resume-outputs.engine.test.ts', '<rootDir>/test/decide.engine.test.ts', '<rootDir>/test/n8n-line.engine.test.ts'],
});
