// Where things are: the repository, its .cache/ and the logs folder (created on import).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = path.join(ROOT, '.cache');
export const LOGS = path.join(CACHE, 'logs');

fs.mkdirSync(LOGS, { recursive: true });

/** A path as the user can use it: relative to the repository when inside it. */
export function shownPath(p) {
	const rel = path.relative(ROOT, p);
	return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
