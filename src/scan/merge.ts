/**
 * Applies analyzed layers in order, as overlayfs would (OCI image-spec layer.md): whiteouts and
 * opaque directories of layer N hide lower layers' entries, entries of the same layer survive, a
 * symlink or file replacing a directory hides what was under it. Symlinks are resolved against the
 * image's own entries only (never the host), and each package is attributed to the layer it has been
 * present in continuously since.
 */
import type { Analyzer, OsHint } from '../analyzers/types.js';
import { MoatError } from '../errors.js';
import type { LayerRef, Package } from '../model/package.js';
import type { AliasRequest, FileResult, LayerAnalysis } from './layer.js';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS, 40). */
export const MAX_SYMLINK_HOPS = 40;

interface LayerView {
  files: Set<string>;
  dirs: Set<string>;
  symlinks: Map<string, string>;
  hardlinks: Map<string, string>;
  whiteouts: Set<string>;
  opaque: Set<string>;
}

function view(a: LayerAnalysis): LayerView {
  return {
    files: new Set(a.files),
    dirs: new Set(a.dirs),
    symlinks: new Map(a.symlinks),
    hardlinks: new Map(a.hardlinks),
    whiteouts: new Set(a.whiteouts),
    opaque: new Set(a.opaqueDirs),
  };
}

/** strict ancestors of a path, nearest last: "a/b/c" → ["a", "a/b"] */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** The image's filesystem as layers 0..n-1 stack up; `top` selects the state after layer `top`. */
export class LayeredFs {
  private readonly views: LayerView[];
  private readonly final: {
    symlinks: Map<string, string>;
    /** regular (or special) file path → layer index */
    files: Map<string, number>;
    /** hardlink path → layer index */
    hardlinks: Map<string, number>;
  };

  constructor(
    private readonly image: string,
    readonly layers: readonly LayerAnalysis[],
  ) {
    this.views = layers.map(view);
    const top = layers.length - 1;
    const symlinks = new Map<string, string>();
    const files = new Map<string, number>();
    const hardlinks = new Map<string, number>();
    for (let i = 0; i < this.views.length; i++) {
      const v = this.views[i]!;
      for (const [p, t] of v.symlinks) if (this.hiddenAt(p, i) > top) symlinks.set(p, t);
      for (const p of v.files) if (this.hiddenAt(p, i) > top) files.set(p, i);
      for (const p of v.hardlinks.keys()) if (this.hiddenAt(p, i) > top) hardlinks.set(p, i);
    }
    this.final = { symlinks, files, hardlinks };
  }

  /**
   * The lowest layer above `layer` that hides the non-directory entry at `path` of `layer` (by a
   * whiteout, an opaque or replaced ancestor, or a new entry at the same path); layers.length if none.
   */
  hiddenAt(path: string, layer: number): number {
    const anc = ancestors(path);
    for (let j = layer + 1; j < this.views.length; j++) {
      const v = this.views[j]!;
      if (
        v.whiteouts.has(path) ||
        v.files.has(path) ||
        v.symlinks.has(path) ||
        v.hardlinks.has(path) ||
        v.dirs.has(path)
      ) {
        return j;
      }
      for (const a of anc) {
        if (
          v.whiteouts.has(a) ||
          v.opaque.has(a) ||
          v.symlinks.has(a) ||
          v.files.has(a) ||
          v.hardlinks.has(a)
        )
          return j;
      }
    }
    return this.views.length;
  }

