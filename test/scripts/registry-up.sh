#!/usr/bin/env bash
# registry-up.sh — a throwaway OCI registry for moat's tests: CNCF Distribution 2.8 (Debian package
# docker-registry), filesystem storage in a data dir, optional auth and notifications.
#
# Usage: registry-up.sh [start|stop|status]   (start is the default; prints REGISTRY=host:port)
# Env:   REG_PORT=5000                 port to listen on
#        REG_HOST=127.0.0.1            address to listen on (plain HTTP; a non-loopback one tests --insecure)
#        REG_DIR=/tmp/moat-registry-$REG_PORT   data, config, logs and pid files
#        REG_AUTH=user:pass            enable auth for that user: basic auth (htpasswd, bcrypt) ...
#        REG_TOKEN=1                   ... or, with REG_AUTH, Bearer tokens from registry-token-server.mjs
#        REG_TOKEN_PORT=$((REG_PORT+1))  the token server's port (realm http://127.0.0.1:PORT/token)
#        REG_TOKEN_FIELD=both|token|access_token   REG_TOKEN_ANON=deny|empty   (see the token server)
#        REG_TLS=1                     serve HTTPS with a self-signed certificate for 127.0.0.1/localhost
#                                      ($REG_DIR/tls.crt), to test TLS verification and --insecure
#        REG_NOTIFY_URL=http://...      POST push/pull events there
# The token setup is a small PKI made with openssl: a CA (the registry's rootcertbundle) and a signing
# certificate issued by it, whose chain the token server sends in each JWT's x5c header.
# Push:  skopeo copy --dest-tls-verify=false [--dest-creds user:pass] oci:DIR:REF docker://HOST:PORT/NAME:TAG
# Needs: docker-registry, apache2-utils (htpasswd), openssl, curl, node. Ready in ~0.2 s (+ ~0.3 s of
# key generation with REG_TOKEN). Idempotent: start on a running registry prints its address; stop
# removes REG_DIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${REG_PORT:-5000}
HOST=${REG_HOST:-127.0.0.1}
DIR=${REG_DIR:-/tmp/moat-registry-$PORT}
TPORT=${REG_TOKEN_PORT:-$((PORT + 1))}
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $s != Z* ]]; }
pid() { [[ -f $DIR/$1.pid ]] && alive "$(cat "$DIR/$1.pid")" && cat "$DIR/$1.pid"; }
hostport() { [[ $HOST == *:* ]] && echo "[$HOST]:$PORT" || echo "$HOST:$PORT"; }

case ${1:-start} in
stop)
  for n in registry token; do
    if p=$(pid $n); then
      kill "$p" 2>/dev/null || true
      for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
    fi
  done
  rm -rf "$DIR"
  echo "registry on $(hostport) stopped"
  exit 0 ;;
status)
  if p=$(pid registry); then echo "REGISTRY=$(hostport) (pid $p)"; else echo "not running"; exit 1; fi
  exit 0 ;;
start) ;;
*) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if pid registry >/dev/null; then echo "REGISTRY=$(hostport)"; exit 0; fi
for t in docker-registry htpasswd openssl curl node; do
  command -v "$t" >/dev/null || { echo "registry-up.sh: $t is missing (apt-get install docker-registry apache2-utils openssl curl)" >&2; exit 1; }
done

mkdir -p "$DIR/data"
cat > "$DIR/config.yml" <<EOF
version: 0.1
log: {level: info, formatter: text}
storage:
  filesystem: {rootdirectory: $DIR/data}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
http:
  addr: $(hostport)
  secret: moat-test-secret
  headers: {X-Content-Type-Options: [nosniff]}
EOF

SCHEME=http
if [[ -n ${REG_TLS:-} ]]; then
  SCHEME=https
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost -keyout "$DIR/tls.key" -out "$DIR/tls.crt" 2>/dev/null
  printf '  tls: {certificate: %s, key: %s}\n' "$DIR/tls.crt" "$DIR/tls.key" >> "$DIR/config.yml"
fi

if [[ -n ${REG_AUTH:-} && -n ${REG_TOKEN:-} ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=moat-test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=moat-token-signer \
    -keyout "$DIR/signer.key" -out "$DIR/signer.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$DIR/signer.ext"
  openssl x509 -req -in "$DIR/signer.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 3650 -extfile "$DIR/signer.ext" -out "$DIR/signer.crt" 2>/dev/null
  setsid node "$HERE/registry-token-server.mjs" --port "$TPORT" --key "$DIR/signer.key" \
    --cert "$DIR/signer.crt" --ca "$DIR/ca.crt" --users "$REG_AUTH" \
    --field "${REG_TOKEN_FIELD:-both}" --anonymous "${REG_TOKEN_ANON:-deny}" \
    >"$DIR/token.log" 2>&1 </dev/null &
  echo $! > "$DIR/token.pid"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$TPORT/" && break; sleep 0.05; done
  pid token >/dev/null || { echo "token server failed to start; log:" >&2; cat "$DIR/token.log" >&2; exit 1; }
  cat >> "$DIR/config.yml" <<EOF
auth:
  token: {realm: "http://127.0.0.1:$TPORT/token", service: moat-registry, issuer: moat-token-issuer, rootcertbundle: $DIR/ca.crt}
EOF
elif [[ -n ${REG_AUTH:-} ]]; then
  htpasswd -Bbn "${REG_AUTH%%:*}" "${REG_AUTH#*:}" > "$DIR/htpasswd"
  printf 'auth:\n  htpasswd: {realm: moat-registry, path: %s}\n' "$DIR/htpasswd" >> "$DIR/config.yml"
fi

if [[ -n ${REG_NOTIFY_URL:-} ]]; then
  cat >> "$DIR/config.yml" <<EOF
notifications:
  events: {includereferences: true}
  endpoints:
    - name: moat
      url: $REG_NOTIFY_URL
      timeout: 2s
      threshold: 5
      backoff: 1s
EOF
fi

# Distribution reads every REGISTRY_* environment variable as a config override: drop them
# shellcheck disable=SC2046
unset $(compgen -e | grep '^REGISTRY_' || true)
setsid docker-registry serve "$DIR/config.yml" >"$DIR/registry.log" 2>&1 </dev/null &
echo $! > "$DIR/registry.pid"
for _ in $(seq 200); do
  code=$(curl -sk -o /dev/null -w '%{http_code}' "$SCHEME://$(hostport)/v2/" || true)
  if [[ $code == 200 || $code == 401 ]]; then echo "REGISTRY=$(hostport)"; exit 0; fi
  pid registry >/dev/null || break
  sleep 0.05
done
echo "registry failed to start; log:" >&2
tail -20 "$DIR/registry.log" >&2
if p=$(pid token); then kill "$p"; fi
exit 1
