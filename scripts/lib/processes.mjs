// Child processes: every one is tracked and ended (its whole process group) when we exit.
// Also a free loopback port and sleep.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { log } from './log.mjs';
import { ROOT } from './paths.mjs';

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
