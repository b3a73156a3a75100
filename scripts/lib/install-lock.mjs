// The install lock: one install at a time per folder, across processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log } from './log.mjs';
import { ROOT, shownPath } from './paths.mjs';
import { sleep } from './processes.mjs';

// One install at a time per folder, across processes: demo, e2e, editor and bench may all run at once
// on one .cache (worktrees share it through symlinks), and each thing must be installed exactly once.

/** The lock file lives inside the install folder, so every path that reaches the folder (symlinks too) finds it. */
export const INSTALL_LOCK = '.install.lock';
const HOST = os.hostname();
const heldLocks = new Map(); // lock file → our token, removed on exit even when the process ends abruptly

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
