'use strict';
// Lets plain Node require the repo's TypeScript test harness (test/harness/*.ts) without ts-node:
// each .ts file is transpiled in memory (types dropped, no type check) and compiled under its own
// filename, so its __dirname (and the harness's PACKAGE_ROOT) stay what they are in the repo.
const fs = require('node:fs');
const ts = require('typescript');

if (!require.extensions['.ts']) {
	require.extensions['.ts'] = (module, filename) => {
		const source = fs.readFileSync(filename, 'utf8');
		const { outputText } = ts.transpileModule(source, {
			fileName: filename,
			compilerOptions: {
				module: ts.ModuleKind.CommonJS,
				target: ts.ScriptTarget.ES2022,
				esModuleInterop: true,
				sourceMap: false,
			},
		});
		module._compile(outputText, filename);
	};
}
