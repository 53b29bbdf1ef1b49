import { MoatError } from '../errors.js';
import { log } from '../log.js';
import type { ImageConfig, LayerDescriptor } from './types.js';
import { parseDigest, verifyBuffer } from './verify.js';

/** Manifest media types (OCI image spec v1.1, Docker image manifest v2 schema 2). */
export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Accept header for manifest requests: the four types moat reads (schema 1 is deliberately absent). */
export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerList,
  MEDIA.dockerManifest,
].join(', ');

const SCHEMA1 = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const CONFIG_TYPES = new Set<string>([MEDIA.ociConfig, MEDIA.dockerConfig]);
// Layer types an image may carry; nondistributable/foreign ones are deprecated but still found in the wild.
const LAYER_TYPES = new Set<string>([
  MEDIA.ociLayerTar,
  MEDIA.ociLayerGzip,
  MEDIA.ociLayerZstd,
  MEDIA.dockerLayerTar,
  MEDIA.dockerLayerGzip,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** Manifests larger than this are refused before parsing (containerd and Distribution use the same bound). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Image configs carry history and env; 8 MiB is far above any real one. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
export const DEFAULT_PLATFORM = 'linux/amd64';
/** Indexes nest (an index.json pointing at a multi-platform index); deeper chains are refused. */
const MAX_INDEX_DEPTH = 4;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest = ImageManifest | ImageIndex;

function badManifest(subject: string, why: string): MoatError {
  return new MoatError('BAD_MANIFEST', `${subject}: invalid manifest: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function parseDescriptor(v: unknown, subject: string, where: string): Descriptor {
  if (!isObject(v)) throw badManifest(subject, `${where} is not an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string') throw badManifest(subject, `${where} has no mediaType`);
  if (typeof digest !== 'string') throw badManifest(subject, `${where} has no digest`);
  parseDigest(digest, `${subject}: ${where}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw badManifest(subject, `${where} has no valid size`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  const annotations = stringMap(v.annotations);
  if (annotations) d.annotations = annotations;
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  if (isObject(v.platform)) {
    const p = v.platform;
    if (typeof p.os === 'string' && typeof p.architecture === 'string') {
      d.platform = { os: p.os, architecture: p.architecture };
      if (typeof p.variant === 'string' && p.variant) d.platform.variant = p.variant;
      if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
    }
  }
  return d;
}

function unsupported(subject: string, mediaType: string): MoatError {
  if (SCHEMA1.has(mediaType)) {
    return new MoatError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${subject}: Docker schema 1 manifests are not supported (deprecated since 2015); re-push the image with a current client`,
    );
  }
  return new MoatError(
    'UNSUPPORTED_MEDIA_TYPE',
    `${subject}: unsupported manifest media type "${mediaType}"`,
  );
}

/**
 * Parses a manifest or index. The media type comes from the document's own `mediaType` field, else from
 * `declared` (Content-Type or the referring descriptor), else from its shape: the field is optional in
 * OCI documents and registries sometimes answer with a generic Content-Type.
 */
export function parseManifest(bytes: Buffer, subject: string, declared?: string): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw badManifest(subject, `${bytes.length} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw badManifest(subject, `not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw badManifest(subject, 'not a JSON object');
  // a generic declaration (application/json, octet-stream) says nothing: only known types are taken from it
  const declaredType = declared?.split(';')[0]?.trim() ?? '';
  const known = INDEX_TYPES.has(declaredType) || IMAGE_TYPES.has(declaredType) || SCHEMA1.has(declaredType);
  let mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (mediaType === undefined && known) mediaType = declaredType;
  if (doc.schemaVersion === 1)
    throw unsupported(subject, 'application/vnd.docker.distribution.manifest.v1+json');
  if (mediaType === undefined) {
    if (Array.isArray(doc.manifests)) mediaType = MEDIA.ociIndex;
    else if (isObject(doc.config) && Array.isArray(doc.layers)) mediaType = MEDIA.ociManifest;
    else throw badManifest(subject, 'neither an image manifest nor an index');
  }
  if (!INDEX_TYPES.has(mediaType) && !IMAGE_TYPES.has(mediaType)) throw unsupported(subject, mediaType);
  if (doc.schemaVersion !== 2)
    throw badManifest(subject, `schemaVersion ${String(doc.schemaVersion)}, expected 2`);
  const annotations = stringMap(doc.annotations);

  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw badManifest(subject, 'index has no "manifests" list');
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, subject, `manifests[${i}]`));
    return { kind: 'index', mediaType, manifests, annotations };
  }
  if (!Array.isArray(doc.layers)) throw badManifest(subject, 'manifest has no "layers" list');
  const config = parseDescriptor(doc.config, subject, 'config');
  const layers = doc.layers.map((l, i) => parseDescriptor(l, subject, `layers[${i}]`));
  return { kind: 'manifest', mediaType, config, layers, annotations };
}

