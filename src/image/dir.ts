/**
 * dir:PATH — a root filesystem on the host, scanned as one pseudo-layer. The walk uses lstat and
 * opens files with O_NOFOLLOW, so a symlink in the tree (even one pointing at /etc/shadow) is only
 * ever recorded as a symlink, never followed on the host; resolution happens inside the image model.
 * The host's own root skips its kernel filesystems (/proc, /sys, /dev): they hold no packages, and
 * /proc's files never end. `openFilesystem` (`moat scan fs`) also skips `.git` directories.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  type Dirent,
  promises as fsp,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, MoatError } from '../errors.js';
import type { EntryType, LayerEntry, LayerVisitor, OpenedImage } from './types.js';

const DIR_MEDIA_TYPE = 'application/vnd.moat.dir';
const DEFAULT_MEMORY_CAP = 16 * 1024 * 1024;

export interface OpenDirOptions {
  /** the reference as the user gave it (default `dir:<path>`) */
  ref?: string;
  /** directories (root-relative paths) not to enter */
  skipDir?: (path: string) => boolean;
}

/** Kernel filesystems of a running host, never walked when the root is `/`. */
const HOST_PSEUDO = new Set(['proc', 'sys', 'dev']);

/** A version-control checkout's object store: no packages, often most of a project's files. */
function isGitDir(path: string): boolean {
  return path === '.git' || path.endsWith('/.git');
}

/**
 * A project directory or root filesystem for `moat scan fs` / `moat sbom fs`: dir: without `.git`.
 * The reference is the path as given.
 */
export function openFilesystem(path: string): Promise<OpenedImage> {
  return openDir(path, { ref: path, skipDir: isGitDir });
}

/** Opens a root filesystem directory. A missing path or a non-directory is a NOT_FOUND input error. */
export async function openDir(path: string, opts: OpenDirOptions = {}): Promise<OpenedImage> {
  const root = resolve(path);
  // errors name the input as the user wrote it: dir:PATH for images, PATH for `scan fs`
  const ref = opts.ref ?? `dir:${path}`;
  let st: Stats;
  try {
    st = await fsp.stat(root);
  } catch (e) {
    throw new MoatError('NOT_FOUND', `${ref}: no such directory (${errorMessage(e)})`, { cause: e });
  }
  if (!st.isDirectory()) throw new MoatError('NOT_FOUND', `${ref}: not a directory`);
  const layer = { index: 0, digest: `dir:${root}`, mediaType: DIR_MEDIA_TYPE };
  return {
    source: 'dir',
    ref,
    name: root,
    layers: [layer],
    openLayer: () =>
      Promise.reject(new MoatError('USAGE', `${ref}: a directory has no layer blobs; use walk()`)),
    walk: (visitor) => walkDir(root, visitor, skipper(root, opts.skipDir)),
    close: async () => {},
  };
}

function skipper(root: string, skipDir?: (path: string) => boolean): (path: string) => boolean {
  const host = root === '/';
  return (p) => (host && HOST_PSEUDO.has(p)) || (skipDir?.(p) ?? false);
}

function typeOf(d: Dirent | Stats): EntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other';
}

/**
 * Visits every entry below `root` depth-first, each directory right before its content and names in
 * byte order (as `tar --sort=name` would), so results do not depend on the host's directory order.
 * Unreadable entries are reported through `visitor.warn` and skipped, as are directories `skip` names.
 */
async function walkDir(root: string, visitor: LayerVisitor, skip: (dir: string) => boolean): Promise<void> {
  const memoryCap = visitor.memoryCap ?? DEFAULT_MEMORY_CAP;
  const warn = (p: string, e: unknown) => visitor.warn?.(p, errorMessage(e));
  const visit = async (rel: string): Promise<void> => {
    let names: Dirent[];
    try {
      // synchronous calls: a tree of small files (node_modules) is walked several times faster than
      // through promise-based fs, and nothing else runs meanwhile
      names = readdirSync(join(root, rel), { withFileTypes: true });
    } catch (e) {
      warn(rel, e);
      return;
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      const path = rel === '' ? d.name : `${rel}/${d.name}`;
      const abs = join(root, path);
      let st: Stats;
      try {
        st = lstatSync(abs);
      } catch (e) {
        warn(path, e);
        continue;
      }
      const type = typeOf(st);
      if (type === 'dir' && skip(path)) continue;
      const e: LayerEntry = { path, type, size: type === 'file' ? st.size : 0, mode: st.mode & 0o7777 };
      if (type === 'symlink') {
        try {
          e.linkname = readlinkSync(abs);
        } catch (err) {
          warn(path, err);
          continue;
        }
      }
      const wanted = visitor.entry(e);
      if (type === 'dir') await visit(path);
      if (!wanted || type !== 'file') continue;
      try {
        const content = await readFile(abs, e, memoryCap, visitor.spoolDir);
        if (content) visitor.content(e, content);
      } catch (err) {
        warn(path, err);
      }
    }
  };
  await visit('');
}

/**
 * Reads a wanted file without following a symlink swapped in since the lstat: small files into
 * memory, larger ones copied into the spool dir (the visitor removes the copy after analysis).
 */
async function readFile(
  abs: string,
  e: LayerEntry,
  memoryCap: number,
  spoolDir: string | undefined,
): Promise<{ data?: Buffer; spoolPath?: string; size: number } | undefined> {
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  let st: Stats;
  try {
    st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    // the file may have changed since the lstat; what we read is what we report
    e.size = st.size;
    if (st.size <= memoryCap || !spoolDir) {
      const data = readFileSync(fd);
      e.size = data.length;
      return { data, size: data.length };
    }
  } finally {
    closeSync(fd);
  }
  // large files are copied to the spool asynchronously, reopened the same way
  const fh = await fsp.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    const spoolPath = join(spoolDir, `spool-${process.pid}-${randomBytes(6).toString('hex')}`);
    const out = await fsp.open(spoolPath, 'wx', 0o600);
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        await out.write(buf, 0, bytesRead);
        size += bytesRead;
      }
    } catch (err) {
      await out.close();
      await fsp.rm(spoolPath, { force: true });
      throw err;
    }
    await out.close();
    e.size = size;
    return { spoolPath, size };
  } finally {
    await fh.close();
  }
}
