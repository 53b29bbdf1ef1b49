import type { OsInfo, Package } from '../model/package.js';

/** A file handed to an analyzer: its content is in memory, or spooled to disk when large. */
export interface FileInput {
  /** path relative to the image root: no leading slash, no `.`/`..` segments */
  path: string;
  size: number;
  /** content, for files up to the in-memory cap */
  data?: Buffer;
  /** a read-only copy on disk (inside moat's cache dir) for larger files; removed after analysis */
  spoolPath?: string;
}

export interface AnalyzerContext {
  /** records a non-fatal problem with this file (scan goes on); the message names the reason, not the file */
  warn(reason: string): void;
}

/** What an analyzer found in one file. Must be JSON-serialisable: it is stored in the layer cache. */
export interface AnalysisOutput {
  packages?: Package[];
  /** OS identity read from this file (os-release or a distribution release file) */
  os?: OsHint;
  /**
   * OS package managers: the files each installed package owns (dpkg `info/*.list`, apk `R:` lines, rpm
   * file lists), as root-relative paths. The scan keeps only paths other analyzers read (language
   * metadata, binaries), to mark language packages that the OS package manager installed.
   */
  owned?: OwnedFiles[];
}

/** Files that one OS package installed. */
export interface OwnedFiles {
  /** the OS package's name (dpkg/apk/rpm binary package) */
  owner: string;
  /** root-relative paths: no leading slash */
  paths: string[];
}

/** An OS identification from one file; the scan picks the best hint among the final filesystem's files. */
export interface OsHint {
  /** lower is better: 0 etc/os-release, 1 usr/lib/os-release, 2 distribution release files, 3 weaker hints */
  priority: number;
  os: Omit<OsInfo, 'eol' | 'ecosystem'>;
}

export interface Analyzer {
  /** short name, e.g. "dpkg" */
  readonly name: string;
  /** bumped whenever the output for the same input changes: part of the layer cache key */
  readonly version: number;
  /** files above this size are skipped with a warning */
  readonly maxSize: number;
  /**
   * whether this analyzer needs the regular file at `path`; called for every file entry, so keep it cheap.
   * `meta` gives the entry's size and mode (e.g. to pick executables for binary analyzers).
   */
  wants(path: string, meta?: { size: number; mode: number }): boolean;
  analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput | Promise<AnalysisOutput>;
}
