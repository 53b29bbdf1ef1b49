/**
 * Shared pieces of the end-to-end suite: the report shape as the tests read it, an independent dpkg
 * status parser, the Debian oracle (test/scripts/debian-expected.sh, real `dpkg --compare-versions`),
 * zip extraction for it, and comparisons that ignore fields that change from run to run.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { REPO } from '../helpers/cli.js';

const run = promisify(execFile);

export const ORACLE = join(REPO, 'test/scripts/debian-expected.sh');
export const GROUND_TRUTH = join(REPO, 'test/fixtures/vulndb/ground-truth');
export const SCHEMA = join(REPO, 'docs/schema/scan-report-1.0.json');
export const DEBIAN_OS_RELEASE = join(REPO, 'test/fixtures/os-release/debian-12/usr/lib/os-release');

export const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Sev = (typeof SEVERITIES)[number];
export const rank = (s: string): number => SEVERITIES.indexOf(s as Sev);

export interface ReportLayer {
  index: number;
  digest: string;
  diffId?: string;
}

export interface ReportFinding {
  id: string;
  aliases: string[];
  records: string[];
  package: { name: string; version: string; arch?: string; path: string; layer?: ReportLayer };
  installedVersion: string;
  fixedVersion?: string;
  status: 'fixed' | 'no fix';
  severity: Sev;
  title?: string;
  remediation: string;
}

export interface ReportPackage {
  type: string;
  name: string;
  version: string;
  arch?: string;
  source?: { name: string; version: string };
  path: string;
  layer?: ReportLayer;
}

export interface Report {
  schemaVersion: string;
  generatedAt: string;
  target: {
    ref: string;
    source: string;
    name: string;
    digest?: string;
    platform?: string;
    mediaType?: string;
    layers: ReportLayer[];
  };
  os?: { family: string; ecosystem?: string; name: string };
  db?: { stale: boolean; ageHours?: number; updatedAt?: string; path: string };
  summary: {
    packages: number;
    findings: number;
    filtered: number;
    healthy: boolean;
    bySeverity: Record<Sev, number>;
  };
  findings: ReportFinding[];
  packages?: ReportPackage[];
  warnings: { code: string; message: string }[];
}

export interface StatusEntry {
  name: string;
  version: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
  status?: string;
}

/**
 * Paragraphs of a dpkg status file (or a status.d file). Continuation lines (leading space) belong to
 * the field before them; only the fields the tests compare are kept.
 */
export function parseStatus(text: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of para.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) f[m[1]!.toLowerCase()] = m[2]!.trim();
    }
    if (!f.package || !f.version) continue;
    // "Source: name (version)" when the source version differs from the binary's (binNMUs)
    const src = /^(\S+)(?:\s+\((.+)\))?$/.exec(f.source ?? '');
    out.push({
      name: f.package,
      version: f.version,
      arch: f.architecture ?? '',
      sourceName: src?.[1] ?? f.package,
      sourceVersion: src?.[2] ?? f.version,
      status: f.status,
    });
  }
  return out;
}

/** Installed per dpkg: "... ok installed" ("install ok installed", "hold ok installed"); status.d entries have no Status. */
export function isInstalled(e: StatusEntry): boolean {
  return e.status === undefined || /\sok installed$/.test(e.status);
}

/** Installed packages of a root holding var/lib/dpkg/status and/or var/lib/dpkg/status.d/*. */
export function installedPackages(root: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  const status = join(root, 'var/lib/dpkg/status');
  if (existsSync(status)) out.push(...parseStatus(readFileSync(status, 'utf8')));
  const dir = join(root, 'var/lib/dpkg/status.d');
  if (existsSync(dir)) {
    for (const n of readdirSync(dir).sort()) {
      if (!n.endsWith('.md5sums')) out.push(...parseStatus(readFileSync(join(dir, n), 'utf8')));
    }
  }
  return out.filter(isInstalled);
}

