#!/usr/bin/env bash
# make-lang-binaries.sh — compiled inputs for the Go, Rust and Java analyzers' tests, built with real
# tools and nothing from the network:
#   go/      one program built offline by Debian's golang-go from vendored Debian sources
#            (golang-github-google-uuid-dev, golang-golang-x-net-dev), with a module replacement and a
#            local-directory replacement: app (linux/amd64), app-stripped (-trimpath -ldflags='-s -w'),
#            app-386 (ELF32), app.exe (PE), app-darwin (Mach-O), and truncated copies. The tests take
#            their expectations from `go version -m`.
#   rust/    cargo-auditable data added to a copy of /usr/bin/true with objcopy (deps.json is the
#            uncompressed JSON, the expectation), plus a copy whose .dep-v0 is not zlib data.
#   java/    jars, a war, an ear, a Spring-Boot-style jar (stored nested jars), a shaded jar, deep nesting,
#            a zip bomb and corrupt archives, packed with the JDK's `jar` tool; expected.tsv lists what
#            each file's pom.properties / MANIFEST.MF / name says (archive, groupId:artifactId, version,
#            evidence), written from the same values that wrote those files.
# Output: $1, else ${MOAT_TEST_IMAGES:-/var/tmp/moat-test-images}/lang-binaries. Idempotent: a stamp (hash of
# this script and the tool versions) skips a rebuild. Go's build cache: $CACHE_DIR/gocache
# (CACHE_DIR defaults to /var/tmp/moat-image-cache). Cold run ~2 min on 2 cores (four standard-library
# builds for other platforms), then instant. Needs: golang-go, golang-github-google-uuid-dev,
# golang-golang-x-net-dev, binutils (objcopy), default-jdk-headless (jar), node.
set -euo pipefail
OUT=${1:-${MOAT_TEST_IMAGES:-/var/tmp/moat-test-images}/lang-binaries}
CACHE_DIR=${CACHE_DIR:-/var/tmp/moat-image-cache}
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

for t in go jar objcopy node; do
  command -v "$t" >/dev/null || { echo "make-lang-binaries.sh: '$t' is missing (apt-get install golang-go binutils default-jdk-headless)" >&2; exit 1; }
done
S=/usr/share/gocode/src
for d in "$S/github.com/google/uuid" "$S/golang.org/x/net/html"; do
  [[ -d $d ]] || { echo "make-lang-binaries.sh: $d is missing (apt-get install golang-github-google-uuid-dev golang-golang-x-net-dev)" >&2; exit 1; }
done

STAMP="$(sha256sum "$0" | cut -c1-16) $(go version) $(jar --version 2>&1 | head -1) $(objcopy --version | head -1)"
if [[ -f $OUT/stamp && $(cat "$OUT/stamp") == "$STAMP" && ${FORCE:-0} != 1 ]]; then exit 0; fi
mkdir -p "$(dirname "$OUT")" "$CACHE_DIR"
exec 9>"$OUT.lock"; flock 9
if [[ -f $OUT/stamp && $(cat "$OUT/stamp") == "$STAMP" && ${FORCE:-0} != 1 ]]; then exit 0; fi   # built while we waited
TMP="$OUT.tmp"; rm -rf "$TMP"; mkdir -p "$TMP/go" "$TMP/rust" "$TMP/java"
W=$(mktemp -d /tmp/moat-lang-bin.XXXXXX); trap 'rm -rf "$W"' EXIT

# --- Go: vendored Debian sources, a versioned replacement and a local-directory replacement ---
G="$W/go"; mkdir -p "$G/vendor/github.com/google" "$G/vendor/golang.org/x/net" "$G/vendor/example.com/localmod" "$G/localmod"
cp -r "$S/github.com/google/uuid" "$G/vendor/github.com/google/"
cp -r "$S/golang.org/x/net/html" "$G/vendor/golang.org/x/net/"
printf 'module example.com/localmod\n\ngo 1.19\n' > "$G/localmod/go.mod"
printf 'package localmod\n\nfunc Hello() string { return "hi" }\n' > "$G/localmod/localmod.go"
cp "$G/localmod/"* "$G/vendor/example.com/localmod/"
cat > "$G/go.mod" <<'EOF'
module example.com/moatfixture

