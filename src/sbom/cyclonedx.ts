/**
 * CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/): the image (or SBOM) as metadata.component,
 * the OS as an `operating-system` component, every package as a `library` with its purl and moat's
 * properties (where it was found: path, layer, how). Scan results add `vulnerabilities`: one per
 * vulnerability id and severity, `affects` pointing at the packages' bom-refs, CVSS vectors as ratings;
 * suppressed findings are listed too, with an `analysis` saying which rule suppressed them and why.
 */
import type { CvssScore, Finding, SuppressedFinding, Suppression } from '../model/finding.js';
import type { OsInfo, Package } from '../model/package.js';
import type { ScanTarget } from '../model/result.js';
import type { Severity } from '../model/severity.js';
import { formatPurl, purlFor } from '../scan/purl.js';
import {
  type Property,
  packageKey,
  packageProperties,
  packagesOf,
  type SbomInput,
  spdxExpression,
  stableUuid,
  utcSeconds,
} from './common.js';

export const CYCLONEDX_SPEC_VERSION = '1.6';

type Json = Record<string, unknown>;

const TARGET_REF = 'moat:target';

export function renderCycloneDx(input: SbomInput): string {
  return `${JSON.stringify(buildCycloneDx(input), null, 2)}\n`;
}

export function buildCycloneDx(input: SbomInput): Json {
  const packages = packagesOf(input);
  const components: Json[] = [];
  const os = input.os ? osComponent(input.os) : undefined;
  if (os) components.push(os);

  // bom-refs: the purl, made unique when one purl is found in several places (two copies of a library)
  const used = new Set<string>([TARGET_REF]);
  const refOf = new Map<string, string>();
  const unique = (base: string, path: string) => {
    let ref = used.has(base) ? `${base}|${path}` : base;
    for (let n = 2; used.has(ref); n++) ref = `${base}|${path}|${n}`;
    used.add(ref);
    return ref;
  };
  for (const p of packages) {
    const ref = unique(p.purl ?? `${p.type}:${p.name}@${p.version}`, p.path);
    refOf.set(packageKey(p), ref);
    components.push(packageComponent(p, ref));
  }
  // findings of packages not in the list (a scan without --list-packages gives findings only)
  const findings = [...(input.findings ?? []), ...(input.suppressed ?? [])];
  for (const f of findings) {
    const key = packageKey({ ...f.package, version: f.installedVersion });
    if (refOf.has(key)) continue;
    const p = findingPackage(f, input.os);
    const ref = unique(p.purl!, p.path);
    refOf.set(key, ref);
    components.push(packageComponent(p, ref));
  }

  const bom: Json = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC_VERSION,
    serialNumber: `urn:uuid:${stableUuid('cyclonedx', input.target.ref, input.target.digest ?? '', input.generatedAt)}`,
    version: 1,
    metadata: {
      timestamp: utcSeconds(input.generatedAt),
      tools: {
        components: [{ type: 'application', name: input.tool.name, version: input.tool.version }],
      },
      component: targetComponent(input.target),
    },
    components,
  };
  if (input.findings || input.suppressed) {
    const refFor = (f: Finding) => refOf.get(packageKey({ ...f.package, version: f.installedVersion }))!;
    bom.vulnerabilities = [
      ...vulnerabilities(input.findings ?? [], refFor),
      ...vulnerabilities(input.suppressed ?? [], refFor),
    ];
  }
  return bom;
}