export const packageKey = (p: {
  name: string;
  version: string;
  arch?: string;
  sourceName?: string;
  sourceVersion?: string;
}): string => [p.name, p.version, p.arch ?? '', p.sourceName ?? '', p.sourceVersion ?? ''].join('\t');

/** The --list-packages entries in the same key form as installedPackages(). */
export function reportPackageKeys(r: Report): string[] {
  return (r.packages ?? [])
    .filter((p) => p.type === 'dpkg')
    .map((p) =>
      packageKey({
        name: p.name,
        version: p.version,
        arch: p.arch,
        sourceName: p.source?.name,
        sourceVersion: p.source?.version,
      }),
    )
    .sort();
}

/** One line per (binary package, record, fixed version), as the oracle prints them. */
export const findingKey = (pkg: string, record: string, fixed: string | undefined): string =>
  `${pkg}\t${record}\t${fixed ?? ''}`;

export function reportFindingKeys(r: Report): Set<string> {
  const out = new Set<string>();
  for (const f of r.findings)
    for (const rec of f.records) out.add(findingKey(f.package.name, rec, f.fixedVersion));
  return out;
}

/**
 * The records folder the oracle reads, narrowed per input to the records that name one of its source
 * packages: the oracle's jq pass over thousands of files is most of its time, and a record that names
 * none of the installed sources cannot match. The narrowing is by name only; the oracle decides the rest.
 */
export class OracleRecords {
  readonly dir: string;
  private readonly byName = new Map<string, string[]>();
  private subsets = 0;

  constructor(dir: string) {
    this.dir = dir;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.json')) continue;
      const rec = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        affected?: { package?: { name?: string } }[];
      };
      for (const name of new Set((rec.affected ?? []).map((a) => a.package?.name ?? ''))) {
        if (!this.byName.has(name)) this.byName.set(name, []);
        this.byName.get(name)!.push(file);
      }
    }
  }

  /** A folder of symlinks to the records naming any of `sources`. */
  subset(sources: Iterable<string>): string {
    const out = join(this.dir, '..', `records-subset-${this.subsets++}`);
    mkdirSync(out, { recursive: true });
    const files = new Set<string>();
    for (const s of sources) for (const f of this.byName.get(s) ?? []) files.add(f);
    for (const f of files) symlinkSync(join(this.dir, f), join(out, f));
    return out;
  }
}

/**
 * What the oracle expects for a status file or a root: (binary package, record id, fixed version) per
 * line, every version comparison made by the real `dpkg --compare-versions`.
 */
export async function oracle(statusOrRoot: string, records: OracleRecords): Promise<Set<string>> {
  const entries = statSync(statusOrRoot).isDirectory()
    ? installedPackages(statusOrRoot)
    : parseStatus(readFileSync(statusOrRoot, 'utf8'));
  const dir = records.subset(entries.map((e) => e.sourceName));
  const { stdout } = await run('bash', [ORACLE, statusOrRoot, dir], { maxBuffer: 64 << 20 });
  const out = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [bin, , , , id, fixed] = line.split('\t');
    out.add(findingKey(bin!, id!, fixed));
  }
  return out;
}

/** Set difference both ways, for assertion messages that show what is wrong rather than two big sets. */
export function setDiff(
  actual: Iterable<string>,
  expected: Iterable<string>,
): { missing: string[]; extra: string[] } {
  const a = new Set(actual);
  const e = new Set(expected);
  return { missing: [...e].filter((x) => !a.has(x)).sort(), extra: [...a].filter((x) => !e.has(x)).sort() };
}

/**
 * The JSON entries at the root of a zip (an OSV export), read here from the central directory
 * (PKWARE APPNOTE 4.3.12 / 4.3.16) rather than through yauzl: its per-entry events made extracting the
 * Debian export take seconds. Stored and deflated entries; no zip64 (the exports here are small).
 */
