/**
 * Reads a CycloneDX (1.4–1.6) or SPDX (2.2, 2.3) JSON SBOM back into packages for `moat scan sbom`.
 * Packages come from purls (CycloneDX `components[].purl`, nested components included; SPDX
 * `externalRefs` of type purl); components without one are skipped and counted, since nothing else
 * identifies them reliably enough to match (CPEs name products, not packages). The OS comes from an
 * `operating-system` component (CycloneDX) or an OPERATING-SYSTEM package (SPDX), else from the purls'
 * `distro` qualifiers. moat's own properties (path, layer, how found) are restored when present, so an
 * SBOM written by `moat sbom` matches exactly as the image did.
 */
import { readFileSync, statSync } from 'node:fs';
import { errorMessage, MoatError } from '../errors.js';
import type { LayerRef, Package } from '../model/package.js';
import type { ScanWarning } from '../model/result.js';
import {
  osFamily,
  osFromPurl,
  type Purl,
  packageFromPurl,
  packageNameOfPurl,
  parsePurl,
  pep503,
} from '../scan/purl.js';
import { applyProperties, type Property } from './common.js';

export interface SbomOs {
  family: string;
  version: string;
  name?: string;
  codename?: string;
  /** where it was found: "operating-system component", "purl distro qualifier", ... */
  source: string;
}

export interface ParsedSbom {
  format: 'cyclonedx' | 'spdx';
  specVersion: string;
  /** what the SBOM describes, when it says */
  name?: string;
  digest?: string;
  os?: SbomOs;
  packages: Package[];
  /** components or packages without a purl */
  skipped: number;
  /** purls of types moat does not scan (pkg:generic, pkg:github, ...) or without a version */
  unsupported: number;
  layers: LayerRef[];
  warnings: ScanWarning[];
  /** CycloneDX bom-ref → purl, for VEX `affects[].ref` in the same document */
  refs: Map<string, string>;
}

/** SBOMs beyond this are refused rather than parsed into memory. */
const MAX_SBOM_BYTES = 512 * 1024 * 1024;

