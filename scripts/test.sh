#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, npm deps, build, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npm run proto:check
npm run build
npm run lint
# The Linux guest and bare-metal programs (cached outside the tree by input hash; minutes when cold).
node guest/dist/src/build.js
npx mocha "$@"
