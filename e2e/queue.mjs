// Queue-mode tier (npm run test:queue): the packed n8n-nodes-cloman in n8n 2.41.1 run the way teams
// scale n8n: EXECUTIONS_MODE=queue, one main process, two workers (`n8n worker`), Redis as the queue
// and PostgreSQL as the shared database, all on 127.0.0.1 and all started by this script.
//
// 1. Debian's postgresql and redis-server (scripts/install-queue-services.sh installs them when
//    missing), a throwaway Postgres cluster and redis-server (scripts/lib/queue.mjs). The compose
//    example (examples/queue-mode) checked against this run and n8n's own variables.
// 2. Three n8n user folders (main, worker 1, worker 2), each with the packed tarball installed as a
//    community package, the way each container of a real deployment has its own.
// 3. The credential and two webhook-started workflows imported into Postgres: the batch example, and
//    the example's requests into a Review step; main and workers started; both workflows published.
// 4. The batch workflow triggered several times at once through the main process's webhook: every
//    execution is enqueued by the main process and run by a worker (worker logs name the executions),
//    every item leaves CloMan on exactly one output, each decision is one the stand-in gave.
// 5. A Review paused on a worker, its page and submit served by the main process, the resumed run
//    finishing on a worker with the reviewer's decisions.
// 6. A worker killed (SIGKILL) in the middle of a batch: what n8n does with the execution, what the
//    user sees (also on Retry), that no item is reported decided that was not, and a fresh re-run.
// 7. The API key is in no log, no Postgres table and no Redis key.
//
// Ends with one line "queue: N passed, N failed"; exits non-zero on any failure.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

import {
	CREDENTIAL_TYPE,
	DEMO_CREDENTIAL,
	EXAMPLES,
	LINES,
	LOGS,
	NODE_TYPE,
	ROOT,
	buildAndPack,
	ensureN8n,
	ensureRepoDeps,
	importCredentials,
	importWorkflows,
	installCleanup,
	killAll,
	log,
	phase,
	prepareInstance,
	restLogin,
	sleep,
} from '../scripts/lib/harness.mjs';
import { FAST_STALL_DETECTION, ensureQueueServices, queueEnv, startPostgres, startQueueProcess, startRedis } from '../scripts/lib/queue.mjs';
import { checkRunner } from './checks.mjs';
import { codeNodeItems, needsReview, restExecution } from './expect.mjs';
import { LARGE, checkRateLimitedRuns, startLimitedStandin, writeLargeWorkflow } from './queue-ratelimit.mjs';

const require = createRequire(import.meta.url);
const { startStandin, defaultPolicy } = require('../test/standin/server.js');
const { check, runTier } = checkRunner('queue');

const LINE = LINES[2];
const GOOD_KEY = 'cloman_sk_test_good';
/** Every server of the tier ends by itself after this long, whatever happens to this process. */
const SERVER_LIFETIME_S = 30 * 60;
/** The tier gives up (and kills everything) after this long. */
const WATCHDOG_MS = 25 * 60_000;
const CONCURRENT_RUNS = 4;
const WORKER_CONCURRENCY = 5;
/** Stand-in answer time per decide request: normal runs, and the batch whose worker is killed. */
const LATENCY_MS = 1000;
const SLOW_LATENCY_MS = 3000;
const SLOW_BATCH = 'slow';
const TERMINAL = ['success', 'error', 'crashed', 'canceled'];

