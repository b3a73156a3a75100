// One process contending for the real install lock of scripts/lib/harness.mjs (withInstallLock) with a
// fake install, for test/install-lock.test.ts:
//
//   node test/harness/lock-contender.mjs <dir> <name> <holdMs> <timeoutMs> [install|exit-inside]
//
// install: under the lock, "installs" (writes <dir>/installed.txt after holdMs) unless it is there;
// exit-inside: takes the lock and calls process.exit(3) while holding it.
// Every step goes to <dir>/journal.log as "<name> <step> <ms>" (appends of one short line are atomic).
import fs from 'node:fs';
import path from 'node:path';

import { withInstallLock } from '../../scripts/lib/harness.mjs';

const [dir, name, holdMs, timeoutMs, mode = 'install'] = process.argv.slice(2);
const journal = path.join(dir, 'journal.log');
const marker = path.join(dir, 'installed.txt');
const note = (step) => fs.appendFileSync(journal, `${name} ${step} ${Date.now()}\n`);

try {
	await withInstallLock(
		dir,
		`fake install ${name}`,
		async () => {
			note('enter');
			if (mode === 'exit-inside') process.exit(3);
			if (!fs.existsSync(marker)) {
				note('install');
				await new Promise((r) => setTimeout(r, Number(holdMs)));
				fs.writeFileSync(marker, name);
			}
			note('leave');
		},
		{ timeoutMs: Number(timeoutMs), pollMs: 50, reportMs: 250 },
	);
} catch (error) {
	process.stderr.write(`${error.message}\n`);
	process.exit(2);
}
