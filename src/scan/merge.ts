/**
 * Applies analyzed layers in order, as overlayfs would (OCI image-spec layer.md): whiteouts and
 * opaque directories of layer N hide lower layers' entries, entries of the same layer survive, a
 * symlink or file replacing a directory hides what was under it. Symlinks are resolved against the
 * image's own entries only (never the host), and each package is attributed to the layer it has been
 * present in continuously since.
 */
import type { Analyzer, OsHint, OwnedFiles } from '../analyzers/types.js';
import { MoatError } from '../errors.js';
import { isOsPackageType, type LayerRef, type Package } from '../model/package.js';
import type { AliasRequest, FileResult, LayerAnalysis } from './layer.js';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS, 40). */
export const MAX_SYMLINK_HOPS = 40;

// what a layer has at a path, as bit flags
const WHITEOUT = 1;
const OPAQUE = 2;
const SYMLINK = 4;
const FILE = 8;
const HARDLINK = 16;
const DIR = 32;
/** an upper entry at the same path replaces a lower one whatever its type */
const HIDES_SAME = WHITEOUT | SYMLINK | FILE | HARDLINK | DIR;
/** an upper ancestor hides a lower entry unless it is (still) a plain directory */
const HIDES_BELOW = WHITEOUT | OPAQUE | SYMLINK | FILE | HARDLINK;

/** The image's filesystem as the layers stack up (the final state, and when each entry got hidden). */
export class LayeredFs {
  /**
   * path → [layer, flags, layer, flags, ...] ascending by layer, for layers 1..n-1 only: those are the
   * ones that can hide something, and one lookup per path component then covers all of them.
   */
  private readonly upper = new Map<string, number[]>();
  private hardlinkTargets: Map<string, string>[] | undefined;
  /** per layer: file path → its position in `files` (and so in `fileMeta`), built when first asked */
  private readonly fileSlots: (Map<string, number> | undefined)[] = [];
  private finalState:
    | {
        symlinks: Map<string, string>;
        /** regular (or special) file path → layer index */
        files: Map<string, number>;
        /** hardlink path → layer index */
        hardlinks: Map<string, number>;
      }
    | undefined;

  constructor(
    readonly image: string,
    readonly layers: readonly LayerAnalysis[],
  ) {
    for (let i = 1; i < layers.length; i++) {
      const l = layers[i]!;
      for (const p of l.whiteouts) this.mark(p, i, WHITEOUT);
      for (const p of l.opaqueDirs) this.mark(p, i, OPAQUE);
      for (const [p] of l.symlinks) this.mark(p, i, SYMLINK);
      for (const p of l.files) this.mark(p, i, FILE);
      for (const [p] of l.hardlinks) this.mark(p, i, HARDLINK);
      for (const p of l.dirs) this.mark(p, i, DIR);
    }
  }

