// n8n queue mode for the queue e2e tier (e2e/queue.mjs): Debian's PostgreSQL and Redis (installed by
// scripts/install-queue-services.sh when missing), each run as a throwaway server on 127.0.0.1, and the
// environment that turns an n8n process of the harness into the main process or a worker.
//
// Every server here runs under coreutils' `timeout` (a bounded lifetime even if this Node process is
// killed with SIGKILL) and is tracked by the harness, which kills its process group on exit.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { LOGS, ROOT, freePort, run, sleep, startProcess } from './harness.mjs';

/** Temporary folders of the servers here: removed when they stop, and at the latest when we exit. */
const tempDirs = new Set();
process.on('exit', () => {
	for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	tempDirs.add(dir);
	return dir;
}

function removeTempDir(dir) {
	fs.rmSync(dir, { recursive: true, force: true });
	tempDirs.delete(dir);
}

/** Runs scripts/install-queue-services.sh (apt-get install postgresql redis-server when missing). */
export async function ensureQueueServices() {
	const logFile = path.join(LOGS, 'queue-services-install.log');
	const r = await run('bash', [path.join(ROOT, 'scripts', 'install-queue-services.sh')], { logFile, timeoutMs: 25 * 60_000 });
	const lines = r.stdout.trim().split('\n');
	return { installed: lines.some((l) => l.startsWith('installed ')), summary: lines.at(-1) };
}

/** The newest /usr/lib/postgresql/<major>/bin with the server and the client tools. */
export function pgBin() {
	const base = '/usr/lib/postgresql';
	const majors = fs.existsSync(base) ? fs.readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
	for (const major of majors) {
		const dir = path.join(base, major, 'bin');
		if (['postgres', 'initdb', 'pg_isready', 'psql', 'pg_dump'].every((b) => fs.existsSync(path.join(dir, b)))) return dir;
	}
	throw new Error('no PostgreSQL server in /usr/lib/postgresql/*/bin (scripts/install-queue-services.sh installs it)');
}

/** A command wrapped in `timeout`: TERM after lifetimeSeconds, KILL 10 s later. */
function bounded(lifetimeSeconds, cmd, args) {
	return ['timeout', ['--kill-after=10', String(lifetimeSeconds), cmd, ...args]];
}

/** Prefix that runs a command as the `postgres` OS user (Postgres refuses root); setpriv execs, no fork. */
function asPostgres(cmd, args) {
	return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', '--', cmd, ...args]];
}

function postgresIds() {
	const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
	const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
	if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('there is no `postgres` OS user (the postgresql package creates it)');
	return { uid, gid };
}

async function waitFor(label, probe, { timeoutMs = 60_000, exited } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (exited?.()) throw new Error(`${label} exited before it was ready`);
		if (await probe()) return;
		if (Date.now() > deadline) throw new Error(`${label} was not ready within ${timeoutMs / 1000} s`);
		await sleep(250);
	}
}

/**
 * A throwaway PostgreSQL cluster: initdb into a fresh folder owned by `postgres`, the server on
 * 127.0.0.1 and a free port (its unix socket inside that folder), a superuser `n8n` with a random
 * password (scram-sha-256), a database `n8n`. The folder is in the system's temp folder, not in the
 * clone, because the `postgres` user may not be able to reach the clone (e.g. under /root).
 * stop() ends the server and deletes the folder.
 */
