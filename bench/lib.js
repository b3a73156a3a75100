'use strict';
// Helpers shared by bench/run.js and bench/scenario.js.
const { fork } = require('node:child_process');
const path = require('node:path');

/** Starts the stand-in in its own process; resolves {url, stats(), reset(), close()}. */
function startStandinProcess(options = {}) {
	return new Promise((resolve, reject) => {
		const child = fork(path.join(__dirname, 'standin-proc.js'), [JSON.stringify(options)], {
			stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
		});
		const pending = new Map();
		child.on('message', (msg) => {
			if (msg.cmd === 'ready') {
				resolve({
					url: msg.url,
					pid: child.pid,
					stats: (since) => ask('stats', { since }),
					reset: () => ask('reset'),
					close: () =>
						new Promise((done) => {
							if (child.exitCode !== null) return done();
							child.once('exit', () => done());
							child.send({ cmd: 'close' });
							setTimeout(() => child.kill('SIGKILL'), 5000).unref();
						}),
				});
				return;
			}
			const waiter = pending.get(msg.cmd);
			if (waiter) {
				pending.delete(msg.cmd);
				waiter(msg);
			}
		});
		child.once('exit', (code) => reject(new Error(`stand-in process exited (${code})`)));
		child.once('error', reject);
		const ask = (cmd, extra = {}) =>
			new Promise((done) => {
				pending.set(cmd, done);
				child.send({ cmd, ...extra });
			});
	});
}

/** Runs bench/scenario.js <name> in a fresh Node process; resolves the result object it sends. */
function runScenarioProcess(name, args = {}, { execArgv = ['--expose-gc'] } = {}) {
	return new Promise((resolve, reject) => {
		const child = fork(path.join(__dirname, 'scenario.js'), [name, JSON.stringify(args)], {
			execArgv,
			stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
			env: { ...process.env, N8N_LOG_LEVEL: 'silent' },
		});
		let result;
		child.on('message', (msg) => (result = msg));
		child.once('error', reject);
		child.once('exit', (code) => {
			if (code === 0 && result) resolve(result);
			else reject(new Error(`scenario ${name} exited with ${code}`));
		});
	});
}

module.exports = { startStandinProcess, runScenarioProcess };
