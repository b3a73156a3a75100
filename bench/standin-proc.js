'use strict';
// The CloMan stand-in (test/standin/server.js) in a process of its own, so that on this 2-core
// machine the server's CPU and memory are not counted in (nor compete on the same event loop as)
// the client being measured. Started with child_process.fork(); options as JSON in argv[2].
// IPC: parent sends {cmd: 'stats' (, since) | 'reset' | 'close'}; child answers {cmd, ...}.
const { startStandin } = require('../test/standin/server.js');

/** @param {number[]} times */
function medianGap(times) {
	if (times.length < 2) return undefined;
	const sorted = [...times].sort((a, b) => a - b);
	const gaps = sorted.slice(1).map((t, i) => t - sorted[i]).sort((a, b) => a - b);
	return gaps[Math.floor(gaps.length / 2)];
}

(async () => {
	const { latencyJitterMs, ...options } = JSON.parse(process.argv[2] || '{}');
	// latencyJitterMs (bench only): each answer waits latencyMs ± latencyJitterMs (uniform, same mean).
	if (latencyJitterMs > 0) {
		const base = options.latencyMs ?? 0;
		options.latencyMs = () => base - latencyJitterMs + Math.random() * 2 * latencyJitterMs;
	}
	const standin = await startStandin({ lifetimeMs: 30 * 60_000, ...options });
	standin.server.ref();
	process.send({ cmd: 'ready', url: standin.url });
	process.on('message', async (msg) => {
		if (msg.cmd === 'stats') {
			const stats = standin.stats();
			// Arrival times of the requests since msg.since (epoch ms; e.g. the start of a measured run after a warm-up).
			const times = standin.requests.filter((r) => r.at >= (msg.since ?? 0)).map((r) => r.at);
			process.send({
				cmd: 'stats',
				stats,
				// Median gap between consecutive arrivals: close to 0 when requests come in bunches.
				medianGapMs: medianGap(times),
				firstAt: times.length ? times.reduce((a, b) => Math.min(a, b)) : undefined,
				lastAt: times.length ? times.reduce((a, b) => Math.max(a, b)) : undefined,
			});
		} else if (msg.cmd === 'reset') {
			standin.reset();
			process.send({ cmd: 'reset' });
		} else if (msg.cmd === 'close') {
			await standin.close();
			process.exit(0);
		}
	});
	process.on('disconnect', () => process.exit(0));
})().catch((error) => {
	console.error(error);
	process.exit(1);
});
