import { existsSync, statSync } from 'node:fs';
import { MoatError } from '../errors.js';
import type { ProgressFn } from '../model/progress.js';
import type { OpenedImage } from './types.js';

export { DEFAULT_PLATFORM } from './manifest.js';
export { type ImageReference, parseReference } from './reference.js';

export interface OpenImageOptions {
  /** "os/arch[/variant]" picked from multi-platform images; default linux/amd64 */
  platform?: string;
  username?: string;
  password?: string;
  /** allow plain HTTP and skip TLS verification for any registry (loopback hosts get HTTP without it) */
  insecure?: boolean;
  /** connect, response and idle timeout per registry request, in ms (default 30 000) */
  timeoutMs?: number;
  /** Docker config.json to read credentials from; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
  dockerConfigPath?: string;
  userAgent?: string;
  /** blob download progress (registry sources) */
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

/**
 * Opens an image from any source:
 *   oci:DIR[:REF]             OCI image layout
 *   docker-archive:FILE[:REF] `docker save` output (legacy or OCI-layout form)
 *   dir:PATH                  a root filesystem
 *   [docker://]host[:port]/repo[:tag|@digest], or a Docker Hub name, from a registry
 */
export async function openImage(ref: string, opts: OpenImageOptions = {}): Promise<OpenedImage> {
  // each source is loaded on demand: a run needs one of them, and start-up time matters for rescans
  if (ref.startsWith('oci:')) return (await import('./oci-layout.js')).openOciLayout(ref.slice(4), ref, opts);
  if (ref.startsWith('docker-archive:')) {
    return (await import('./docker-archive.js')).openDockerArchive(ref.slice(15), ref, opts);
  }
  if (ref.startsWith('dir:')) return (await import('./dir.js')).openDir(ref.slice(4), { ref });
  const registryRef = ref.startsWith('docker://') ? ref.slice(9) : ref;
  try {
    // loaded on demand: the HTTP stack is the heaviest module and local sources never need it
    const { openRegistryImage } = await import('./registry/index.js');
    return await openRegistryImage(registryRef, opts);
  } catch (e) {
    // "moat scan image ./x.tar" is a common slip: point at the prefixes instead of a grammar error
    if (e instanceof MoatError && e.code === 'BAD_REFERENCE' && existsSync(ref)) {
      const hint = statSync(ref).isDirectory()
        ? `oci:${ref} (an OCI layout) or dir:${ref} (a root filesystem)`
        : `docker-archive:${ref}`;
      throw new MoatError('BAD_REFERENCE', `${e.message}; for a local image write ${hint}`);
    }
    throw e;
  }
}
