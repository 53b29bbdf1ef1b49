import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { log } from '../../log.js';
import { DOCKER_HUB, normalizeRegistryHost } from '../reference.js';

export interface Credentials {
  username: string;
  password: string;
  /** where they came from, for error messages: "options", "/root/.docker/config.json", "docker-credential-pass" */
  source: string;
}

export interface CredentialOptions {
  username?: string;
  password?: string;
  /** path of the Docker config.json; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
  dockerConfigPath?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const MAX_CONFIG_BYTES = 1024 * 1024;
const HELPER_TIMEOUT_MS = 10_000;
/** Credential helpers and the legacy auths key know Docker Hub by its v1 index URL. */
const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

export function dockerConfigPath(opts: CredentialOptions): string {
  if (opts.dockerConfigPath) return opts.dockerConfigPath;
  const dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/**
 * Credentials for a registry ("docker.io", "host:port"): the explicit options, else the Docker config's
 * credHelpers entry, its auths entry (keys with or without scheme/path; Docker Hub aliases folded), or its
 * credsStore. A missing or unreadable config means anonymous access, with a warning for unreadable ones.
 */
export async function findCredentials(
  registry: string,
  opts: CredentialOptions,
): Promise<Credentials | undefined> {
  if (opts.username !== undefined) {
    return { username: opts.username, password: opts.password ?? '', source: 'options' };
  }
  const path = dockerConfigPath(opts);
  const config = await readDockerConfig(path);
  if (!config) return undefined;
  const key = normalizeRegistryHost(registry);

  const helper = Object.entries(config.credHelpers ?? {}).find(
    ([k]) => normalizeRegistryHost(k) === key,
  )?.[1];
  if (helper) return runHelper(helper, key);

  for (const [k, entry] of Object.entries(config.auths ?? {})) {
    if (normalizeRegistryHost(k) !== key || typeof entry !== 'object' || entry === null) continue;
    if (typeof entry.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0)
        return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source: path };
      log.warn({ file: path, registry: key }, 'ignoring malformed auth entry in Docker config');
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password, source: path };
    }
    if (entry.identitytoken)
      log.warn({ file: path, registry: key }, 'identity tokens in Docker config are not supported');
  }
  if (config.credsStore) return runHelper(config.credsStore, key);
  return undefined;
}

async function readDockerConfig(path: string): Promise<DockerConfig | undefined> {
  try {
    const st = await stat(path);
    if (st.size > MAX_CONFIG_BYTES) {
      log.warn({ file: path, reason: 'larger than 1 MiB' }, 'ignoring Docker config');
      return undefined;
    }
    const doc: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      log.warn({ file: path, reason: 'not a JSON object' }, 'ignoring Docker config');
      return undefined;
    }
    return doc as DockerConfig;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      log.warn({ file: path, reason: (e as Error).message }, 'ignoring unreadable Docker config');
    }
    return undefined;
  }
}

/**
 * Runs `docker-credential-NAME get` (the credential helper protocol: server URL on stdin, JSON with
 * Username and Secret on stdout). A helper that is not installed or has nothing stored means anonymous.
 */
async function runHelper(name: string, registry: string): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    log.warn({ helper: name }, 'ignoring credential helper with an invalid name');
    return undefined;
  }
  const program = `docker-credential-${name}`;
  const server = registry === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : registry;
  const out = await new Promise<string | undefined>((resolve) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: HELPER_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_CONFIG_BYTES) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    let failed = false;
    child.on('error', (e) => {
      failed = true;
      log.warn({ helper: program, reason: e.message }, 'credential helper failed to run');
      resolve(undefined);
    });
    child.on('close', (code) => {
      if (failed) return;
      if (code === 0) resolve(stdout);
      else {
        // "credentials not found" is the protocol's normal answer for an unknown server
        if (!/not found/i.test(stdout + stderr)) {
          log.warn({ helper: program, code, reason: (stderr || stdout).trim() }, 'credential helper failed');
        }
        resolve(undefined);
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(server);
  });
  if (out === undefined) return undefined;
  try {
    const doc = JSON.parse(out) as { Username?: unknown; Secret?: unknown };
    if (typeof doc.Username === 'string' && typeof doc.Secret === 'string') {
      if (doc.Username === '<token>') {
        log.warn({ helper: program }, 'identity tokens from credential helpers are not supported');
        return undefined;
      }
      return { username: doc.Username, password: doc.Secret, source: program };
    }
  } catch {
    // fall through to the warning
  }
  log.warn({ helper: program, reason: 'output is not {Username, Secret} JSON' }, 'credential helper failed');
  return undefined;
}