  /** the entries visible at the top, computed on first use (a merge from a cached plan needs none) */
  private get final(): NonNullable<LayeredFs['finalState']> {
    if (this.finalState) return this.finalState;
    const n = this.layers.length;
    const symlinks = new Map<string, string>();
    const files = new Map<string, number>();
    const hardlinks = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const l = this.layers[i]!;
      for (const [p, t] of l.symlinks) if (this.hiddenAt(p, i) === n) symlinks.set(p, t);
      for (const p of l.files) if (this.hiddenAt(p, i) === n) files.set(p, i);
      for (const [p] of l.hardlinks) if (this.hiddenAt(p, i) === n) hardlinks.set(p, i);
    }
    this.finalState = { symlinks, files, hardlinks };
    return this.finalState;
  }

  private mark(path: string, layer: number, flag: number): void {
    const list = this.upper.get(path);
    if (!list) this.upper.set(path, [layer, flag]);
    else if (list[list.length - 2] === layer) list[list.length - 1]! |= flag;
    else list.push(layer, flag);
  }

  /** the first layer above `layer` whose flags at `path` match `mask`, or `best` */
  private firstAbove(path: string, layer: number, mask: number, best: number): number {
    const list = this.upper.get(path);
    if (!list) return best;
    for (let k = 0; k < list.length && list[k]! < best; k += 2) {
      if (list[k]! > layer && list[k + 1]! & mask) return list[k]!;
    }
    return best;
  }

  /**
   * The lowest layer above `layer` that hides the non-directory entry at `path` of `layer` (by a
   * whiteout, an opaque or replaced ancestor, or a new entry at the same path); layers.length if none.
   */
  hiddenAt(path: string, layer: number): number {
    let best = this.layers.length;
    if (this.upper.size === 0 || layer === best - 1) return best;
    best = this.firstAbove(path, layer, HIDES_SAME, best);
    for (let i = path.indexOf('/'); i >= 0 && best > layer + 1; i = path.indexOf('/', i + 1)) {
      best = this.firstAbove(path.slice(0, i), layer, HIDES_BELOW, best);
    }
    return best;
  }

  /**
   * Resolves a path inside the final filesystem: absolute targets start at the image root, ".." stops
   * at the root, every symlinked component is followed (parent directories included). Returns the
   * path with no symlink left in it. More than 40 hops is a SYMLINK_LOOP error naming `path`.
   */
  resolve(path: string): string {
    let cur = '';
    // remaining components, next one last
    const todo = path.split('/').reverse();
    let hops = 0;
    while (todo.length > 0) {
      const seg = todo.pop()!;
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        cur = cur.slice(0, Math.max(0, cur.lastIndexOf('/')));
        continue;
      }
      const next = cur === '' ? seg : `${cur}/${seg}`;
      const target = this.final.symlinks.get(next);
      if (target === undefined) {
        cur = next;
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new MoatError(
          'SYMLINK_LOOP',
          `image ${this.image}: too many levels of symbolic links resolving "${path}" (more than ${MAX_SYMLINK_HOPS})`,
        );
      }
      if (target.startsWith('/')) cur = '';
      const parts = target.split('/');
      for (let k = parts.length - 1; k >= 0; k--) todo.push(parts[k]!);
    }
    return cur;
  }

  /** the layer holding the regular file or hardlink visible at a resolved path */
  fileAt(path: string): { layer: number; hardlink?: string } | undefined {
    const f = this.final.files.get(path);
    if (f !== undefined) return { layer: f };
    const h = this.final.hardlinks.get(path);
    if (h === undefined) return undefined;
    this.hardlinkTargets ??= this.layers.map((l) => new Map(l.hardlinks));
    return { layer: h, hardlink: this.hardlinkTargets[h]!.get(path)! };
  }

  /** size and mode of a regular file of a layer, as its tar entry (or the dir: walk) gave them */
  metaOf(layer: number, path: string): { size: number; mode: number } | undefined {
    const l = this.layers[layer];
    if (!l) return undefined;
    let slots = this.fileSlots[layer];
    if (!slots) {
      slots = new Map();
      for (let i = 0; i < l.files.length; i++) slots.set(l.files[i]!, i);
      this.fileSlots[layer] = slots;
    }
    const i = slots.get(path);
    // caches written before sizes and modes were recorded have no fileMeta
    if (i === undefined || !l.fileMeta || 2 * i + 1 >= l.fileMeta.length) return undefined;
    return { size: l.fileMeta[2 * i]!, mode: l.fileMeta[2 * i + 1]! };
  }

  get finalSymlinks(): ReadonlyMap<string, string> {
    return this.final.symlinks;
  }
  get finalFiles(): ReadonlyMap<string, number> {
    return this.final.files;
  }
  get finalHardlinks(): ReadonlyMap<string, number> {
    return this.final.hardlinks;
  }
}

function outputKey(layer: number, path: string, analyzer: string): string {
  return `${layer}\0${path}\0${analyzer}`;
}

/**
 * Files that analyzers want under a path that only exists through a link: a wanted path that is a
 * symlink (etc/os-release → ../usr/lib/os-release), a file under a symlinked directory
 * (var/lib/rpm → ../../usr/lib/sysimage/rpm) or a hardlink. When the analyzer has not already read
 * the real file, it must be read again from its layer. Returns the requests per layer index.
 */
