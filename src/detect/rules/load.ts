import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CelCompileError, type CelProgram, compileCel } from '../../policy/cel/environment.js';
import { toCel } from '../../policy/cel/values.js';
import { packagePath } from '../../util/package-path.js';
import { containers, detectionEnvironment, imageRepository, podSpec } from '../engine/cel.js';
import type { AuditEvent } from '../event.js';
import { parseRuleFile } from './parse.js';
import type {
  ExceptionField,
  ExceptionSpec,
  RuleFile,
  RuleLoadError,
  RuleSpec,
  SkippedRule,
} from './types.js';

/**
 * Stage 3 of loading: merge the parsed files (lists append, later files add exceptions and switch
 * rules on or off), compile every CEL expression once, and leave out what does not compile. Indexing
 * (stage 4) is the detector's (engine/detector.ts).
 */

/**
 * The shipped packs: every `*.yaml` in data/rules/ at the package root. Found by walking up, because this
 * module sits at a different depth in src/, dist/ (tsc) and dist/bin/ (the bundle).
 */
export const DEFAULT_RULES_DIR =
  packagePath('data', 'rules') ?? join(dirname(fileURLToPath(import.meta.url)), '../../../data/rules');

/** Packs shipped but off unless enabled (rule ids enabled by name, or the pack file given explicitly). */
export const OPTIONAL_PACKS = new Set(['k8s-activity.yaml']);

export interface CompiledException {
  name: string;
  pos: { file: string; line: number };
  test(celEvent: unknown, event: AuditEvent, data: Readonly<Record<string, string[]>>): boolean;
}

export interface CompiledRule {
  spec: RuleSpec;
  condition: CelProgram;
  exceptions: CompiledException[];
  /** aggregation key and distinct-field programs */
  by: CelProgram[];
  field?: CelProgram;
}

export interface LoadedRules {
  rules: CompiledRule[];
  /** every list after merging, passed to conditions as `data` */
  data: Record<string, string[]>;
  errors: RuleLoadError[];
  skipped: SkippedRule[];
}

export interface RuleSource {
  file: string;
  text: string;
}