export function readSbomFile(file: string): ParsedSbom {
  let text: string;
  try {
    const st = statSync(file);
    if (st.size > MAX_SBOM_BYTES) throw new Error(`larger than ${MAX_SBOM_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MoatError('BAD_SBOM', `SBOM ${file}: ${errorMessage(e)}`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MoatError('BAD_SBOM', `SBOM ${file}: not JSON (${errorMessage(e)})`, { cause: e });
  }
  return parseSbom(doc, file);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Parses a decoded SBOM; `file` names it in errors and is the fallback path of its packages. */
export function parseSbom(doc: unknown, file: string): ParsedSbom {
  if (isObj(doc) && doc.bomFormat === 'CycloneDX') return parseCycloneDx(doc, file);
  if (isObj(doc) && typeof doc.spdxVersion === 'string') return parseSpdx(doc, file);
  throw new MoatError(
    'BAD_SBOM',
    `SBOM ${file}: neither CycloneDX JSON (bomFormat) nor SPDX JSON (spdxVersion)`,
  );
}

class Collector {
  readonly packages: Package[] = [];
  readonly warnings: ScanWarning[] = [];
  readonly refs = new Map<string, string>();
  skipped = 0;
  unsupported = 0;
  private readonly seen = new Set<string>();
  private readonly unsupportedTypes = new Set<string>();
  osFromPurls?: SbomOs;

  constructor(readonly file: string) {}

  /** One package from a purl and the name the document gives it; `props` are moat's properties, if any. */
  add(purlText: string | undefined, displayName: string | undefined, props: readonly Property[]): void {
    const purl = purlText ? parsePurl(purlText) : undefined;
    if (!purl) {
      this.skipped++;
      return;
    }
    const pkg = packageFromPurl(purl, this.file);
    if (!pkg) {
      this.unsupported++;
      this.unsupportedTypes.add(purl.type);
      return;
    }
    pkg.purl = purlText;
    trivySource(pkg, props);
    // the document's name keeps the package's own spelling (PyYAML, not pyyaml) when it is the same package
    if (displayName && sameName(purl, displayName)) pkg.name = displayName;
    applyProperties(pkg, props);
    if (!this.osFromPurls && (pkg.type === 'dpkg' || pkg.type === 'apk' || pkg.type === 'rpm')) {
      const os = osFromPurl(purl);
      if (os) this.osFromPurls = { ...os, source: `purl distro qualifier (${purlText})` };
    }
    const key = `${purlText}\0${pkg.path}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.packages.push(pkg);
  }

  finish(
    format: 'cyclonedx' | 'spdx',
    specVersion: string,
    rest: Pick<ParsedSbom, 'name' | 'digest' | 'os'> & { layers?: LayerRef[] },
  ): ParsedSbom {
    const unit = format === 'cyclonedx' ? 'components' : 'packages';
    if (this.skipped) {
      this.warnings.push({
        code: 'sbom-skipped',
        message: `${this.skipped} ${unit} without a purl were skipped`,
        subject: this.file,
      });
    }
    if (this.unsupported) {
      this.warnings.push({
        code: 'sbom-unsupported',
        message: `${this.unsupported} ${unit} with purls moat does not match were skipped (${[...this.unsupportedTypes].sort().join(', ')})`,
        subject: this.file,
      });
    }
    const layers = new Map<number, LayerRef>();
    for (const l of rest.layers ?? []) layers.set(l.index, l);
    for (const p of this.packages)
      if (p.layer && !layers.has(p.layer.index)) layers.set(p.layer.index, p.layer);
    return {
      format,
      specVersion,
      name: rest.name,
      digest: rest.digest,
      os: rest.os ?? this.osFromPurls,
      packages: this.packages,
      skipped: this.skipped,
      unsupported: this.unsupported,
      layers: [...layers.values()].sort((a, b) => a.index - b.index),
      warnings: this.warnings,
      refs: this.refs,
    };
  }
}

/**
 * Trivy records an OS package's source package as properties (SrcName, SrcVersion, SrcRelease, SrcEpoch)
 * rather than in the purl; they decide which advisories apply (Debian keys on source packages).
 */
function trivySource(pkg: Package, props: readonly Property[]): void {
  const get = (n: string) => props.find((p) => p.name === `aquasecurity:trivy:${n}`)?.value;
  const name = get('SrcName');
  if (!name || pkg.source || !(pkg.type === 'dpkg' || pkg.type === 'apk' || pkg.type === 'rpm')) return;
  const version = get('SrcVersion');
  const release = get('SrcRelease');
  const epoch = get('SrcEpoch');
  if (!version) {
    pkg.source = { name, version: pkg.version };
    return;
  }
  const full = `${epoch && epoch !== '0' ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;
  pkg.source = { name, version: full };
}

/** Whether a document's package name is the purl's name, in the type's own case and separator rules. */
function sameName(purl: Purl, name: string): boolean {
  const expected = packageNameOfPurl(purl);
  if (purl.type === 'pypi') return pep503(name) === pep503(expected);
  return name.toLowerCase() === expected.toLowerCase();
}

const CDX_VERSIONS = new Set(['1.4', '1.5', '1.6']);

function parseCycloneDx(doc: Obj, file: string): ParsedSbom {
  const specVersion = str(doc.specVersion) ?? '';
  const c = new Collector(file);
  if (!CDX_VERSIONS.has(specVersion)) {
    c.warnings.push({
      code: 'sbom-version',
      message: `CycloneDX ${specVersion || '(no specVersion)'} is read as 1.6; supported: 1.4 to 1.6`,
      subject: file,
    });
  }
  let os: SbomOs | undefined;
  const visit = (list: unknown[]) => {
    for (const comp of list) {
      if (!isObj(comp)) continue;
      const props = properties(comp.properties);
      const ref = str(comp['bom-ref']);
      const purl = str(comp.purl);
      if (ref && purl) c.refs.set(ref, purl);
      if (comp.type === 'operating-system') {
        os ??= cdxOs(comp, props);
      } else {
        const group = str(comp.group);
        const name = str(comp.name);
        c.add(purl, group && name ? joinGroup(purl, group, name) : name, props);
      }
      visit(arr(comp.components));
    }
  };
  visit(arr(doc.components));
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const subject = isObj(meta.component) ? meta.component : undefined;
  const metaProps = properties(subject?.properties);
  const layers: LayerRef[] = [];
  for (const p of metaProps) {
    if (p.name !== 'moat:image:layer') continue;
    const [index, digest, diffId] = p.value.split(' ');
    if (!digest || !/^\d+$/.test(index ?? '')) continue;
    layers.push(diffId ? { index: Number(index), digest, diffId } : { index: Number(index), digest });
  }
  if (subject) {
    const sref = str(subject['bom-ref']);
    if (sref && str(subject.purl)) c.refs.set(sref, str(subject.purl)!);
  }
  return c.finish('cyclonedx', specVersion, {
    name: subject ? str(subject.name) : undefined,
    digest: subject ? cdxDigest(subject) : undefined,
    os,
    layers,
  });
}

/** Group and name back into moat's package name: Maven `group:artifact`, npm/composer/Go `group/name`. */
function joinGroup(purl: string | undefined, group: string, name: string): string {
  return purl?.startsWith('pkg:maven/') ? `${group}:${name}` : `${group}/${name}`;
}

function properties(v: unknown): Property[] {
  const out: Property[] = [];
  for (const p of arr(v)) {
    if (isObj(p) && typeof p.name === 'string' && typeof p.value === 'string') {
      out.push({ name: p.name, value: p.value });
    }
  }
  return out;
}

function cdxOs(comp: Obj, props: readonly Property[]): SbomOs | undefined {
  const name = str(comp.name);
  if (!name) return undefined;
  const os: SbomOs = {
    family: osFamily(name),
    version: str(comp.version) ?? '',
    source: 'operating-system component',
  };
  const description = str(comp.description);
  if (description) os.name = description;
  const codename = props.find((p) => p.name === 'moat:os:codename')?.value;
  if (codename) os.codename = codename;
  return os;
}

/** The subject's digest: a `sha256:` version (moat, Syft), a SHA-256 hash, or an oci purl's version. */
function cdxDigest(subject: Obj): string | undefined {
  const version = str(subject.version);
  if (version && /^sha256:[0-9a-f]{64}$/.test(version)) return version;
  for (const h of arr(subject.hashes)) {
    if (isObj(h) && h.alg === 'SHA-256' && typeof h.content === 'string') return `sha256:${h.content}`;
  }
  const purl = str(subject.purl) ? parsePurl(str(subject.purl)!) : undefined;
  if (purl?.type === 'oci' && purl.version && /^sha256:/.test(purl.version)) return purl.version;
  return undefined;
}

const SPDX_VERSIONS = new Set(['SPDX-2.2', 'SPDX-2.3']);

function parseSpdx(doc: Obj, file: string): ParsedSbom {
  const spdxVersion = str(doc.spdxVersion) ?? '';
  const c = new Collector(file);
  if (!SPDX_VERSIONS.has(spdxVersion)) {
    c.warnings.push({
      code: 'sbom-version',
      message: `${spdxVersion} is read as SPDX-2.3; supported: SPDX-2.2 and SPDX-2.3`,
      subject: file,
    });
  }
  const described = new Set<string>();
  for (const r of arr(doc.relationships)) {
    if (isObj(r) && r.relationshipType === 'DESCRIBES' && r.spdxElementId === 'SPDXRef-DOCUMENT') {
      const id = str(r.relatedSpdxElement);
      if (id) described.add(id);
    }
  }
  for (const id of arr(doc.documentDescribes)) if (typeof id === 'string') described.add(id);
  let os: SbomOs | undefined;
  let digest: string | undefined;
  for (const p of arr(doc.packages)) {
    if (!isObj(p)) continue;
    const id = str(p.SPDXID) ?? '';
    // SPDX 2.2 has no primaryPackagePurpose: Trivy names the OS package SPDXRef-OperatingSystem-*
    if (p.primaryPackagePurpose === 'OPERATING-SYSTEM' || id.startsWith('SPDXRef-OperatingSystem')) {
      const name = str(p.name);
      if (name && !os) {
        os = {
          family: osFamily(name),
          version: str(p.versionInfo) ?? '',
          source: 'OPERATING-SYSTEM package',
        };
        const description = str(p.description);
        if (description) os.name = description;
      }
      continue;
    }
    const purls = arr(p.externalRefs)
      .filter(
        (r): r is Obj =>
          isObj(r) &&
          r.referenceType === 'purl' &&
          // SPDX 2.2 spelled the category with an underscore
          (r.referenceCategory === 'PACKAGE-MANAGER' || r.referenceCategory === 'PACKAGE_MANAGER'),
      )
      .map((r) => str(r.referenceLocator))
      .filter((s): s is string => s !== undefined);
    if (described.has(id)) {
      digest ??= spdxDigest(p, purls);
      // the described package is the image or project itself, not one of its packages
      if (purls.every((u) => u.startsWith('pkg:oci/') || u.startsWith('pkg:docker/'))) continue;
    }
    const props = annotations(p.annotations);
    if (purls.length === 0) c.add(undefined, undefined, props);
    // a package with several purls is one package: the first purl that moat can match stands for it
    else
      c.add(
        purls.find((u) => packageFromPurl(parsePurl(u) ?? NO_PURL, file)) ?? purls[0],
        str(p.name),
        props,
      );
  }
  return c.finish('spdx', spdxVersion.replace(/^SPDX-/, ''), { name: str(doc.name), digest, os });
}

const NO_PURL: Purl = { type: '', name: '', qualifiers: {} };

/** moat's properties from annotations whose comment reads "moat:<property>: <value>". */
function annotations(v: unknown): Property[] {
  const out: Property[] = [];
  for (const a of arr(v)) {
    const m = isObj(a) && typeof a.comment === 'string' ? /^(moat:[\w:]+): (.*)$/s.exec(a.comment) : null;
    if (m) out.push({ name: m[1]!, value: m[2]! });
  }
  return out;
}

function spdxDigest(p: Obj, purls: string[]): string | undefined {
  const version = str(p.versionInfo);
  if (version && /^sha256:[0-9a-f]{64}$/.test(version)) return version;
  for (const c of arr(p.checksums)) {
    if (isObj(c) && c.algorithm === 'SHA256' && typeof c.checksumValue === 'string') {
      return `sha256:${c.checksumValue}`;
    }
  }
  for (const u of purls) {
    const purl = parsePurl(u);
    if (purl?.type === 'oci' && purl.version && /^sha256:/.test(purl.version)) return purl.version;
  }
  return undefined;
}
