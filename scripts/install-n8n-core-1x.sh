#!/usr/bin/env bash
# Installs the n8n 1.x engine (the versions n8n 1.123.81 ships) into .cache/n8n-core-1x, for
# `npm run test:n8n1` (jest.config.n8n1.js maps n8n-core / n8n-workflow there).
# Exact versions, no install scripts, one n8n-workflow shared by n8n-core and its @n8n/* deps.
# Skips the install when both packages are already there at these versions.
set -euo pipefail

N8N_CORE_VERSION=1.122.48
N8N_WORKFLOW_VERSION=1.120.31

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cache/n8n-core-1x"

installed_version() {
	node -p "require('$DIR/node_modules/$1/package.json').version" 2>/dev/null || true
}

# n8n-workflow must resolve to one copy: no nested node_modules/n8n-workflow anywhere in the tree.
single_workflow_copy() {
	[ -z "$(find "$DIR/node_modules" -mindepth 3 -path '*/node_modules/n8n-workflow/package.json' -print -quit 2>/dev/null)" ]
}

if [ "$(installed_version n8n-core)" = "$N8N_CORE_VERSION" ] &&
	[ "$(installed_version n8n-workflow)" = "$N8N_WORKFLOW_VERSION" ] &&
	single_workflow_copy; then
	echo "n8n-core@$N8N_CORE_VERSION / n8n-workflow@$N8N_WORKFLOW_VERSION already in ${DIR#"$ROOT"/}"
	exit 0
fi

mkdir -p "$DIR"
cat >"$DIR/package.json" <<EOF
{
  "name": "n8n-core-1x-test-engine",
  "private": true,
  "description": "n8n 1.x engine for test:n8n1 (written by scripts/install-n8n-core-1x.sh)",
  "dependencies": {
    "n8n-core": "$N8N_CORE_VERSION",
    "n8n-workflow": "$N8N_WORKFLOW_VERSION"
  }
}
EOF

echo "Installing n8n-core@$N8N_CORE_VERSION n8n-workflow@$N8N_WORKFLOW_VERSION into ${DIR#"$ROOT"/} ..."
start=$(date +%s)
# --prefix keeps npm out of the repository's own package.json / lockfile.
npm install --prefix "$DIR" --ignore-scripts --no-audit --no-fund --save-exact --loglevel=error \
	"n8n-core@$N8N_CORE_VERSION" "n8n-workflow@$N8N_WORKFLOW_VERSION"

core="$(installed_version n8n-core)"
workflow="$(installed_version n8n-workflow)"
if [ "$core" != "$N8N_CORE_VERSION" ] || [ "$workflow" != "$N8N_WORKFLOW_VERSION" ]; then
	echo "install-n8n-core-1x: got n8n-core@$core n8n-workflow@$workflow" >&2
	exit 1
fi
if ! single_workflow_copy; then
	echo "install-n8n-core-1x: more than one copy of n8n-workflow installed:" >&2
	find "$DIR/node_modules" -path '*/node_modules/n8n-workflow/package.json' >&2
	exit 1
fi
echo "Installed in $(($(date +%s) - start))s, $(du -sh "$DIR/node_modules" | cut -f1) in ${DIR#"$ROOT"/}/node_modules"
