#!/usr/bin/env bash
# Quick start: from a clean clone to a working `moat` on PATH with vulnerability data loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run --silent build
npm link --no-audit --no-fund >/dev/null 2>&1 || ln -sf "$PWD/bin/moat.js" /usr/local/bin/moat
echo "moat $(moat --version) installed at $(command -v moat)"
if moat db update --quiet --timeout 60s; then
  echo "vulnerability data downloaded"
else
  echo "OSV download not reachable: importing the OSV snapshot bundled for tests (offline)"
  for z in test/fixtures/vulndb/osv-export/*/all.zip; do moat db import --quiet "$z"; done
fi
moat db status