const WORKFLOW = { id: 'ClomanBatchQueue1', path: 'cloman-batch-queue', webhookId: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d01' };
/** The one reviewer of the queue-mode Review step (Named Reviewers: a personal link each). */
const QUEUE_REVIEWER = { email: 'queue.reviewer@example.com', name: 'Queue Reviewer' };

/** The Review workflow: its outputs in order ("Not Reviewed", a listed decision value each, "Other"). */
const REVIEW = {
	id: 'ClomanReviewQueue1',
	path: 'cloman-review-queue',
	webhookId: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d02',
	nodeId: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d03',
	reviewWebhookId: '7f3c2a10-5b7e-4d0c-9a61-0c1a2b3c4d04',
	batch: 'review',
	outputs: [{ name: 'Not Reviewed' }, { name: 'approve', value: 'approve' }, { name: 'deny', value: 'deny' }, { name: 'Other' }],
};

// ---------------------------------------------------------------------------------------------
// The workflow: the scheduled batch example, started by a webhook instead of the manual trigger,
// with each request's id tagged with the batch name the caller sends (so that runs can be told apart).

function readExample() {
	const workflow = JSON.parse(fs.readFileSync(EXAMPLES.batch.file, 'utf8'));
	const code = workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.code');
	// The example's CloMan Decide step (its Review step is checked by the review workflow below).
	const cloman = workflow.nodes.filter((n) => n.type === NODE_TYPE && n.parameters.operation !== 'review');
	const manual = workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.manualTrigger');
	assert.equal(code.length, 1, `${path.relative(ROOT, EXAMPLES.batch.file)}: expected one Code node`);
	assert.equal(cloman.length, 1, `${path.relative(ROOT, EXAMPLES.batch.file)}: expected one CloMan node`);
	assert.equal(manual.length, 1, `${path.relative(ROOT, EXAMPLES.batch.file)}: expected one manual trigger`);
	return { workflow, code: code[0], cloman: cloman[0], trigger: manual[0] };
}

/** The example's input items, by running its Code node the way n8n's Code node does. */
function exampleInputs() {
	return codeNodeItems(EXAMPLES.batch.file, readExample().code.name);
}

/**
 * The example started by a webhook at `webhookPath` instead of its triggers, with each request's id
 * tagged "/<batch>" from the POSTed body's `batch` (so that runs can be told apart).
 */
function webhookCopy({ id, name, webhookPath, webhookId }) {
	const example = readExample();
	const { workflow, code, trigger } = example;
	workflow.id = id;
	workflow.name = name;
	Object.assign(trigger, {
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		webhookId,
		parameters: { httpMethod: 'POST', path: webhookPath, responseMode: 'onReceived', options: {} },
	});
	for (const schedule of workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.scheduleTrigger')) {
		workflow.nodes = workflow.nodes.filter((n) => n !== schedule);
		delete workflow.connections[schedule.name];
	}
	code.parameters.jsCode = [
		`const items = (() => {\n${code.parameters.jsCode}\n})();`,
		`const batch = $(${JSON.stringify(trigger.name)}).first().json.body.batch;`,
		`return items.map((item) => ({ ...item, json: { ...item.json, id: item.json.id + '/' + batch } }));`,
	].join('\n');
	return example;
}

function writeWorkflow(dir, workflow) {
	const file = path.join(dir, `${workflow.id}.json`);
	fs.writeFileSync(file, JSON.stringify(workflow, null, 2));
	return file;
}

/**
 * Removes the example's Review step and the nodes only it leads to, so that a batch run finishes
 * instead of waiting for a reviewer (the Review step in queue mode has its own check below).
 */
function withoutReview(workflow) {
	const gone = new Set(workflow.nodes.filter((n) => n.type === NODE_TYPE && n.parameters.operation === 'review').map((n) => n.name));
	for (let grew = true; grew; ) {
		grew = false;
		for (const node of workflow.nodes) {
			if (gone.has(node.name)) continue;
			const sources = Object.entries(workflow.connections).filter(([, c]) => (c.main ?? []).flat().some((t) => t?.node === node.name));
			if (sources.length > 0 && sources.every(([from]) => gone.has(from))) {
				gone.add(node.name);
				grew = true;
			}
		}
	}
	workflow.nodes = workflow.nodes.filter((n) => !gone.has(n.name));
	for (const name of gone) delete workflow.connections[name];
	for (const c of Object.values(workflow.connections)) c.main = (c.main ?? []).map((targets) => (targets ?? []).filter((t) => !gone.has(t.node)));
	return workflow;
}

/** The batch example (without its Review step), started by a webhook. */
function writeQueueWorkflow(dir) {
	const { workflow, trigger, cloman } = webhookCopy({ id: WORKFLOW.id, name: 'CloMan: scheduled batch approvals (queue mode: webhook)', webhookPath: WORKFLOW.path, webhookId: WORKFLOW.webhookId });
	withoutReview(workflow);
	return { file: writeWorkflow(dir, workflow), triggerName: trigger.name, clomanName: cloman.name };
}

/**
 * Webhook → the example's requests → CloMan Decide (routed by review) → its "Needs Review" items into
 * a CloMan Review step (outputs approve / deny / Other) that sends its link to `notifyUrl`.
 */
function writeReviewWorkflow(dir, notifyUrl) {
	const { workflow, trigger, code, cloman } = webhookCopy({ id: REVIEW.id, name: 'CloMan: review in queue mode', webhookPath: REVIEW.path, webhookId: REVIEW.webhookId });
	const review = {
		id: REVIEW.nodeId,
		name: 'Human review',
		type: NODE_TYPE,
		typeVersion: cloman.typeVersion,
		position: [cloman.position[0] + 260, cloman.position[1] + 200],
		webhookId: REVIEW.reviewWebhookId,
		parameters: {
			operation: 'review',
			reviewTitle: '={{ $json.id }}',
			reviewDetails: '={{ $json.reason }}',
			decisionField: 'cloman',
			reviewRouteBy: 'decision',
			decisions: { values: REVIEW.outputs.filter((o) => o.value).map((o) => ({ value: o.value, outputName: '' })) },
			allowCustomDecision: false,
			// A named reviewer with a personal link: the page served by the main process and the run resumed
			// on a worker must both know who reviewed (review.reviewed_by), from the link alone.
			whoMayReview: 'named',
			namedReviewers: { reviewers: [QUEUE_REVIEWER] },
			notifyVia: 'webhook',
			notifyUrl,
			notifyFormat: 'generic',
			limitWaitTime: true,
			limitType: 'afterTimeInterval',
			resumeAmount: 1,
			resumeUnit: 'hours',
		},
		credentials: cloman.credentials,
	};
	workflow.nodes = [trigger, code, cloman, review];
	const to = (node) => [{ node, type: 'main', index: 0 }];
	workflow.connections = {
		[trigger.name]: { main: [to(code.name)] },
		[code.name]: { main: [to(cloman.name)] },
		[cloman.name]: { main: [[], to(review.name)] },
	};
	return { file: writeWorkflow(dir, workflow), triggerName: trigger.name, reviewName: review.name };
}

/** What the stand-in's policy decides for each input item: ids by output. */
function expectedRouting(batch) {
	const approved = [];
	const review = [];
	for (const input of exampleInputs()) {
		(needsReview(defaultPolicy({ data: input })) ? review : approved).push(`${input.id}/${batch}`);
	}
	return { approved, review, all: [...approved, ...review] };
}

const sorted = (a) => [...a].sort();

// ---------------------------------------------------------------------------------------------
// Evidence: execution records in Postgres, execution data over REST, worker logs

async function executionRows(pg, workflowId = WORKFLOW.id) {
	const rows = await pg.query(
		`SELECT id, status, mode, to_char("startedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS'), to_char("stoppedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS') FROM execution_entity WHERE "workflowId" = '${workflowId}' ORDER BY id::int`,
	);
	return rows.map(([id, status, mode, startedAt, stoppedAt]) => ({ id, status, mode, startedAt, stoppedAt }));
}

/** Waits until `count` executions after `afterId` exist and all have one of `statuses`. */
async function waitForExecutions(pg, { workflowId, afterId = 0, count, statuses = TERMINAL, timeoutMs = 120_000 }) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const rows = (await executionRows(pg, workflowId)).filter((r) => Number(r.id) > afterId);
		if (rows.length >= count && rows.every((r) => statuses.includes(r.status))) return rows;
		if (Date.now() > deadline) {
			throw new Error(`after ${timeoutMs / 1000} s: ${rows.length} executions (${rows.map((r) => `${r.id} ${r.status}`).join(', ') || 'none'}), expected ${count} with status ${statuses.join('/')}`);
		}
		await sleep(500);
	}
}

