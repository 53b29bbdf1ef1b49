#!/usr/bin/env bash
# make-test-images.sh — moat's copy of the workspace's test-image builder (../shared/tools), extended to
# export each image's dpkg database through buildah (independently of moat) for the Debian oracle, and
# to skip the build when today's images already exist. Builds REAL container images for scanner tests, with no Docker engine
# and no Docker Hub: Debian rootfs from the apt mirror (mmdebstrap), Dockerfile builds with
# buildah (vfs storage, --isolation chroot, as root, no daemon), export with skopeo.
#
# Images (all linux/amd64), tagged localhost/moat-test/NAME:latest in buildah's own store:
#   base        Debian bookworm minbase, slim (no docs/man/locale), current security updates, 1 layer
#   base-old    same from 'bookworm' main only (no security/updates), so older versions
#   distroless  no dpkg/apt/shell; files from .debs + /var/lib/dpkg/status.d/<pkg>(.md5sums)
#   node-app    base + /app with old npm deps (express 4.17.1, jsonwebtoken 8.5.0, lodash 4.17.15,
#               minimist 1.2.0) in node_modules + package-lock.json (no node runtime inside)
#   python      base + Debian python3-requests/yaml/jinja2 (dist-packages *.egg-info/.dist-info)
#   multilayer  base-old + layer 'install curl' + layer 'upgrade from bookworm-security, purge curl'
#               (the 3rd layer holds .wh. whiteouts and a newer /var/lib/dpkg/status)
#   go-scratch  FROM scratch, one static Go binary built offline by Debian golang-go 1.19 with
#               vendored deps from Debian (buildinfo: github.com/google/uuid v1.3.0, golang.org/x/net v0.7.0)
#
# Output ($OUT, default /tmp/moat-test-images):
#   $OUT/oci                 one OCI image layout, one ref per image   (skopeo: oci:$OUT/oci:NAME)
#   $OUT/archives/NAME.tar   `docker save`-style archive                (docker-archive:$OUT/archives/NAME.tar)
#   $OUT/images.txt          name, layers, compressed and archive sizes
#   $OUT/rootfs/NAME/var/lib/dpkg/{status,status.d/}   the final dpkg database of each image (via buildah mount)
#   $OUT/stamp               build date + hash of this script; a rerun with the same stamp does nothing
# Env: CACHE_DIR (default /var/tmp/moat-image-cache: rootfs tarballs keyed by date, buildah store,
#      Go cache), MIRROR, SECURITY_MIRROR, PUSH_TO=127.0.0.1:5000 (also push every image there,
#      plain HTTP), PUSH_CREDS=user:pass.
# Run time (2 cores): ~85 s cold (2 mmdebstrap runs of ~16 s, apt-get inside builds), ~20 s when
# the cache is warm (same day); +~10 s once for apt-get install of the tools. Disk: ~1.9 GB in
# CACHE_DIR, ~600 MB in OUT. Idempotent: re-running rebuilds from cache and overwrites outputs.
set -euo pipefail
OUT=${1:-${MOAT_TEST_IMAGES:-/var/tmp/moat-test-images}}
CACHE_DIR=${CACHE_DIR:-/var/tmp/moat-image-cache}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
NAMES="base base-old distroless node-app python multilayer go-scratch"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

need=()
for p in mmdebstrap buildah skopeo golang-go golang-github-google-uuid-dev golang-golang-x-net-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

STAMP="$(date +%Y%m%d) $(sha256sum "$0" | cut -c1-16)"
if [[ -f $OUT/stamp && $(cat "$OUT/stamp") == "$STAMP" && ${FORCE:-0} != 1 ]]; then
  log "test images up to date in $OUT"; exit 0
fi
mkdir -p "$CACHE_DIR/rootfs" "$OUT/archives"
exec 9>"$CACHE_DIR/.lock"; flock 9                      # one build at a time per cache
# new day = new rootfs: drop yesterday's buildah store (vfs keeps a full copy per layer, ~1.7 GB)
[[ -s $CACHE_DIR/rootfs/bookworm-slim-$(date +%Y%m%d).tar ]] || rm -rf "$CACHE_DIR/buildah" "$CACHE_DIR/buildah-run"
CTX=$(mktemp -d /tmp/moat-img-ctx.XXXXXX); trap 'rm -rf "$CTX"' EXIT
BUILDAH=(buildah --storage-driver vfs --root "$CACHE_DIR/buildah" --runroot "$CACHE_DIR/buildah-run")
bud() { local name=$1; shift; log "build $name"
  "${BUILDAH[@]}" bud --isolation chroot --layers --quiet --build-arg MIRROR="$MIRROR" \
    --build-arg SECURITY_MIRROR="$SECURITY_MIRROR" -t "localhost/moat-test/$name:latest" "$@" >/dev/null; }