function targetComponent(t: ScanTarget): Json {
  const props: Property[] = [{ name: 'moat:target:kind', value: t.kind }];
  props.push({ name: 'moat:target:ref', value: t.ref });
  // an image is a container; a project directory or an SBOM's subject is described as an application
  const c: Json = { type: t.kind === 'image' ? 'container' : 'application', 'bom-ref': TARGET_REF };
  c.name = t.name;
  if (t.digest) c.version = t.digest;
  const hex = /^sha256:([0-9a-f]{64})$/.exec(t.digest ?? '')?.[1];
  if (hex) c.hashes = [{ alg: 'SHA-256', content: hex }];
  if (t.kind === 'image') {
    props.push({ name: 'moat:image:source', value: t.source });
    if (t.platform) props.push({ name: 'moat:image:platform', value: t.platform });
    if (t.configDigest) props.push({ name: 'moat:image:configDigest', value: t.configDigest });
    if (t.mediaType) props.push({ name: 'moat:image:mediaType', value: t.mediaType });
    if (t.digest && t.source === 'registry') c.purl = ociPurl(t.name, t.digest, t.platform);
  } else if (t.kind === 'sbom') {
    props.push({ name: 'moat:sbom:format', value: `${t.format} ${t.specVersion}` });
  }
  for (const l of t.layers) {
    props.push({
      name: 'moat:image:layer',
      value: `${l.index} ${l.digest}${l.diffId ? ` ${l.diffId}` : ''}`,
    });
  }
  c.properties = props;
  return c;
}

/** pkg:oci/<last path segment>@<digest>?repository_url=<registry/repo> (purl type oci). */
function ociPurl(name: string, digest: string, platform?: string): string {
  const repo = name.replace(/[:@][^/]*$/, '');
  const last = repo.split('/').pop() ?? repo;
  const qualifiers: Record<string, string> = {};
  if (repo.includes('/')) qualifiers.repository_url = repo;
  const arch = platform?.split('/')[1];
  if (arch) qualifiers.arch = arch;
  return formatPurl({ type: 'oci', name: last.toLowerCase(), version: digest, qualifiers });
}

function osComponent(os: OsInfo): Json {
  const props: Property[] = [];
  if (os.ecosystem) props.push({ name: 'moat:os:ecosystem', value: os.ecosystem });
  if (os.codename) props.push({ name: 'moat:os:codename', value: os.codename });
  props.push({ name: 'moat:os:source', value: os.source });
  return {
    type: 'operating-system',
    'bom-ref': `os:${os.family}@${os.version}`,
    name: os.family,
    version: os.version,
    description: os.name,
    properties: props,
  };
}

function packageComponent(p: Package, ref: string): Json {
  const c: Json = { type: 'library', 'bom-ref': ref };
  // Maven group ids and npm scopes go in `group`, as the CycloneDX spec describes the field
  const maven = p.type === 'maven' ? /^([^:]+):(.+)$/.exec(p.name) : null;
  const npm = p.type === 'npm' ? /^(@[^/]+)\/(.+)$/.exec(p.name) : null;
  const split = maven ?? npm;
  if (split) {
    c.group = split[1];
    c.name = split[2];
  } else {
    c.name = p.name;
  }
  c.version = p.version;
  if (p.license) {
    const expr = spdxExpression(p.license);
    c.licenses = expr ? [{ expression: expr }] : [{ license: { name: p.license } }];
  }
  if (p.purl) c.purl = p.purl;
  c.properties = packageProperties(p);
  return c;
}

function findingPackage(f: Finding, os: OsInfo | undefined): Package {
  const p: Package = {
    type: f.package.type,
    name: f.package.name,
    version: f.installedVersion,
    path: f.package.path,
  };
  if (f.package.arch) p.arch = f.package.arch;
  if (f.package.layer) p.layer = f.package.layer;
  if (f.package.matchedName)
    p.source = { name: f.package.matchedName, version: f.package.matchedVersion ?? f.installedVersion };
  p.purl = purlFor(p, os);
  return p;
}

const METHOD: Record<string, string> = {
  '2.0': 'CVSSv2',
  '3.0': 'CVSSv3',
  '3.1': 'CVSSv31',
  '4.0': 'CVSSv4',
};

function rating(c: CvssScore): Json {
  const r: Json = { source: { name: c.source }, score: c.score, severity: c.severity.toLowerCase() };
  r.method = METHOD[c.version] ?? 'other';
  r.vector = c.vector;
  return r;
}

