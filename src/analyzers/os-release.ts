import { readAll, splitLines } from './input.js';
import type { Analyzer, OsHint } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

/**
 * Hint priorities (lower wins, see OsHint): os-release files first; then release files that name one
 * distribution; then generic ones that derivatives also carry (Oracle Linux ships a regular
 * etc/redhat-release saying "Red Hat Enterprise Linux", Ubuntu an etc/debian_version saying "bookworm/sid").
 */
const FILES: Record<string, number> = {
  'etc/os-release': 0,
  'usr/lib/os-release': 1,
  'etc/alpine-release': 2,
  'etc/centos-release': 2,
  'etc/rocky-release': 2,
  'etc/almalinux-release': 2,
  'etc/oracle-release': 2,
  'etc/fedora-release': 2,
  'etc/photon-release': 2,
  'etc/mariner-release': 2,
  'etc/azurelinux-release': 2,
  'etc/SuSE-release': 2,
  'etc/redhat-release': 2.5,
  'etc/system-release': 2.5,
  'etc/lsb-release': 2.5,
  'etc/debian_version': 3,
};

/** Parses the os-release format (freedesktop.org os-release(5)): KEY=value, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of splitLines(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && v[0] === '"' && v.endsWith('"')) {
      // shell double quotes: backslash escapes $ " \ and `
      v = v.slice(1, -1).replace(/\\([$"\\`])/g, '$1');
    } else if (v.length >= 2 && v[0] === "'" && v.endsWith("'")) {
      v = v.slice(1, -1);
    }
    out[m[1]!] = v;
  }
  return out;
}

function codenameOf(version: string | undefined): string | undefined {
  // VERSION="8 (jessie)" (Debian before VERSION_CODENAME existed), "9.4 (Plow)", "24.03 (LTS-SP1)"
  const m = /\(([^)]+)\)/.exec(version ?? '');
  return m ? m[1]!.trim() : undefined;
}

function fromOsRelease(text: string, source: string): OsHint['os'] | undefined {
  const f = parseOsRelease(text);
  const id = f.ID?.toLowerCase();
  if (!id) return undefined;
  const os: OsHint['os'] = {
    family: id,
    name: f.PRETTY_NAME || f.NAME || id,
    version: f.VERSION_ID ?? '',
    source,
  };
  const codename = f.VERSION_CODENAME || f.UBUNTU_CODENAME || codenameOf(f.VERSION);
  if (codename) os.codename = codename;
  return os;
}

/** Distribution names in `<name> release <version>` files, most specific first. */
const RELEASE_NAMES: [RegExp, string][] = [
  [/^Red Hat Enterprise Linux/i, 'rhel'],
  [/^CentOS Stream/i, 'centos'],
  [/^CentOS/i, 'centos'],
  [/^Rocky Linux/i, 'rocky'],
  [/^AlmaLinux/i, 'almalinux'],
  [/^Oracle Linux/i, 'ol'],
  [/^Fedora/i, 'fedora'],
  [/^Amazon Linux/i, 'amzn'],
  [/^VMware Photon OS/i, 'photon'],
  [/^CBL-Mariner/i, 'mariner'],
  [/^(Microsoft )?Azure Linux/i, 'azurelinux'],
];

function fromReleaseLine(text: string, source: string): OsHint['os'] | undefined {
  const line = splitLines(text)[0]?.trim() ?? '';
  const entry = RELEASE_NAMES.find(([re]) => re.test(line));
  if (!entry) return undefined;
  // "Amazon Linux AMI release 2018.03", "Rocky Linux release 9.3 (Blue Onyx)", "VMware Photon OS 5.0"
  const m = /\brelease\s+([0-9][\w.]*)/i.exec(line) ?? /\s([0-9][\w.]*)\b/.exec(line);
  const os: OsHint['os'] = { family: entry[1], name: line, version: m ? m[1]! : '', source };
  const codename = /\(([^)]+)\)\s*$/.exec(line);
  if (codename && !/^(Amazon Linux|Core)$/i.test(codename[1]!)) os.codename = codename[1]!;
  return os;
}

