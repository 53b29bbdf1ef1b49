/**
 * Named lists that rules read as `data.NAME`, supplied as plain files (`moat audit scan --list NAME=FILE`):
 * threat-intelligence address and domain lists and allowlists, one entry per line, without writing YAML.
 * Also the matchers behind the rule helpers `ipInList` (exact addresses and CIDR ranges, IPv4 and IPv6)
 * and `domainInList` (a domain and its subdomains), compiled once per list so that a list of thousands of
 * entries costs a set lookup or a binary search per event.
 */
import { readFileSync } from 'node:fs';
import { errorMessage, MoatError } from '../errors.js';
import type { RuleFile, RuleLoadError, RuleSpec } from './rules/types.js';

/** How a list's entries are checked: addresses/CIDRs for `ipInList`, host names for `domainInList`. */
export type ListKind = 'string' | 'address' | 'domain';

/** A list given on the command line: `NAME=FILE`. */
export interface ListSource {
  name: string;
  file: string;
}

export interface ParsedList {
  name: string;
  file: string;
  items: string[];
  /** bad lines, each with the file and 1-based line; the good lines still load */
  errors: RuleLoadError[];
}

// the same names a rule file's `lists:` section accepts (src/detect/rules/parse.ts)
const LIST_NAME = /^[a-z_][a-z0-9_]{0,99}$/;

/** `NAME=FILE` → its parts; a usage error names the bad argument. */
export function parseListSource(spec: string): ListSource {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? '' : spec.slice(0, eq).trim();
  const file = eq < 0 ? '' : spec.slice(eq + 1).trim();
  if (!name || !file)
    throw new MoatError('USAGE', `--list ${spec}: expected NAME=FILE (e.g. proxy_ips=tor-exits.txt)`);
  if (!LIST_NAME.test(name))
    throw new MoatError('USAGE', `--list ${spec}: list name "${name}" must be lower_snake_case`);
  return { name, file };
}

/**
 * One entry per line; `#` starts a comment (at the line's start or after whitespace); blank lines are
 * ignored; duplicates are dropped. Entries of address lists must be IP addresses or CIDR ranges, of domain
 * lists host names (`*.` or a leading dot is allowed and means the same: the domain and its subdomains).
 */
export function parseListText(
  text: string,
  file: string,
  name: string,
  kind: ListKind = 'string',
): ParsedList {
  const items: string[] = [];
  const seen = new Set<string>();
  const errors: RuleLoadError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    const hash = line.search(/(^|\s)#/);
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === '') continue;
    const bad = (message: string) => errors.push({ file, line: i + 1, message: `list ${name}: ${message}` });
    if (line.includes('\u0000') || line.includes('\ufffd')) {
      bad('not text (binary or not UTF-8)');
      continue;
    }
    let entry = line;
    if (kind === 'address') {
      if (parseAddressEntry(line) === undefined) {
        bad(`"${clip(line)}" is not an IP address or CIDR range`);
        continue;
      }
    } else if (kind === 'domain') {
      const d = normalizeDomain(line.replace(/^\*?\./, ''));
      if (d === undefined) {
        bad(`"${clip(line)}" is not a domain name`);
        continue;
      }
      entry = d;
    } else if (/\s/.test(line)) {
      bad(`"${clip(line)}" holds more than one entry (one entry per line)`);
      continue;
    }
    if (seen.has(entry)) continue;
    seen.add(entry);
    items.push(entry);
  }
  return { name, file, items, errors };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** Reads a list file; a file that cannot be read is a config error naming it (the CLI exits 2). */
