/**
 * Applies ignore rules and VEX statements to findings: a suppressed finding leaves `findings` (so it no
 * longer counts for --fail-on) and is listed under `suppressed` with the rule that did it. Ignore entries
 * are the user's own decisions and are checked first; among VEX statements on the same finding the latest
 * one is in force (OpenVEX's rule), so a later `affected` undoes an earlier `not_affected`.
 */
import type { Finding, SuppressedFinding } from '../model/finding.js';
import type { OsInfo, Package } from '../model/package.js';
import { type Purl, parsePurl, pep503, purlFor } from '../scan/purl.js';
import type { PackageSelector, Rule, RuleSet } from './types.js';

export interface SuppressContext {
  os?: OsInfo;
  /** the scanned image's digest, for VEX statements about a specific image */
  targetDigest?: string;
  /** purls of the scanned packages by package key, when known (else computed from the finding) */
  purlOf?: (f: Finding) => string | undefined;
}

export interface SuppressOutcome {
  kept: Finding[];
  suppressed: SuppressedFinding[];
}

export function applySuppressions(
  findings: readonly Finding[],
  rules: RuleSet,
  ctx: SuppressContext = {},
): SuppressOutcome {
  if (rules.ignore.length === 0 && rules.vex.length === 0) return { kept: [...findings], suppressed: [] };
  const globs = new Map<string, RegExp>();
  const kept: Finding[] = [];
  const suppressed: SuppressedFinding[] = [];
  for (const f of findings) {
    const ids = new Set([f.id, ...f.aliases].map((x) => x.toUpperCase()));
    let purl: Purl | null | undefined;
    const purlOfFinding = (): Purl | undefined => {
      if (purl === undefined) {
        const text = ctx.purlOf?.(f) ?? purlFor(findingPackage(f), ctx.os);
        purl = parsePurl(text) ?? null;
      }
      return purl ?? undefined;
    };
    const applies = (r: Rule): boolean => {
      if (!r.ids.some((id) => ids.has(id))) return false;
      if (r.targetDigest && ctx.targetDigest && r.targetDigest !== ctx.targetDigest) return false;
      if (r.paths && !r.paths.some((p) => globMatch(p, f.package.path, globs))) return false;
      if (r.wholeTarget) return true;
      return !r.packages || r.packages.some((s) => selects(s, f, purlOfFinding));
    };
    let by: Rule | undefined = rules.ignore.find(applies);
    if (!by) {
      for (const r of rules.vex) {
        if (!applies(r)) continue;
        if (!by || (r.time ?? -1) > (by.time ?? -1) || ((r.time ?? -1) === (by.time ?? -1) && r.seq > by.seq))
          by = r;
      }
      if (by && !by.suppresses) by = undefined;
    }
    if (by) suppressed.push({ ...f, suppressedBy: { ...by.info } });
    else kept.push(f);
  }
  return { kept, suppressed };
}

/** The finding's package, enough to build its purl (the source package for OS types). */
function findingPackage(f: Finding): Package {
  const p: Package = {
    type: f.package.type,
    name: f.package.name,
    version: f.installedVersion,
    path: f.package.path,
  };
  if (f.package.arch) p.arch = f.package.arch;
  if (f.package.matchedName) {
    p.source = { name: f.package.matchedName, version: f.package.matchedVersion ?? f.installedVersion };
  }
  return p;
}

const CASE_SENSITIVE = new Set(['golang', 'nuget', 'gem', 'cargo']);

function sameName(type: string, a: string, b: string): boolean {
  if (type === 'pypi') return pep503(a) === pep503(b);
  return CASE_SENSITIVE.has(type) ? a === b : a.toLowerCase() === b.toLowerCase();
}

function selects(s: PackageSelector, f: Finding, purlOf: () => Purl | undefined): boolean {
  if (s.type && s.type !== f.package.type) return false;
  if (s.version && s.version !== f.installedVersion) return false;
  // a name covers the package and, for OS packages, the source package advisories are keyed on
  if (s.name && s.name !== f.package.name && s.name !== f.package.matchedName) return false;
  if (s.purl) {
    const p = purlOf();
    if (!p || !purlMatches(s.purl, p)) return false;
  }
  return true;
}

/** A rule's purl covers a package's when type, namespace and name agree, and its version and qualifiers (if any) too. */
export function purlMatches(rule: Purl, pkg: Purl): boolean {
  if (rule.type !== pkg.type) return false;
  if ((rule.namespace ?? '').toLowerCase() !== (pkg.namespace ?? '').toLowerCase()) return false;
  if (!sameName(rule.type, rule.name, pkg.name)) return false;
  if (rule.version && rule.version !== pkg.version) return false;
  for (const [k, v] of Object.entries(rule.qualifiers)) if (pkg.qualifiers[k] !== v) return false;
  return true;
}

/**
 * A path pattern against a package path (both without a leading slash): `*` within a segment, `**` across
 * segments; a pattern without wildcards also covers everything below it (a directory).
 */
function globMatch(pattern: string, path: string, cache: Map<string, RegExp>): boolean {
  const pat = pattern.replace(/^\/+/, '');
  const p = path.replace(/^\/+/, '');
  if (!/[*?]/.test(pat)) return p === pat.replace(/\/+$/, '') || p.startsWith(`${pat.replace(/\/+$/, '')}/`);
  let re = cache.get(pat);
  if (!re) {
    let src = '';
    for (let i = 0; i < pat.length; i++) {
      const c = pat[i]!;
      if (c === '*' && pat[i + 1] === '*') {
        i++;
        if (pat[i + 1] === '/') {
          i++;
          src += '(?:.*/)?';
        } else src += '.*';
      } else if (c === '*') src += '[^/]*';
      else if (c === '?') src += '[^/]';
      else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`);
    cache.set(pat, re);
  }
  return re.test(p);
}

/** Looks up a finding's package purl among the scanned packages (type, name, version, arch, path). */
export function purlIndex(packages: readonly Package[]): (f: Finding) => string | undefined {
  const byKey = new Map<string, string>();
  for (const p of packages)
    if (p.purl) byKey.set(`${p.type}\0${p.name}\0${p.version}\0${p.arch ?? ''}\0${p.path}`, p.purl);
  return (f) =>
    byKey.get(
      `${f.package.type}\0${f.package.name}\0${f.installedVersion}\0${f.package.arch ?? ''}\0${f.package.path}`,
    );
}
