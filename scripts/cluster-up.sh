#!/usr/bin/env bash
# The README's first command (`npm start`): from a fresh clone to a running local cluster.
# Installs Debian's packages (servers, guest toolchain), the npm dependencies, builds, builds the
# Linux guest (cached after the first time), then runs `hypernova cluster up`, which prints
# `openrc: <path>` once ready. Extra arguments go to `cluster up` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
if node -e "process.exit(require('./package.json').scripts['guest:build'] ? 0 : 1)"; then
  npm run guest:build
fi
exec node cli/bin/hypernova.js cluster up "$@"
