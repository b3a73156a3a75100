#!/usr/bin/env node
// n8n's verification checks, offline.
//
// `npx @n8n/scan-community-package <name>` needs the registry and the package's provenance, so it can
// only run after publishing. What it decides with is its exported `analyzePackage`, which runs here on
// the two things it looks at: the source (`package.json`, `nodes/`, `credentials/`, with every rule
// and inline `eslint-disable` comments ignored, as the scanner does) and the unpacked `npm pack`
// tarball (compiled `.js` and the published `package.json`). On top, the checks the verification
// makes beside linting: no runtime dependencies, no install scripts, and a tarball that holds every
// node, credential, codex file and icon the `n8n` block names, with `usableAsTool` set on the node.
//
// Prints one line per check and exits 1 if any fails.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
	analyzePackage,
	SOURCE_FILE_PATTERNS,
} from '@n8n/scan-community-package/scanner/scanner.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cloman-scan-'));
const results = [];
const check = (name, passed, details = '') => {
	results.push({ name, passed });
	console.log(`${passed ? 'PASS' : 'FAIL'}  ${name}${details ? `\n${details}` : ''}`);
};

try {
	// The project's .npmrc sets ignore-scripts, so `npm pack` would not run `prepack`: build first.
	execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
	const packed = JSON.parse(
		execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
			cwd: root,
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'inherit'],
		}),
	)[0];
	const tarball = path.join(work, packed.filename);
	const unpacked = path.join(work, 'package');
	fs.mkdirSync(unpacked);
	execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
	const files = packed.files.map((f) => f.path);
	console.log(`packed ${packed.filename}: ${files.length} files, ${packed.size} bytes`);

	const source = await analyzePackage(root, SOURCE_FILE_PATTERNS);
	check('scanner: source (package.json, nodes/, credentials/)', source.passed, source.details ?? source.message);
	const dist = await analyzePackage(unpacked, ['**/*.js', 'package.json']);
	check('scanner: unpacked tarball (compiled .js, package.json)', dist.passed, dist.details ?? dist.message);

	const pkg = JSON.parse(fs.readFileSync(path.join(unpacked, 'package.json'), 'utf8'));
	const deps = Object.keys(pkg.dependencies ?? {});
	check('no runtime dependencies', deps.length === 0, deps.join(', '));
	const installScripts = ['preinstall', 'install', 'postinstall'].filter((s) => pkg.scripts?.[s]);
	check('no install scripts', installScripts.length === 0, installScripts.join(', '));
	check(
		'n8n-workflow is a peer dependency only',
		pkg.peerDependencies?.['n8n-workflow'] !== undefined,
	);
	check(
		'keyword n8n-community-node-package, n8nNodesApiVersion 1, strict',
		pkg.keywords?.includes('n8n-community-node-package') &&
			pkg.n8n?.n8nNodesApiVersion === 1 &&
			pkg.n8n?.strict === true,
	);

	// Every node and credential the n8n block names is in the tarball, with what the editor needs.
	// n8n provides the peer n8n-workflow to community packages; here the project's copy stands in.
	fs.mkdirSync(path.join(unpacked, 'node_modules'));
	fs.symlinkSync(path.join(root, 'node_modules', 'n8n-workflow'), path.join(unpacked, 'node_modules', 'n8n-workflow'));
	const require = createRequire(path.join(unpacked, 'package.json'));
	const missing = [];
	/** Whether the tarball holds `rel`; a missing file is recorded for the check below. */
	const has = (rel) => {
		if (files.includes(rel)) return true;
		missing.push(rel);
		return false;
	};
	/** Instances of the classes `file` exports (none when it is not in the tarball). */
	const instancesIn = (file) => (has(file) ? Object.values(require(path.join(unpacked, file))).map((Cls) => new Cls()) : []);
	/** The icon files a description names, each checked to be beside `file` in the tarball; returns how many. */
	const iconCount = (icon, file) => {
		const icons = typeof icon === 'string' ? [icon] : Object.values(icon ?? {});
		for (const name of icons) has(path.posix.join(path.posix.dirname(file), name.replace(/^file:/, '')));
		return icons.length;
	};
	for (const nodeFile of pkg.n8n.nodes) {
		const codexFile = nodeFile.replace(/\.js$/, '.json');
		const hasCodex = has(codexFile);
		for (const { description } of instancesIn(nodeFile)) {
			const icons = iconCount(description.icon, nodeFile);
			check(`${description.name}: usableAsTool`, description.usableAsTool === true);
			check(`${description.name}: light and dark icons`, icons === 2);
			const codex = hasCodex ? JSON.parse(fs.readFileSync(path.join(unpacked, codexFile), 'utf8')) : {};
			check(
				`${description.name}: codex with categories, aliases and documentation`,
				codex.node === `n8n-nodes-cloman.${description.name}` &&
					codex.categories?.length > 0 &&
					codex.alias?.length > 0 &&
					codex.resources?.primaryDocumentation?.length > 0,
			);
		}
	}
	for (const credFile of pkg.n8n.credentials) {
		for (const cred of instancesIn(credFile)) {
			const icons = iconCount(cred.icon, credFile);
			check(`${cred.name}: icons, test request, documentation URL`, icons === 2 && !!cred.test && !!cred.documentationUrl);
		}
	}
	check('tarball holds every file the n8n block and descriptions name', missing.length === 0, missing.join('\n'));
	const stray = files.filter((f) => !/^(dist\/|package\.json$|README\.md$|LICENSE|CHANGELOG\.md$|index\.js$)/.test(f));
	check('tarball holds only dist/, package.json, index.js and docs', stray.length === 0, stray.join('\n'));
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.passed).length;
console.log(`scan: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
