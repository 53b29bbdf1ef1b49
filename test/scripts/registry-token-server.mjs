#!/usr/bin/env node
// registry-token-server.mjs — a Docker Registry v2 token server for moat's tests, no dependencies
// (https://distribution.github.io/distribution/spec/auth/token/).
//
//   GET /token?service=S&scope=repository:NAME:pull[&scope=...]   (Basic auth for users)
//   -> 200 {"token", "access_token", "expires_in", "issued_at"}
//
// Tokens are RS256 JWTs signed by KEY, whose certificate chain travels in the `x5c` header (leaf first,
// then the issuing CA); the registry trusts them through auth.token.rootcertbundle = the CA certificate.
//
// Usage: node registry-token-server.mjs --port P --key signer.key --cert signer.crt --ca ca.crt
//          [--issuer moat-token-issuer] [--users user:pass,user2:pass2] [--ttl 300]
//          [--field both|token|access_token]   which JSON field(s) carry the token
//          [--anonymous deny|empty]             no credentials: 401 (deny), or a token without access
// With no --users every request gets the scopes it asks for. Logs one line per request to stdout.
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    key: { type: 'string' },
    cert: { type: 'string' },
    ca: { type: 'string' },
    issuer: { type: 'string', default: 'moat-token-issuer' },
    users: { type: 'string', default: '' },
    ttl: { type: 'string', default: '300' },
    field: { type: 'string', default: 'both' },
    anonymous: { type: 'string', default: 'deny' },
  },
});
if (!args.port || !args.key || !args.cert) {
  console.error(
    'usage: registry-token-server.mjs --port P --key KEY --cert CERT [--ca CA] [--users u:p,...]',
  );
  process.exit(2);
}

const key = createPrivateKey(readFileSync(args.key));
const der = (file) => new X509Certificate(readFileSync(file)).raw.toString('base64');
// x5c holds standard base64 DER, leaf first (RFC 7515 section 4.1.6)
const x5c = [der(args.cert), ...(args.ca ? [der(args.ca)] : [])];
const users = new Map(
  args.users
    .split(',')
    .filter(Boolean)
    .map((u) => [u.slice(0, u.indexOf(':')), u.slice(u.indexOf(':') + 1)]),
);
const ttl = Number(args.ttl);
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** "repository:name/with:colons:pull,push" -> {type, name, actions}; the name may contain ":" (ports). */
function parseScope(scope) {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

function jwt(subject, audience, access) {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', x5c };
  const claims = {
    iss: args.issuer,
    sub: subject,
    aud: audience,
    exp: now + ttl,
    nbf: now - 10,
    iat: now,
    jti: randomUUID(),
    access,
  };
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function deny(res, why) {
  res.statusCode = 401;
  res.setHeader('www-authenticate', 'Basic realm="moat-token-server"');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: why }] }));
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://token');
  if (url.pathname !== '/token') {
    res.statusCode = 404;
    return res.end();
  }
  const auth = req.headers.authorization ?? '';
  let user;
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = decoded.slice(0, colon);
    if (colon < 0 || !users.has(name) || users.get(name) !== decoded.slice(colon + 1)) {
      console.log(`token denied: bad credentials for "${name}"`);
      return deny(res, 'invalid username or password');
    }
    user = name;
  }
  const scopes = url.searchParams.getAll('scope').map(parseScope).filter(Boolean);
  let access = scopes;
  if (users.size > 0 && user === undefined) {
    if (args.anonymous !== 'empty') {
      console.log('token denied: anonymous');
      return deny(res, 'authentication required');
    }
    access = [];
  }
  const service = url.searchParams.get('service') ?? '';
  const token = jwt(user ?? 'anonymous', service, access);
  console.log(
    `token for ${user ?? 'anonymous'} service=${service} scopes=${url.searchParams.getAll('scope').join(' ')}`,
  );
  const body = { expires_in: ttl, issued_at: new Date().toISOString() };
  if (args.field !== 'access_token') body.token = token;
  if (args.field !== 'token') body.access_token = token;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
});
server.listen(Number(args.port), args.host, () => console.log(`token server on ${args.host}:${args.port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
