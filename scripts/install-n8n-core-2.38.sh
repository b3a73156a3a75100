#!/usr/bin/env bash
# Installs the n8n 2.38 engine (the versions n8n 2.38.5 ships: n8n-core 2.38.2, n8n-workflow 2.38.1;
# the last n8n-core before 2.39.0, which forwards all outputs of a resumed node) into
# .cache/n8n-core-2.38, for `npm run test:n8n238` (jest.config.n8n238.js maps n8n-core / n8n-workflow there).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-n8n-engine.sh" n8n-core-2.38 2.38.2 2.38.1