/** Checks that a manifest describes a container image: a known config type and known layer types. */
export function checkImageManifest(m: ImageManifest, subject: string): void {
  if (!CONFIG_TYPES.has(m.config.mediaType)) {
    throw new MoatError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${subject}: not a container image (config media type "${m.config.mediaType}")`,
    );
  }
  m.layers.forEach((l, i) => {
    if (!LAYER_TYPES.has(l.mediaType)) {
      throw new MoatError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${subject}: layer ${i} (${l.digest}) has unsupported media type "${l.mediaType}"`,
      );
    }
  });
}

// Architecture names from uname and distributions, mapped to the OCI/Go names images use.
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/** Parses "os/arch[/variant]" (e.g. linux/amd64, linux/arm/v7); throws USAGE for anything else. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new MoatError('USAGE', `invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const p: Platform = { os, architecture: ARCH_ALIASES[arch] ?? arch };
  if (arch === 'armhf') p.variant = 'v7';
  if (arch === 'armel') p.variant = 'v6';
  if (variant) p.variant = variant;
  return p;
}

export function formatPlatform(p: { os?: string; architecture?: string; variant?: string }): string {
  return [p.os ?? 'unknown', p.architecture ?? 'unknown', p.variant].filter(Boolean).join('/');
}

// containerd's normalisation: arm64 means v8 unless stated, arm means v7.
function normalVariant(arch: string, variant: string | undefined): string | undefined {
  if (variant) return variant;
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') return 'v7';
  return undefined;
}

export function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os) return false;
  const arch = ARCH_ALIASES[have.architecture] ?? have.architecture;
  if (arch !== want.architecture) return false;
  return normalVariant(arch, have.variant) === normalVariant(arch, want.variant);
}

/**
 * Picks the manifest for `want` from an index. Entries that are not images (attestations, signatures,
 * `unknown/unknown` platforms) are never chosen; the error lists the platforms that are there.
 */
export function selectPlatform(index: ImageIndex, want: Platform, subject: string): Descriptor {
  const candidates = index.manifests.filter(
    (d) => (IMAGE_TYPES.has(d.mediaType) || INDEX_TYPES.has(d.mediaType)) && d.platform?.os !== 'unknown',
  );
  const match = candidates.find((d) => d.platform !== undefined && platformMatches(d.platform, want));
  if (match) return match;
  const available = [
    ...new Set(candidates.filter((d) => d.platform).map((d) => formatPlatform(d.platform!))),
  ];
  throw new MoatError(
    'NO_MATCHING_PLATFORM',
    `${subject}: no image for platform ${formatPlatform(want)}; available: ${available.join(', ') || 'none'} (choose with --platform)`,
  );
}

/** Parses an image config, keeping the fields scans use; unknown fields are ignored. */
export function parseImageConfig(bytes: Buffer, subject: string): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new MoatError(
      'BAD_MANIFEST',
      `${subject}: invalid image config: not JSON (${(e as Error).message})`,
    );
  }
  if (!isObject(doc))
    throw new MoatError('BAD_MANIFEST', `${subject}: invalid image config: not a JSON object`);
  const c: ImageConfig = {};
  if (typeof doc.architecture === 'string') c.architecture = doc.architecture;
  if (typeof doc.os === 'string') c.os = doc.os;
  if (typeof doc.variant === 'string') c.variant = doc.variant;
  if (typeof doc.created === 'string') c.created = doc.created;
  if (isObject(doc.config)) {
    const cc = doc.config;
    const strings = (v: unknown) =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
    c.config = {};
    if (typeof cc.User === 'string') c.config.User = cc.User;
    if (strings(cc.Env)) c.config.Env = strings(cc.Env);
    if (strings(cc.Entrypoint)) c.config.Entrypoint = strings(cc.Entrypoint);
    if (strings(cc.Cmd)) c.config.Cmd = strings(cc.Cmd);
    const labels = stringMap(cc.Labels);
    if (labels) c.config.Labels = labels;
  }
  if (isObject(doc.rootfs) && Array.isArray(doc.rootfs.diff_ids)) {
    c.rootfs = {
      type: typeof doc.rootfs.type === 'string' ? doc.rootfs.type : 'layers',
      diff_ids: doc.rootfs.diff_ids.filter((x): x is string => typeof x === 'string'),
    };
  }
  if (Array.isArray(doc.history)) {
    c.history = doc.history.filter(isObject).map((h) => ({
      created: typeof h.created === 'string' ? h.created : undefined,
      created_by: typeof h.created_by === 'string' ? h.created_by : undefined,
      empty_layer: h.empty_layer === true ? true : undefined,
      comment: typeof h.comment === 'string' ? h.comment : undefined,
    }));
  }
  return c;
}

