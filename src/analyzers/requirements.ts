import { log } from '../log.js';
import { PackageSet } from './lang/packages.js';
import { isValidPypiName } from './lang/python-names.js';
import { basename, readText, underDir } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const MiB = 1024 * 1024;
/** a requirement line longer than this is not something pip users write; not worth a regex */
const MAX_LINE = 4096;

// PEP 440's permissive version syntax (packaging's VERSION_PATTERN), anchored
const PEP440 =
  /^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;

export function isPep440(v: string): boolean {
  return v.length <= 128 && PEP440.test(v);
}

export interface Requirement {
  name: string;
  version: string;
  extras?: string[];
  /** 1-based line where the requirement starts */
  line: number;
}

export interface RequirementsFile {
  requirements: Requirement[];
  /** files named by `-r`/`-c` lines: recorded, not followed (they may not be in the same layer) */
  includes: string[];
}

export interface RequirementsOptions {
  /**
   * Also take the lower bound of `>=` and `~=` ranges and the first release of `==X.*` wildcards, as trivy's
   * comprehensive detection does; off by default (only pins name an installed release).
   */
  useMinVersion?: boolean;
}

/**
 * Pinned requirements of a pip requirements file (https://pip.pypa.io/en/stable/reference/requirements-file-format/):
 * `name[extras] == version`, with environment markers, `--hash` options, comments and line continuations.
 * Unpinned requirements, URLs, editable installs and option lines name no release and are skipped.
 */
export function parseRequirements(text: string, opts: RequirementsOptions = {}): RequirementsFile {
  const out: RequirementsFile = { requirements: [], includes: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    // a trailing backslash continues the requirement on the next line
    const parts = [lines[i]!.trimEnd()];
    let length = parts[0]!.length;
    while (parts[parts.length - 1]!.endsWith('\\') && i + 1 < lines.length) {
      parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -1);
      const next = lines[++i]!.trimEnd();
      length += next.length;
      // past the cap the requirement is dropped below; keep consuming its continuation lines
      parts.push(length <= MAX_LINE ? next : '');
    }
    let line = parts.join(' ');
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === '' || length > MAX_LINE) continue;
    if (line.startsWith('-')) {
      const inc = /^(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)/.exec(line);
      if (inc) out.includes.push(inc[1]!);
      continue;
    }
    const req = parseRequirement(line, opts);
    if (req) out.requirements.push({ ...req, line: start });
  }
  return out;
}

function parseRequirement(line: string, opts: RequirementsOptions): Omit<Requirement, 'line'> | undefined {
  // per-requirement options (--hash=..., --config-settings) follow the specifier after whitespace
  const opt = line.search(/\s--?[a-z]/);
  if (opt >= 0) line = line.slice(0, opt);
  const marker = line.indexOf(';');
  if (marker >= 0) line = line.slice(0, marker);
  const s = line.replace(/\s+/g, '');
  let i = 0;
  while (i < s.length && /[A-Za-z0-9._-]/.test(s[i]!)) i++;
  const name = s.slice(0, i);
  if (!isValidPypiName(name)) return undefined;
  let extras: string[] | undefined;
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close < 0) return undefined;
    extras = s
      .slice(i + 1, close)
      .split(',')
      .filter((e) => e !== '');
    if (!extras.every(isValidPypiName)) return undefined;
    i = close + 1;
  }
  const spec = s.slice(i);
  // `name @ url` direct references and bare names pin nothing
  if (spec === '' || !/^[=<>!~]/.test(spec)) return undefined;
  const version = pinnedVersion(spec.split(','), opts.useMinVersion === true);
  if (version === undefined) return undefined;
  return extras && extras.length > 0 ? { name, version, extras } : { name, version };
}

function pinnedVersion(clauses: string[], useMin: boolean): string | undefined {
  const ops = new Map<string, string>();
  for (const c of clauses) {
    const m = /^(===|==|~=|>=|<=|!=|>|<)(.+)$/.exec(c);
    if (!m) return undefined;
    if (!ops.has(m[1]!)) ops.set(m[1]!, m[2]!);
  }
  const exact = ops.get('===') ?? ops.get('==');
  if (exact !== undefined && isPep440(exact)) return exact;
  if (!useMin) return undefined;
  for (const op of ['>=', '~=']) {
    const v = ops.get(op);
    if (v !== undefined && isPep440(v)) return v;
  }
  // `==2.0.*` matches 2.0.0 first
  if (exact?.endsWith('.*')) {
    const v = `${exact.slice(0, -2)}.0`;
    if (isPep440(v)) return v;
  }
  return undefined;
}

/**
 * pip requirements files (`requirements.txt`, `requirements-dev.txt`, `requirements/prod.txt`, ...) of a project; those shipped inside
 * installed packages (site-packages, dist-packages, node_modules) describe someone else's build.
 */
export const pipRequirements = {
  name: 'pip-requirements',
  version: ANALYZER_VERSIONS['pip-requirements'],
  maxSize: 16 * MiB,
  wants(path: string) {
    if (!path.endsWith('.txt')) return false;
    // requirements.txt, requirements-dev.txt, ...; or any .txt in a requirements/ folder (base.txt, prod.txt)
    return (
      (basename(path).startsWith('requirements') || underDir(path, 'requirements')) &&
      !underDir(path, 'site-packages') &&
      !underDir(path, 'dist-packages') &&
      !underDir(path, 'node_modules')
    );
  },
  analyze(file, ctx) {
    const text = readText(file);
    if (text.includes('\u0000')) {
      ctx.warn('not a text file');
      return { packages: [] };
    }
    const parsed = parseRequirements(text);
    if (parsed.includes.length > 0)
      log.debug({ file: file.path, includes: parsed.includes }, 'requirements includes not followed');
    const set = new PackageSet('python', file.path, 'lockfile');
    for (const r of parsed.requirements) set.add({ name: r.name, version: r.version });
    return { packages: set.list() };
  },
} satisfies Analyzer;