/** Each of `ids` was enqueued by the main process and run (started and finished) by exactly one worker. */
async function checkEachRunOnOneWorker(check, ids, mainProcess, workers) {
	return await check('each execution was enqueued by the main process and run by exactly one worker (worker logs); the main process ran none', () => {
		const m = mainLog(mainProcess.logFile);
		for (const id of ids) assert.ok(m.enqueued.includes(id), `the main log does not say it enqueued execution ${id}`);
		assert.deepEqual(m.startedHere.filter((id) => ids.includes(id)), [], 'the main process ran executions itself');
		const perWorker = workers.map((w) => workerLog(w.logFile));
		for (const id of ids) {
			const runBy = perWorker.map((l, i) => (l.started.includes(id) && l.finished.includes(id) ? workers[i].label : undefined)).filter(Boolean);
			assert.equal(runBy.length, 1, `execution ${id} was started and finished by ${runBy.length} workers (${runBy.join(', ')})`);
		}
		log(`      ${workers.map((w, i) => `${w.label}: executions ${perWorker[i].started.filter((id) => ids.includes(id)).join(', ') || 'none'}`).join('; ')}`);
	});
}

/** Execution ids a worker log says it started and finished. */
function workerLog(file) {
	const text = fs.readFileSync(file, 'utf8');
	const ids = (re) => [...text.matchAll(re)].map((m) => m[1]);
	return {
		started: ids(/Worker started execution (\d+)/g),
		finished: ids(/Worker finished execution (\d+)/g),
	};
}

function mainLog(file) {
	const text = fs.readFileSync(file, 'utf8');
	return {
		text,
		enqueued: [...text.matchAll(/Enqueued execution (\d+)/g)].map((m) => m[1]),
		startedHere: [...text.matchAll(/Worker started execution (\d+)/g)].map((m) => m[1]),
	};
}

/** CloMan's outputs in an execution's run data: [[json, ...] per output]. */
function clomanOutputs(data, clomanName) {
	const runs = data.resultData.runData[clomanName];
	if (!runs || runs.length === 0) return undefined;
	return (runs[0].data?.main ?? []).map((items) => (items ?? []).map((i) => i.json));
}

function triggerBatch(data, triggerName) {
	return data.resultData.runData[triggerName]?.[0]?.data?.main?.[0]?.[0]?.json?.body?.batch;
}

async function fireWebhook(main, batch, webhookPath = WORKFLOW.path) {
	const res = await fetch(`${main.url}/webhook/${webhookPath}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ batch }),
		signal: AbortSignal.timeout(30_000),
	});
	const text = await res.text();
	assert.equal(res.status, 200, `POST /webhook/${webhookPath} (${batch}): ${res.status} ${text.slice(0, 300)}`);
	return text;
}

/** An incoming-webhook receiver on 127.0.0.1 (what Slack or Teams would be): records every JSON POST. */
function startReceiver() {
	const received = [];
	const server = http.createServer((req, res) => {
		let body = '';
		req.on('data', (d) => (body += d));
		req.on('end', () => {
			try {
				received.push(JSON.parse(body));
			} catch {
				received.push({ unparsed: body });
			}
			res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
		});
	});
	server.unref();
	return new Promise((resolve) => {
		server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/incoming`, received, close: () => server.close() }));
	});
}

/**
 * Checks a finished run of the batch workflow: every item on exactly one CloMan output, the
 * routing the stand-in's policy gives, and every decision one the stand-in actually answered for
 * that very item (decision ids are unique per answer).
 */
function assertBatchOutputs(data, { batch, clomanName, answered }) {
	const outputs = clomanOutputs(data, clomanName);
	assert.ok(outputs, `${batch}: the CloMan node did not run`);
	assert.equal(outputs.length, 2, `${batch}: CloMan has ${outputs.length} outputs, expected 2 (Auto-Decided, Needs Review)`);
	const expected = expectedRouting(batch);
	const all = outputs.flat().map((j) => j.id);
	assert.deepEqual(sorted(all), sorted(expected.all), `${batch}: items over both outputs`);
	assert.equal(new Set(all).size, all.length, `${batch}: an item came out twice`);
	assert.deepEqual(sorted(outputs[0].map((j) => j.id)), sorted(expected.approved), `${batch}: Auto-Decided`);
	assert.deepEqual(sorted(outputs[1].map((j) => j.id)), sorted(expected.review), `${batch}: Needs Review`);
	for (const item of outputs.flat()) {
		const answer = answered.get(item.cloman?.decision_id);
		assert.ok(answer, `${item.id}: decision ${item.cloman?.decision_id} was never answered by the stand-in`);
		assert.equal(answer.id, item.id, `${item.id}: decision ${item.cloman.decision_id} answered item ${answer.id}`);
		assert.equal(item.cloman.decision, answer.decision, `${item.id}: decision`);
		assert.equal(item.cloman.confidence, answer.confidence, `${item.id}: confidence`);
	}
	return outputs;
}

// ---------------------------------------------------------------------------------------------
// The compose example in examples/queue-mode is documentation (no container engine runs here):
// it is checked against what this run does and against the variables n8n 2.41.1 reads.

const COMPOSE_FILE = path.join(ROOT, 'examples', 'queue-mode', 'docker-compose.yml');
/** The variables queueEnv gives main and workers alike: the ones this run sets on every process. */
const SHARED_QUEUE_VARIABLES = Object.keys(
	queueEnv({ env: {} }, { role: 'main', main: { url: 'x' }, pg: {}, redis: {}, encryptionKey: 'x' }),
);

