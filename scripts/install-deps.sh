#!/usr/bin/env bash
# Debian packages the test suite uses (real parts, no mocks): an OCI registry, image build tools, the
# Go toolchain for the static-binary test image, and the oracles (dpkg, jq). Idempotent; needs root.
set -euo pipefail
PKGS=(docker-registry apache2-utils skopeo buildah mmdebstrap golang-go golang-github-google-uuid-dev
  golang-golang-x-net-dev jq zstd ca-certificates curl openssl python3-rpm)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
