/**
 * A fixed ScanResult for renderer tests and golden files: an image with two layers, Debian and
 * language packages, findings of every severity (one package with several, ids with aliases, CVSS v3.1
 * and v4.0 vectors taken from the real records under test/fixtures/vulndb/records), one without a fix,
 * one suppressed by an ignore entry and one by an OpenVEX statement, and text that needs escaping.
 */
import type { Finding, SuppressedFinding } from '../../src/model/finding.js';
import type { LayerRef, Package } from '../../src/model/package.js';
import type { ScanResult } from '../../src/model/result.js';
import { sortFindings, summarize } from '../../src/scan/filter.js';

const L0: LayerRef = {
  index: 0,
  digest: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
  diffId: 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  createdBy: '/bin/sh -c #(nop) ADD file:rootfs.tar.xz in /',
};
const L1: LayerRef = {
  index: 1,
  digest: 'sha256:2222222222222222222222222222222222222222222222222222222222222222',
  diffId: 'sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  createdBy: 'RUN npm ci',
};

export const PACKAGES: Package[] = [
  {
    type: 'dpkg',
    name: 'libc6',
    version: '2.36-9+deb12u3',
    arch: 'amd64',
    source: { name: 'glibc', version: '2.36-9+deb12u3' },
    maintainer: 'GNU Libc Maintainers <debian-glibc@lists.debian.org>',
    path: 'var/lib/dpkg/status',
    layer: L0,
  },
  {
    type: 'dpkg',
    name: 'libssl3',
    version: '3.0.11-1~deb12u1',
    arch: 'amd64',
    source: { name: 'openssl', version: '3.0.11-1~deb12u1' },
    path: 'var/lib/dpkg/status',
    layer: L0,
  },
  {
    type: 'dpkg',
    name: 'tzdata',
    version: '2024a-0+deb12u1',
    arch: 'all',
    path: 'var/lib/dpkg/status',
    layer: L0,
  },
  {
    type: 'npm',
    name: 'lodash',
    version: '4.17.15',
    license: 'MIT',
    path: 'app/node_modules/lodash/package.json',
    layer: L1,
    foundBy: 'installed',
    locations: ['app/node_modules/lodash/package.json', 'app/package-lock.json'],
    direct: true,
  },
  {
    type: 'npm',
    name: '@types/node',
    version: '20.1.0',
    license: 'MIT',
    path: 'app/package-lock.json',
    layer: L1,
    foundBy: 'lockfile',
    dev: true,
  },
  {
    type: 'python',
    name: 'PyYAML',
    version: '5.3.1',
    license: 'MIT',
    path: 'usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/PKG-INFO',
    layer: L0,
    foundBy: 'installed',
    osPackage: 'python3-yaml',
  },
  {
    type: 'maven',
    name: 'org.apache.logging.log4j:log4j-core',
    version: '2.14.1',
    license: 'Apache-2.0',
    path: 'app/lib/log4j-core-2.14.1.jar',
    layer: L1,
    foundBy: 'installed',
  },
];

function finding(
  pkg: Package,
  over: Partial<Finding> & Pick<Finding, 'id' | 'severity' | 'severitySource'>,
): Finding {
  const f: Finding = {
    aliases: [],
    records: [over.id],
    ecosystem: 'Debian:12',
    package: {
      type: pkg.type,
      name: pkg.name,
      version: pkg.version,
      path: pkg.path,
      ...(pkg.arch ? { arch: pkg.arch } : {}),
      ...(pkg.source && pkg.source.name !== pkg.name
        ? { matchedName: pkg.source.name, matchedVersion: pkg.source.version }
        : {}),
      ...(pkg.layer ? { layer: pkg.layer } : {}),
    },
    installedVersion: pkg.version,
    status: over.fixedVersion ? 'fixed' : 'no fix',
    cvss: [],
    references: [],
    remediation: over.fixedVersion
      ? `Upgrade ${pkg.name} to ${over.fixedVersion}`
      : `No fix yet for ${pkg.name}: watch the advisory`,
    ...over,
  };
  return f;
}

const [libc6, libssl3, , lodash, , pyyaml, log4j] = PACKAGES as [
  Package,
  Package,
  Package,
  Package,
  Package,
  Package,
  Package,
];

