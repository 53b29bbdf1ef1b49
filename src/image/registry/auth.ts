import { MoatError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import { discard, type HttpResponse, networkError, readBody, type Transport } from './http.js';

export interface Challenge {
  /** lower-case scheme: "basic", "bearer", ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses WWW-Authenticate values (RFC 7235 section 4.1): several challenges may share one header, separated
 * by commas that also separate their parameters, and parameter values may be quoted strings with escapes.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skipSpace = () => {
      while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    };
    const token = () => {
      const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(i));
      if (!m) return '';
      i += m[0].length;
      return m[0];
    };
    while (i < value.length) {
      skipSpace();
      const name = token();
      if (!name) {
        i++;
        continue;
      }
      let j = i;
      while (value[j] === ' ' || value[j] === '\t') j++;
      if (value[j] !== '=' || value[j + 1] === '=' || !current) {
        // a new scheme; a token68 after it (never sent by registries) parses as a harmless unknown scheme
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
        continue;
      }
      i = j + 1;
      while (value[i] === ' ' || value[i] === '\t') i++;
      let v = '';
      if (value[i] === '"') {
        for (i++; i < value.length && value[i] !== '"'; i++) {
          if (value[i] === '\\' && i + 1 < value.length) i++;
          v += value[i];
        }
        i++;
      } else {
        v = token();
      }
      current.params[name.toLowerCase()] = v;
    }
  }
  return out;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Tokens live at least this long when the server does not say (the distribution token spec's default). */
const DEFAULT_TOKEN_SECONDS = 60;
const MAX_TOKEN_RESPONSE = 1024 * 1024;
/** Bound on cached tokens per registry: one per repository scope, normally one or two. */
const MAX_CACHED_TOKENS = 64;

/**
 * Produces Authorization headers for a registry from its challenge: Basic with the credentials, or a
 * Bearer token fetched from the challenge's realm for the pull scope of a repository
 * (https://distribution.github.io/distribution/spec/auth/token/). Tokens are cached per scope.
 */
export class Authenticator {
  readonly #transport: Transport;
  readonly #registry: string;
  readonly #creds?: Credentials;
  #challenge?: Challenge;
  readonly #tokens = new Map<string, CachedToken>();

  constructor(transport: Transport, registry: string, creds: Credentials | undefined) {
    this.#transport = transport;
    this.#registry = registry;
    this.#creds = creds;
  }

  get credentials(): Credentials | undefined {
    return this.#creds;
  }

  /** Learns the scheme from a 401's WWW-Authenticate; Bearer is preferred when several are offered. */
  setChallenge(header: string | string[] | undefined): Challenge | undefined {
    const all = parseChallenges(header);
    const chosen = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (chosen) this.#challenge = chosen;
    return chosen;
  }

  /** Forgets the cached token for a scope (after the registry refused it). */
  invalidate(scope: string): void {
    for (const key of this.#tokens.keys()) if (key.endsWith(`|${scope}`)) this.#tokens.delete(key);
  }

  async header(scope: string, subject: string): Promise<string | undefined> {
    const c = this.#challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.#creds ? basicHeader(this.#creds) : undefined;
    if (c.scheme !== 'bearer') return undefined;
    const realm = c.params.realm;
    if (!realm)
      throw new MoatError(
        'REGISTRY',
        `${subject}: registry ${this.#registry} sent a Bearer challenge without a realm`,
      );
    const key = `${realm}|${c.params.service ?? ''}|${scope}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.#fetchToken(realm, c.params.service, scope, subject);
    if (this.#tokens.size >= MAX_CACHED_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!);
    this.#tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  async #fetchToken(
    realm: string,
    service: string | undefined,
    scope: string,
    subject: string,
  ): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new MoatError(
        'REGISTRY',
        `${subject}: registry ${this.#registry} sent an invalid token realm "${realm}"`,
      );
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.#transport.allowsHttp(url.host))) {
      throw new MoatError(
        'INSECURE',
        `${subject}: registry ${this.#registry} wants tokens from ${url.origin}, which is not HTTPS; allowed only for loopback hosts or with --insecure`,
      );
    }
    if (service) url.searchParams.set('service', service);
    url.searchParams.append('scope', scope);
    let res: HttpResponse;
    try {
      res = await this.#transport.get(url, {
        subject,
        authorization: this.#creds ? basicHeader(this.#creds) : undefined,
        headers: { accept: 'application/json' },
      });
    } catch (e) {
      throw networkError(e, url.host, subject, this.#transport.opts.timeoutMs);
    }
    if (res.status === 401 || res.status === 403) {
      await discard(res);
      throw this.unauthorized(subject, `token server ${url.host} refused`);
    }
    if (res.status !== 200) {
      await discard(res);
      throw new MoatError('REGISTRY', `${subject}: token server ${url.host} returned HTTP ${res.status}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse((await readBody(res, MAX_TOKEN_RESPONSE, subject)).toString('utf8'));
    } catch (e) {
      if (e instanceof MoatError) throw e;
      throw new MoatError('REGISTRY', `${subject}: token server ${url.host} returned invalid JSON`);
    }
    // "token" is the documented field; OAuth2-style servers answer with "access_token" only
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || !token) {
      throw new MoatError('REGISTRY', `${subject}: token server ${url.host} returned no token`);
    }
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    // renew a little early so that a token does not expire between check and use
    return { token, expires: Date.now() + Math.max(seconds - 10, seconds / 2) * 1000 };
  }

  /** The UNAUTHORIZED error, saying whether credentials were given and where they came from. */
  unauthorized(subject: string, who = `registry ${this.#registry} refused`): MoatError {
    const c = this.#creds;
    const why = c
      ? `${who} the credentials of user "${c.username}" (from ${c.source})`
      : `${who} anonymous access (no credentials given: use --username/--password, MOAT_USERNAME/MOAT_PASSWORD or docker login)`;
    return new MoatError('UNAUTHORIZED', `${subject}: ${why}`);
  }
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
