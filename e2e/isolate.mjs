// Shared .cache: every worktree's .cache is a symlink to one directory, so two engineers' e2e runs at the
// same time would share `.cache/pack` (one run's `npm pack` replaces the other's tarball) and
// `.cache/instances/e2e-n8n<line>` (one run's fresh user folder, database and installed package replace
// the other's). Seen: an e2e run in one worktree served another worktree's package. These helpers give a
// run its own copy of its tarball, proven to be this worktree's build, and an instance name of its own.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT } from '../scripts/lib/harness.mjs';

/** The instance name for this worktree: `<base>-<worktree folder>` (e.g. e2e-n8n2-i16b). */
export function instanceName(base) {
	return `${base}-${path.basename(ROOT).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Every file under `dir`, relative. */
function filesUnder(dir, prefix = '') {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
		entry.isDirectory() ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
	);
}

/**
 * Copy the packed tarball out of the shared .cache/pack into a folder of this process, then check that
 * every file of this worktree's dist/ is in it byte for byte (else another run replaced the tarball
 * between pack and copy: throw). Returns the copy's path; the folder is removed when the process exits.
 */
export function privateTarball(tarball) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloman-e2e-pack-'));
	process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
	const copy = path.join(dir, path.basename(tarball));
	fs.copyFileSync(tarball, copy);
	const unpacked = path.join(dir, 'unpacked');
	fs.mkdirSync(unpacked);
	const untar = spawnSync('tar', ['-xzf', copy, '-C', unpacked], { encoding: 'utf8' });
	if (untar.status !== 0) throw new Error(`tar -xzf ${copy}: ${untar.stderr}`);
	const dist = path.join(ROOT, 'dist');
	const differing = filesUnder(dist).filter((file) => {
		const packed = path.join(unpacked, 'package', 'dist', file);
		return !fs.existsSync(packed) || !fs.readFileSync(packed).equals(fs.readFileSync(path.join(dist, file)));
	});
	if (differing.length > 0) {
		throw new Error(`the tarball in .cache/pack is not this worktree's build (${differing.slice(0, 3).join(', ')} differ): another run packed at the same time; run again`);
	}
	return copy;
}