export function readListFile(source: ListSource, kind: ListKind = 'string'): ParsedList {
  let text: string;
  try {
    text = readFileSync(source.file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MoatError('CONFIG', `list file ${source.file}: cannot read: ${code ?? errorMessage(e)}`, {
      cause: e,
    });
  }
  return parseListText(text, source.file, source.name, kind);
}

/**
 * What each list is used for, from the rules that read it: `ipInList(x, data.NAME)` makes NAME an address
 * list, `domainInList(x, data.NAME)` a domain list; every other `data.NAME` a plain string list.
 */
export function listUsage(specs: readonly RuleSpec[]): Map<string, ListKind> {
  const kinds = new Map<string, ListKind>();
  // the first argument may hold calls one level deep: domainInList(imageRepository(i).split('/')[0], data.x)
  const typed = /\b(ipInList|domainInList)\s*\((?:[^()]|\([^()]*\))*?,\s*data\.([a-z_][a-z0-9_]*)\s*\)/g;
  const any = /\bdata\.([a-z_][a-z0-9_]*)/g;
  for (const s of specs) {
    const texts = [
      s.condition,
      ...(s.aggregation?.by ?? []),
      s.aggregation?.field ?? '',
      ...s.requires.map((r) => `data.${r}`),
    ];
    for (const t of texts) {
      for (const m of t.matchAll(any)) if (!kinds.has(m[1] as string)) kinds.set(m[1] as string, 'string');
      for (const m of t.matchAll(typed))
        kinds.set(m[2] as string, m[1] === 'ipInList' ? 'address' : 'domain');
    }
  }
  return kinds;
}

/** Loaded lists as a rule file, merged after the user's rule files (lists append, so packs' entries stay). */
export function listsAsRuleFile(lists: readonly ParsedList[]): RuleFile {
  return {
    file: lists.map((l) => l.file).join(', '),
    rules: [],
    lists: lists.map((l) => ({ name: l.name, items: l.items, pos: { file: l.file, line: 1 } })),
    exceptions: [],
    enable: [],
    disable: [],
  };
}

// ---------------------------------------------------------------------------------------------------
// Addresses

/** A parsed address: IPv4 as a 32-bit number, IPv6 as a 128-bit bigint. */
export type ParsedIp = { v: 4; n: number } | { v: 6; n: bigint };

/** Dotted-quad IPv4 without leading zeros (`010.0.0.1` is ambiguous: octal to some parsers). */
function parseIPv4(s: string, start = 0, end = s.length): number | undefined {
  let n = 0;
  let octets = 0;
  let i = start;
  while (i < end) {
    let v = 0;
    const from = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    const len = i - from;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(from) === 48)) return undefined;
    n = n * 256 + v;
    octets++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 46 || octets === 4) return undefined;
    i++;
    if (i === end) return undefined;
  }
  return octets === 4 ? n : undefined;
}

/** RFC 4291 text forms: `::` compression, an IPv4 tail (`::ffff:1.2.3.4`), a zone (`fe80::1%eth0`) ignored. */
function parseIPv6(input: string): bigint | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return undefined;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const bits = part.split(':');
    for (let k = 0; k < bits.length; k++) {
      const b = bits[k] as string;
      if (k === bits.length - 1 && b.includes('.')) {
        const v4 = parseIPv4(b);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(b)) return undefined;
      out.push(Number.parseInt(b, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (!h || !t) return undefined;
  // an IPv4 tail is only allowed at the very end
  if (dbl >= 0 && head.includes('.')) return undefined;
  const missing = 8 - h.length - t.length;
  if (dbl >= 0 ? missing < 1 : missing !== 0) return undefined;
  const all = [...h, ...new Array<number>(dbl >= 0 ? missing : 0).fill(0), ...t];
  let n = 0n;
  for (const g of all) n = (n << 16n) | BigInt(g);
  return n;
}

const V4_MAPPED = 0xffff00000000n;
const V4_MAPPED_MASK = ~0xffffffffn & ((1n << 128n) - 1n);

/** An address as written in an audit event or a list; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is IPv4. */
export function parseIp(s: string): ParsedIp | undefined {
  if (s.includes(':')) {
    const n = parseIPv6(s);
    if (n === undefined) return undefined;
    if ((n & V4_MAPPED_MASK) === V4_MAPPED) return { v: 4, n: Number(n & 0xffffffffn) };
    return { v: 6, n };
  }
  const n = parseIPv4(s);
  return n === undefined ? undefined : { v: 4, n };
}

/** An address or a CIDR range as a closed interval; host bits below the prefix are ignored (masked). */
export function parseAddressEntry(
  s: string,
): { v: 4; start: number; end: number } | { v: 6; start: bigint; end: bigint } | undefined {
  const slash = s.indexOf('/');
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return undefined;
  const mapped = ip.v === 4 && s.includes(':');
  let prefix = ip.v === 4 ? 32 : 128;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    // `::ffff:10.0.0.0/104` is 10.0.0.0/8
    if (mapped) prefix -= 96;
    if (prefix < 0 || prefix > (ip.v === 4 ? 32 : 128)) return undefined;
  }
  if (ip.v === 4) {
    const size = 2 ** (32 - prefix);
    const start = Math.floor(ip.n / size) * size;
    return { v: 4, start, end: start + size - 1 };
  }
  const host = (1n << BigInt(128 - prefix)) - 1n;
  const start = ip.n & ~host;
  return { v: 6, start, end: start | host };
}

/** Sorted, merged, disjoint intervals with a binary search: `has` is O(log n) whatever the list size. */
class Ranges<T extends number | bigint> {
  readonly starts: T[] = [];
  readonly ends: T[] = [];

  constructor(intervals: Array<[T, T]>) {
    intervals.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [s, e] of intervals) {
      const last = this.ends.length - 1;
      // overlapping: extend the previous interval (nested CIDRs and repeated addresses are common)
      if (last >= 0 && s <= (this.ends[last] as T)) {
        if (e > (this.ends[last] as T)) this.ends[last] = e;
      } else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
  }

  has(x: T): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.starts[mid] as T) <= x) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && x <= (this.ends[hi] as T);
  }
}

