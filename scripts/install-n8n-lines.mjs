// Installs the n8n lines named on the command line (keys of LINES in scripts/lib/lines.mjs, e.g. 2.38
// 2.39) into .cache/n8n/, in parallel, under the same install lock the tests use. `npm run test:e2e`
// starts it in the background for the boundary lines, so their installs run beside e2e/run.mjs's own
// instead of after it; e2e/boundary.mjs then finds them installed (or waits on the lock).
import { LINES, ensureN8n, log } from './lib/harness.mjs';

const keys = process.argv.slice(2);
for (const key of keys) if (!LINES[key]) throw new Error(`unknown n8n line "${key}" (known: ${Object.keys(LINES).join(', ')})`);
const results = await Promise.allSettled(keys.map((key) => ensureN8n(LINES[key])));
results.forEach((r, i) => log(`  n8n ${LINES[keys[i]].version}: ${r.status === 'fulfilled' ? (r.value.cached ? 'already installed' : 'installed') : `install failed: ${r.reason?.message ?? r.reason}`}`));
process.exitCode = results.some((r) => r.status === 'rejected') ? 1 : 0;
