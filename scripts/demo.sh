#!/usr/bin/env bash
# The main job in a real n8n, one command:
#
#   bash scripts/demo.sh            # run the "scheduled batch approvals" example through its human review
#                                   # (a headless browser reviews; in a terminal you may, see --help)
#   bash scripts/demo.sh --editor   # leave the n8n editor running on 127.0.0.1 (or: bash scripts/editor.sh)
#   bash scripts/demo.sh --line 1   # n8n 1.123.81 instead of 2.41.1 (or N8N_LINE=1)
#
# Installs what it needs into .cache/ (Node 24 and n8n from the npm registry, the first time only),
# builds and packs this package, installs the tarball into n8n as a community package, and talks to
# the CloMan stand-in on 127.0.0.1 unless CLOMAN_API_KEY (and optionally CLOMAN_BASE_URL) are set.
# Everything it started stops when it ends.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "demo: node and npm (Node 20 or later) are needed on PATH" >&2
	exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
	echo "demo: Node 20 or later is needed, found $(node --version)" >&2
	exit 1
fi

PIDFILE="$(mktemp "${TMPDIR:-/tmp}/cloman-demo.XXXXXX")"
cleanup() {
	# The Node side ends its children itself; this catches anything left if it was killed hard:
	# each recorded process group gets TERM, then KILL after 15 s.
	local pids=() pid i
	if [ -s "$PIDFILE" ]; then
		while read -r pid; do [ -n "$pid" ] && pids+=("$pid"); done <"$PIDFILE"
	fi
	rm -f "$PIDFILE"
	[ "${#pids[@]}" -gt 0 ] || return 0
	for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
	for i in $(seq 1 30); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && return 0
		sleep 0.5
	done
	for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Node runs as a child we wait for, so that a signal to this script (Ctrl-C, kill, timeout) is
# passed on and Node can stop n8n and the stand-in before we exit. `<&0` keeps our stdin (bash gives
# a background job /dev/null otherwise): in a terminal the demo offers the review to the person.
CLOMAN_HARNESS_PIDFILE="$PIDFILE" node "$ROOT/scripts/demo.mjs" "$@" <&0 &
child=$!
forward() { kill -TERM "$child" 2>/dev/null || true; }
trap forward INT TERM HUP
status=0
while :; do
	if wait "$child"; then status=0; else status=$?; fi
	kill -0 "$child" 2>/dev/null || break # wait returns early when a signal arrived
done
exit "$status"