/** SLES ≤ 12 and openSUSE ≤ 42: "SUSE Linux Enterprise Server 12 (x86_64)" + "VERSION = 12" + "PATCHLEVEL = 5". */
function fromSuseRelease(text: string, source: string): OsHint['os'] | undefined {
  const lines = splitLines(text);
  const first = lines[0]?.trim() ?? '';
  const kv: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const m = /^\s*([A-Z_]+)\s*=\s*(.*?)\s*$/.exec(l);
    if (m) kv[m[1]!] = m[2]!;
  }
  const version = kv.VERSION ?? '';
  const name = first.replace(/\s*\([^)]*\)\s*$/, '');
  if (/^openSUSE/i.test(first)) {
    return { family: Number.parseFloat(version) >= 42 ? 'opensuse-leap' : 'opensuse', name, version, source };
  }
  if (/^SUSE Linux Enterprise/i.test(first)) {
    const family = /Desktop/i.test(first) ? 'sled' : 'sles';
    return { family, name, version: kv.PATCHLEVEL ? `${version}.${kv.PATCHLEVEL}` : version, source };
  }
  return undefined;
}

function fromLsbRelease(text: string, source: string): OsHint['os'] | undefined {
  const f = parseOsRelease(text);
  const id = f.DISTRIB_ID?.toLowerCase();
  if (!id) return undefined;
  const os: OsHint['os'] = {
    family: id,
    name: f.DISTRIB_DESCRIPTION || f.DISTRIB_ID!,
    version: f.DISTRIB_RELEASE ?? '',
    source,
  };
  if (f.DISTRIB_CODENAME) os.codename = f.DISTRIB_CODENAME.toLowerCase();
  return os;
}

function fromDebianVersion(text: string, source: string): OsHint['os'] | undefined {
  const v = text.trim();
  if (v === '' || /\s/.test(v)) return undefined;
  // "12.5" on a stable release, "trixie/sid" on testing and unstable
  if (/^[0-9]/.test(v)) return { family: 'debian', name: `Debian GNU/Linux ${v}`, version: v, source };
  const codename = v.split('/')[0]!.toLowerCase();
  return { family: 'debian', name: `Debian GNU/Linux ${v}`, version: '', codename, source };
}

/** Reads one OS identification file into a hint; undefined when the content says nothing usable. */
export function osHintOf(path: string, text: string): OsHint | undefined {
  const priority = FILES[path];
  if (priority === undefined) return undefined;
  let os: OsHint['os'] | undefined;
  if (path === 'etc/os-release' || path === 'usr/lib/os-release') os = fromOsRelease(text, path);
  else if (path === 'etc/alpine-release') {
    const v = text.trim();
    if (/^[0-9][\w.]*$/.test(v))
      os = { family: 'alpine', name: `Alpine Linux v${v}`, version: v, source: path };
  } else if (path === 'etc/SuSE-release') os = fromSuseRelease(text, path);
  else if (path === 'etc/lsb-release') os = fromLsbRelease(text, path);
  else if (path === 'etc/debian_version') os = fromDebianVersion(text, path);
  else os = fromReleaseLine(text, path);
  return os ? { priority, os } : undefined;
}

/** OS identity from os-release and the distributions' release files; the scan keeps the best hint. */
export const osRelease = {
  name: 'os-release',
  version: ANALYZER_VERSIONS['os-release'],
  maxSize: 64 * 1024,
  wants: (path: string) => Object.hasOwn(FILES, path),
  analyze(file, ctx) {
    const hint = osHintOf(file.path, readAll(file).toString('utf8'));
    if (!hint) {
      ctx.warn('no distribution identity in the file');
      return {};
    }
    return { os: hint };
  },
} satisfies Analyzer;
