/**
 * Picks the image's OS among the hints the os-release analyzer found, and fills in its OSV ecosystem and
 * end-of-life status (from data/eol.json).
 *
 * OSV ecosystem names (https://ossf.github.io/osv-schema/#affectedpackage-field, ecosystems.json):
 *   debian        Debian:<major>                       Debian:12
 *   ubuntu        Ubuntu:<YY.MM>[:LTS]                 Ubuntu:22.04:LTS, Ubuntu:24.10
 *   alpine        Alpine:v<major>.<minor>              Alpine:v3.20
 *   rhel          Red Hat:enterprise_linux:<major>     see below
 *   rocky         Rocky Linux:<major>                  Rocky Linux:9
 *   almalinux     AlmaLinux:<major>                    AlmaLinux:9
 *   sles, sled    SUSE:<product> <major>[ SP<minor>]   SUSE:Linux Enterprise Server 15 SP5
 *   opensuse-*    openSUSE:Leap <version> | openSUSE:Tumbleweed | openSUSE:Leap Micro <version>
 *   mariner, azurelinux  Azure Linux:<major>           Azure Linux:2 (CBL-Mariner 2.0), Azure Linux:3
 *   photon        Photon OS:<version>; mageia Mageia:<major>; openeuler openEuler:<version>[-LTS[-SPn]]
 *   wolfi, chainguard  Wolfi, Chainguard (no release suffix)
 * CentOS, Oracle Linux, Fedora and Amazon Linux have no OSV ecosystem: `ecosystem` stays undefined.
 *
 * Matcher contract for prefixed families (the ecosystem given here is the product, records name a stream):
 * - Red Hat records are keyed on a CPE-derived stream, "Red Hat:enterprise_linux:9::baseos",
 *   "...:9::appstream", "...:9::crb", (RHEL 7: "...:7::server"). A record applies to an image whose
 *   ecosystem is E when the record's ecosystem equals E or starts with `${E}::`. EUS/AUS/E4S streams
 *   ("Red Hat:rhel_eus:9.2::baseos") are not matched: container images track the main stream.
 * - SUSE files SLE packages under the service pack ("SUSE:Linux Enterprise Server 15 SP5"), its LTSS phase
 *   ("... 15 SP5-LTSS") and the modules that ship them ("SUSE:Linux Enterprise Module for Basesystem 15 SP5").
 *   A record applies when its ecosystem equals E, equals `${E}-LTSS`, or is a
 *   "SUSE:Linux Enterprise Module for <any> <same version>" record.
 */
import { readFileSync } from 'node:fs';
import type { OsHint } from '../analyzers/types.js';
import type { EolStatus, OsInfo } from '../model/package.js';

export interface EolRelease {
  release: string;
  codename?: string;
  released?: string;
  /** end of regular security support */
  eol: string;
  /** end of the LTS / extended phase, when the distribution has one */
  lts?: string;
  /** a later commercial phase, for information only */
  extended?: string;
  /** Ubuntu: an LTS release */
  ltsRelease?: boolean;
  estimated?: boolean;
}

export interface EolTable {
  distributions: Record<string, { name: string; source: string; releases: EolRelease[] }>;
  rolling: { families: string[] };
}

let cached: EolTable | undefined;

/** data/eol.json, read once (the path resolves the same from src/scan and dist/scan). */
export function eolTable(): EolTable {
  if (!cached) {
    const parsed: EolTable = JSON.parse(
      readFileSync(new URL('../../data/eol.json', import.meta.url), 'utf8'),
    );
    cached = parsed;
  }
  return cached;
}

/** The table's key for an OS: CentOS Stream shares ID "centos" with CentOS Linux but not its dates. */
function eolFamily(os: Pick<OsInfo, 'family' | 'name'>): string {
  if (os.family === 'centos' && /stream/i.test(os.name)) return 'centos-stream';
  return os.family;
}

