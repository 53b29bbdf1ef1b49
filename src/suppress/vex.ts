/**
 * VEX documents given with `--vex FILE`: OpenVEX (https://github.com/openvex/spec, v0.2.0 and the older
 * v0.0.1 shapes) and CycloneDX VEX (`vulnerabilities[].analysis`, https://cyclonedx.org/capabilities/vex/).
 *
 * - OpenVEX: a statement names a vulnerability (name and aliases) and products (purls, with or without
 *   version). `not_affected` and `fixed` suppress; `affected` and `under_investigation` keep the finding and
 *   override an earlier statement, since the latest statement on a product is the one in force. A product
 *   that is the image (an oci purl or a name) covers its `subcomponents`, or every package when it has none.
 * - CycloneDX: `analysis.state` not_affected, false_positive, resolved (and resolved_with_pedigree) suppress;
 *   exploitable and in_triage keep the finding. `affects[].ref` is a bom-ref of the same document (resolved
 *   to that component's purl), a purl, or a BOM-Link whose fragment is one.
 */
import { readFileSync } from 'node:fs';
import { errorMessage, MoatError } from '../errors.js';
import { parsePurl } from '../scan/purl.js';
import type { PackageSelector, Rule, RuleSet } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const OPENVEX_SUPPRESS = new Set(['not_affected', 'fixed']);
const OPENVEX_STATUSES = new Set(['not_affected', 'fixed', 'affected', 'under_investigation']);
const CDX_SUPPRESS = new Set(['not_affected', 'false_positive', 'resolved', 'resolved_with_pedigree']);

export function loadVex(file: string, seq = 0): RuleSet {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MoatError('BAD_SUPPRESSION', `VEX ${file}: ${errorMessage(e)}`, { cause: e });
  }
  if (isObj(doc) && typeof doc['@context'] === 'string' && doc['@context'].includes('openvex')) {
    return openVex(doc, file, seq);
  }
  if (isObj(doc) && doc.bomFormat === 'CycloneDX') return cycloneDxVex(doc, file, seq);
  throw new MoatError(
    'BAD_SUPPRESSION',
    `VEX ${file}: neither an OpenVEX document (@context openvex) nor CycloneDX (bomFormat)`,
  );
}

function time(...candidates: unknown[]): number | undefined {
  for (const c of candidates) {
    // Go tools write nanoseconds (2023-01-09T21:23:03.579712389-06:00), which Date.parse refuses
    const t = typeof c === 'string' ? Date.parse(c.replace(/(\.\d{3})\d+/, '$1')) : Number.NaN;
    if (!Number.isNaN(t)) return t;
  }
  return undefined;
}

/** A product or subcomponent: a package purl, or the target itself (an oci/docker purl, or not a purl). */
type Product = { target: true; digest?: string } | { target: false; selector: PackageSelector };

function product(id: string | undefined): Product | undefined {
  if (!id) return undefined;
  if (!id.startsWith('pkg:')) return { target: true };
  const purl = parsePurl(id);
  if (!purl) return undefined;
  if (purl.type === 'oci' || purl.type === 'docker') {
    return { target: true, digest: purl.version?.startsWith('sha256:') ? purl.version : undefined };
  }
  return { target: false, selector: { purl } };
}