/** Where an id is published: NVD for CVEs, GitHub for GHSAs, OSV for the rest. */
function idSource(id: string): Json {
  if (/^CVE-\d+-\d+$/.test(id)) return { name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` };
  if (/^GHSA-/.test(id)) return { name: 'GitHub', url: `https://github.com/advisories/${id}` };
  return { name: 'OSV', url: `https://osv.dev/vulnerability/${id}` };
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function vulnerabilities(findings: readonly Finding[], refFor: (f: Finding) => string): Json[] {
  // one entry per (id, severity, suppression): packages that share them share the entry's `affects`
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const by = (f as Partial<SuppressedFinding>).suppressedBy;
    const key = `${f.id}\0${f.severity}\0${by ? `${by.file}\0${by.line ?? ''}\0${by.id}` : ''}`;
    const g = groups.get(key);
    if (g) g.push(f);
    else groups.set(key, [f]);
  }
  const out: Json[] = [];
  for (const group of groups.values()) {
    const f = group[0]!;
    const v: Json = { id: f.id, source: idSource(f.id) };
    const refs = f.aliases.filter((a) => a !== f.id).map((a) => ({ id: a, source: idSource(a) }));
    if (refs.length) v.references = refs;
    const ratings: Json[] = [];
    const seen = new Set<string>();
    for (const c of group.flatMap((x) => x.cvss)) {
      if (seen.has(c.vector)) continue;
      seen.add(c.vector);
      ratings.push(rating(c));
    }
    ratings.push({ source: { name: 'moat' }, severity: severityName(f.severity), method: 'other' });
    v.ratings = ratings;
    if (f.title) v.description = f.title;
    if (f.description) v.detail = f.description;
    v.recommendation = f.remediation;
    const advisories = f.references.filter((u) => /^https?:\/\//.test(u)).map((url) => ({ url }));
    if (advisories.length) v.advisories = advisories;
    if (f.published && DATE_TIME.test(f.published)) v.published = f.published;
    if (f.modified && DATE_TIME.test(f.modified)) v.updated = f.modified;
    const by = (f as Partial<SuppressedFinding>).suppressedBy;
    if (by) v.analysis = analysis(by);
    v.affects = group.map((x) => {
      const versions: Json[] = [{ version: x.installedVersion, status: 'affected' }];
      if (x.fixedVersion) versions.push({ version: x.fixedVersion, status: 'unaffected' });
      return { ref: refFor(x), versions };
    });
    v.properties = [
      { name: 'moat:severitySource', value: f.severitySource },
      { name: 'moat:ecosystem', value: f.ecosystem },
      ...f.records.map((r) => ({ name: 'moat:record', value: r })),
    ];
    out.push(v);
  }
  return out;
}

function severityName(s: Severity): string {
  return s === 'UNKNOWN' ? 'unknown' : s.toLowerCase();
}

/** OpenVEX justifications in CycloneDX's vocabulary (CISA's minimum requirements for VEX map them so). */
const JUSTIFICATION: Record<string, string> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  vulnerable_code_cannot_be_controlled_by_adversary: 'protected_by_mitigating_control',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
};
const CDX_JUSTIFICATIONS = new Set([
  'code_not_present',
  'code_not_reachable',
  'requires_configuration',
  'requires_dependency',
  'requires_environment',
  'protected_by_compiler',
  'protected_at_runtime',
  'protected_at_perimeter',
  'protected_by_mitigating_control',
]);
const CDX_STATES = new Set([
  'resolved',
  'resolved_with_pedigree',
  'exploitable',
  'in_triage',
  'false_positive',
  'not_affected',
]);

function analysis(by: Suppression): Json {
  const a: Json = {};
  if (by.kind === 'openvex') {
    a.state = by.status === 'fixed' ? 'resolved' : 'not_affected';
  } else if (by.kind === 'cyclonedx-vex' && by.status && CDX_STATES.has(by.status)) {
    a.state = by.status;
  }
  const j = by.justification && (JUSTIFICATION[by.justification] ?? by.justification);
  if (j && CDX_JUSTIFICATIONS.has(j)) a.justification = j;
  const where = `${by.file}${by.line ? `:${by.line}` : ''}`;
  const why = by.statement ?? by.reason ?? by.justification;
  a.detail = `suppressed by ${by.kind} ${where}${why ? `: ${why}` : ''}`;
  return a;
}
