#!/usr/bin/env bash
# make-fixture-images.sh — image fixtures derived from the real test images of make-test-images.sh, for
# the image-source tests: formats and shapes the plain builds do not have. Tools: buildah and skopeo
# (Debian packages), python3; no daemon, nothing is run inside an image.
#
# Output, under the same root as make-test-images.sh (${MOAT_TEST_IMAGES:-/var/tmp/moat-test-images}):
#   fixtures/                  one OCI image layout with these refs:
#     multiarch                OCI index: linux/amd64 = the base image, plus tiny linux/arm64/v8 and
#                              linux/arm/v7 images (/etc/os-release from base + /etc/moat-platform naming
#                              the platform), built from scratch with buildah config --arch, assembled with
#                              buildah manifest create/add/push --all
#     base-v2s2                the base image as a Docker schema 2 manifest (skopeo copy --format v2s2)
#     base-zstd                the base image with its layer recompressed as zstd
#                              (skopeo --dest-compress --dest-compress-format zstd)
#   fixture-archives/distroless-oci.tar
#                              a `docker save` archive in the Docker 25+ form: an OCI layout (uncompressed
#                              layers, blobs/sha256/...) plus manifest.json pointing into blobs/
#   fixtures.stamp             hash of this script + the stamp of the input images; a rerun with the same
#                              stamp does nothing (FORCE=1 rebuilds)
# Env: CACHE_DIR (default /var/tmp/moat-image-cache; buildah store in $CACHE_DIR/buildah-fixtures).
# Run time: ~3 s (most of it recompressing the base layer with zstd). Disk: ~110 MB.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-${MOAT_TEST_IMAGES:-/var/tmp/moat-test-images}}
CACHE_DIR=${CACHE_DIR:-/var/tmp/moat-image-cache}
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

[[ -f $OUT/stamp ]] || "$HERE/make-test-images.sh" "$OUT"
for t in buildah skopeo python3; do
  command -v "$t" >/dev/null || { echo "make-fixture-images.sh: $t is required (apt-get install $t)" >&2; exit 1; }
done

stamp() { echo "$(sha256sum "$0" | cut -c1-16) $(cat "$OUT/stamp")"; }
up_to_date() { [[ -f $OUT/fixtures.stamp && $(cat "$OUT/fixtures.stamp") == "$(stamp)" && ${FORCE:-0} != 1 ]]; }
if up_to_date; then log "fixture images up to date in $OUT"; exit 0; fi
mkdir -p "$CACHE_DIR"
exec 8>"$CACHE_DIR/.fixtures.lock"; flock 8
# another run may have finished while this one waited for the lock
if up_to_date; then log "fixture images up to date in $OUT"; exit 0; fi

TMP=$(mktemp -d /tmp/moat-fixtures.XXXXXX)
STORE=$CACHE_DIR/buildah-fixtures
BUILDAH=(buildah --storage-driver vfs --root "$STORE" --runroot "$STORE-run")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
SRC=$OUT/oci
FIX=$OUT/fixtures
rm -rf "$FIX" "$OUT/fixture-archives" "$OUT/fixtures.stamp"
mkdir -p "$OUT/fixture-archives"

# zstd first, into a fresh layout: copying into a layout that already holds the gzip blob of the same
# layer lets containers/image substitute that blob and keep gzip
log "base-zstd"
skopeo copy --quiet --dest-compress --dest-compress-format zstd "oci:$SRC:base" "oci:$FIX:base-zstd"
log "base-v2s2"
skopeo copy --quiet --format v2s2 "oci:$SRC:base" "oci:$FIX:base-v2s2"

