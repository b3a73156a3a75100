// Output and timing: timestamped log lines, named phases and their timings.

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
