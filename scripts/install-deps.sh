#!/usr/bin/env bash
# Debian packages the test suite uses (real parts, no mocks): an OCI registry, image build tools, the
# Go toolchain and JDK for compiled test fixtures (Go binaries, jars, objcopy for cargo-auditable
# sections), and the real implementations the tests check moat against (dpkg, librpm, packaging, x/mod,
# Ruby's Gem::Version, composer/semver, Maven's ComparableVersion). Idempotent; needs root.
set -euo pipefail
PKGS=(docker-registry apache2-utils skopeo buildah mmdebstrap golang-go golang-github-google-uuid-dev
  golang-golang-x-net-dev golang-golang-x-mod-dev jq zstd ca-certificates curl openssl python3-rpm
  binutils openjdk-17-jdk-headless maven ruby python3-packaging python3-pip php-cli php-composer-semver time
  bsdutils unzip rpm rsyslog rsyslog-gnutls)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