go 1.19

require (
	example.com/localmod v0.0.0
	github.com/google/uuid v1.3.0
	golang.org/x/net v0.7.0
)

replace github.com/google/uuid v1.3.0 => github.com/moat-fixture/uuid v1.3.1

replace example.com/localmod => ./localmod
EOF
cat > "$G/vendor/modules.txt" <<'EOF'
# example.com/localmod v0.0.0 => ./localmod
## explicit; go 1.19
example.com/localmod
# github.com/google/uuid v1.3.0 => github.com/moat-fixture/uuid v1.3.1
## explicit
github.com/google/uuid
# golang.org/x/net v0.7.0
## explicit; go 1.17
golang.org/x/net/html
golang.org/x/net/html/atom
# example.com/localmod => ./localmod
# github.com/google/uuid v1.3.0 => github.com/moat-fixture/uuid v1.3.1
EOF
cat > "$G/main.go" <<'EOF'
package main

import (
	"fmt"
	"strings"

	"example.com/localmod"
	"github.com/google/uuid"
	"golang.org/x/net/html"
)

func main() {
	doc, _ := html.Parse(strings.NewReader("<p>hello</p>"))
	fmt.Println(uuid.NewString(), doc.FirstChild.Data, localmod.Hello())
}
EOF
gobuild() { local out=$1; shift
  log "go build $out"
  (cd "$G" && env GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOCACHE="$CACHE_DIR/gocache" "$@" go build -o "$TMP/go/$out" .)
}
gobuild app
(cd "$G" && GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOCACHE="$CACHE_DIR/gocache" go build -trimpath -ldflags='-s -w' -o "$TMP/go/app-stripped" .)
gobuild app-386 GOARCH=386
gobuild app.exe GOOS=windows
gobuild app-darwin GOOS=darwin
# cut short: past the section names (1 MiB), past the build info (half), inside the program headers
size=$(stat -c %s "$TMP/go/app")
head -c $((size / 2)) "$TMP/go/app" > "$TMP/go/app-truncated-half"
head -c 1048576 "$TMP/go/app" > "$TMP/go/app-truncated-1m"
head -c 100 "$TMP/go/app" > "$TMP/go/app-truncated-100"
chmod 755 "$TMP/go/"*