function openVex(doc: Obj, file: string, seq: number): RuleSet {
  const set: RuleSet = { ignore: [], vex: [], warnings: [] };
  arr(doc.statements).forEach((st, i) => {
    if (!isObj(st)) return;
    const where = `${file} statement ${i + 1}`;
    // v0.2.0: vulnerability {name, aliases}; v0.0.1: a bare string
    const v = st.vulnerability;
    const name = isObj(v) ? (str(v.name) ?? str(v['@id'])) : str(v);
    const status = str(st.status);
    if (!name || !status || !OPENVEX_STATUSES.has(status)) {
      set.warnings.push({
        code: 'vex-invalid',
        message: `${where}: no vulnerability name or unknown status: skipped`,
        subject: file,
      });
      return;
    }
    const aliases = isObj(v) ? arr(v.aliases).filter((a): a is string => typeof a === 'string') : [];
    const packages: PackageSelector[] = [];
    let wholeTarget = false;
    let targetDigest: string | undefined;
    const topSubs = arr(st.subcomponents);
    for (const p of arr(st.products)) {
      const pid = isObj(p)
        ? (str(p['@id']) ?? str(isObj(p.identifiers) ? p.identifiers.purl : undefined))
        : str(p);
      const prod = product(pid);
      if (!prod) continue;
      const subs = [...(isObj(p) ? arr(p.subcomponents) : []), ...topSubs]
        .map((s) =>
          product(
            isObj(s) ? (str(s['@id']) ?? str(isObj(s.identifiers) ? s.identifiers.purl : undefined)) : str(s),
          ),
        )
        .filter((s): s is Product & { target: false } => s !== undefined && !s.target);
      if (prod.target) {
        targetDigest ??= prod.digest;
        if (subs.length) packages.push(...subs.map((s) => s.selector));
        else wholeTarget = true;
      } else {
        // a package product with subcomponents: the subcomponents are what is (not) affected
        if (subs.length) packages.push(...subs.map((s) => s.selector));
        else packages.push(prod.selector);
      }
    }
    if (!wholeTarget && packages.length === 0) {
      set.warnings.push({
        code: 'vex-invalid',
        message: `${where}: no product moat can match (a purl or the image): skipped`,
        subject: file,
      });
      return;
    }
    const rule: Rule = {
      ids: [name, ...aliases].map((x) => x.toUpperCase()),
      suppresses: OPENVEX_SUPPRESS.has(status),
      time: time(st.timestamp, st.last_updated, doc.last_updated, doc.timestamp),
      seq: seq++,
      info: { kind: 'openvex', file, id: name, status },
    };
    if (wholeTarget) rule.wholeTarget = true;
    else rule.packages = packages;
    if (targetDigest) rule.targetDigest = targetDigest;
    const justification = str(st.justification);
    if (justification) rule.info.justification = justification;
    const statement = str(st.impact_statement) ?? str(st.status_notes) ?? str(st.action_statement);
    if (statement) rule.info.statement = statement;
    set.vex.push(rule);
  });
  return set;
}

function cycloneDxVex(doc: Obj, file: string, seq: number): RuleSet {
  const set: RuleSet = { ignore: [], vex: [], warnings: [] };
  const refs = new Map<string, string>();
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const subject = isObj(meta.component) ? meta.component : undefined;
  const subjectRef = subject ? str(subject['bom-ref']) : undefined;
  const visit = (list: unknown[]) => {
    for (const c of list) {
      if (!isObj(c)) continue;
      const ref = str(c['bom-ref']);
      const purl = str(c.purl);
      if (ref && purl) refs.set(ref, purl);
      visit(arr(c.components));
    }
  };
  visit(arr(doc.components));
  arr(doc.vulnerabilities).forEach((v, i) => {
    if (!isObj(v)) return;
    const where = `${file} vulnerability ${i + 1}`;
    const id = str(v.id);
    const a = isObj(v.analysis) ? v.analysis : undefined;
    const state = a ? str(a.state) : undefined;
    // a vulnerability without an analysis is a finding, not a statement about one
    if (!id || !state) return;
    const packages: PackageSelector[] = [];
    let wholeTarget = false;
    for (const af of arr(v.affects)) {
      let ref = isObj(af) ? str(af.ref) : undefined;
      if (!ref) continue;
      if (ref === subjectRef) {
        wholeTarget = true;
        continue;
      }
      // BOM-Link: urn:cdx:<serial>/<version>#<bom-ref of another BOM>
      const link = /^urn:cdx:[^#]+#(.+)$/.exec(ref);
      if (link) ref = decodeURIComponent(link[1]!);
      const prod = product(refs.get(ref) ?? (ref.startsWith('pkg:') ? ref : undefined));
      if (prod?.target) wholeTarget = true;
      else if (prod) packages.push(prod.selector);
    }
    if (!wholeTarget && packages.length === 0) {
      set.warnings.push({
        code: 'vex-invalid',
        message: `${where}: no affects[].ref moat can resolve to a purl: skipped`,
        subject: file,
      });
      return;
    }
    const aliases = arr(v.references)
      .map((r) => (isObj(r) ? str(r.id) : undefined))
      .filter((x): x is string => x !== undefined);
    const rule: Rule = {
      ids: [id, ...aliases].map((x) => x.toUpperCase()),
      suppresses: CDX_SUPPRESS.has(state),
      time: time(a?.lastUpdated, a?.firstIssued, v.updated, meta.timestamp),
      seq: seq++,
      info: { kind: 'cyclonedx-vex', file, id, status: state },
    };
    if (wholeTarget) rule.wholeTarget = true;
    else rule.packages = packages;
    const justification = a ? str(a.justification) : undefined;
    if (justification) rule.info.justification = justification;
    const detail = a ? str(a.detail) : undefined;
    if (detail) rule.info.statement = detail;
    set.vex.push(rule);
  });
  return set;
}
