// One n8n instance: its user folder (with the packed package installed as a community package),
// its environment, its CLI, its server and its REST API.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PACKAGE_NAME } from './examples.mjs';
import { ensureN8n, installEnv, npmArgs } from './installers.mjs';
import { CACHE, LOGS, ROOT } from './paths.mjs';
import { freePort, run, sleep, startProcess } from './processes.mjs';

/** The instance owner n8n creates from the environment (N8N_INSTANCE_OWNER_*), for the editor and REST. */
export const OWNER = { email: 'demo@cloman.example', password: 'CloMan-demo-1', firstName: 'CloMan', lastName: 'Demo' };

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
