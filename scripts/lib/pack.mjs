// The package itself: build and npm pack into .cache/pack.
import fs from 'node:fs';
import path from 'node:path';
import { CACHE, LOGS, ROOT } from './paths.mjs';
import { run } from './processes.mjs';

/**
 * npm run build, then npm pack into `dest` (default .cache/pack, emptied first); returns the tarball's
 * absolute path. Worktrees that share one .cache (symlinked) also share .cache/pack, and the tarball's
 * name is the same for all of them: a run that must install its own build passes a folder of its own.
 */
export async function buildAndPack({ dest = path.join(CACHE, 'pack') } = {}) {
	await run('npm', ['run', 'build'], { logFile: path.join(LOGS, 'build.log') });
	const main = path.join(ROOT, 'dist', 'nodes', 'CloMan', 'CloMan.node.js');
	if (!fs.existsSync(main)) throw new Error(`npm run build did not produce ${path.relative(ROOT, main)}`);
	fs.rmSync(dest, { recursive: true, force: true });
	fs.mkdirSync(dest, { recursive: true });
	// --ignore-scripts: the build above already ran (prepack would run it again).
	const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], {
		logFile: path.join(LOGS, 'build.log'),
	});
	const [info] = JSON.parse(stdout.slice(stdout.indexOf('[')));
	const tarball = path.join(dest, info.filename);
	if (!fs.existsSync(tarball)) throw new Error(`npm pack did not write ${tarball}`);
	const files = info.files.map((f) => f.path);
	for (const needed of ['dist/nodes/CloMan/CloMan.node.js', 'dist/credentials/CloManApi.credentials.js', 'package.json']) {
		if (!files.includes(needed)) throw new Error(`the packed tarball lacks ${needed}`);
	}
	return { tarball, files, size: info.size, version: info.version };
}
