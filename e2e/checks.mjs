// A minimal check runner for the e2e tiers (plain Node, no test framework): every check is printed
// and counted, a failing one does not stop the others, and finish() prints the timings, the failed
// checks and exactly one closing line "<tier>: N passed, N failed", then exits non-zero on failure.
import { killAll, log, printTimings } from '../scripts/lib/harness.mjs';

export function checkRunner(tier) {
	const results = [];

	async function check(name, fn) {
		try {
			await fn();
			results.push({ name, ok: true });
			log(`  ✔ ${name}`);
			return true;
		} catch (error) {
			results.push({ name, ok: false, error });
			log(`  ✘ ${name}\n      ${String(error?.message ?? error).split('\n').join('\n      ')}`);
			return false;
		}
	}

	function skipped(name, reason) {
		results.push({ name, ok: false, error: new Error(reason) });
		log(`  ✘ ${name}\n      not run: ${reason}`);
	}

	/** Runs main(), then reports and exits. */
	async function runTier(main) {
		let crashed;
		try {
			await main();
		} catch (error) {
			crashed = error;
			results.push({ name: `${tier} runner`, ok: false, error });
			log(`${tier} runner crashed: ${error.stack ?? error}`);
		}
		killAll();
		printTimings(`${tier} timings`);
		const failed = results.filter((r) => !r.ok);
		if (failed.length > 0) {
			process.stdout.write('\nFailed:\n');
			for (const f of failed) process.stdout.write(`  ✘ ${f.name}: ${String(f.error?.message ?? f.error).split('\n')[0]}\n`);
		}
		process.stdout.write(`\n${tier}: ${results.length - failed.length} passed, ${failed.length} failed\n`);
		process.exit(failed.length > 0 || crashed ? 1 : 0);
	}

	return { check, skipped, runTier, results };
}