export function planAliasReads(fs: LayeredFs, analyzers: readonly Analyzer[]): Map<number, AliasRequest[]> {
  const layers = fs.layers;
  const analyzed = new Set<string>();
  layers.forEach((l, i) => {
    for (const o of l.outputs) analyzed.add(outputKey(i, o.path, o.analyzer));
  });
  const plan = new Map<number, AliasRequest[]>();
  const seen = new Set<string>();
  /** asks every analyzer whether it wants the file at `resolved` under the path `as` */
  const offer = (as: string, resolved: string) => {
    const at = fs.fileAt(resolved);
    if (!at) return;
    const real = at.hardlink ?? resolved;
    // the real file's size and mode, as in the first pass (a hardlink shares its target's inode)
    const meta = fs.metaOf(at.layer, real);
    for (const a of analyzers) {
      if (!a.wants(as, meta)) continue;
      if (a.wants(real, meta)) {
        // pass one gave the analyzer this very file: what it found there already counts (a hardlink
        // is read again, as its own visibility decides), and where it found nothing (an executable
        // that is no Go binary) another name will not help
        if (!analyzed.has(outputKey(at.layer, real, a.name))) continue;
        if (!at.hardlink) continue;
      }
      const key = `${at.layer}\0${real}\0${as}\0${a.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const list = plan.get(at.layer) ?? [];
      list.push({ real, as, analyzer: a.name, entry: resolved });
      plan.set(at.layer, list);
    }
  };

  // 1. symlinks to files; a loop here fails the scan (SYMLINK_LOOP) when an analyzer wants the path
  for (const p of fs.finalSymlinks.keys()) {
    if (!analyzers.some((a) => a.wants(p))) {
      // binary analyzers decide on the target's mode: resolve only links that end at a file
      let resolved: string;
      try {
        resolved = fs.resolve(p);
      } catch {
        continue;
      }
      offer(p, resolved);
      continue;
    }
    offer(p, fs.resolve(p));
  }
  // 2. hardlinks
  for (const p of fs.finalHardlinks.keys()) offer(p, p);
  // 3. files reached through a symlinked directory: map each directory a symlink resolves to back to
  // the symlink, then look at every visible file below such a directory
  const dirLinks = new Map<string, string[]>();
  for (const p of fs.finalSymlinks.keys()) {
    let target: string;
    try {
      target = fs.resolve(p);
    } catch {
      continue; // a loop nobody asked for is harmless
    }
    if (target === '' || fs.fileAt(target)) continue;
    const list = dirLinks.get(target);
    if (list) list.push(p);
    else dirLinks.set(target, [p]);
  }
  if (dirLinks.size > 0) {
    const visit = (path: string) => {
      let i = path.indexOf('/');
      while (i >= 0) {
        const links = dirLinks.get(path.slice(0, i));
        if (links) {
          const rest = path.slice(i);
          for (const link of links) offer(link + rest, path);
        }
        i = path.indexOf('/', i + 1);
      }
    };
    for (const p of fs.finalFiles.keys()) visit(p);
    for (const p of fs.finalHardlinks.keys()) visit(p);
  }
  return plan;
}

export interface MergeInput {
  fs: LayeredFs;
  /** LayerRef of each layer, same order */
  refs: readonly LayerRef[];
  /** second-pass results per layer index (from planAliasReads + readAliases) */
  aliasOutputs?: ReadonlyMap<number, readonly FileResult[]>;
}

export interface MergeResult {
  packages: Package[];
  /** OS hints from the files of the final filesystem, best (lowest priority number) first */
  osHints: OsHint[];
  /** owned-file lists of the OS package databases visible at the top (see os-managed.ts) */
  owned: OwnedFiles[];
}

interface Placed {
  layer: number;
  /** first layer that hides it (layers.length when visible at the top) */
  until: number;
  result: FileResult;
}

/**
 * The identity whose continuous presence decides a package's layer. OS packages live in one database
 * per image, whatever file holds it; a language package belongs to the file that declares it (one
 * lockfile among several, one node_modules/x/package.json), so its path is part of the identity.
 */
function packageKey(p: Package): string {
  const where = isOsPackageType(p.type) ? '' : p.path;
  return `${p.type}\0${p.name}\0${p.version}\0${p.arch ?? ''}\0${where}`;
}

/**
 * The final packages, OS hints and owned-file lists. A package is attributed to the lowest layer from
 * which a package of the same identity (packageKey) has been visible in every layer state up to the
 * top: a database or lockfile rewritten by every layer keeps the layer that introduced the package, one
 * that was removed and installed again gets the layer that brought it back, and a per-package file
 * (node_modules/x/package.json) gets the layer that wrote it.
 */
export function mergeLayers(input: MergeInput): MergeResult {
  const { fs } = input;
  const n = fs.layers.length;
  const placed: Placed[] = [];
  fs.layers.forEach((l, i) => {
    for (const r of l.outputs) placed.push({ layer: i, until: fs.hiddenAt(r.path, i), result: r });
    for (const r of input.aliasOutputs?.get(i) ?? []) {
      placed.push({ layer: i, until: fs.hiddenAt(r.entry ?? r.path, i), result: r });
    }
  });

  // in which layer states each package identity is present
  const present = new Map<string, Uint8Array>();
  for (const p of placed) {
    for (const pkg of p.result.output.packages ?? []) {
      const k = packageKey(pkg);
      let states = present.get(k);
      if (!states) {
        states = new Uint8Array(n);
        present.set(k, states);
      }
      for (let s = p.layer; s < p.until; s++) states[s] = 1;
    }
  }

  const packages: Package[] = [];
  const osHints: OsHint[] = [];
  const owned: OwnedFiles[] = [];
  for (const p of placed) {
    if (p.until < n) continue;
    if (p.result.output.os) osHints.push(p.result.output.os);
    for (const o of p.result.output.owned ?? []) owned.push(o);
    for (const pkg of p.result.output.packages ?? []) {
      const states = present.get(packageKey(pkg))!;
      let from = n - 1;
      while (from > 0 && states[from - 1]) from--;
      const ref = input.refs[from];
      packages.push(ref ? { ...pkg, layer: ref } : { ...pkg });
    }
  }
  osHints.sort((a, b) => a.priority - b.priority);
  return { packages, osHints, owned };
}
