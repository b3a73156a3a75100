#!/usr/bin/env bash
# Installs the n8n 1.x engine (the versions n8n 1.123.81 ships) into .cache/n8n-core-1x, for
# `npm run test:n8n1` (jest.config.n8n1.js maps n8n-core / n8n-workflow there).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-n8n-engine.sh" n8n-core-1x 1.122.48 1.120.31