  /**
   * Resolves a path inside the final filesystem: absolute targets start at the image root, ".." stops
   * at the root, every symlinked component is followed (parent directories included). Returns the
   * path with no symlink left in it. More than 40 hops is a SYMLINK_LOOP error naming `path`.
   */
  resolve(path: string): string {
    const out: string[] = [];
    // remaining components, next one last
    const todo = path.split('/').reverse();
    let hops = 0;
    while (todo.length > 0) {
      const seg = todo.pop()!;
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        out.pop();
        continue;
      }
      out.push(seg);
      const target = this.final.symlinks.get(out.join('/'));
      if (target === undefined) continue;
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new MoatError(
          'SYMLINK_LOOP',
          `image ${this.image}: too many levels of symbolic links resolving "${path}" (more than ${MAX_SYMLINK_HOPS})`,
        );
      }
      out.pop();
      if (target.startsWith('/')) out.length = 0;
      const parts = target.split('/');
      for (let k = parts.length - 1; k >= 0; k--) todo.push(parts[k]!);
    }
    return out.join('/');
  }

  /** the layer holding the regular file or hardlink visible at a resolved path */
  fileAt(path: string): { layer: number; hardlink?: string } | undefined {
    const f = this.final.files.get(path);
    if (f !== undefined) return { layer: f };
    const h = this.final.hardlinks.get(path);
    if (h !== undefined) return { layer: h, hardlink: this.views[h]!.hardlinks.get(path)! };
    return undefined;
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
export function planAliasReads(
  image: string,
  layers: readonly LayerAnalysis[],
  analyzers: readonly Analyzer[],
): Map<number, AliasRequest[]> {
  const fs = new LayeredFs(image, layers);
  const analyzed = new Set<string>();
  layers.forEach((l, i) => {
    for (const o of l.outputs) analyzed.add(outputKey(i, o.path, o.analyzer));
  });
  const plan = new Map<number, AliasRequest[]>();
  const seen = new Set<string>();
  const request = (as: string, resolved: string, a: Analyzer) => {
    const at = fs.fileAt(resolved);
    if (!at) return;
    const real = at.hardlink ?? resolved;
    // the analyzer read this very file in pass one: its result already counts
    if (!at.hardlink && analyzed.has(outputKey(at.layer, real, a.name))) return;
    const key = `${at.layer}\0${real}\0${as}\0${a.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    const list = plan.get(at.layer) ?? [];
    list.push({ real, as, analyzer: a.name, entry: resolved });
    plan.set(at.layer, list);
  };

  // 1. wanted paths that are symlinks; a loop here fails the scan (SYMLINK_LOOP)
  for (const p of fs.finalSymlinks.keys()) {
    for (const a of analyzers) {
      if (a.wants(p)) request(p, fs.resolve(p), a);
    }
  }
  // 2. wanted paths that are hardlinks
  for (const p of fs.finalHardlinks.keys()) {
    for (const a of analyzers) {
      if (a.wants(p)) request(p, p, a);
    }
  }
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
          for (const link of links) {
            const alias = link + rest;
            for (const a of analyzers) if (a.wants(alias)) request(alias, path, a);
          }
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
  /** names the image in errors */
  image: string;
  layers: readonly LayerAnalysis[];
  /** LayerRef of each layer, same order */
  refs: readonly LayerRef[];
  /** second-pass results per layer index (from planAliasReads + readAliases) */
  aliasOutputs?: ReadonlyMap<number, readonly FileResult[]>;
}

export interface MergeResult {
  packages: Package[];
  /** OS hints from the files of the final filesystem, best (lowest priority number) first */
  osHints: OsHint[];
}

interface Placed {
  layer: number;
  /** first layer that hides it (layers.length when visible at the top) */
  until: number;
  result: FileResult;
}

function packageKey(p: Package): string {
  return `${p.type}\0${p.name}\0${p.version}\0${p.arch ?? ''}`;
}

/**
 * The final packages and OS hints. A package is attributed to the lowest layer from which a package
 * of the same type, name, version and arch has been visible in every layer state up to the top: a
 * database rewritten by every layer keeps the layer that introduced the package, and one that was
 * removed and installed again gets the layer that brought it back.
 */
export function mergeLayers(input: MergeInput): MergeResult {
  const fs = new LayeredFs(input.image, input.layers);
  const n = input.layers.length;
  const placed: Placed[] = [];
  input.layers.forEach((l, i) => {
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
  for (const p of placed) {
    if (p.until < n) continue;
    if (p.result.output.os) osHints.push(p.result.output.os);
    for (const pkg of p.result.output.packages ?? []) {
      const states = present.get(packageKey(pkg))!;
      let from = n - 1;
      while (from > 0 && states[from - 1]) from--;
      const ref = input.refs[from];
      packages.push(ref ? { ...pkg, layer: ref } : { ...pkg });
    }
  }
  osHints.sort((a, b) => a.priority - b.priority);
  return { packages, osHints };
}
