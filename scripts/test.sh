#!/usr/bin/env bash
# The whole test suite (what `npm test` and CI run): type-check, lint, build, prepare the real test
# images once, then every test file under test/ with node:test.
# Env: MOAT_TEST_IMAGES (default /var/tmp/moat-test-images), TEST_FILES (a subset of test files).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*" >&2; }

step "type-check (tsc --noEmit, strict)"
npx tsc -p tsconfig.json --noEmit
step "lint (biome)"
npx biome check .
step "build"
npm run --silent build
step "test images (real Debian images; cached per day)"
test/scripts/make-test-images.sh
test/scripts/make-fixture-images.sh
step "tests"
if [[ -n ${TEST_FILES:-} ]]; then files=($TEST_FILES); else mapfile -t files < <(find test -name '*.test.ts' -not -path '*/fixtures/*' | sort); fi
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "${files[@]}"
