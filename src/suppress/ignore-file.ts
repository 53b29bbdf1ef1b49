/**
 * `.moatignore`: a YAML list of ignore entries (docs/suppression.md), modelled on Grype's ignore rules and
 * Trivy's .trivyignore.yaml:
 *
 *   - id: CVE-2023-4911            # also matches the finding's aliases (DSA, GHSA, ...)
 *     package: libc6               # optional: a name, a purl (pkg:...), or {name, version, type, purl}
 *     path: usr/lib/node_modules/** # optional glob over the package's path (or `paths:` a list)
 *     reason: not reachable in our build
 *     expires: 2025-06-30          # optional: the last day it applies; then it warns and stops suppressing
 *
 * A file may also be a mapping with the list under `ignore:`. Entries are read with their line numbers so
 * that errors and warnings name `file:line`.
 */
import { readFileSync } from 'node:fs';
import type { Document, LineCounter as LineCounterT } from 'yaml';
import { errorMessage, MoatError } from '../errors.js';
import { parsePurl } from '../scan/purl.js';
import type { PackageSelector, Rule, RuleSet } from './types.js';

export const IGNORE_FILE_NAME = '.moatignore';

const KEYS = new Set(['id', 'package', 'path', 'paths', 'reason', 'expires']);

type Entry = Record<string, unknown>;

/** Loads an ignore file. `now` decides which entries have expired (they become warnings, not rules). */
export async function loadIgnoreFile(file: string, now: Date, seq = 0): Promise<RuleSet> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MoatError('BAD_SUPPRESSION', `ignore file ${file}: ${errorMessage(e)}`, { cause: e });
  }
  // yaml is CommonJS: its exports object is the default export, both in Node and in the esbuild bundle
  const { parseDocument, LineCounter, isMap, isScalar, isSeq } = (await import('yaml')).default;
  const lines: LineCounterT = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lines });
  const bad = (line: number | undefined, why: string): MoatError =>
    new MoatError('BAD_SUPPRESSION', `ignore file ${file}${line ? `:${line}` : ''}: ${why}`);
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    throw bad(err.linePos?.[0]?.line, `not valid YAML (${err.message.split('\n')[0]})`);
  }
  let list = doc.contents as unknown;
  if (isMap(list)) {
    if (!list.has('ignore'))
      throw bad(undefined, 'expected a list of entries (or a mapping with an `ignore:` list)');
    list = list.get('ignore', true);
  }
  // an empty file, or `ignore:` with nothing under it
  if (list === null || list === undefined || (isScalar(list) && list.value === null)) {
    return { ignore: [], vex: [], warnings: [] };
  }
  if (!isSeq(list)) throw bad(undefined, 'expected a list of entries (or a mapping with an `ignore:` list)');

  const set: RuleSet = { ignore: [], vex: [], warnings: [] };
  for (const node of list.items) {
    const line = lineOf(node, lines);
    const raw = (node as { toJSON?: () => unknown }).toJSON?.() ?? node;
    if (!isEntry(raw)) throw bad(line, 'an entry must be a mapping with an `id`');
    const id = typeof raw.id === 'string' || typeof raw.id === 'number' ? String(raw.id).trim() : '';
    if (!id) throw bad(line, 'entry without an `id`');
    for (const k of Object.keys(raw)) {
      if (!KEYS.has(k))
        set.warnings.push({
          code: 'ignore-unknown-key',
          message: `${file}:${line}: unknown key \`${k}\` ignored`,
          subject: file,
        });
    }
    const reason = raw.reason === undefined || raw.reason === null ? undefined : String(raw.reason);
    const rule: Rule = {
      ids: [id.toUpperCase()],
      suppresses: true,
      seq: seq++,
      info: { kind: 'ignore-file', file, line, id },
    };
    if (reason) rule.info.reason = reason;
    if (raw.package !== undefined && raw.package !== null)
      rule.packages = [selector(raw.package, (w) => bad(line, w))];
    const paths = [raw.path, ...(Array.isArray(raw.paths) ? raw.paths : [raw.paths])].filter(
      (p): p is string => typeof p === 'string' && p !== '',
    );
    if (paths.length) rule.paths = paths;
    if (raw.expires !== undefined && raw.expires !== null) {
      const last = lastDay(raw.expires);
      if (!last) throw bad(line, `\`expires\` is not a date (YYYY-MM-DD): ${String(raw.expires)}`);
      rule.info.expires = last.day;
      if (now.getTime() >= last.end) {
        set.warnings.push({
          code: 'ignore-expired',
          message: `${file}:${line}: ignore entry for ${id} expired on ${last.day}: it no longer suppresses`,
          subject: file,
        });
        continue;
      }
    }
    set.ignore.push(rule);
  }
  return set;
}

function isEntry(v: unknown): v is Entry {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lineOf(node: unknown, lines: LineCounterT): number | undefined {
  const range = (node as { range?: [number, number, number] }).range;
  return range ? lines.linePos(range[0]).line : undefined;
}

function selector(v: unknown, bad: (why: string) => Error): PackageSelector {
  if (typeof v === 'string') {
    if (!v.startsWith('pkg:')) return { name: v };
    const purl = parsePurl(v);
    if (!purl) throw bad(`\`package\` is not a valid purl: ${v}`);
    return { purl };
  }
  if (!isEntry(v)) throw bad('`package` must be a name, a purl or a mapping {name, version, type, purl}');
  const s: PackageSelector = {};
  for (const k of ['name', 'version', 'type'] as const) {
    const x = v[k];
    if (x !== undefined && x !== null) s[k] = String(x);
  }
  if (typeof v.purl === 'string') {
    const purl = parsePurl(v.purl);
    if (!purl) throw bad(`\`package.purl\` is not a valid purl: ${v.purl}`);
    s.purl = purl;
  }
  return s;
}

/** `expires` as a day: the entry applies through the end of that day (UTC). */
function lastDay(v: unknown): { day: string; end: number } | undefined {
  const text = v instanceof Date ? v.toISOString() : String(v).trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/.exec(text);
  if (!m) return undefined;
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(start);
  if (d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return undefined;
  return { day: `${m[1]}-${m[2]}-${m[3]}`, end: start + 86_400_000 };
}
