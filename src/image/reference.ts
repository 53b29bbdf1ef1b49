import { isIP } from 'node:net';
import { MoatError } from '../errors.js';

/**
 * A registry image reference, parsed per the distribution reference grammar
 * (https://github.com/distribution/reference/blob/main/reference.go), normalised as Docker does:
 * `alpine` is docker.io/library/alpine:latest.
 */
export interface ImageReference {
  /** registry as users write it: "docker.io", "ghcr.io", "127.0.0.1:5000", "[::1]:5000" */
  registry: string;
  /** host[:port] the API is served from (registry-1.docker.io for Docker Hub) */
  apiHost: string;
  /** repository path inside the registry, e.g. "library/alpine" */
  repository: string;
  tag?: string;
  digest?: string;
  /** canonical form: registry/repository[:tag][@digest] */
  name: string;
}

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';
/** Hosts that name Docker Hub in references and credential stores. */
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

const MAX_NAME_LENGTH = 255;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+(?:%[a-zA-Z0-9]+)?\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** Lengths of the digest algorithms the OCI spec registers; others cannot be verified. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

function bad(ref: string, why: string): MoatError {
  return new MoatError('BAD_REFERENCE', `invalid image reference "${ref}": ${why}`);
}

/** Validates a digest string (`sha256:<64 hex>` or `sha512:<128 hex>`); returns why it is invalid, or undefined. */
export function digestProblem(digest: string): string | undefined {
  if (!DIGEST_RE.test(digest)) return `"${digest}" is not a digest (algorithm:hex)`;
  const [alg, hex] = digest.split(':') as [string, string];
  const len = DIGEST_HEX_LENGTH[alg];
  if (len === undefined) return `unsupported digest algorithm "${alg}" (sha256 and sha512 are supported)`;
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex))
    return `${alg} digest must be ${len} lower-case hex digits`;
  return undefined;
}

/**
 * Parses `[host[:port]/]repo[:tag][@digest]`. A first component is a host when it contains "." or ":",
 * is "localhost", or has upper-case letters (the same rule as Docker); otherwise the image is on Docker Hub.
 */
export function parseReference(ref: string): ImageReference {
  if (ref.length === 0) throw bad(ref, 'empty');
  if (/\s/.test(ref)) throw bad(ref, 'contains whitespace');
  if (ref.includes('://'))
    throw bad(ref, 'a reference has no URL scheme; write host[:port]/repository[:tag]');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem) throw bad(ref, problem);
  }
  let tag: string | undefined;
  // a tag is after the last ":" that follows the last "/" (a ":" before it is a port)
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(ref, `"${tag}" is not a valid tag`);
  }
  if (rest.length === 0) throw bad(ref, 'missing repository name');

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      if (!DOMAIN_RE.test(first)) throw bad(ref, `"${first}" is not a valid registry host`);
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (DOCKER_HUB_ALIASES.has(registry)) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;

  for (const part of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(part)) {
      if (part !== part.toLowerCase()) throw bad(ref, 'repository names must be lower case');
      throw bad(ref, `"${part}" is not a valid repository path component`);
    }
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw bad(ref, `name longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  const apiHost = registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
  let name = `${registry}/${repository}`;
  if (tag !== undefined) name += `:${tag}`;
  if (digest !== undefined) name += `@${digest}`;
  return { registry, apiHost, repository, tag, digest, name };
}

/** The registry key used in Docker config files and credential helpers for a host (Docker Hub aliases folded). */
export function normalizeRegistryHost(host: string): string {
  let h = host.trim();
  h = h.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

/** Splits "host[:port]" into host and port (IPv6 in brackets). */
export function splitHostPort(hostPort: string): { host: string; port?: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort) ?? /^([^:]+)(?::(\d+))?$/.exec(hostPort);
  if (!m) return { host: hostPort };
  return { host: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * True for hosts that are loopback by their name alone (localhost, 127.0.0.0/8, ::1). Names are not
 * resolved: a DNS answer must not be able to downgrade a registry to plain HTTP.
 */
export function isLoopbackHost(hostPort: string): boolean {
  const { host } = splitHostPort(hostPort);
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}
