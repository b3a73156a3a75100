#!/usr/bin/env bash
# Sets everything up like scripts/demo.sh and leaves the n8n editor running on 127.0.0.1; prints
# the URL and login. Ctrl-C stops n8n and the stand-in. Options: --line 1|2 (see demo.sh).
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/demo.sh" --editor "$@"