# --- Rust: cargo-auditable's .dep-v0 (zlib-compressed JSON) added with objcopy ---
cat > "$TMP/rust/deps.json" <<'EOF'
{"packages":[{"name":"auditable-fixture","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},{"name":"serde","version":"1.0.130","source":"crates.io","dependencies":[3]},{"name":"smallvec","version":"1.6.0","source":"crates.io"},{"name":"serde_derive","version":"1.0.130","source":"crates.io","kind":"build","dependencies":[4]},{"name":"proc-macro2","version":"1.0.29","source":"crates.io","kind":"build"},{"name":"time","version":"0.1.43","source":"crates.io"}]}
EOF
node -e 'const z=require("zlib"),fs=require("fs");fs.writeFileSync(process.argv[2],z.deflateSync(fs.readFileSync(process.argv[1])))' \
  "$TMP/rust/deps.json" "$W/deps.z"
head -c 4096 /dev/urandom > "$W/garbage"
objcopy --add-section .dep-v0="$W/deps.z" --set-section-flags .dep-v0=noload,readonly /usr/bin/true "$TMP/rust/auditable"
objcopy --add-section .dep-v0="$W/garbage" --set-section-flags .dep-v0=noload,readonly /usr/bin/true "$TMP/rust/auditable-corrupt"
cp /usr/bin/true "$TMP/rust/plain"
chmod 755 "$TMP/rust/auditable" "$TMP/rust/auditable-corrupt" "$TMP/rust/plain"

# --- Java: archives packed by the JDK's jar tool ---
J="$W/java"; JO="$TMP/java"; EXP="$JO/expected.tsv"; : > "$EXP"
expect() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$EXP"; }
# pomjar FILE GROUP ARTIFACT VERSION [DIR]: a jar with pom.properties and a manifest naming the same artifact
pomdir() { local d=$1 g=$2 a=$3 v=$4
  mkdir -p "$d/META-INF/maven/$g/$a" "$d/${g//.//}"
  printf '#Generated by Maven\ngroupId=%s\nartifactId=%s\nversion=%s\n' "$g" "$a" "$v" > "$d/META-INF/maven/$g/$a/pom.properties"
  printf 'class placeholder\n' > "$d/${g//.//}/Main.class"
}
mf() { printf 'Manifest-Version: 1.0\n'; for l in "$@"; do printf '%s\n' "$l"; done; }
pack() { local file=$1 dir=$2; shift 2; jar --create --file "$file" "$@" -C "$dir" .; }

mkdir -p "$J/alpha"; pomdir "$J/alpha" org.moat.fixture alpha-lib 1.2.3
mf "Implementation-Title: alpha-lib" "Implementation-Version: 1.2.3" > "$J/alpha.mf"
pack "$JO/alpha-lib-1.2.3.jar" "$J/alpha" --manifest "$J/alpha.mf"
expect alpha-lib-1.2.3.jar org.moat.fixture:alpha-lib 1.2.3 pom.properties

# manifest only: Implementation-Vendor-Id names the group
mkdir -p "$J/beta/org/moat/beta"; printf 'x\n' > "$J/beta/org/moat/beta/Beta.class"
mf "Implementation-Title: beta-core" "Implementation-Version: 2.0.1" "Implementation-Vendor-Id: org.moat.beta" \
  "Implementation-Vendor: The Moat Project" > "$J/beta.mf"
pack "$JO/beta-core-2.0.1.jar" "$J/beta" --manifest "$J/beta.mf"
expect beta-core-2.0.1.jar org.moat.beta:beta-core 2.0.1 MANIFEST.MF

# manifest only, OSGi: Bundle-SymbolicName minus the artifactId; a continuation line in the manifest
mkdir -p "$J/gamma/com/example/gamma"; printf 'x\n' > "$J/gamma/com/example/gamma/Gamma.class"
mf "Bundle-ManifestVersion: 2" "Bundle-SymbolicName: com.example.gamma;singleton:=true" "Bundle-Version: 3.1.0" \
  "Bundle-Description: a description long enough that it is folded onto a continuation line by the writer of" \
  " this manifest" > "$J/gamma.mf"
pack "$JO/gamma-3.1.0.jar" "$J/gamma" --manifest "$J/gamma.mf"
expect gamma-3.1.0.jar com.example:gamma 3.1.0 MANIFEST.MF

# nothing but the file name (jar writes a bare manifest)
mkdir -p "$J/legacy/legacy"; printf 'x\n' > "$J/legacy/legacy/Util.class"
pack "$JO/legacy-util-0.9.jar" "$J/legacy"
expect legacy-util-0.9.jar legacy-util:legacy-util 0.9 'file name'

# no metadata and no version in the name: nothing to report
pack "$JO/app.jar" "$J/legacy"

# shaded: its own pom.properties and a bundled library's
mkdir -p "$J/shaded"; pomdir "$J/shaded" org.moat shaded-app 4.0.0; pomdir "$J/shaded" com.google.code.gson gson 2.8.5
pack "$JO/shaded-app-4.0.0.jar" "$J/shaded"
expect shaded-app-4.0.0.jar org.moat:shaded-app 4.0.0 pom.properties
expect shaded-app-4.0.0.jar com.google.code.gson:gson 2.8.5 pom.properties

# a war with libraries in WEB-INF/lib (deflated, as jar writes them), one of them corrupt
mkdir -p "$J/web/WEB-INF/lib"; pomdir "$J/web" org.moat.web webapp 1.0
cp "$JO/alpha-lib-1.2.3.jar" "$JO/beta-core-2.0.1.jar" "$J/web/WEB-INF/lib/"
head -c 3000 /dev/urandom > "$J/web/WEB-INF/lib/broken-1.0.jar"
pack "$JO/webapp-1.0.war" "$J/web"
expect webapp-1.0.war org.moat.web:webapp 1.0 pom.properties
expect webapp-1.0.war org.moat.fixture:alpha-lib 1.2.3 pom.properties
expect webapp-1.0.war org.moat.beta:beta-core 2.0.1 MANIFEST.MF

# an ear holding the war and a library: three levels
mkdir -p "$J/ear/lib"; cp "$JO/webapp-1.0.war" "$J/ear/"; cp "$JO/legacy-util-0.9.jar" "$J/ear/lib/"
pack "$JO/suite-5.0.ear" "$J/ear"
expect suite-5.0.ear org.moat.web:webapp 1.0 pom.properties
expect suite-5.0.ear org.moat.fixture:alpha-lib 1.2.3 pom.properties
expect suite-5.0.ear org.moat.beta:beta-core 2.0.1 MANIFEST.MF
expect suite-5.0.ear legacy-util:legacy-util 0.9 'file name'
expect suite-5.0.ear suite:suite 5.0 'file name'

# Spring Boot layout: nested jars stored, not deflated (read in place)
mkdir -p "$J/boot/BOOT-INF/lib"; pomdir "$J/boot" org.moat.boot boot-app 1.0
cp "$JO/alpha-lib-1.2.3.jar" "$JO/gamma-3.1.0.jar" "$J/boot/BOOT-INF/lib/"
pack "$JO/boot-app-1.0.jar" "$J/boot" --no-compress
expect boot-app-1.0.jar org.moat.boot:boot-app 1.0 pom.properties
expect boot-app-1.0.jar org.moat.fixture:alpha-lib 1.2.3 pom.properties
expect boot-app-1.0.jar com.example:gamma 3.1.0 MANIFEST.MF

# six archives deep: the first four are read, the fifth is reported as over the depth cap
prev=""
for i in 6 5 4 3 2 1; do
  mkdir -p "$J/deep$i/lib"; pomdir "$J/deep$i" org.moat.deep "level$i" 1.0
  [[ -n $prev ]] && cp "$prev" "$J/deep$i/lib/"
  pack "$W/level$i-1.0.jar" "$J/deep$i"; prev="$W/level$i-1.0.jar"
  if ((i <= 4)); then expect deep-1.0.jar "org.moat.deep:level$i" 1.0 pom.properties; fi
done
cp "$prev" "$JO/deep-1.0.jar"

# zip bomb: a 100 MiB nested "jar" of zeros deflates about 1000:1
mkdir -p "$J/bomb/lib"; pomdir "$J/bomb" org.moat bomb 1.0
head -c 104857600 /dev/zero > "$J/bomb/lib/zeros-1.0.jar"
pack "$JO/bomb-1.0.jar" "$J/bomb"
expect bomb-1.0.jar org.moat:bomb 1.0 pom.properties

# corrupt: the end of a real jar cut off, and random bytes
size=$(stat -c %s "$JO/alpha-lib-1.2.3.jar")
head -c $((size - 40)) "$JO/alpha-lib-1.2.3.jar" > "$JO/cut-1.0.jar"
head -c 5000 /dev/urandom > "$JO/garbage-1.0.jar"

echo "$STAMP" > "$TMP/stamp"
rm -rf "$OUT"; mv "$TMP" "$OUT"
log "lang binaries in $OUT"
