import { Readable } from 'node:stream';
import { MoatError } from '../../errors.js';
import { log } from '../../log.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from '../manifest.js';
import { digestProblem, type ImageReference } from '../reference.js';
import { sha256Digest, verifyBuffer } from '../verify.js';
import type { Authenticator } from './auth.js';
import {
  discard,
  type HttpResponse,
  isAbort,
  isRetryableError,
  isTlsProtocolError,
  isTlsVerifyError,
  networkError,
  oneLine,
  readBody,
  type Transport,
} from './http.js';

const MAX_ERROR_BODY = 64 * 1024;
/** A blob download cut by a connection reset is resumed with a Range request this many times. */
const MAX_RESUMES = 3;
/** A missing tag's error lists this many of the repository's tags. */
const MAX_TAGS_SHOWN = 10;

export interface FetchedManifest {
  bytes: Buffer;
  /** Content-Type of the response, if any */
  mediaType?: string;
  digest: string;
}

/** The registry's error body (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes). */
async function registryError(res: HttpResponse): Promise<{ code?: string; message?: string }> {
  try {
    const body = await readBody(res, MAX_ERROR_BODY, 'error body');
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = doc.errors?.[0];
    return {
      code: typeof first?.code === 'string' ? first.code : undefined,
      message: typeof first?.message === 'string' ? first.message : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * A client for one repository on one registry (OCI distribution spec v1.1 pull API). The first request
 * probes GET /v2/ to choose the scheme (HTTPS; plain HTTP only for loopback hosts or --insecure) and to
 * learn the auth challenge.
 */
export class RegistryClient {
  readonly #ref: ImageReference;
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #scope: string;
  #ready?: Promise<string>;

  constructor(ref: ImageReference, transport: Transport, auth: Authenticator) {
    this.#ref = ref;
    this.#transport = transport;
    this.#auth = auth;
    this.#scope = `repository:${ref.repository}:pull`;
  }

  get #host(): string {
    return this.#ref.apiHost;
  }

  #net(e: unknown, subject: string): unknown {
    return networkError(e, this.#host, subject, this.#transport.opts.timeoutMs);
  }

  #base(subject: string): Promise<string> {
    this.#ready ??= this.#probe(subject);
    return this.#ready;
  }

  async #probe(subject: string): Promise<string> {
    const host = this.#host;
    const ping = (scheme: string) => this.#transport.get(new URL(`${scheme}://${host}/v2/`), { subject });
    let base = `https://${host}`;
    let res: HttpResponse;
    try {
      res = await ping('https');
    } catch (e) {
      if (isAbort(e)) throw e;
      if (!this.#transport.allowsHttp(host)) {
        if (isTlsProtocolError(e)) {
          throw new MoatError(
            'INSECURE',
            `${subject}: registry ${host} does not speak HTTPS; plain HTTP is used only for loopback hosts or with --insecure`,
            { cause: e },
          );
        }
        throw this.#net(e, subject);
      }
      // a loopback registry with an untrusted certificate speaks TLS: downgrading would not help
      if (isTlsVerifyError(e)) throw this.#net(e, subject);
      log.debug(
        { registry: host, reason: String((e as Error).message).trim() },
        'HTTPS failed, trying plain HTTP',
      );
      base = `http://${host}`;
      try {
        res = await ping('http');
      } catch (e2) {
        throw this.#net(e2, subject);
      }
    }
    if (res.status === 401) this.#auth.setChallenge(res.headers['www-authenticate']);
    if (res.status >= 500) {
      const err = await registryError(res);
      throw new MoatError(
        'REGISTRY',
        `${subject}: registry ${host} returned HTTP ${res.status}${detail(err)}`,
      );
    }
    await discard(res);
    return base;
  }

  /** GET /v2/<repo>/<kind>/<reference>, with auth, returning a 2xx (206 for ranges) or throwing a MoatError. */
  async #get(
    kind: 'manifests' | 'blobs' | 'tags',
    reference: string,
    subject: string,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    const base = await this.#base(subject);
    const url = new URL(`${base}/v2/${this.#ref.repository}/${kind}/${reference}`);
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.#auth.header(this.#scope, subject);
      let res: HttpResponse;
      try {
        res = await this.#transport.get(url, { subject, headers, authorization });
      } catch (e) {
        throw this.#net(e, subject);
      }
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 401 && attempt === 0) {
        // a registry may challenge per repository (or the token expired): take the new challenge, retry once
        const challenge = this.#auth.setChallenge(res.headers['www-authenticate']);
        await discard(res);
        this.#auth.invalidate(this.#scope);
        const canBasic = challenge?.scheme === 'basic' && !authorization && this.#auth.credentials;
        if (challenge?.scheme === 'bearer' || canBasic) continue;
        throw this.#unauthorized(subject, 'refused');
      }
      if (res.status === 401 || res.status === 403) {
        await discard(res);
        throw this.#unauthorized(subject, res.status === 403 ? 'denied' : 'refused');
      }
      const err = await registryError(res);
      if (res.status === 404) throw await this.#notFound(kind, reference, subject, err.code);
      throw new MoatError(
        'REGISTRY',
        `${subject}: registry ${this.#host} returned HTTP ${res.status}${detail(err)}`,
      );
    }
  }

  #unauthorized(subject: string, verb: string): MoatError {
    const c = this.#auth.credentials;
    const registry = this.#ref.registry;
    const repo = this.#ref.repository;
    if (c) {
      return new MoatError(
        'UNAUTHORIZED',
        `${subject}: registry ${registry} ${verb} access to ${repo} with the credentials of user "${c.username}" (from ${c.source})`,
      );
    }
    return new MoatError(
      'UNAUTHORIZED',
      `${subject}: registry ${registry} ${verb} anonymous access to ${repo} (it may be private or not exist; give --username/--password, MOAT_USERNAME/MOAT_PASSWORD or docker login)`,
    );
  }

  async #notFound(kind: string, reference: string, subject: string, code?: string): Promise<MoatError> {
    const where = `${this.#ref.registry}/${this.#ref.repository}`;
    const repoMissing = () =>
      new MoatError(
        'NOT_FOUND',
        `${subject}: repository ${this.#ref.repository} not found on ${this.#ref.registry}`,
      );
    if (code === 'NAME_UNKNOWN') return repoMissing();
    if (kind === 'blobs')
      return new MoatError('NOT_FOUND', `${subject}: blob ${reference} not found in ${where}`);
    if (kind !== 'manifests') return new MoatError('NOT_FOUND', `${subject}: ${where} not found`);
    if (!digestProblem(reference)) {
      return new MoatError('NOT_FOUND', `${subject}: manifest ${reference} not found in ${where}`);
    }
    // Distribution answers MANIFEST_UNKNOWN for unknown repositories too: the tag list tells them apart
    const tags = await this.#tags(subject);
    if (tags === null) return repoMissing();
    const known =
      tags === undefined
        ? ''
        : ` (tags: ${tags.slice(0, MAX_TAGS_SHOWN).join(', ') || 'none'}${tags.length > MAX_TAGS_SHOWN ? `, ${tags.length - MAX_TAGS_SHOWN} more` : ''})`;
    return new MoatError('NOT_FOUND', `${subject}: tag ${reference} not found in ${where}${known}`);
  }

  /** The repository's tags; null when the repository does not exist, undefined when the list is unavailable. */
  async #tags(subject: string): Promise<string[] | null | undefined> {
    try {
      const res = await this.#get('tags', 'list', subject, { accept: 'application/json' });
      const doc = JSON.parse((await readBody(res, MAX_ERROR_BODY * 16, subject)).toString('utf8')) as {
        tags?: unknown;
      };
      return Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
    } catch (e) {
      if (e instanceof MoatError && e.code === 'NOT_FOUND') return null;
      return undefined;
    }
  }

  /**
   * Fetches a manifest by tag or digest. By digest it must hash to that digest; by tag it must match the
   * Docker-Content-Digest header when the registry sends one.
   */
  async getManifest(reference: string, subject: string): Promise<FetchedManifest> {
    const res = await this.#get('manifests', reference, subject, { accept: MANIFEST_ACCEPT });
    let bytes: Buffer;
    try {
      bytes = await readBody(res, MAX_MANIFEST_BYTES, `${subject}: manifest`);
    } catch (e) {
      throw this.#net(e, subject);
    }
    const contentType = res.headers['content-type'];
    const mediaType = typeof contentType === 'string' ? contentType.split(';')[0]!.trim() : undefined;
    const sent = res.headers['docker-content-digest'];
    let digest: string;
    if (!digestProblem(reference)) digest = reference;
    else if (typeof sent === 'string' && !digestProblem(sent)) digest = sent;
    else digest = sha256Digest(bytes);
    verifyBuffer(bytes, { digest, subject: `${subject}: manifest` });
    return { bytes, mediaType, digest };
  }

  /** A small blob (an image config) read whole, at most `max` bytes; the caller verifies it. */
  async getBlobBytes(digest: string, max: number, subject: string): Promise<Buffer> {
    const res = await this.#get('blobs', digest, subject, {});
    try {
      return await readBody(res, max, subject);
    } catch (e) {
      throw this.#net(e, subject);
    }
  }

  /**
   * A blob's bytes as a stream (redirects to storage followed by the transport). A connection reset
   * mid-way resumes from the last byte with a Range request; the caller verifies the digest.
   */
  async openBlob(digest: string, subject: string): Promise<Readable> {
    const first = await this.#get('blobs', digest, subject, {});
    return Readable.from(this.#resumable(first, digest, subject), { objectMode: false });
  }

  async *#resumable(first: HttpResponse, digest: string, subject: string): AsyncGenerator<Buffer> {
    let res = first;
    let offset = 0;
    let skip = 0;
    for (let resumes = 0; ; resumes++) {
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (skip > 0) {
            // a server that ignored our Range resends from byte 0: drop what we already passed on
            const n = Math.min(skip, chunk.length);
            skip -= n;
            if (n === chunk.length) continue;
            offset += chunk.length - n;
            yield chunk.subarray(n);
            continue;
          }
          offset += chunk.length;
          yield chunk;
        }
        return;
      } catch (e) {
        if (isAbort(e) || !isRetryableError(e) || resumes >= MAX_RESUMES) throw this.#net(e, subject);
        log.debug({ digest, offset, reason: (e as Error).message }, 'resuming blob download');
      }
      res = await this.#get('blobs', digest, subject, { range: `bytes=${offset}-` });
      skip = res.status === 206 ? 0 : offset;
      const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (res.status === 206 && Number(range?.[1]) !== offset) {
        await discard(res);
        throw new MoatError(
          'NETWORK',
          `${subject}: registry ${this.#host} answered a resume at byte ${offset} with another range`,
        );
      }
    }
  }
}

function detail(err: { code?: string; message?: string }): string {
  if (!err.code && !err.message) return '';
  return ` (${oneLine([err.code, err.message].filter(Boolean).join(': '))})`;
}
