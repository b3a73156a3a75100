// The n8n harness shared by scripts/demo.mjs, scripts/editor.sh, e2e/ and bench/: installs a real n8n
// into .cache/, installs the packed n8n-nodes-cloman tarball into it as a community package, and
// runs n8n's CLI and server with everything outbound turned off and every server on 127.0.0.1.
//
// Plain Node (runs on the system Node 20); n8n itself runs on the Node its line needs.
//
// This file only re-exports; each concern has its own file:
//   paths.mjs         ROOT, CACHE, LOGS (created), shownPath
//   examples.mjs      the package's type names, the demo credential, the example workflows
//   lines.mjs         LINES: the n8n versions installed and run, with their Node and environment
//   log.mjs           log, phase, printTimings
//   processes.mjs     run, startProcess, killAll, installCleanup, freePort, sleep
//   install-lock.mjs  withInstallLock (one install per folder across processes)
//   installers.mjs    ensureRepoDeps, ensureNode24, nodeFor, ensureN8n, ensurePlaywright, ensureChromium
//   pack.mjs          buildAndPack
//   n8n-instance.mjs  prepareInstance, n8nEnv, n8nCli, imports, execute, startN8n, restLogin, OWNER
//   servers.mjs       startStandinProcess, startIncomingWebhookProcess
export * from './paths.mjs';
export * from './examples.mjs';
export * from './lines.mjs';
export * from './log.mjs';
export * from './processes.mjs';
export * from './install-lock.mjs';
export * from './installers.mjs';
export * from './pack.mjs';
export * from './n8n-instance.mjs';
export * from './servers.mjs';
