import type { Environment } from '@marcbachmann/cel-js';
import { type CelComparable, celError, fn } from './values.js';

/**
 * Kubernetes' URL library (k8s.io/apiserver/pkg/cel/library/urls.go): url(), isURL() and the getters. URLs
 * are parsed the way Go's url.ParseRequestURI does (an absolute URI or an absolute path), not the WHATWG
 * way: hosts keep their case and ports, `/path with spaces/` is accepted and escaped by getEscapedPath().
 */
export class CelURL implements CelComparable {
  constructor(
    readonly raw: string,
    readonly scheme: string,
    /** host with port, IPv6 literals in brackets (Go's URL.Host) */
    readonly host: string,
    /** unescaped path */
    readonly path: string,
    readonly rawPath: string,
    readonly rawQuery: string,
    readonly opaque: string,
  ) {}

  hostname(): string {
    const h = this.host;
    if (h.startsWith('[')) {
      const end = h.indexOf(']');
      return end < 0 ? h.slice(1) : h.slice(1, end);
    }
    const colon = h.lastIndexOf(':');
    return colon < 0 ? h : h.slice(0, colon);
  }

  port(): string {
    const h = this.host;
    const colon = h.lastIndexOf(':');
    if (colon < 0 || (h.startsWith('[') && colon < h.indexOf(']'))) return '';
    return h.slice(colon + 1);
  }

  /** Go's URL.EscapedPath: the raw path when it is a valid encoding of the path, else the path escaped. */
  escapedPath(): string {
    if (this.rawPath !== '' && validEncoded(this.rawPath) && urlUnescape(this.rawPath, false) === this.path) {
      return this.rawPath;
    }
    if (this.path === '*') return '*';
    return escapePath(this.path);
  }

  query(): Record<string, string[]> {
    const out: Record<string, string[]> = Object.create(null);
    for (const pair of this.rawQuery.split('&')) {
      // Go 1.17+ rejects ';' separators; such pairs are dropped from Query()
      if (pair === '' || pair.includes(';')) continue;
      const eq = pair.indexOf('=');
      let k: string;
      let v: string;
      try {
        k = urlUnescape(eq < 0 ? pair : pair.slice(0, eq), true);
        v = eq < 0 ? '' : urlUnescape(pair.slice(eq + 1), true);
      } catch {
        continue;
      }
      const list = out[k];
      if (list) list.push(v);
      else out[k] = [v];
    }
    return out;
  }

  celEquals(other: unknown): boolean {
    return other instanceof CelURL && other.raw === this.raw;
  }

  toString(): string {
    return this.raw;
  }
}

class UrlError extends Error {}

/** Go's url.ParseRequestURI. Throws UrlError with Go's wording for invalid input. */
export function parseRequestURI(raw: string): CelURL {
  if (/[\x00-\x1f\x7f]/.test(raw))
    throw new UrlError(`parse ${JSON.stringify(raw)}: net/url: invalid control character in URL`);
  if (raw === '') throw new UrlError('parse "": empty url');
  if (raw === '*') return new CelURL(raw, '', '', '*', '', '', '');
  let scheme = '';
  let rest = raw;
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  if (sm) {
    scheme = (sm[1] as string).toLowerCase();
    rest = raw.slice(sm[0].length);
  } else if (/^[^/?#]*:/.test(raw) && raw[0] === ':') {
    throw new UrlError(`parse ${JSON.stringify(raw)}: missing protocol scheme`);
  }
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return new CelURL(raw, scheme, '', '', '', rawQuery, rest);
    throw new UrlError(`parse ${JSON.stringify(raw)}: invalid URI for request`);
  }
  let host = '';
  if (scheme !== '' && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    host = parseHost(authority.slice(authority.lastIndexOf('@') + 1), raw);
  }
  let path: string;
  try {
    path = urlUnescape(rest, false);
  } catch (e) {
    throw new UrlError(`parse ${JSON.stringify(raw)}: ${(e as Error).message}`);
  }
  return new CelURL(raw, scheme, host, path, rest === path ? '' : rest, rawQuery, '');
}

function parseHost(host: string, raw: string): string {
  const fail = (why: string): never => {
    throw new UrlError(`parse ${JSON.stringify(raw)}: ${why}`);
  };
  let name = host;
  let port = '';
  if (host.startsWith('[')) {
    const end = host.lastIndexOf(']');
    if (end < 0) fail("missing ']' in host");
    port = host.slice(end + 1);
    name = host.slice(0, end + 1);
    if (port !== '' && !/^:[0-9]*$/.test(port)) fail(`invalid port ${JSON.stringify(port)} after host`);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon);
      name = host.slice(0, colon);
      if (!/^:[0-9]*$/.test(port)) fail(`invalid port ${JSON.stringify(port)} after host`);
    }
  }
  // characters Go's urlUnescape(host, encodeHost) rejects
  for (const ch of name) {
    if (ch.charCodeAt(0) < 0x80 && !/[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]/.test(ch)) {
      fail(`invalid character ${JSON.stringify(ch)} in host name`);
    }
  }
  try {
    urlUnescape(name, false);
  } catch (e) {
    fail((e as Error).message);
  }
  return host;
}

function urlUnescape(s: string, plusIsSpace: boolean): string {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw new Error(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c === '+' && plusIsSpace) bytes.push(0x20);
    else for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Go's validEncoded(s, encodePath). */
function validEncoded(s: string): boolean {
  return /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]/%]*$/.test(s);
}

/** Go's escape(s, encodePath): keep unreserved and `$&+,/:;=@`, percent-encode the rest (upper-case hex). */
function escapePath(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~$&+,/:;=@]/.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function url(s: string): CelURL {
  try {
    return parseRequestURI(s);
  } catch (e) {
    throw celError('invalid_url', `URL parse error during conversion from string: ${(e as Error).message}`);
  }
}

export function registerUrls(env: Environment): void {
  env.registerType('URL', CelURL);
  fn(env, 'url(string): URL', url);
  fn(env, 'isURL(string): bool', (s: string) => {
    try {
      parseRequestURI(s);
      return true;
    } catch {
      return false;
    }
  });
  fn(env, 'URL.getScheme(): string', (u: CelURL) => u.scheme);
  fn(env, 'URL.getHost(): string', (u: CelURL) => u.host);
  fn(env, 'URL.getHostname(): string', (u: CelURL) => u.hostname());
  fn(env, 'URL.getPort(): string', (u: CelURL) => u.port());
  fn(env, 'URL.getEscapedPath(): string', (u: CelURL) => u.escapedPath());
  fn(env, 'URL.getQuery(): map<string, list<string>>', (u: CelURL) => u.query());
  fn(env, 'string(URL): string', (u: CelURL) => u.raw);
  env.registerOperator('URL == URL', (a: CelURL, b: CelURL) => a.celEquals(b));
}
