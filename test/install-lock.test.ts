/**
 * The install lock of scripts/lib/harness.mjs (withInstallLock), which keeps demo, e2e, editor and
 * bench from installing n8n / Node 24 / playwright-core into the same .cache folder at once: real
 * processes (test/harness/lock-contender.mjs) contend for the real lock on a temporary folder, with a
 * fake install of a few hundred milliseconds in place of npm.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const CONTENDER = path.join(__dirname, 'harness', 'lock-contender.mjs');
const LOCK = '.install.lock';

interface Exit {
	code: number | null;
	stdout: string;
	stderr: string;
	pid: number;
}

function contend(dir: string, name: string, holdMs: number, timeoutMs = 20_000, mode = 'install') {
	const child = spawn(process.execPath, [CONTENDER, dir, name, String(holdMs), String(timeoutMs), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
	let stdout = '';
	let stderr = '';
	child.stdout.on('data', (d) => (stdout += d));
	child.stderr.on('data', (d) => (stderr += d));
	const done = new Promise<Exit>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid! })));
	return { child, done };
}

function journal(dir: string): Array<{ name: string; step: string }> {
	const file = path.join(dir, 'journal.log');
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8')
		.trim()
		.split('\n')
		.map((line) => {
			const [name, step] = line.split(' ');
			return { name, step };
		});
}

async function until(check: () => boolean, ms = 10_000) {
	const deadline = Date.now() + ms;
	while (!check()) {
		if (Date.now() > deadline) throw new Error('condition not reached');
		await new Promise((r) => setTimeout(r, 20));
	}
}

const dirs: string[] = [];
function tempDir() {
	const dir = mkdtempSync(path.join(tmpdir(), 'cloman-lock-'));
	dirs.push(dir);
	return dir;
}
afterAll(() => {
	for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('install lock (scripts/lib/harness.mjs withInstallLock) across processes', () => {
	it('lets three processes started together install once, one at a time; the others wait, naming the holder', async () => {
		const dir = tempDir();
		const runs = ['a', 'b', 'c'].map((name) => contend(dir, name, 800));
		const exits = await Promise.all(runs.map((r) => r.done));
		for (const e of exits) expect({ code: e.code, stderr: e.stderr }).toEqual({ code: 0, stderr: '' });

		const steps = journal(dir);
		// Never two inside at once: every "enter" is followed by the same process's "leave" before the next "enter".
		const inside = steps.filter((s) => s.step !== 'install');
		expect(inside).toHaveLength(6);
		for (let i = 0; i < inside.length; i += 2) {
			expect(inside[i].step).toBe('enter');
			expect(inside[i + 1]).toEqual({ name: inside[i].name, step: 'leave' });
		}
		// Exactly one install; the first process in did it and the marker is its.
		const installs = steps.filter((s) => s.step === 'install');
		expect(installs).toEqual([{ name: inside[0].name, step: 'install' }]);
		expect(readFileSync(path.join(dir, 'installed.txt'), 'utf8')).toBe(inside[0].name);

		// The two that came later waited on the installer's lock and said whose it was.
		const installer = exits[['a', 'b', 'c'].indexOf(inside[0].name)];
		const waiters = exits.filter((e) => e !== installer);
		for (const w of waiters) {
			expect(w.stdout).toMatch(new RegExp(`waiting for another install into .*: lock held by pid ${installer.pid} on `));
			expect(w.stdout).toMatch(/got the install lock after \d+\.\ds/);
		}
		expect(installer.stdout).not.toMatch(/waiting for another install/);
		expect(existsSync(path.join(dir, LOCK))).toBe(false);
	});

	it('takes over a lock whose process was killed in the middle of its install (two waiters: one takes over, one installs)', async () => {
		const dir = tempDir();
		const killed = contend(dir, 'killed', 60_000);
		await until(() => journal(dir).some((s) => s.name === 'killed' && s.step === 'install'));
		killed.child.kill('SIGKILL');
		await killed.done;
		expect(JSON.parse(readFileSync(path.join(dir, LOCK), 'utf8')).pid).toBe(killed.child.pid);

		const started = Date.now();
		const next = await Promise.all([contend(dir, 'x', 300, 30_000).done, contend(dir, 'y', 300, 30_000).done]);
		expect(next.map((e) => e.code)).toEqual([0, 0]);
		expect(Date.now() - started).toBeLessThan(10_000);
		const stale = new RegExp(`removed a stale install lock \\(pid ${killed.child.pid} on .*that process is gone\\)`);
		expect(next.filter((e) => stale.test(e.stdout)).length).toBeGreaterThanOrEqual(1);

		// The killed install is redone exactly once, by whichever got the lock first; the other found it done.
		const steps = journal(dir).map((s) => `${s.name} ${s.step}`);
		expect(steps.slice(0, 2)).toEqual(['killed enter', 'killed install']);
		const first = journal(dir)[2].name;
		const second = first === 'x' ? 'y' : 'x';
		expect(steps.slice(2)).toEqual([`${first} enter`, `${first} install`, `${first} leave`, `${second} enter`, `${second} leave`]);
		expect(readFileSync(path.join(dir, 'installed.txt'), 'utf8')).toBe(first);
		expect(existsSync(path.join(dir, LOCK))).toBe(false);
	});

	it('releases the lock when its process exits while holding it', async () => {
		const dir = tempDir();
		const exited = await contend(dir, 'quitter', 0, 5_000, 'exit-inside').done;
		expect(exited.code).toBe(3);
		expect(journal(dir)).toEqual([{ name: 'quitter', step: 'enter' }]);
		expect(existsSync(path.join(dir, LOCK))).toBe(false);
	});

	it('gives up after its bound with a message naming the lock file and the live holder', async () => {
		const dir = tempDir();
		const holder = contend(dir, 'holder', 60_000);
		try {
			await until(() => existsSync(path.join(dir, LOCK)));
			const waiter = await contend(dir, 'waiter', 100, 1_000).done;
			expect(waiter.code).toBe(2);
			expect(waiter.stderr).toContain(`fake install waiter: gave up after waiting 1s for the install lock ${path.join(dir, LOCK)}, held by pid ${holder.child.pid} on `);
			expect(waiter.stderr).toContain('If no install is running there any more, delete that file');
			expect(journal(dir).some((s) => s.name === 'waiter')).toBe(false);
		} finally {
			holder.child.kill('SIGKILL');
			await holder.done;
		}
	});
});