export function zipJsonEntries(zip: string): { name: string; data: () => Buffer }[] {
  const b = readFileSync(zip);
  let eocd = b.length - 22;
  while (eocd >= 0 && b.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${zip}: no end of central directory`);
  const count = b.readUInt16LE(eocd + 10);
  let p = b.readUInt32LE(eocd + 16);
  const out: { name: string; data: () => Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    if (b.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zip}: bad central directory entry ${i}`);
    const method = b.readUInt16LE(p + 10);
    const size = b.readUInt32LE(p + 20);
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    const local = b.readUInt32LE(p + 42);
    const name = b.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (!name.endsWith('.json') || name.includes('/')) continue;
    const start = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    const raw = b.subarray(start, start + size);
    out.push({ name, data: () => (method === 8 ? inflateRawSync(raw) : Buffer.from(raw)) });
  }
  return out;
}

/** Extracts the JSON records of an OSV export zip into `dir` (the oracle reads a folder). */
export function extractZip(zip: string, dir: string): number {
  mkdirSync(dir, { recursive: true });
  const entries = zipJsonEntries(zip);
  for (const e of entries) writeFileSync(join(dir, e.name), e.data());
  return entries.length;
}

/** A root with Debian 12's os-release and a dpkg status file: what `dir:` scans of ground truth use. */
export function makeDebianRoot(root: string, status: string): string {
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(join(root, 'etc/os-release'), readFileSync(DEBIAN_OS_RELEASE));
  writeFileSync(join(root, 'var/lib/dpkg/status'), readFileSync(status));
  return root;
}

/** The report without what differs between two runs of the same scan (time, age, input name, path). */
export function stable(r: Report): unknown {
  const { generatedAt: _g, db: _db, target, ...rest } = r;
  const { ref: _ref, name: _name, ...t } = target;
  return { ...rest, target: t };
}

/** Findings as comparable lines without the layer (sources that differ in how they name layers). */
export function findingLines(r: Report): string[] {
  return r.findings
    .map((f) =>
      [
        f.package.name,
        f.package.version,
        f.package.arch ?? '',
        f.id,
        f.records.join(','),
        f.status,
        f.severity,
        f.fixedVersion ?? '',
      ].join('\t'),
    )
    .sort();
}

/**
 * What every source must agree on: the layers by uncompressed digest (compressed digests differ between
 * a registry and a docker archive), findings and packages with the layer index that introduced them.
 */
export function sourceView(r: Report, withLayers = true): unknown {
  const at = (l?: { index: number }) => (withLayers ? String(l?.index ?? '-') : '');
  return {
    os: r.os?.ecosystem,
    diffIds: withLayers ? r.target.layers.map((l) => l.diffId) : undefined,
    findings: r.findings
      .map((f) =>
        [
          f.package.name,
          f.installedVersion,
          f.id,
          f.records.join(','),
          f.fixedVersion,
          f.status,
          at(f.package.layer),
        ].join(' '),
      )
      .sort(),
    packages: reportPackageKeys(r),
    packageLayers: withLayers ? (r.packages ?? []).map((p) => `${p.name} ${at(p.layer)}`).sort() : undefined,
    summary: { ...r.summary },
  };
}

/** A deterministic choice from a string (stable across runs and machines). */
export function bucket(s: string, n: number): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0) % n;
}

/** GNU tar's view of one file in a layer blob (independent of moat's tar reader); undefined when absent. */
export async function fileFromLayer(blob: string, path: string): Promise<string | undefined> {
  const { stdout: list } = await run('tar', ['-tzf', blob], { maxBuffer: 256 << 20 });
  const names = list.split('\n');
  const name = names.find((n) => n === path || n === `./${path}`);
  if (!name) return undefined;
  const { stdout } = await run('tar', ['-xzOf', blob, name], { maxBuffer: 64 << 20 });
  return stdout;
}

/** Entries of a layer blob, as GNU tar lists them. */
export async function layerNames(blob: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', blob], { maxBuffer: 256 << 20 });
  return stdout.split('\n').filter((n) => n !== '');
}
