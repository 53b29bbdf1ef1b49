/**
 * SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/): the document DESCRIBES the target package (the
 * image), which CONTAINS the OS and every package. Packages carry their purl as a PACKAGE-MANAGER external
 * reference, their license as declared (an SPDX expression as given; free text becomes a LicenseRef with
 * the text under hasExtractedLicensingInfos) or NOASSERTION, and moat's properties (path, layer, how found)
 * as annotations "moat:<property>: <value>", the way Trivy records its own in SPDX.
 */
import type { OsInfo, Package } from '../model/package.js';
import type { ScanTarget } from '../model/result.js';
import {
  packageProperties,
  packagesOf,
  type SbomInput,
  spdxExpression,
  stableUuid,
  utcSeconds,
} from './common.js';

export const SPDX_VERSION = 'SPDX-2.3';

type Json = Record<string, unknown>;

export function renderSpdx(input: SbomInput): string {
  return `${JSON.stringify(buildSpdx(input), null, 2)}\n`;
}

/** SPDXIDs allow letters, digits, `.` and `-` only. */
function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

export function buildSpdx(input: SbomInput): Json {
  const created = utcSeconds(input.generatedAt);
  const tool = `Tool: ${input.tool.name}-${input.tool.version}`;
  const used = new Set<string>();
  const spdxId = (base: string) => {
    let id = `SPDXRef-${idPart(base)}`;
    for (let n = 2; used.has(id); n++) id = `SPDXRef-${idPart(base)}-${n}`;
    used.add(id);
    return id;
  };
  const extracted = new Map<string, Json>();
  const licenseOf = (license: string | undefined): string => {
    if (!license) return 'NOASSERTION';
    const expr = spdxExpression(license);
    if (expr) return expr;
    const id = `LicenseRef-${idPart(license)}`;
    if (!extracted.has(id)) extracted.set(id, { licenseId: id, name: license, extractedText: license });
    return id;
  };

  const root = spdxId({ image: 'Image', filesystem: 'Filesystem', sbom: 'Sbom' }[input.target.kind]);
  const packages: Json[] = [targetPackage(input.target, root)];
  const relationships: Json[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: root },
  ];
  if (input.os) {
    const id = spdxId('OperatingSystem');
    packages.push(osPackage(input.os, id));
    relationships.push({ spdxElementId: root, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  }
  for (const p of packagesOf(input)) {
    const id = spdxId(`Package-${p.type}-${p.name}-${p.version}`);
    const pkg: Json = {
      name: p.name,
      SPDXID: id,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: licenseOf(p.license),
      copyrightText: 'NOASSERTION',
      sourceInfo: sourceInfo(p),
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: p.purl
        ? [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }]
        : [],
      annotations: packageProperties(p).map((prop) => ({
        annotator: tool,
        annotationDate: created,
        annotationType: 'OTHER',
        comment: `${prop.name}: ${prop.value}`,
      })),
    };
    if (p.maintainer) pkg.supplier = supplier(p.maintainer);
    packages.push(pkg);
    relationships.push({ spdxElementId: root, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  }

  const doc: Json = {
    spdxVersion: SPDX_VERSION,
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: input.target.name,
    documentNamespace: `https://moat.invalid/spdx/${encodeURIComponent(idPart(input.target.name))}-${stableUuid('spdx', input.target.ref, input.target.digest ?? '', input.generatedAt)}`,
    creationInfo: { created, creators: [tool] },
    packages,
    relationships,
  };
  if (extracted.size) doc.hasExtractedLicensingInfos = [...extracted.values()];
  return doc;
}

/** "Name <mail>" (dpkg, apk, rpm) → SPDX's "Person: Name (mail)". */
function supplier(maintainer: string): string {
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(maintainer);
  return m ? `Person: ${m[1]} (${m[2]})` : `Person: ${maintainer}`;
}

function sourceInfo(p: Package): string {
  let s = `found by moat in ${p.path}`;
  if (p.layer) s += ` (layer ${p.layer.index} ${p.layer.digest})`;
  return s;
}

function targetPackage(t: ScanTarget, id: string): Json {
  const pkg: Json = {
    name: t.name,
    SPDXID: id,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: t.kind === 'image' ? 'CONTAINER' : 'APPLICATION',
  };
  if (t.digest) pkg.versionInfo = t.digest;
  const hex = /^sha256:([0-9a-f]{64})$/.exec(t.digest ?? '')?.[1];
  if (hex) pkg.checksums = [{ algorithm: 'SHA256', checksumValue: hex }];
  const comment = [`moat:target:ref: ${t.ref}`];
  if (t.kind === 'image') {
    comment.push(`moat:image:source: ${t.source}`);
    if (t.platform) comment.push(`moat:image:platform: ${t.platform}`);
  }
  pkg.comment = comment.join('\n');
  return pkg;
}

function osPackage(os: OsInfo, id: string): Json {
  return {
    name: os.family,
    SPDXID: id,
    versionInfo: os.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'OPERATING-SYSTEM',
    description: os.name,
  };
}