export const FINDINGS: Finding[] = [
  finding(log4j, {
    id: 'CVE-2021-44228',
    aliases: ['GHSA-jfh8-c2jp-5v3q'],
    records: ['GHSA-jfh8-c2jp-5v3q'],
    ecosystem: 'Maven',
    fixedVersion: '2.15.0',
    severity: 'CRITICAL',
    severitySource: 'cvss-v3',
    cvss: [
      {
        version: '3.1',
        vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H',
        score: 10,
        severity: 'CRITICAL',
        source: 'osv',
      },
    ],
    title: 'Remote code injection in Log4j',
    description: 'JNDI features used in configuration <do not> protect against "attacker" & controlled LDAP.',
    references: [
      'https://nvd.nist.gov/vuln/detail/CVE-2021-44228',
      'https://logging.apache.org/log4j/2.x/security.html',
    ],
    published: '2021-12-10T00:40:56Z',
    modified: '2022-03-25T20:56:18Z',
  }),
  finding(libc6, {
    id: 'CVE-2023-4911',
    aliases: ['DEBIAN-CVE-2023-4911', 'DSA-5514-1'],
    records: ['DEBIAN-CVE-2023-4911'],
    fixedVersion: '2.36-9+deb12u4',
    severity: 'HIGH',
    severitySource: 'debian-urgency',
    title: 'Looney Tunables: buffer overflow in ld.so GLIBC_TUNABLES',
    references: ['https://security-tracker.debian.org/tracker/CVE-2023-4911'],
  }),
  finding(libc6, {
    id: 'CVE-2023-5156',
    aliases: ['DEBIAN-CVE-2023-5156'],
    records: ['DEBIAN-CVE-2023-5156'],
    severity: 'MEDIUM',
    severitySource: 'debian-urgency',
    title: 'memory leak in getaddrinfo',
  }),
  finding(libssl3, {
    id: 'CVE-2023-5678',
    aliases: ['DEBIAN-CVE-2023-5678'],
    records: ['DEBIAN-CVE-2023-5678'],
    fixedVersion: '3.0.13-1~deb12u1',
    severity: 'LOW',
    severitySource: 'debian-urgency',
    title: 'DH key generation is slow with excessively long X9.42 parameters',
  }),
  finding(lodash, {
    id: 'CVE-2020-8203',
    aliases: ['GHSA-p6mc-m468-83gw'],
    records: ['GHSA-p6mc-m468-83gw'],
    ecosystem: 'npm',
    fixedVersion: '4.17.19',
    severity: 'HIGH',
    severitySource: 'cvss-v4',
    cvss: [
      {
        version: '4.0',
        vector: 'CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:N/VI:H/VA:H/SC:N/SI:N/SA:N',
        score: 7.7,
        severity: 'HIGH',
        source: 'osv',
      },
      {
        version: '3.1',
        vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H',
        score: 7.4,
        severity: 'HIGH',
        source: 'osv',
      },
    ],
    title: 'Prototype Pollution in lodash',
    references: ['https://github.com/advisories/GHSA-p6mc-m468-83gw'],
  }),
  finding(pyyaml, {
    id: 'CVE-2020-14343',
    aliases: ['GHSA-8q59-q68h-6hv4', 'PYSEC-2021-142'],
    records: ['GHSA-8q59-q68h-6hv4', 'PYSEC-2021-142'],
    ecosystem: 'PyPI',
    fixedVersion: '5.4',
    severity: 'UNKNOWN',
    severitySource: 'none',
    title: 'Improper Input Validation in PyYAML\u0007 (control character)',
  }),
];

/** Suppressed findings as the scanner lists them: one by an ignore entry, one by an OpenVEX statement. */
export const SUPPRESSED: SuppressedFinding[] = [
  {
    ...finding(libssl3, {
      id: 'CVE-2023-6129',
      aliases: ['DEBIAN-CVE-2023-6129'],
      records: ['DEBIAN-CVE-2023-6129'],
      fixedVersion: '3.0.13-1~deb12u1',
      severity: 'MEDIUM',
      severitySource: 'debian-urgency',
      title: 'POLY1305 MAC on PowerPC corrupts vector registers',
    }),
    suppressedBy: {
      kind: 'ignore-file',
      file: '.moatignore',
      line: 3,
      id: 'CVE-2023-6129',
      reason: 'PowerPC only; the image is amd64',
      expires: '2099-12-31',
    },
  },
  {
    ...finding(lodash, {
      id: 'CVE-2021-23337',
      aliases: ['GHSA-35jh-r3h4-6jhm'],
      records: ['GHSA-35jh-r3h4-6jhm'],
      ecosystem: 'npm',
      fixedVersion: '4.17.21',
      severity: 'HIGH',
      severitySource: 'ghsa',
      title: 'Command Injection in lodash',
    }),
    suppressedBy: {
      kind: 'openvex',
      file: 'vex/app.openvex.json',
      id: 'CVE-2021-23337',
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      statement: 'the app never calls _.template',
    },
  },
];

/** The fixed result: ordered as the scanner orders findings, counts from the findings themselves. */
export function fixedResult(): ScanResult {
  const findings = sortFindings(structuredClone(FINDINGS));
  return {
    schemaVersion: '1.1',
    tool: { name: 'moat', version: '0.0.0-test' },
    generatedAt: '2026-01-02T03:04:05.678Z',
    target: {
      kind: 'image',
      ref: 'registry.example.com/team/app:1.2',
      source: 'registry',
      name: 'registry.example.com/team/app:1.2',
      digest: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      configDigest: 'sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210',
      platform: 'linux/amd64',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers: [L0, L1],
      created: '2025-12-01T00:00:00Z',
    },
    os: {
      family: 'debian',
      name: 'Debian GNU/Linux 12 (bookworm)',
      version: '12',
      codename: 'bookworm',
      ecosystem: 'Debian:12',
      eol: { ended: false, date: '2026-06-10', ltsDate: '2028-06-30' },
      source: 'etc/os-release',
    },
    db: {
      path: '/cache/vulndb.sqlite',
      schemaVersion: 2,
      updatedAt: '2026-01-02T00:00:00Z',
      ageHours: 3.1,
      stale: false,
    },
    summary: { ...summarize(findings, PACKAGES.length, 0), suppressed: SUPPRESSED.length },
    findings,
    packages: structuredClone(PACKAGES),
    suppressed: structuredClone(SUPPRESSED),
    warnings: [
      {
        code: 'analyzer-failed',
        message: 'app/broken/package.json: not JSON',
        subject: 'app/broken/package.json',
      },
    ],
  };
}

/** The same image when nothing was found. */
export function healthyResult(): ScanResult {
  const r = fixedResult();
  r.findings = [];
  r.suppressed = [];
  r.summary = { ...summarize([], PACKAGES.length, 0), suppressed: 0 };
  r.warnings = [];
  return r;
}