log "multiarch"
"${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
"${BUILDAH[@]}" manifest rm localhost/moat-fixture/multiarch:latest >/dev/null 2>&1 || true
for spec in arm64/v8 arm/v7; do
  arch=${spec%/*} variant=${spec#*/}
  root=$TMP/root-$arch
  mkdir -p "$root/etc"
  cp "$OUT/rootfs/base/etc/os-release" "$root/etc/os-release"
  echo "linux/$spec" > "$root/etc/moat-platform"
  ctr=$("${BUILDAH[@]}" from --quiet scratch)
  "${BUILDAH[@]}" copy --quiet "$ctr" "$root/" / >/dev/null
  "${BUILDAH[@]}" config --os linux --arch "$arch" --variant "$variant" --cmd /bin/true "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "localhost/moat-fixture/tiny-$arch:latest" >/dev/null
done
"${BUILDAH[@]}" manifest create localhost/moat-fixture/multiarch:latest >/dev/null
"${BUILDAH[@]}" manifest add localhost/moat-fixture/multiarch:latest "oci:$SRC:base" >/dev/null
for arch in arm64 arm; do
  "${BUILDAH[@]}" manifest add localhost/moat-fixture/multiarch:latest \
    "containers-storage:localhost/moat-fixture/tiny-$arch:latest" >/dev/null
done
"${BUILDAH[@]}" manifest push --quiet --all localhost/moat-fixture/multiarch:latest "oci:$FIX:multiarch"
"${BUILDAH[@]}" manifest rm localhost/moat-fixture/multiarch:latest >/dev/null

log "distroless-oci.tar (Docker 25+ archive form)"
# docker save writes uncompressed layers; skopeo decompresses only into dir:, then keeps them with
# --dest-oci-accept-uncompressed-layers
skopeo copy --quiet --dest-decompress "oci:$SRC:distroless" "dir:$TMP/distroless-dir"
skopeo copy --quiet --dest-oci-accept-uncompressed-layers "dir:$TMP/distroless-dir" \
  "oci-archive:$TMP/distroless-oci.tar:localhost/moat-test/distroless:latest"
mkdir -p "$TMP/extract"
tar -xf "$TMP/distroless-oci.tar" -C "$TMP/extract" index.json
python3 - "$TMP/distroless-oci.tar" "$TMP/extract" <<'EOF'
import json, sys, tarfile
archive, tmp = sys.argv[1], sys.argv[2]
index = json.load(open(f"{tmp}/index.json"))
with tarfile.open(archive) as t:
    digest = index["manifests"][0]["digest"]
    manifest = json.load(t.extractfile("blobs/" + digest.replace(":", "/")))
path = lambda d: "blobs/" + d["digest"].replace(":", "/")
entry = {"Config": path(manifest["config"]), "RepoTags": ["localhost/moat-test/distroless:latest"],
         "Layers": [path(l) for l in manifest["layers"]]}
assert all(l["mediaType"] == "application/vnd.oci.image.layer.v1.tar" for l in manifest["layers"]), "layers not uncompressed"
json.dump([entry], open(f"{tmp}/manifest.json", "w"))
EOF
tar -rf "$TMP/distroless-oci.tar" -C "$TMP/extract" manifest.json
mv "$TMP/distroless-oci.tar" "$OUT/fixture-archives/distroless-oci.tar"

# check what was asked for really came out (a tool that silently kept gzip or OCI types would pass)
python3 - "$FIX" <<'EOF'
import json, sys
fix = sys.argv[1]
blob = lambda d: json.load(open(f"{fix}/blobs/" + d.replace(":", "/")))
refs = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in json.load(open(f"{fix}/index.json"))["manifests"]}
z = blob(refs["base-zstd"]["digest"])
assert all(l["mediaType"].endswith("+zstd") for l in z["layers"]), "base-zstd layers are not zstd"
v = blob(refs["base-v2s2"]["digest"])
assert v["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", "base-v2s2 is not schema 2"
idx = blob(refs["multiarch"]["digest"])
plats = sorted("/".join(filter(None, [m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")])) for m in idx["manifests"])
assert plats == ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"], plats
print("fixtures:", ", ".join(sorted(refs)), "| multiarch:", ", ".join(plats))
EOF
stamp > "$OUT/fixtures.stamp"
log "fixtures in $FIX (oci:$FIX:REF) and $OUT/fixture-archives"