/** Files to load from paths: a directory gives its `*.yaml`/`*.yml` files in name order. */
export function ruleFilesIn(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.ya?ml$/.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

/**
 * Loads rule packs then user files (exceptions, list additions, enable/disable, extra rules), in that
 * order. Unreadable files are load errors too.
 */
export function loadRules(packs: readonly string[], userFiles: readonly string[] = []): LoadedRules {
  const sources: RuleSource[] = [];
  const errors: RuleLoadError[] = [];
  for (const file of [...packs, ...userFiles]) {
    try {
      sources.push({ file, text: readFileSync(file, 'utf8') });
    } catch (e) {
      errors.push({ file, line: 0, message: `cannot read rule file: ${(e as Error).message}` });
    }
  }
  const loaded = compileRuleSources(sources);
  loaded.errors.unshift(...errors);
  return loaded;
}

/** The shipped packs (optional ones only when `optional` is set), with the user's files on top. */
export function loadDefaultRules(userFiles: readonly string[] = [], optional = false): LoadedRules {
  const packs = ruleFilesIn([DEFAULT_RULES_DIR]).filter(
    (f) => optional || !OPTIONAL_PACKS.has(f.slice(f.lastIndexOf('/') + 1)),
  );
  return loadRules(packs, userFiles);
}

export function compileRuleSources(sources: readonly RuleSource[]): LoadedRules {
  const errors: RuleLoadError[] = [];
  const files: RuleFile[] = [];
  for (const s of sources) {
    const parsed = parseRuleFile(s.text, s.file);
    files.push(parsed.file);
    errors.push(...parsed.errors);
  }
  return compileRuleFiles(files, errors);
}

export function compileRuleFiles(files: readonly RuleFile[], errors: RuleLoadError[] = []): LoadedRules {
  const data: Record<string, string[]> = Object.create(null);
  const specs = new Map<string, RuleSpec>();
  const exceptions: ExceptionSpec[] = [];
  const toggles = new Map<string, boolean>();
  for (const f of files) {
    for (const l of f.lists) data[l.name] = [...(data[l.name] ?? []), ...l.items];
    for (const r of f.rules) {
      const prev = specs.get(r.id);
      if (prev) {
        errors.push({
          file: r.pos.file,
          line: r.pos.line,
          rule: r.id,
          message: `duplicate rule id, first defined at ${prev.pos.file}:${prev.pos.line}`,
        });
        continue;
      }
      specs.set(r.id, r);
    }
    exceptions.push(...f.exceptions);
    for (const e of f.enable) toggles.set(e.rule, true);
    for (const d of f.disable) toggles.set(d.rule, false);
    for (const t of [...f.enable, ...f.disable]) {
      if (!specs.has(t.rule))
        errors.push({
          file: t.pos.file,
          line: t.pos.line,
          rule: t.rule,
          message: 'enable/disable names an unknown rule',
        });
    }
  }
  const env = detectionEnvironment();
  const compile = (spec: RuleSpec, key: string, source: string, what: string): CelProgram | undefined => {
    try {
      return compileCel(env, source);
    } catch (e) {
      const msg = e instanceof CelCompileError ? e.message : (e as Error).message;
      errors.push({
        file: spec.pos.file,
        line: spec.lines[key] ?? spec.pos.line,
        rule: spec.id,
        message: `${what}: ${msg}`,
      });
      return undefined;
    }
  };
  const rules: CompiledRule[] = [];
  const byId = new Map<string, CompiledRule>();
  const skipped: SkippedRule[] = [];
  for (const spec of specs.values()) {
    const enabled = toggles.get(spec.id) ?? spec.enabled;
    if (!enabled) {
      skipped.push({ rule: spec.id, file: spec.pos.file, line: spec.pos.line, reason: 'disabled' });
      continue;
    }
    const missing = spec.requires.filter((l) => (data[l]?.length ?? 0) === 0);
    if (missing.length > 0) {
      skipped.push({
        rule: spec.id,
        file: spec.pos.file,
        line: spec.pos.line,
        reason: `requires list ${missing.join(', ')} to be configured`,
      });
      continue;
    }
    const condition = compile(spec, 'condition', spec.condition, 'condition');
    if (!condition) continue;
    if (condition.type !== 'bool' && condition.type !== 'dyn') {
      errors.push({
        file: spec.pos.file,
        line: spec.lines.condition ?? spec.pos.line,
        rule: spec.id,
        message: `condition must be a bool, not ${condition.type}`,
      });
      continue;
    }
    const by: CelProgram[] = [];
    let ok = true;
    for (const expr of spec.aggregation?.by ?? []) {
      const p = compile(spec, 'aggregation', expr, `aggregation.by "${expr}"`);
      if (p) by.push(p);
      else ok = false;
    }
    let field: CelProgram | undefined;
    if (spec.aggregation?.field) {
      field = compile(spec, 'aggregation', spec.aggregation.field, 'aggregation.field');
      if (!field) ok = false;
    }
    if (!ok) continue;
    const rule: CompiledRule = { spec, condition, exceptions: [], by };
    if (field) rule.field = field;
    rules.push(rule);
    byId.set(spec.id, rule);
  }
  for (const ex of exceptions) {
    const rule = byId.get(ex.rule);
    if (!rule) {
      // an exception for a rule that is disabled or skipped is fine; one for an unknown id is a typo
      if (!specs.has(ex.rule))
        errors.push({
          file: ex.pos.file,
          line: ex.pos.line,
          rule: ex.rule,
          message: `exception "${ex.name}" names an unknown rule`,
        });
      continue;
    }
    const compiled = compileException(ex, errors);
    if (compiled) rule.exceptions.push(compiled);
  }
  return { rules, data, errors, skipped };
}

function compileException(ex: ExceptionSpec, errors: RuleLoadError[]): CompiledException | undefined {
  const base = { name: ex.name, pos: ex.pos };
  if (ex.condition !== undefined) {
    let p: CelProgram;
    try {
      p = compileCel(detectionEnvironment(), ex.condition);
    } catch (e) {
      errors.push({
        file: ex.pos.file,
        line: ex.pos.line,
        rule: ex.rule,
        message: `exception "${ex.name}": ${(e as Error).message}`,
      });
      return undefined;
    }
    return { ...base, test: (celEvent, _e, data) => p.evaluate({ event: celEvent, data }) === true };
  }
  const fields = ex.fields ?? [];
  const tuples = (ex.values ?? []).map((t) => t.map((cell) => new Set(Array.isArray(cell) ? cell : [cell])));
  return {
    ...base,
    test: (_c, event) => tuples.some((t) => fields.every((f, i) => fieldIn(f, event, t[i] as Set<string>))),
  };
}

/**
 * Field/value exceptions: a single-valued field matches when its value is in the cell; `group` and
 * `sourceIP` when any of the event's values is; `image` when every container image (without tag or
 * digest) is, so one trusted image cannot cover an untrusted sidecar.
 */
function fieldIn(f: ExceptionField, e: AuditEvent, cell: Set<string>): boolean {
  const ref = e.objectRef;
  switch (f) {
    case 'user':
      return cell.has(e.user?.username ?? '');
    case 'group':
      return (e.user?.groups ?? []).some((g) => cell.has(g));
    case 'namespace':
      return cell.has(ref?.namespace ?? '');
    case 'name':
      return cell.has(ref?.name ?? '');
    case 'resource':
      return cell.has(ref?.resource ?? '');
    case 'subresource':
      return cell.has(ref?.subresource ?? '');
    case 'verb':
      return cell.has(e.verb);
    case 'userAgent':
      return cell.has(e.userAgent ?? '');
    case 'sourceIP':
      return (e.sourceIPs ?? []).some((ip) => cell.has(ip));
    case 'image': {
      const imgs = containers(podSpec(toCel(e))).map((c) => (c as { image?: unknown }).image);
      return imgs.length > 0 && imgs.every((i) => typeof i === 'string' && cell.has(imageRepository(i)));
    }
  }
}
