/**
 * Go modules required by a `go.mod` (https://go.dev/ref/mod#go-mod-file): `require` lines and blocks,
 * `// indirect` marking modules the main module does not import itself, and `replace` directives
 * (`old [v] => new v` swaps the module; a replacement by a local directory drops it, since that code is
 * not the module's release; a versioned `old v =>` only applies to that version). The main module is the
 * project itself, not a dependency. `exclude` and `retract` do not change the required versions, and the
 * `go`/`toolchain` lines give a minimum toolchain, not the one that builds the binary: the go-binary
 * analyzer reports the real standard library.
 *
 * Before Go 1.17, go.mod lists only some indirect requirements (go.sum holds the rest); they are reported
 * all the same: each is a version the build selects.
 */
import { PackageSet } from './lang/packages.js';
import { basename, readText } from './lang/text.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
/** the module cache (GOMODCACHE/path@version/) keeps every downloaded module's go.mod: not the app's requirements */
const MODULE_CACHE = /(?:^|\/)pkg\/mod\/.*@[^/]+\//;

export interface GoModRequire {
  path: string;
  version: string;
  indirect: boolean;
}

export interface GoModReplace {
  path: string;
  version?: string;
  newPath: string;
  newVersion?: string;
}

export interface GoModFile {
  module?: string;
  go?: string;
  requires: GoModRequire[];
  replaces: GoModReplace[];
}

function unquote(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    // Go escapes JSON lacks (\x41, \101): module paths never need them
    return s;
  }
}

/** Splits a directive line into tokens: bare words, "quoted" and `raw` strings, and `=>`. */
function tokens(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|`([^`]*)`|(=>)|([^\s"`]+)/g;
  for (const m of line.matchAll(re)) {
    if (m[1] !== undefined) out.push(unquote(m[1]));
    else out.push(m[2] ?? m[3] ?? m[4]!);
  }
  return out;
}

/** Parses go.mod text; `warn` gets lines that do not fit their directive. */
export function parseGoMod(text: string, warn: (reason: string) => void): GoModFile {
  const out: GoModFile = { requires: [], replaces: [] };
  let block: string | undefined;
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const c = raw.indexOf('//');
    const comment = c >= 0 ? raw.slice(c + 2) : '';
    const code = (c >= 0 ? raw.slice(0, c) : raw).trim();
    if (code === '') continue;
    let verb: string;
    let args: string[];
    if (block !== undefined) {
      if (code === ')') {
        block = undefined;
        continue;
      }
      verb = block;
      args = tokens(code);
    } else {
      const t = tokens(code);
      verb = t[0]!;
      args = t.slice(1);
      if (args.length === 1 && args[0] === '(') {
        block = verb;
        continue;
      }
    }
    switch (verb) {
      case 'module':
        out.module = args[0];
        break;
      case 'go':
        out.go = args[0];
        break;
      case 'require':
        if (args.length !== 2) {
          warn(`line ${lineNo}: a require needs a module path and a version`);
          break;
        }
        out.requires.push({
          path: args[0]!,
          version: args[1]!,
          // modfile accepts "// indirect" and "// indirect; other comments"
          indirect: /^\s*indirect(\s*;|\s*$)/.test(comment),
        });
        break;
      case 'replace': {
        const arrow = args.indexOf('=>');
        if (arrow < 1 || arrow > 2 || args.length - arrow - 1 < 1 || args.length - arrow - 1 > 2) {
          warn(`line ${lineNo}: a replace needs "path [version] => path [version]"`);
          break;
        }
        const r: GoModReplace = { path: args[0]!, newPath: args[arrow + 1]! };
        if (arrow === 2) r.version = args[1]!;
        if (args.length - arrow - 1 === 2) r.newVersion = args[arrow + 2]!;
        out.replaces.push(r);
        break;
      }
      // exclude, retract, toolchain, godebug, tool, ignore: no effect on required versions
    }
  }
  return out;
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const text = readText(file);
  const warn = boundedWarn(ctx);
  const mod = parseGoMod(text, warn);
  warn.flush();
  if (mod.module === undefined && mod.requires.length === 0) {
    ctx.warn('no module or require directive: not a go.mod file');
    return {};
  }
  // the toolchain's own modules (GOROOT/src and src/cmd): their vendored code is the stdlib package's
  if (mod.module === 'std' || mod.module === 'cmd') return {};
  const set = new PackageSet('go', file.path, 'lockfile');
  for (const req of mod.requires) {
    // a versioned replace beats an unversioned one for the same path (go.dev/ref/mod#go-mod-file-replace)
    const rep =
      mod.replaces.find((r) => r.path === req.path && r.version === req.version) ??
      mod.replaces.find((r) => r.path === req.path && r.version === undefined);
    if (rep && rep.newVersion === undefined) continue;
    const extra = rep ? { replaces: `${req.path}@${req.version}` } : undefined;
    set.add({
      name: rep ? rep.newPath : req.path,
      version: rep?.newVersion ?? req.version,
      direct: !req.indirect,
      ...(extra ? { extra } : {}),
    });
  }
  return { packages: set.list() };
}

/** Go modules required by go.mod files. */
export const gomod = {
  name: 'gomod',
  version: ANALYZER_VERSIONS['gomod'],
  maxSize: 16 * MiB,
  wants: (path: string) => basename(path) === 'go.mod' && !MODULE_CACHE.test(path),
  analyze,
} satisfies Analyzer;