/** Every environment variable name n8n reads through its config classes (@Env('NAME')). */
function n8nConfigVariables(n8nInstall) {
	const dirs = ['@n8n/config/dist', 'n8n/dist', 'n8n-core/dist'].map((d) => path.join(n8nInstall.dir, 'node_modules', d));
	const r = spawnSync('grep', ['-rhoE', "Env\\)\\('[A-Z0-9_]+'", '--include=*.js', ...dirs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	return new Set([...r.stdout.matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]));
}

async function checkComposeExample(n8nInstall) {
	await check('the compose example runs main (`start`) and 2 workers (`worker`) with the same queue variables as this run, each one n8n 2.41.1 reads', () => {
		const YAML = createRequire(path.join(n8nInstall.dir, 'node_modules', 'n8n', 'package.json'))('yaml');
		const compose = YAML.parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
		const main = compose.services['n8n-main'];
		const worker = compose.services['n8n-worker'];
		assert.ok(main && worker, 'services n8n-main and n8n-worker');
		assert.deepEqual(main.command, ['start']);
		assert.equal(worker.command[0], 'worker');
		assert.equal(worker.deploy?.replicas, 2, 'two workers');
		assert.equal(worker.image, main.image, 'the workers run the image built for the main process');
		const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
		const dockerfile = main.build.dockerfile_inline;
		assert.match(dockerfile, new RegExp(`^FROM n8nio/n8n:${LINE.version.replaceAll('.', '\\.')}$`, 'm'), 'the image is n8n ' + LINE.version);
		assert.ok(dockerfile.includes(`n8n-nodes-cloman@${version}`), `the image installs n8n-nodes-cloman@${version}`);
		assert.equal(main.environment.EXECUTIONS_MODE, 'queue');
		assert.equal(main.environment.DB_TYPE, 'postgresdb');
		for (const name of SHARED_QUEUE_VARIABLES) {
			assert.ok(name in main.environment, `n8n-main does not set ${name}`);
			assert.equal(worker.environment[name], main.environment[name], `${name} differs between main and workers`);
		}
		assert.equal(worker.environment.QUEUE_HEALTH_CHECK_ACTIVE, 'true');
		const known = n8nConfigVariables(n8nInstall);
		assert.ok(known.size > 300, `only ${known.size} variables found in n8n's config`);
		for (const service of [main, worker]) {
			for (const name of Object.keys(service.environment)) assert.ok(known.has(name), `n8n ${LINE.version} does not read ${name}`);
		}
	});
}

// ---------------------------------------------------------------------------------------------

async function main() {
	installCleanup();
	const watchdog = setTimeout(() => {
		log(`queue: watchdog: the tier did not finish within ${WATCHDOG_MS / 60_000} minutes; stopping everything`);
		killAll('SIGKILL');
		process.exit(1);
	}, WATCHDOG_MS);
	watchdog.unref();
	log(`queue: n8n ${LINE.version} in queue mode (main + 2 workers, Postgres, Redis) on 127.0.0.1`);

	await phase('repository dependencies', ensureRepoDeps);
	const [services, packed, installed] = await Promise.allSettled([
		phase('postgresql + redis-server (Debian packages)', ensureQueueServices),
		phase('npm run build + npm pack', buildAndPack),
		phase(`n8n ${LINE.version} (Node 24)`, () => ensureN8n(LINE)),
	]);
	const ready = [
		await check('Debian postgresql and redis-server are installed', () => {
			if (services.status !== 'fulfilled') throw services.reason;
			log(`      ${services.value.summary}${services.value.installed ? ' (installed by apt-get in this run)' : ''}`);
		}),
		await check('npm pack: the tarball holds the built node and credential', () => {
			if (packed.status !== 'fulfilled') throw packed.reason;
		}),
		await check(`n8n ${LINE.version} installs`, () => {
			if (installed.status !== 'fulfilled') throw installed.reason;
		}),
	];
	if (ready.includes(false)) return;
	await checkComposeExample(installed.value);

	const { pg, redis } = await phase('Postgres cluster + redis-server on 127.0.0.1', async () => {
		const [pgResult, redisResult] = await Promise.allSettled([startPostgres({ lifetimeSeconds: SERVER_LIFETIME_S }), startRedis({ lifetimeSeconds: SERVER_LIFETIME_S })]);
		if (pgResult.status !== 'fulfilled' || redisResult.status !== 'fulfilled') {
			if (pgResult.status === 'fulfilled') await pgResult.value.stop();
			if (redisResult.status === 'fulfilled') await redisResult.value.stop();
			throw pgResult.reason ?? redisResult.reason;
		}
		return { pg: pgResult.value, redis: redisResult.value };
	});
	log(`  Postgres ${pg.host}:${pg.port} (database ${pg.database}), Redis ${redis.host}:${redis.port}`);

	// The stand-in records every answer by its unique decision id, to check outputs against.
	const answered = new Map();
	let answers = 0;
	const standin = await startStandin({
		lifetimeMs: SERVER_LIFETIME_S * 1000,
		latencyMs: (body) => (String(body?.data?.id ?? '').endsWith(`/${SLOW_BATCH}`) ? SLOW_LATENCY_MS : LATENCY_MS),
		policy: (body) => {
			const decision = defaultPolicy(body);
			const decisionId = `dec_queue_${++answers}`;
			answered.set(decisionId, { id: body?.data?.id, decision: decision.decision, confidence: decision.confidence, at: Date.now() });
			return { ...decision, decision_id: decisionId };
		},
	});
	log(`  CloMan stand-in at ${standin.url}`);
	// A second stand-in limiting its key to 20 requests/s, for the rate-limited batches (issue 18).
	const limited = await startLimitedStandin({ lifetimeMs: SERVER_LIFETIME_S * 1000 });
	log(`  CloMan stand-in limited to ${LARGE.perSecond} requests/s at ${limited.standin.url}`);
	const receiver = await startReceiver();

	const processes = [];
	try {
		await runQueueChecks({ pg, redis, standin, limited, answered, receiver, tarball: packed.value.tarball, processes });
	} finally {
		await phase('stop n8n, the stand-in, Postgres and Redis', async () => {
			await Promise.all(processes.map((p) => p.stop()));
			await standin.close();
			await limited.standin.close();
			receiver.close();
			await checkNoSecrets({ pg, redis, processes });
			await Promise.all([pg.stop(), redis.stop()]);
		});
	}
}

async function runQueueChecks({ pg, redis, standin, limited, answered, receiver, tarball, processes }) {
	const encryptionKey = crypto.randomBytes(24).toString('base64');
	const names = ['queue-main', 'queue-worker1', 'queue-worker2'];
	for (const name of names) fs.writeFileSync(path.join(LOGS, `instance-${name}.log`), '');
	let instances;
	const prepared = await check('the packed tarball installs as a community package in each process\'s own user folder (main, worker 1, worker 2)', async () => {
		instances = await phase('3 user folders + npm install of the tarball', () =>
			Promise.all(names.map((name) => prepareInstance({ name, lineInfo: LINE, tarball }))),
		);
	});
	if (!prepared) return;
	const [mainInstance, ...workerInstances] = instances;
	// QUEUE_DEFAULT_LOCKS=1: n8n's own job-lock settings (the worker-kill check then waits ~2 minutes).
	const extra = process.env.QUEUE_DEFAULT_LOCKS === '1' ? {} : FAST_STALL_DETECTION;
	log(`  job locks: ${JSON.stringify(extra) === '{}' ? "n8n's defaults" : JSON.stringify(extra)}`);
	mainInstance.env = queueEnv(mainInstance, { role: 'main', main: mainInstance, pg, redis, encryptionKey, extra });
	for (const w of workerInstances) w.env = queueEnv(w, { role: 'worker', main: mainInstance, pg, redis, encryptionKey, extra });

	let workflow;
	let reviewWorkflow;
	let largeWorkflow;
	const imported = await check('import:credentials and import:workflow (batch, review and rate-limited batch workflows) into Postgres (with the queue-mode environment)', () =>
		phase('import the credential and the webhook workflow (creates the schema in Postgres)', async () => {
			await importCredentials(mainInstance, [
				{ id: DEMO_CREDENTIAL.id, name: DEMO_CREDENTIAL.name, type: CREDENTIAL_TYPE, data: { apiKey: GOOD_KEY, baseUrl: standin.url } },
				{ ...LARGE.credential, type: CREDENTIAL_TYPE, data: { apiKey: GOOD_KEY, baseUrl: limited.standin.url } },
			]);
			workflow = writeQueueWorkflow(mainInstance.userFolder);
			reviewWorkflow = writeReviewWorkflow(mainInstance.userFolder, receiver.url);
			largeWorkflow = writeLargeWorkflow(mainInstance.userFolder);
			await importWorkflows(mainInstance, [workflow.file, reviewWorkflow.file, largeWorkflow.file]);
			const rows = await pg.query(`SELECT id FROM workflow_entity ORDER BY id`);
			assert.deepEqual(rows.flat(), sorted([REVIEW.id, WORKFLOW.id, LARGE.id]), `workflow_entity: ${JSON.stringify(rows)}`);
		}),
	);
	if (!imported) return;

	const logFor = (name) => path.join(LOGS, `${name}.log`);
	let mainProcess;
	let workers = [];
	const started = await check('main process (n8n start) and two workers (n8n worker) start in queue mode and report ready', () =>
		phase('start main + 2 workers', async () => {
			const results = await Promise.allSettled([
				startQueueProcess(mainInstance, { role: 'main', logFile: logFor(names[0]), lifetimeSeconds: SERVER_LIFETIME_S }),
				...workerInstances.map((w, i) =>
					startQueueProcess(w, { role: 'worker', logFile: logFor(names[i + 1]), lifetimeSeconds: SERVER_LIFETIME_S, concurrency: WORKER_CONCURRENCY }),
				),
			]);
			for (const r of results) if (r.status === 'fulfilled') processes.push(r.value);
			const failed = results.find((r) => r.status === 'rejected');
			if (failed) throw failed.reason;
			[mainProcess, ...workers] = results.map((r) => r.value);
			for (const [i, w] of workers.entries()) w.label = `worker ${i + 1}`;
		}),
	);
	if (!started) return;

	let api;
	const loggedIn = await check('main: REST login as the owner; the node type is served; the three workflows are published (their webhooks registered by the main process)', async () => {
		api = await restLogin(mainInstance);
		const nodes = await api.get('/types/nodes.json');
		assert.equal(nodes.status, 200);
		assert.ok(nodes.json.some((n) => n.name === NODE_TYPE), `${NODE_TYPE} is not served by the main process`);
		for (const id of [WORKFLOW.id, REVIEW.id, LARGE.id]) {
			const wf = await api.get(`/rest/workflows/${id}`);
			assert.equal(wf.status, 200, `GET /rest/workflows/${id}: ${wf.status}`);
			// What the editor's Publish button sends.
			const published = await api.post(`/rest/workflows/${id}/activate`, { versionId: wf.json.data.versionId });
			assert.equal(published.status, 200, `POST /rest/workflows/${id}/activate: ${published.status} ${published.text.slice(0, 300)}`);
			assert.ok(published.json.data.activeVersionId, `${id} is not published`);
		}
		// n8n 2.41.1 publishes through an outbox: the webhooks are registered a moment later.
		const deadline = Date.now() + 60_000;
		while ((await pg.query(`SELECT DISTINCT "workflowId" FROM webhook_entity`)).length < 3) {
			if (Date.now() > deadline) throw new Error('the published workflows\' webhooks were not registered within 60 s');
			await sleep(250);
		}
	});
	if (!loggedIn) return;

	await phase(`${CONCURRENT_RUNS} batch runs at once`, () => checkConcurrentRuns({ pg, standin, answered, api, mainInstance, mainProcess, workers, workflow }));
	await phase(`${LARGE.batches} × ${LARGE.items} items at once against ${LARGE.perSecond} requests/s`, () =>
		checkRateLimitedRuns({
			check,
			pg,
			limited,
			api,
			mainInstance,
			mainProcess,
			workers,
			workflow: largeWorkflow,
			helpers: { executionRows, waitForExecutions, workerLog, mainLog, fireWebhook, restExecution, triggerBatch, checkEachRunOnOneWorker },
		}),
	);
	await phase('a Review paused on a worker, resumed through the main process', () => checkReview({ pg, api, mainInstance, mainProcess, workers, reviewWorkflow, receiver }));
	await phase('a worker killed mid-batch', () => checkWorkerKill({ pg, standin, answered, api, mainInstance, mainProcess, workers, workflow }));
}

async function checkConcurrentRuns({ pg, standin, answered, api, mainInstance, mainProcess, workers, workflow }) {
	const batches = Array.from({ length: CONCURRENT_RUNS }, (_, i) => `q${i + 1}`);
	standin.reset();
	const before = Math.max(0, ...(await executionRows(pg)).map((r) => Number(r.id)));
	const startedAt = Date.now();
	let rows;
	const ran = await check(`${CONCURRENT_RUNS} webhook calls at once to the main process: each answered, ${CONCURRENT_RUNS} executions recorded in Postgres, all "success"`, async () => {
		await Promise.all(batches.map((b) => fireWebhook(mainInstance, b)));
		rows = await waitForExecutions(pg, { afterId: before, count: CONCURRENT_RUNS });
		assert.equal(rows.length, CONCURRENT_RUNS, `executions: ${JSON.stringify(rows)}`);
		assert.deepEqual(rows.map((r) => r.status), rows.map(() => 'success'), `statuses: ${JSON.stringify(rows)}`);
		assert.ok(rows.every((r) => r.mode === 'webhook'), `modes: ${rows.map((r) => r.mode)}`);
		log(`      ${rows.length} executions (${rows.map((r) => r.id).join(', ')}) in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
	});
	if (!ran) return;
	const ids = rows.map((r) => r.id);

	await checkEachRunOnOneWorker(check, ids, mainProcess, workers);
	await check('both workers ran executions of the batch workflow, so each loaded the CloMan package from its own folder', () => {
		for (const w of workers) {
			const ran = workerLog(w.logFile).finished.filter((id) => ids.includes(id));
			assert.ok(ran.length > 0, `${w.label} ran none of ${ids.join(', ')}`);
		}
	});

	const runs = [];
	await check('every item of every run leaves CloMan on exactly one output (Auto-Decided / Needs Review as the policy decides), each decision one the stand-in gave for that item', async () => {
		for (const id of ids) {
			const { status, data } = await restExecution(api, mainInstance, id);
			assert.equal(status, 'success', `execution ${id}: ${status}`);
			const batch = triggerBatch(data, workflow.triggerName);
			assert.ok(batches.includes(batch), `execution ${id}: batch ${batch}`);
			runs.push({ id, batch, outputs: assertBatchOutputs(data, { batch, clomanName: workflow.clomanName, answered }) });
		}
		assert.deepEqual(sorted(runs.map((r) => r.batch)), sorted(batches), 'one execution per webhook call');
		const expected = expectedRouting('x');
		log(`      each run: Auto-Decided ${expected.approved.length} / Needs Review ${expected.review.length} of ${expected.all.length}`);
	});
	await check(`the stand-in got exactly one decide request per item per run (${CONCURRENT_RUNS} × ${exampleInputs().length}), each with the key header; runs overlapped`, () => {
		const decides = standin.requests.filter((r) => r.path === '/api/v1/public/decide');
		const want = batches.flatMap((b) => expectedRouting(b).all);
		assert.deepEqual(sorted(decides.map((r) => r.body?.data?.id)), sorted(want), 'decide requests by item');
		assert.ok(decides.every((r) => r.headers['x-api-key'] === GOOD_KEY && r.status === 200), 'key header / status');
		const { maxInFlight } = standin.stats();
		assert.ok(maxInFlight > WORKER_CONCURRENCY, `at most ${maxInFlight} requests were in flight at once: the runs did not overlap`);
		log(`      up to ${maxInFlight} decide requests in flight at once`);
	});
}

/** The review page's fields as a browser would submit them: hidden inputs, and each select's options. */
function readReviewForm(html) {
	const attr = (tag, name) => new RegExp(`${name}="([^"]*)"`).exec(tag)?.[1];
	const unescape = (v) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
	const hidden = [...html.matchAll(/<input type="hidden"[^>]*>/g)].map((m) => [attr(m[0], 'name'), unescape(attr(m[0], 'value') ?? '')]);
	const selects = [...html.matchAll(/<select[^>]*name="(decision_(\d+))"[^>]*>([\s\S]*?)<\/select>/g)].map((m) => ({
		name: m[1],
		index: Number(m[2]),
		options: [...m[3].matchAll(/<option[^>]*value="([^"]*)"/g)].map((o) => unescape(o[1])),
	}));
	const titles = [...html.matchAll(/<section class="item[^"]*" data-index="(\d+)"[^>]*><h2>(?:<bdi>)?([^<]*)(?:<\/bdi>)?<\/h2>/g)].map((m) => ({ index: Number(m[1]), title: unescape(m[2]) }));
	return { hidden, selects, titles };
}

async function checkReview({ pg, api, mainInstance, mainProcess, workers, reviewWorkflow, receiver }) {
	const items = expectedRouting(REVIEW.batch).review;
	const cloneDecision = (id) => defaultPolicy({ data: exampleInputs().find((i) => `${i.id}/${REVIEW.batch}` === id) }).decision;
	const before = Math.max(0, ...(await executionRows(pg, REVIEW.id)).map((r) => Number(r.id)));
	let link;
	let execId;
	let pausedOn;
	const paused = await check(`a run reaches the Review step on a worker and waits; the review link (sent to the incoming webhook) points at the main process`, async () => {
		receiver.received.length = 0;
		await fireWebhook(mainInstance, REVIEW.batch, REVIEW.path);
		const [row] = await waitForExecutions(pg, { workflowId: REVIEW.id, afterId: before, count: 1, statuses: ['waiting'], timeoutMs: 90_000 });
		execId = row.id;
		const deadline = Date.now() + 30_000;
		while (receiver.received.length === 0 && Date.now() < deadline) await sleep(200);
		const [message] = receiver.received;
		assert.ok(message?.url, `the incoming webhook got ${JSON.stringify(receiver.received)}`);
		assert.equal(String(message.execution_id), execId, 'execution_id of the notification');
		assert.equal(message.item_count, items.length, 'item_count of the notification');
		assert.equal(message.email, QUEUE_REVIEWER.email, 'the personal link is addressed to the named reviewer');
		link = message.url;
		assert.equal(new URL(link).searchParams.get('reviewer'), QUEUE_REVIEWER.email, 'the link is the reviewer\'s personal link');
		assert.ok(link.startsWith(`${mainInstance.url}/webhook-waiting/${execId}/`), `link ${link}`);
		pausedOn = workers.filter((w) => workerLog(w.logFile).started.includes(execId));
		assert.equal(pausedOn.length, 1, `execution ${execId} was started by ${pausedOn.length} workers`);
		assert.ok(!mainLog(mainProcess.logFile).startedHere.includes(execId), 'the main process ran it');
		log(`      execution ${execId} waits (run up to the Review step by ${pausedOn[0].label}); link ${link.replace(/signature=[^&]+/, 'signature=…')}`);
	});
	if (!paused) return;

	let choices;
	await check(`the main process serves the review page listing the ${items.length} items; the reviewer's submit (form POST to the main process) is accepted`, async () => {
		const page = await fetch(link);
		const html = await page.text();
		assert.equal(page.status, 200, `GET review page: ${page.status}`);
		const form = readReviewForm(html);
		assert.deepEqual(sorted(form.titles.map((t) => t.title)), sorted(items), 'items on the page');
		// Every other item changed to a listed value it is not; the rest kept as the clone decided.
		choices = form.selects.map((select, n) => {
			const id = form.titles.find((t) => t.index === select.index).title;
			const clone = cloneDecision(id);
			const change = n % 2 === 0;
			const decision = change ? (clone === 'deny' ? 'approve' : 'deny') : '__keep__';
			assert.ok(select.options.includes(decision), `${id}: the page offers ${JSON.stringify(select.options)}`);
			return { ...select, id, clone, final: change ? decision : clone, changed: change, note: `queue reviewer: ${id}` };
		});
		assert.equal(choices.length, items.length, 'one decision field per item');
		const body = new URLSearchParams();
		for (const [name, value] of form.hidden.filter(([name]) => name !== 'form_end')) body.append(name, value);
		for (const c of choices) {
			body.append(c.name, c.changed ? c.final : '__keep__');
			body.append(`note_${c.index}`, c.note);
		}
		body.append('submit', '1');
		body.append('form_end', '1');
		const posted = await fetch(link, { method: 'POST', body });
		const done = await posted.text();
		assert.equal(posted.status, 200, `POST review page: ${posted.status} ${done.slice(0, 300)}`);
		assert.match(done, /id="counts"/, 'the done page');
		assert.match(done, /id="reviewed-by"[^>]*>Reviewed by <bdi>Queue Reviewer &lt;queue\.reviewer@example\.com&gt;<\/bdi>/, 'the done page names the reviewer');
	});
	await check('the resumed run is enqueued by the main process and finishes on a worker with the reviewer\'s decisions on the decisions\' outputs and the reviewer (personal link) in review.reviewed_by', async () => {
		const [row] = await waitForExecutions(pg, { workflowId: REVIEW.id, afterId: Number(execId) - 1, count: 1, timeoutMs: 90_000 });
		assert.equal(row.status, 'success', `execution ${execId}: ${row.status}`);
		const enqueued = mainLog(mainProcess.logFile).enqueued.filter((id) => id === execId).length;
		assert.equal(enqueued, 2, `the main process enqueued execution ${execId} ${enqueued} times (expected: the first part and the resume)`);
		const runs = workers.map((w) => ({ w, n: workerLog(w.logFile).finished.filter((id) => id === execId).length }));
		assert.equal(runs.reduce((a, r) => a + r.n, 0), 2, `workers finished execution ${execId} ${JSON.stringify(runs.map((r) => r.n))} times (expected 2: up to the pause, after the resume)`);
		assert.ok(!mainLog(mainProcess.logFile).startedHere.includes(execId), 'the main process ran it');
		// The worker that ran the first part finished it once, the one that ran the resume once more.
		const resumedOn = runs.find((r) => r.n === (r.w === pausedOn[0] ? 2 : 1)).w.label;
		const { data } = await restExecution(api, mainInstance, execId);
		const outputs = data.resultData.runData[reviewWorkflow.reviewName].at(-1).data.main.map((o) => (o ?? []).map((i) => i.json));
		assert.equal(outputs.length, REVIEW.outputs.length, `Review outputs: ${outputs.length}`);
		const outputOf = (decision) => {
			const i = REVIEW.outputs.findIndex((o) => o.value === decision);
			return i >= 0 ? i : REVIEW.outputs.length - 1;
		};
		const all = outputs.flat().map((j) => j.id);
		assert.deepEqual(sorted(all), sorted(items), 'every reviewed item once over the outputs');
		assert.deepEqual(outputs[0].map((j) => j.id), [], 'items on "Not Reviewed"');
		for (const c of choices) {
			const [out] = outputs.map((o, i) => (o.some((j) => j.id === c.id) ? i : -1)).filter((i) => i >= 0);
			assert.equal(out, outputOf(c.final), `${c.id}: on output ${REVIEW.outputs[out]?.name}, final decision ${c.final}`);
			const { review } = outputs[out].find((j) => j.id === c.id);
			assert.equal(review.decision, c.final, `${c.id}: review.decision`);
			assert.equal(review.changed, c.changed, `${c.id}: review.changed`);
			assert.equal(review.decided_by, c.changed ? 'reviewer' : 'clone', `${c.id}: review.decided_by`);
			assert.equal(review.note, c.note, `${c.id}: review.note`);
			assert.equal(review.clone_decision, c.clone, `${c.id}: review.clone_decision`);
		}
		for (const json of outputs.flat()) assert.deepEqual(json.review.reviewed_by, QUEUE_REVIEWER, `${json.id}: review.reviewed_by`);
		log(`      execution ${execId}: paused on ${pausedOn[0].label}, resumed on ${resumedOn}; ${REVIEW.outputs.map((o, i) => `${o.name} ${outputs[i].length}`).join(' / ')}; ${choices.filter((c) => c.changed).length} changed by the reviewer`);
	});
}

async function checkWorkerKill({ pg, standin, answered, api, mainInstance, mainProcess, workers, workflow }) {
	standin.reset();
	const before = Math.max(0, ...(await executionRows(pg)).map((r) => Number(r.id)));
	const items = expectedRouting(SLOW_BATCH).all;
	const slowAnswers = () => standin.requests.filter((r) => r.body?.data?.id?.endsWith(`/${SLOW_BATCH}`) && r.status === 200);
	let victim;
	let execId;
	let killedAt;
	let answeredAtKill;
	const killed = await check(`a worker is killed (SIGKILL, with its task runner) while its execution waits on CloMan mid-batch`, async () => {
		await fireWebhook(mainInstance, SLOW_BATCH);
		const [row] = await waitForExecutions(pg, { afterId: before, count: 1, statuses: ['running'], timeoutMs: 60_000 });
		execId = row.id;
		const deadline = Date.now() + 60_000;
		// Wait until the first round of requests is answered and the next one is in flight.
		while (slowAnswers().length < WORKER_CONCURRENCY || standin.stats().inFlight === 0) {
			if (Date.now() > deadline) throw new Error(`the slow batch did not get going: ${slowAnswers().length} answers`);
			await sleep(50);
		}
		victim = workers.find((w) => workerLog(w.logFile).started.includes(execId));
		assert.ok(victim, `no worker log says it started execution ${execId}`);
		answeredAtKill = new Set(slowAnswers().map((r) => r.body.data.id));
		killedAt = Date.now();
		await victim.crash();
		assert.ok(answeredAtKill.size > 0 && answeredAtKill.size < items.length, `${answeredAtKill.size} of ${items.length} answered at the kill`);
		log(`      killed ${victim.label} running execution ${execId}; CloMan had answered ${answeredAtKill.size} of ${items.length} items`);
	});
	if (!killed) return;
	const survivor = workers.find((w) => w !== victim);

	let final;
	await check('n8n ends that execution as failed once the job\'s lock expires (no worker re-runs it)', async () => {
		[final] = await waitForExecutions(pg, { afterId: Number(execId) - 1, count: 1, statuses: ['error', 'crashed', 'success', 'canceled'], timeoutMs: 240_000 });
		const seconds = ((Date.now() - killedAt) / 1000).toFixed(1);
		log(`      execution ${execId}: status "${final.status}" ${seconds} s after the kill`);
		assert.notEqual(final.status, 'success', 'the killed execution was reported successful');
		assert.ok(!workerLog(survivor.logFile).started.includes(execId), `${survivor.label} ran execution ${execId} again`);
	});
	await check('what the user sees: the execution\'s error, and no CloMan output: no item reported decided', async () => {
		const { status, data } = await restExecution(api, mainInstance, execId);
		const error = data.resultData.error;
		log(`      REST /rest/executions/${execId}: status "${status}", error: ${error?.message ?? '(none)'}`);
		assert.ok(['error', 'crashed'].includes(status), status);
		assert.equal(clomanOutputs(data, workflow.clomanName), undefined, 'the failed execution holds CloMan output');
		const downstream = Object.keys(data.resultData.runData ?? {});
		log(`      nodes with run data: ${downstream.join(', ') || 'none'}`);
		const m = mainLog(mainProcess.logFile).text;
		const line = m.split('\n').find((l) => l.includes(`execution ${execId}`) && /stalled|Problem|crash/i.test(l));
		if (line) log(`      main log: ${line.trim().slice(0, 300)}`);
	});
	await check('nothing asked CloMan about that batch after the kill', () => {
		const later = standin.requests.filter((r) => r.body?.data?.id?.endsWith(`/${SLOW_BATCH}`) && r.at > killedAt);
		assert.deepEqual(later.map((r) => r.body.data.id), []);
	});
	let retryError;
	await check('"Retry" on that execution runs on a worker and ends at once with the same error, asking CloMan nothing', async () => {
		const retryAt = Date.now();
		const r = await api.post(`/rest/executions/${execId}/retry`, { loadWorkflow: false });
		assert.equal(r.status, 200, `POST /rest/executions/${execId}/retry: ${r.status} ${r.text.slice(0, 300)}`);
		const retryId = String(r.json.data.id);
		const [row] = await waitForExecutions(pg, { afterId: Number(retryId) - 1, count: 1, timeoutMs: 60_000 });
		assert.equal(row.status, 'error', `retry ${retryId}: ${row.status}`);
		retryError = (await restExecution(api, mainInstance, retryId)).data.resultData.error?.message;
		assert.ok(workers.some((w) => workerLog(w.logFile).finished.includes(retryId)), `no worker ran the retry ${retryId}`);
		const asked = standin.requests.filter((x) => x.body?.data?.id?.endsWith(`/${SLOW_BATCH}`) && x.at >= retryAt);
		assert.equal(asked.length, 0, `the retry asked CloMan ${asked.length} times`);
		log(`      retry = execution ${retryId}, status "${row.status}": ${retryError}`);
	});
	await check('running the batch again decides every item afresh (each decision answered during the new run); items decided before the kill are asked again', async () => {
		standin.reset();
		const rerunAt = Date.now();
		const last = Math.max(...(await executionRows(pg)).map((r) => Number(r.id)));
		await fireWebhook(mainInstance, SLOW_BATCH);
		const [row] = await waitForExecutions(pg, { afterId: last, count: 1, timeoutMs: 120_000 });
		assert.equal(row.status, 'success', `re-run ${row.id}: ${row.status}`);
		const { data } = await restExecution(api, mainInstance, row.id);
		const outputs = assertBatchOutputs(data, { batch: SLOW_BATCH, clomanName: workflow.clomanName, answered });
		for (const item of outputs.flat()) {
			assert.ok(answered.get(item.cloman.decision_id).at >= rerunAt, `${item.id}: decision ${item.cloman.decision_id} is from before the re-run`);
		}
		const askedAgain = [...answeredAtKill].filter((id) => standin.requests.some((r) => r.body?.data?.id === id));
		assert.deepEqual(sorted(askedAgain), sorted(answeredAtKill), 'items decided before the kill');
		log(`      re-run = execution ${row.id} on ${survivor.label}: ${outputs[0].length} Auto-Decided / ${outputs[1].length} Needs Review; CloMan was asked again for the ${askedAgain.length} items it had decided before the kill`);
	});
}

/** The API key in no log of this run, no Postgres table, no Redis key. */
async function checkNoSecrets({ pg, redis, processes }) {
	const files = [
		...processes.map((p) => p.logFile),
		...['queue-main', 'queue-worker1', 'queue-worker2'].map((n) => path.join(LOGS, `instance-${n}.log`)),
		pg.logFile,
		redis.logFile,
	].filter((f) => fs.existsSync(f));
	await check(`the API key is in none of the ${files.length} log files of the run (main, workers, CLI, Postgres, Redis)`, () => {
		for (const f of files) assert.ok(!fs.readFileSync(f, 'utf8').includes(GOOD_KEY), `${path.relative(ROOT, f)} contains the API key`);
	});
	await check('the API key is in no Postgres table (pg_dump --data-only); the credential row holds it encrypted', async () => {
		const dump = await pg.dump();
		assert.ok(dump.length > 10_000, `the dump is only ${dump.length} bytes`);
		assert.ok(!dump.includes(GOOD_KEY), 'pg_dump contains the API key');
		const [[data]] = await pg.query(`SELECT data FROM credentials_entity WHERE id = '${DEMO_CREDENTIAL.id}'`);
		assert.ok(data.length > 20 && !data.includes('apiKey'), `credentials_entity.data: ${data.slice(0, 40)}…`);
	});
	await check('the API key is in no Redis key', async () => {
		const all = await redis.dumpAll();
		assert.ok(!all.includes(GOOD_KEY), 'Redis holds the API key');
	});
}

await runTier(main);