/** A release entry by full version, then major.minor, then major, then (Debian) codename. */
export function findRelease(
  os: Pick<OsInfo, 'family' | 'name' | 'version' | 'codename'>,
  table: EolTable = eolTable(),
): EolRelease | undefined {
  const dist = table.distributions[eolFamily(os)];
  if (!dist) return undefined;
  const parts = os.version.split('.');
  const candidates = [os.version, parts.slice(0, 2).join('.'), parts[0]].filter((v) => v);
  for (const c of candidates) {
    const r = dist.releases.find((e) => e.release === c);
    if (r) return r;
  }
  const codename = os.codename?.toLowerCase();
  return codename ? dist.releases.find((e) => e.codename === codename) : undefined;
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** End-of-life status of an OS on a given day: dates are the last supported day. */
export function eolStatus(
  os: Pick<OsInfo, 'family' | 'name' | 'version' | 'codename'>,
  now: Date = new Date(),
  table: EolTable = eolTable(),
): EolStatus {
  if (table.rolling.families.includes(os.family)) return { ended: false };
  const r = findRelease(os, table);
  if (!r) return { ended: false, unknown: true };
  const today = isoDay(now);
  const status: EolStatus = { ended: today > (r.lts ?? r.eol), date: r.eol };
  if (r.lts) {
    status.ltsDate = r.lts;
    status.inLts = today > r.eol && today <= r.lts;
  }
  return status;
}

function major(v: string): string | undefined {
  return /^[0-9]+/.exec(v)?.[0];
}

function majorMinor(v: string): string | undefined {
  return /^[0-9]+\.[0-9]+/.exec(v)?.[0];
}

/** The OSV ecosystem for an OS's packages (see the table at the top); undefined when OSV has none. */
export function osvEcosystem(
  os: Pick<OsInfo, 'family' | 'name' | 'version' | 'codename'>,
): string | undefined {
  const v = os.version;
  switch (os.family) {
    case 'debian': {
      const m = major(v) ?? major(findRelease(os)?.release ?? '');
      return m ? `Debian:${m}` : undefined;
    }
    case 'ubuntu': {
      const mm = majorMinor(v);
      if (!mm) return undefined;
      // LTS releases carry a mandatory ":LTS" suffix: every YY.04 of an even year
      const known = findRelease(os)?.ltsRelease;
      const [yy, month] = mm.split('.').map(Number);
      const lts = known ?? (yy! % 2 === 0 && month === 4);
      return `Ubuntu:${mm}${lts ? ':LTS' : ''}`;
    }
    case 'alpine': {
      const mm = majorMinor(v);
      return mm ? `Alpine:v${mm}` : undefined;
    }
    case 'rhel': {
      const m = major(v);
      return m ? `Red Hat:enterprise_linux:${m}` : undefined;
    }
    case 'rocky': {
      const m = major(v);
      return m ? `Rocky Linux:${m}` : undefined;
    }
    case 'almalinux': {
      const m = major(v);
      return m ? `AlmaLinux:${m}` : undefined;
    }
    case 'sles':
    case 'sled':
    case 'sles_sap': {
      const [ma, mi] = v.split('.');
      if (!ma || !/^[0-9]+$/.test(ma)) return undefined;
      const product = {
        sles: 'Linux Enterprise Server',
        sled: 'Linux Enterprise Desktop',
        sles_sap: 'Linux Enterprise Server for SAP Applications',
      }[os.family];
      return `SUSE:${product} ${ma}${mi && mi !== '0' ? ` SP${mi}` : ''}`;
    }
    case 'opensuse-leap':
      return v ? `openSUSE:Leap ${v}` : undefined;
    case 'opensuse-leap-micro':
      return v ? `openSUSE:Leap Micro ${v}` : undefined;
    case 'opensuse-tumbleweed':
      return 'openSUSE:Tumbleweed';
    case 'mariner':
    case 'azurelinux': {
      // CBL-Mariner was renamed Azure Linux at 3.0; OSV files both generations under "Azure Linux"
      const m = major(v);
      return m && Number(m) >= 2 ? `Azure Linux:${m}` : undefined;
    }
    case 'photon':
      return majorMinor(v) ? `Photon OS:${majorMinor(v)}` : undefined;
    case 'mageia':
      return major(v) ? `Mageia:${major(v)}` : undefined;
    case 'openeuler': {
      // VERSION="24.03 (LTS-SP1)" → openEuler:24.03-LTS-SP1
      const mm = majorMinor(v);
      if (!mm) return undefined;
      const lts = os.codename && /^LTS/i.test(os.codename) ? `-${os.codename.toUpperCase()}` : '';
      return `openEuler:${mm}${lts}`;
    }
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    default:
      return undefined;
  }
}

/**
 * The image's OS from the hints found in its final filesystem: the lowest priority wins (os-release over
 * release files), the first of equal ones. `now` decides end-of-life status (injectable for tests).
 */
export function resolveOs(hints: OsHint[], now: Date = new Date()): OsInfo | undefined {
  let best: OsHint | undefined;
  for (const h of hints) if (!best || h.priority < best.priority) best = h;
  if (!best) return undefined;
  const os: OsInfo = { ...best.os };
  // Debian testing/unstable and release files without a number: take the number from the codename
  if (os.version === '' && os.family === 'debian') {
    const r = findRelease(os);
    if (r) os.version = r.release;
  }
  const ecosystem = osvEcosystem(os);
  if (ecosystem) os.ecosystem = ecosystem;
  os.eol = eolStatus(os, now);
  return os;
}