# --- rootfs tarballs, cached per day (mmdebstrap ~16 s each) ---
rootfs() { # rootfs NAME SUITES... -> prints path of a tarball without /dev nodes
  local f; f="$CACHE_DIR/rootfs/$1-$(date +%Y%m%d).tar"; shift
  if [[ ! -s $f ]]; then
    log "mmdebstrap $(basename "$f")"
    local srcs=(); for s in "$@"; do [[ $s == *-security ]] && srcs+=("deb $SECURITY_MIRROR $s main") || srcs+=("deb $MIRROR $s main"); done
    mmdebstrap --format=tar --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      bookworm "$f.tmp" "${srcs[@]}" 2>"$f.log" || { tail -20 "$f.log" >&2; exit 1; }
    tar --delete -f "$f.tmp" --wildcards './dev/?*'   # no device nodes in an image layer
    mv "$f.tmp" "$f"
    find "$CACHE_DIR/rootfs" -name "$(basename "${f%-*}")-*" ! -name "$(basename "$f")*" -delete   # older days
  fi
  echo "$f"
}
for n in base base-old; do mkdir -p "$CTX/$n"; printf 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' > "$CTX/$n/Dockerfile"; done
cp "$(rootfs bookworm-slim bookworm bookworm-updates bookworm-security)" "$CTX/base/rootfs.tar"
cp "$(rootfs bookworm-main-only bookworm)" "$CTX/base-old/rootfs.tar"
bud base "$CTX/base"
bud base-old "$CTX/base-old"