/**
 * A compiled address list. Exact entries as written are a set (the API server writes addresses in their
 * canonical form, so most lookups stop there); every entry is also an interval, so CIDR ranges, other
 * spellings of an IPv6 address and IPv4-mapped addresses match too. Entries that are not addresses are
 * ignored (list files are checked when loaded).
 */
export class AddressMatcher {
  private readonly exact: Set<string>;
  private readonly v4: Ranges<number>;
  private readonly v6: Ranges<bigint>;
  /** how many entries were not addresses or ranges */
  readonly invalid: number;

  constructor(entries: readonly string[]) {
    this.exact = new Set();
    const v4: Array<[number, number]> = [];
    const v6: Array<[bigint, bigint]> = [];
    let invalid = 0;
    for (const raw of entries) {
      const e = raw.trim();
      const r = parseAddressEntry(e);
      if (!r) {
        invalid++;
        continue;
      }
      if (!e.includes('/')) this.exact.add(e);
      if (r.v === 4) v4.push([r.start, r.end]);
      else v6.push([r.start, r.end]);
    }
    this.v4 = new Ranges(v4);
    this.v6 = new Ranges(v6);
    this.invalid = invalid;
  }

  has(ip: string): boolean {
    if (this.exact.has(ip)) return true;
    const p = parseIp(ip);
    if (!p) return false;
    return p.v === 4 ? this.v4.has(p.n) : this.v6.has(p.n);
  }
}

// ---------------------------------------------------------------------------------------------------
// Domains

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower case, no trailing dot, every label a DNS label; undefined when it is not a host name. */
export function normalizeDomain(s: string): string | undefined {
  let d = s.trim().toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '' || d.length > 253) return undefined;
  for (const label of d.split('.')) if (!LABEL.test(label)) return undefined;
  return d;
}

/**
 * A compiled domain list: a host matches an entry equal to it or to one of its parent domains
 * (`a.evil.example` matches `evil.example`), one set lookup per label. A `host:port` or a URL's host is
 * not extracted here: rules pass the host.
 */
export class DomainMatcher {
  private readonly set = new Set<string>();

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const d = normalizeDomain(e.replace(/^\s*\*?\./, ''));
      if (d) this.set.add(d);
    }
  }

  has(host: string): boolean {
    let h = host.toLowerCase();
    if (h.endsWith('.')) h = h.slice(0, -1);
    if (this.set.has(h)) return true;
    for (let i = h.indexOf('.'); i >= 0; i = h.indexOf('.', i + 1)) {
      if (this.set.has(h.slice(i + 1))) return true;
    }
    return false;
  }
}
