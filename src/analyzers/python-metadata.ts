import type { Package } from '../model/package.js';
import { readText } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const MiB = 1024 * 1024;

/**
 * The header fields of core metadata (https://packaging.python.org/en/latest/specifications/core-metadata/):
 * RFC 822 style `Name: value` lines up to the first blank line, continuation lines starting with whitespace.
 * The body (the long description) is not read. Field names are case-insensitive; repeated fields
 * (Classifier, License-File) keep every value.
 */
export function readMetadataHeaders(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string[] | undefined;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    pos = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') break;
    const c = line.charCodeAt(0);
    if (c === 0x20 || c === 0x09) {
      // folded value: PKG-INFO writers indent the description's lines ("        |" in older setuptools)
      if (last && last.length > 0) last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      last = undefined;
      continue;
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    last = fields.get(key);
    if (last) last.push(value);
    else {
      last = [value];
      fields.set(key, last);
    }
  }
  return fields;
}

/** Classifier values that say a license is approved without naming one. */
const NOT_A_LICENSE = new Set(['OSI Approved', 'DFSG approved']);

/**
 * The license: License-Expression (PEP 639, SPDX) first, then the trove classifiers (they name the license
 * where the free-text License field often holds its whole text or "UNKNOWN"), then License.
 */
export function metadataLicense(fields: Map<string, string[]>): string | undefined {
  const expr = fields.get('license-expression')?.[0];
  if (expr) return expr;
  const names: string[] = [];
  for (const c of fields.get('classifier') ?? []) {
    if (!c.startsWith('License ::')) continue;
    const last = c.slice(c.lastIndexOf('::') + 2).trim();
    if (last && !NOT_A_LICENSE.has(last) && !names.includes(last)) names.push(last);
  }
  if (names.length > 0) return names.join(', ');
  const license = fields.get('license')?.[0]?.split('\n')[0]?.trim();
  // setuptools writes "UNKNOWN" when setup() has no license
  if (license && license !== 'UNKNOWN') return license;
  return undefined;
}

/** The package a METADATA / PKG-INFO file describes, or the reason it describes none. */
export function parseCoreMetadata(text: string, path: string): Package | string {
  const fields = readMetadataHeaders(text);
  const name = fields.get('name')?.[0];
  const version = fields.get('version')?.[0];
  if (!name || !version) return `no ${name ? 'Version' : 'Name'} field in the metadata header`;
  const pkg: Package = { type: 'python', name, version, path, foundBy: 'installed' };
  const license = metadataLicense(fields);
  if (license) pkg.license = license;
  return pkg;
}

/**
 * Installed Python distributions: wheels' `*.dist-info/METADATA`, eggs' `*.egg-info/PKG-INFO` (a directory)
 * or `*.egg-info` (a single file, as distutils and Debian's python3-* packages install them), and zipped
 * eggs unpacked as `*.egg/EGG-INFO/PKG-INFO`.
 */
export const pythonMetadata = {
  name: 'python-metadata',
  version: ANALYZER_VERSIONS['python-metadata'],
  maxSize: 32 * MiB,
  wants: (path: string) =>
    path.endsWith('.dist-info/METADATA') ||
    path.endsWith('.egg-info/PKG-INFO') ||
    path.endsWith('.egg-info') ||
    path.endsWith('.egg/EGG-INFO/PKG-INFO'),
  analyze(file, ctx) {
    const r = parseCoreMetadata(readText(file), file.path);
    if (typeof r === 'string') {
      ctx.warn(r);
      return { packages: [] };
    }
    return { packages: [r] };
  },
} satisfies Analyzer;