export async function startPostgres({ lifetimeSeconds }) {
	if (process.getuid?.() !== 0) throw new Error('the queue tier runs Postgres as the `postgres` OS user and must run as root');
	const bin = pgBin();
	const { uid, gid } = postgresIds();
	const dir = tempDir('cloman-queue-pg-');
	fs.chownSync(dir, uid, gid);
	fs.chmodSync(dir, 0o700);
	const dataDir = path.join(dir, 'data');
	const password = crypto.randomBytes(18).toString('base64url');
	const pwFile = path.join(dir, 'pw');
	fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
	fs.chownSync(pwFile, uid, gid);
	const logFile = path.join(LOGS, 'queue-postgres.log');
	fs.writeFileSync(logFile, '');
	const env = { ...process.env, HOME: dir, LC_ALL: 'C' };
	const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), [
		'-D', dataDir, '-U', 'n8n', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-locale', '--no-sync',
	]);
	await run(initCmd, initArgs, { cwd: dir, env, logFile, timeoutMs: 2 * 60_000 });
	fs.rmSync(pwFile, { force: true });
	const port = await freePort();
	const [cmd, args] = bounded(
		lifetimeSeconds,
		...asPostgres(path.join(bin, 'postgres'), [
			'-D', dataDir,
			'-c', 'listen_addresses=127.0.0.1',
			'-c', `port=${port}`,
			'-c', `unix_socket_directories=${dir}`,
			'-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
			'-c', 'max_connections=100',
			'-c', 'log_min_messages=warning',
		]),
	);
	const child = startProcess(cmd, args, { cwd: dir, env, logFile });
	let exited = false;
	child.on('close', () => (exited = true));
	const pg = { host: '127.0.0.1', port, user: 'n8n', password, database: 'n8n', bin, dir, logFile, child };
	const clientEnv = { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5', LC_ALL: 'C' };
	pg.clientEnv = clientEnv;
	await waitFor(
		`postgres on 127.0.0.1:${port} (log: ${path.relative(ROOT, logFile)})`,
		() => spawnSync(path.join(bin, 'pg_isready'), ['-h', pg.host, '-p', String(port), '-U', 'n8n', '-d', 'postgres'], { env: clientEnv }).status === 0,
		{ exited: () => exited },
	);
	await run(path.join(bin, 'psql'), ['-h', pg.host, '-p', String(port), '-U', 'n8n', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE DATABASE n8n'], { env: clientEnv, logFile });
	/** Runs SQL on the n8n database; returns the rows as arrays of strings (psql -At, unit separator). */
	pg.query = async (sql) => {
		const r = await run(path.join(bin, 'psql'), ['-h', pg.host, '-p', String(port), '-U', 'n8n', '-d', 'n8n', '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\x1f', '-c', sql], { env: clientEnv });
		return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\x1f'));
	};
	/** pg_dump --data-only of the n8n database, as text. */
	pg.dump = async () => (await run(path.join(bin, 'pg_dump'), ['-h', pg.host, '-p', String(port), '-U', 'n8n', '-d', 'n8n', '--data-only', '--no-owner'], { env: clientEnv })).stdout;
	pg.stop = async () => {
		await child.stop();
		removeTempDir(dir);
	};
	return pg;
}

const DUMP_ALL_LUA = `
local out = {}
local function add(v) if type(v) == 'table' then for _, x in ipairs(v) do add(x) end else table.insert(out, tostring(v)) end end
for _, k in ipairs(redis.call('KEYS', '*')) do
  add(k)
  local t = redis.call('TYPE', k).ok
  if t == 'string' then add(redis.call('GET', k))
  elseif t == 'hash' then add(redis.call('HGETALL', k))
  elseif t == 'list' then add(redis.call('LRANGE', k, 0, -1))
  elseif t == 'set' then add(redis.call('SMEMBERS', k))
  elseif t == 'zset' then add(redis.call('ZRANGE', k, 0, -1))
  elseif t == 'stream' then add(redis.call('XRANGE', k, '-', '+'))
  end
end
return table.concat(out, '\\n')`;

/** A throwaway redis-server on 127.0.0.1 and a free port, no persistence. */
export async function startRedis({ lifetimeSeconds }) {
	const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
	if (!bin) throw new Error('redis-server is not installed (scripts/install-queue-services.sh installs it)');
	const dir = tempDir('cloman-queue-redis-');
	const port = await freePort();
	const logFile = path.join(LOGS, 'queue-redis.log');
	fs.writeFileSync(logFile, '');
	let ready = false;
	const [cmd, args] = bounded(lifetimeSeconds, bin, [
		'--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
		'--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'notice',
	]);
	const child = startProcess(cmd, args, { cwd: dir, logFile, onLine: (line) => (ready ||= /Ready to accept connections/.test(line)) });
	let exited = false;
	child.on('close', () => (exited = true));
	await waitFor(`redis-server on 127.0.0.1:${port} (log: ${path.relative(ROOT, logFile)})`, () => ready, { timeoutMs: 30_000, exited: () => exited });
	const cli = path.join(path.dirname(bin), 'redis-cli');
	return {
		host: '127.0.0.1',
		port,
		logFile,
		child,
		/** Every key and every value (strings, hashes, lists, sets, sorted sets, streams) as one text. */
		dumpAll: async () => (await run(fs.existsSync(cli) ? cli : 'redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', 'EVAL', DUMP_ALL_LUA, '0'])).stdout,
		stop: async () => {
			await child.stop();
			removeTempDir(dir);
		},
	};
}

// ---------------------------------------------------------------------------------------------
// n8n in queue mode

/**
 * Settings of the test run that differ from n8n's defaults, so that a killed worker's execution is
 * noticed in seconds rather than minutes (defaults: lock 60 s, renewed every 10 s, stalled check
 * every 30 s). The README's "Queue mode" section gives the defaults' timing.
 */
export const FAST_STALL_DETECTION = {
	QUEUE_WORKER_LOCK_DURATION: '15000',
	QUEUE_WORKER_LOCK_RENEW_TIME: '3000',
	QUEUE_WORKER_STALLED_INTERVAL: '5000',
};

/**
 * The environment of an n8n process in queue mode, on top of the harness's (instance.env from
 * n8nEnv: loopback only, nothing outbound, community packages from the instance's own user folder).
 * Every process shares the database, Redis and the encryption key; workers serve their health
 * check on 127.0.0.1 (instance.port) and build resume/webhook URLs with the main process's address.
 */
export function queueEnv(instance, { role, main, pg, redis, encryptionKey, extra = {} }) {
	const env = {
		...instance.env,
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: redis.host,
		QUEUE_BULL_REDIS_PORT: String(redis.port),
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: pg.host,
		DB_POSTGRESDB_PORT: String(pg.port),
		DB_POSTGRESDB_DATABASE: pg.database,
		DB_POSTGRESDB_USER: pg.user,
		DB_POSTGRESDB_PASSWORD: pg.password,
		N8N_ENCRYPTION_KEY: encryptionKey,
		// Where a person or a caller reaches n8n: always the main process. Workers build resume links
		// ($execution.resumeUrl, resumeFormUrl) from it. (N8N_WEBHOOK_URL: 2.41.1 deprecates WEBHOOK_URL.)
		N8N_WEBHOOK_URL: `${main.url}/`,
		N8N_EDITOR_BASE_URL: main.url,
		...extra,
	};
	delete env.WEBHOOK_URL;
	if (role === 'worker') {
		Object.assign(env, {
			QUEUE_HEALTH_CHECK_ACTIVE: 'true',
			QUEUE_HEALTH_CHECK_PORT: String(instance.port),
			N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
		});
	}
	return env;
}

/**
 * Starts `n8n start` (role main) or `n8n worker --concurrency=N` under `timeout`, its output in its
 * own log file (truncated), and waits until /healthz/readiness answers 200 (the main's server, or the
 * worker's health server: database and Redis connected, the job processor set up).
 */
export async function startQueueProcess(instance, { role, logFile, lifetimeSeconds, concurrency = 5 }) {
	const args = role === 'main' ? ['start'] : ['worker', `--concurrency=${concurrency}`];
	fs.writeFileSync(logFile, '');
	const [cmd, cmdArgs] = bounded(lifetimeSeconds, instance.n8n.node.bin, [instance.n8n.bin, ...args]);
	const child = startProcess(cmd, cmdArgs, { cwd: instance.userFolder, env: instance.env, logFile });
	let exited = false;
	child.on('close', () => (exited = true));
	child.logFile = logFile;
	child.role = role;
	const probe = async () => {
		try {
			return (await fetch(`${instance.url}/healthz/readiness`, { signal: AbortSignal.timeout(3000) })).ok;
		} catch {
			return false;
		}
	};
	try {
		await waitFor(`n8n ${args[0]} (${instance.name}; log: ${path.relative(ROOT, logFile)})`, probe, { timeoutMs: 4 * 60_000, exited: () => exited });
	} catch (error) {
		await child.stop();
		throw error;
	}
	/** SIGKILL to the whole process group: n8n, its task runner and the `timeout` around them. */
	child.crash = () =>
		new Promise((resolve) => {
			if (exited) return resolve();
			child.once('close', () => resolve());
			process.kill(-child.pid, 'SIGKILL');
		});
	return child;
}
