#!/usr/bin/env bash
# Installs one n8n engine (n8n-core + n8n-workflow at the exact versions an n8n release pins) into
# .cache/<folder>, for the engine tests on lines other than the devDependencies' (jest.config.n8n1.js,
# jest.config.n8n238.js map n8n-core / n8n-workflow there).
#   scripts/install-n8n-engine.sh <folder under .cache> <n8n-core version> <n8n-workflow version>
# Exact versions, no install scripts, one n8n-workflow shared by n8n-core and its @n8n/* deps.
# Skips the install when both packages are already there at these versions.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 <folder under .cache> <n8n-core version> <n8n-workflow version>" >&2
	exit 2
fi
FOLDER=$1
N8N_CORE_VERSION=$2
N8N_WORKFLOW_VERSION=$3

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cache/$FOLDER"
NAME="$(basename "$0")"

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
cat >"$DIR/package.json" <<JSON
{
  "name": "$FOLDER-test-engine",
  "private": true,
  "description": "n8n engine for the engine tests (written by scripts/install-n8n-engine.sh)",
  "dependencies": {
    "n8n-core": "$N8N_CORE_VERSION",
    "n8n-workflow": "$N8N_WORKFLOW_VERSION"
  }
}
JSON

echo "Installing n8n-core@$N8N_CORE_VERSION n8n-workflow@$N8N_WORKFLOW_VERSION into ${DIR#"$ROOT"/} ..."
start=$(date +%s)
# --prefix keeps npm out of the repository's own package.json / lockfile.
npm install --prefix "$DIR" --ignore-scripts --no-audit --no-fund --save-exact --loglevel=error \
	"n8n-core@$N8N_CORE_VERSION" "n8n-workflow@$N8N_WORKFLOW_VERSION"

core="$(installed_version n8n-core)"
workflow="$(installed_version n8n-workflow)"
if [ "$core" != "$N8N_CORE_VERSION" ] || [ "$workflow" != "$N8N_WORKFLOW_VERSION" ]; then
	echo "$NAME: got n8n-core@$core n8n-workflow@$workflow" >&2
	exit 1
fi
if ! single_workflow_copy; then
	echo "$NAME: more than one copy of n8n-workflow installed:" >&2
	find "$DIR/node_modules" -path '*/node_modules/n8n-workflow/package.json' >&2
	exit 1
fi
echo "Installed in $(($(date +%s) - start))s, $(du -sh "$DIR/node_modules" | cut -f1) in ${DIR#"$ROOT"/}/node_modules"