/** The platform an image config declares, as "os/arch[/variant]". */
export function configPlatform(c: ImageConfig): string | undefined {
  if (!c.os || !c.architecture) return undefined;
  return formatPlatform({ os: c.os, architecture: c.architecture, variant: c.variant });
}

/** Joins manifest layers with the config's diff_ids and the history entries that made them. */
export function layerDescriptors(layers: Descriptor[], config: ImageConfig): LayerDescriptor[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  // history has one entry per Dockerfile step; only those without empty_layer produced a layer
  const createdBy = (config.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by);
  const sameCount = diffIds.length === layers.length;
  return layers.map((l, index) => {
    const d: LayerDescriptor = { index, digest: l.digest, mediaType: l.mediaType, size: l.size };
    if (sameCount && diffIds[index]) d.diffId = diffIds[index];
    if (createdBy.length === layers.length && createdBy[index]) d.createdBy = createdBy[index];
    return d;
  });
}

/** How a source fetches a manifest or config by descriptor, reading at most `maxBytes`; `resolveImage` verifies it. */
export type FetchDocument = (d: Descriptor, kind: 'manifest' | 'config', maxBytes: number) => Promise<Buffer>;

export interface ResolvedImage {
  manifest: ImageManifest;
  /** digest of the image manifest itself */
  manifestDigest: string;
  /** digest of the outermost index, when the reference named one */
  indexDigest?: string;
  config: ImageConfig;
  platform?: string;
  layers: LayerDescriptor[];
}

/**
 * From a top-level descriptor (and its already-fetched bytes) down to one image: selects a platform in
 * indexes (nested ones too), fetches and verifies each manifest and the config.
 */
export async function resolveImage(opts: {
  subject: string;
  top: Descriptor;
  topBytes: Buffer;
  want: Platform;
  /** the user chose the platform (a single-platform image that differs is then worth a warning) */
  explicitPlatform?: boolean;
  fetch: FetchDocument;
}): Promise<ResolvedImage> {
  const { subject, want, fetch } = opts;
  let desc = opts.top;
  let parsed = parseManifest(opts.topBytes, subject, desc.mediaType);
  const indexDigest = parsed.kind === 'index' ? desc.digest : undefined;
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH)
      throw badManifest(subject, `indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    desc = selectPlatform(parsed, want, subject);
    const bytes = await fetchVerified(fetch, desc, 'manifest', `${subject}: manifest ${desc.digest}`);
    parsed = parseManifest(bytes, subject, desc.mediaType);
  }
  const manifest = parsed;
  checkImageManifest(manifest, subject);
  const configBytes = await fetchVerified(
    fetch,
    manifest.config,
    'config',
    `${subject}: config ${manifest.config.digest}`,
  );
  const config = parseImageConfig(configBytes, subject);
  if (indexDigest === undefined && opts.explicitPlatform && config.os && config.architecture) {
    const have = { os: config.os, architecture: config.architecture, variant: config.variant };
    if (!platformMatches(have, want)) {
      log.warn(
        { image: subject, platform: formatPlatform(have), requested: formatPlatform(want) },
        'single-platform image does not match the requested platform',
      );
    }
  }
  return {
    manifest,
    manifestDigest: desc.digest,
    indexDigest,
    config,
    platform: configPlatform(config) ?? (desc.platform ? formatPlatform(desc.platform) : undefined),
    layers: layerDescriptors(manifest.layers, config),
  };
}

/** Fetches a document, refusing it above `maxBytes` and checking it against the descriptor's digest and size. */
export async function fetchVerified(
  fetch: FetchDocument,
  d: Descriptor,
  kind: 'manifest' | 'config',
  subject: string,
): Promise<Buffer> {
  const maxBytes = kind === 'manifest' ? MAX_MANIFEST_BYTES : MAX_CONFIG_BYTES;
  if (d.size > maxBytes) {
    throw new MoatError('BAD_MANIFEST', `${subject}: ${d.size} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const bytes = await fetch(d, kind, maxBytes);
  verifyBuffer(bytes, { digest: d.digest, size: d.size, subject });
  return bytes;
}