# --- distroless-style ---
mkdir -p "$CTX/distroless"; cat > "$CTX/distroless/Dockerfile" <<'EOF'
FROM localhost/moat-test/base:latest AS build
ARG PKGS="base-files netbase tzdata media-types libc6 libssl3 ca-certificates"
RUN set -e; apt-get update -qq; apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null; \
    mkdir -p /out/var/lib/dpkg/status.d /out/etc/ssl/certs /out/tmp /out/home/nonroot /debs; chown _apt /debs; cd /debs; \
    apt-get download -qq $PKGS; \
    for d in *.deb; do p=$(dpkg-deb -f "$d" Package); dpkg-deb -x "$d" /out; \
      dpkg-deb -f "$d" > /out/var/lib/dpkg/status.d/$p; \
      dpkg-deb --ctrl-tarfile "$d" | tar -xO ./md5sums > /out/var/lib/dpkg/status.d/$p.md5sums || true; done; \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group; chmod 1777 /out/tmp; chown 65532:65532 /out/home/nonroot; \
    rm -rf /out/usr/share/doc /out/usr/share/man /out/usr/share/lintian; apt-get clean; rm -rf /var/lib/apt/lists/*
FROM scratch
COPY --from=build /out/ /
USER 65532:65532
EOF
bud distroless "$CTX/distroless"

# --- node app with old npm dependencies (npm registry) ---
mkdir -p "$CTX/node-app/app"; cat > "$CTX/node-app/app/package.json" <<'EOF'
{ "name": "vulnerable-node-app", "version": "1.0.0", "private": true, "main": "index.js",
  "dependencies": { "express": "4.17.1", "jsonwebtoken": "8.5.0", "lodash": "4.17.15", "minimist": "1.2.0" } }
EOF
echo 'require("express")().get("/", (q, r) => r.send("ok")).listen(process.env.PORT || 3000);' > "$CTX/node-app/app/index.js"
log "npm install (old deps)"
(cd "$CTX/node-app/app" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
printf 'FROM localhost/moat-test/base:latest\nWORKDIR /app\nCOPY app/ /app/\nCMD ["node", "index.js"]\n' > "$CTX/node-app/Dockerfile"
bud node-app "$CTX/node-app"

# --- python packages from Debian (PyPI is not reachable) ---
mkdir -p "$CTX/python"; cat > "$CTX/python/Dockerfile" <<'EOF'
FROM localhost/moat-test/base:latest
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-requests python3-yaml python3-jinja2 >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
EOF
bud python "$CTX/python"

# --- multi-layer: install, then upgrade + delete (whiteouts) ---
mkdir -p "$CTX/multilayer"; cat > "$CTX/multilayer/Dockerfile" <<'EOF'
FROM localhost/moat-test/base-old:latest
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl openssl >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*
ARG SECURITY_MIRROR
RUN echo "deb $SECURITY_MIRROR bookworm-security main" > /etc/apt/sources.list.d/security.list \
 && apt-get update -qq && apt-get -y -qq upgrade >/dev/null && apt-get purge -y -qq --auto-remove curl >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
EOF
bud multilayer "$CTX/multilayer"

# --- scratch + static Go binary, built offline with vendored Debian sources ---
G="$CTX/go-scratch/src"; S=/usr/share/gocode/src
mkdir -p "$G/vendor/github.com/google" "$G/vendor/golang.org/x/net"
cp -r "$S/github.com/google/uuid" "$G/vendor/github.com/google/"; cp -r "$S/golang.org/x/net/html" "$G/vendor/golang.org/x/net/"
printf 'module example.com/vulnapp\n\ngo 1.19\n\nrequire (\n\tgithub.com/google/uuid v1.3.0\n\tgolang.org/x/net v0.7.0\n)\n' > "$G/go.mod"
printf '# github.com/google/uuid v1.3.0\n## explicit\ngithub.com/google/uuid\n# golang.org/x/net v0.7.0\n## explicit; go 1.17\ngolang.org/x/net/html\ngolang.org/x/net/html/atom\n' > "$G/vendor/modules.txt"
cat > "$G/main.go" <<'EOF'
package main

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/net/html"
)

func main() {
	doc, _ := html.Parse(strings.NewReader("<p>hello</p>"))
	fmt.Println(uuid.NewString(), doc.FirstChild.Data)
}
EOF
log "go build (offline, vendored)"
(cd "$G" && GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOCACHE="$CACHE_DIR/gocache" \
  go build -trimpath -ldflags='-s -w' -o ../vulnapp .)
printf 'FROM scratch\nCOPY vulnapp /vulnapp\nENTRYPOINT ["/vulnapp"]\n' > "$CTX/go-scratch/Dockerfile"
bud go-scratch "$CTX/go-scratch"

# --- export: one OCI layout + docker-archive per image (+ optional push) ---
rm -rf "$OUT/oci" "$OUT/rootfs" "$OUT/stamp"; : > "$OUT/images.txt"
for n in $NAMES; do
  log "export $n"
  "${BUILDAH[@]}" push --quiet "localhost/moat-test/$n:latest" "oci:$OUT/oci:$n"
  rm -f "$OUT/archives/$n.tar"
  skopeo copy --quiet "oci:$OUT/oci:$n" "docker-archive:$OUT/archives/$n.tar:localhost/moat-test/$n:latest"
  read -r layers csize < <(skopeo inspect --raw "oci:$OUT/oci:$n" | python3 -c \
    'import json,sys; m=json.load(sys.stdin); print(len(m["layers"]), sum(l["size"] for l in m["layers"]))')
  printf '%-11s layers=%s compressed=%sB archive=%sB\n' "$n" "$layers" "$csize" "$(stat -c %s "$OUT/archives/$n.tar")" >> "$OUT/images.txt"
  # the final dpkg database, read through buildah's own mount (an oracle independent of moat's layer code)
  ctr=$("${BUILDAH[@]}" from --quiet --pull-never "localhost/moat-test/$n:latest")
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  mkdir -p "$OUT/rootfs/$n/var/lib/dpkg"
  [[ -f $mnt/var/lib/dpkg/status ]] && cp "$mnt/var/lib/dpkg/status" "$OUT/rootfs/$n/var/lib/dpkg/status"
  [[ -d $mnt/var/lib/dpkg/status.d ]] && cp -r "$mnt/var/lib/dpkg/status.d" "$OUT/rootfs/$n/var/lib/dpkg/status.d"
  [[ -f $mnt/etc/os-release ]] && mkdir -p "$OUT/rootfs/$n/etc" && cp -L "$mnt/etc/os-release" "$OUT/rootfs/$n/etc/os-release"
  "${BUILDAH[@]}" umount "$ctr" >/dev/null; "${BUILDAH[@]}" rm "$ctr" >/dev/null
  if [[ -n ${PUSH_TO:-} ]]; then
    skopeo copy --quiet --dest-tls-verify=false ${PUSH_CREDS:+--dest-creds "$PUSH_CREDS"} \
      "oci:$OUT/oci:$n" "docker://$PUSH_TO/moat-test/$n:latest"
  fi
done
echo "$STAMP" > "$OUT/stamp"
cat "$OUT/images.txt"
echo "OCI layout: $OUT/oci   archives: $OUT/archives   (skopeo: oci:$OUT/oci:NAME)"
