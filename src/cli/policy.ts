import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import yaml from 'js-yaml';
import { errorMessage, MoatError } from '../errors.js';
import { type PolicyConfig, parsePssSpec } from '../policy/engine.js';
import { type Exemption, loadExemptions, parseExemptions } from '../policy/exemptions.js';
import { type CheckConfig, EFFECTS, type Effect } from '../policy/types.js';
import type { CommandContext } from './context.js';

const DEFAULT_POLICY_CONFIG = 'moat-policy.yaml';
const DEFAULT_EXEMPTIONS = '.moat-exemptions.yaml';

/** What a policy config file holds; every key optional. */
export interface PolicyFile {
  checks: Record<string, CheckConfig>;
  exemptions: Exemption[];
  /** custom policy manifests, resolved against the file's directory */
  policies: string[];
  pss?: string;
}

/** Reads a policy config file (docs/posture.md#policy-configuration). */
export function loadPolicyFile(file: string): PolicyFile {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'), { filename: file });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new MoatError(
      'CONFIG',
      `policy config ${file}: ${err.code === 'ENOENT' ? 'not found' : errorMessage(e).split('\n')[0]}`,
    );
  }
  const out: PolicyFile = { checks: {}, exemptions: [], policies: [] };
  if (doc == null) return out;
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new MoatError('CONFIG', `policy config ${file}: expected a mapping`);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!['checks', 'exemptions', 'policies', 'pss'].includes(k)) {
      throw new MoatError(
        'CONFIG',
        `policy config ${file}: unknown key "${k}" (expected checks, exemptions, policies, pss)`,
      );
    }
  }
  if (d.checks !== undefined) {
    if (typeof d.checks !== 'object' || d.checks === null || Array.isArray(d.checks)) {
      throw new MoatError(
        'CONFIG',
        `policy config ${file}: checks must map check ids (or globs) to settings`,
      );
    }
    for (const [id, raw] of Object.entries(d.checks)) out.checks[id] = checkConfig(file, id, raw);
  }
  if (d.exemptions !== undefined) out.exemptions = parseExemptions(d.exemptions, file);
  if (d.policies !== undefined) {
    const list = Array.isArray(d.policies) ? d.policies : [d.policies];
    out.policies = list.map((p) => resolve(dirname(file), String(p)));
  }
  if (d.pss !== undefined) out.pss = String(d.pss);
  return out;
}

function checkConfig(file: string, id: string, raw: unknown): CheckConfig {
  const where = `policy config ${file}: checks.${id}`;
  // shorthand: `pss.baseline.*: deny`
  if (typeof raw === 'string') return { effect: effectOf(where, raw) };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new MoatError('CONFIG', `${where}: expected an effect or a mapping`);
  const r = raw as Record<string, unknown>;
  const out: CheckConfig = {};
  for (const k of Object.keys(r)) {
    if (k !== 'effect' && k !== 'params')
      throw new MoatError('CONFIG', `${where}: unknown key "${k}" (expected effect, params)`);
  }
  if (r.effect !== undefined) out.effect = effectOf(where, String(r.effect));
  if (r.params !== undefined) {
    if (typeof r.params !== 'object' || r.params === null || Array.isArray(r.params))
      throw new MoatError('CONFIG', `${where}.params: expected a mapping`);
    out.params = r.params as Record<string, unknown>;
  }
  return out;
}

function effectOf(where: string, v: string): Effect {
  const e = v.toLowerCase();
  if (!(EFFECTS as readonly string[]).includes(e))
    throw new MoatError('CONFIG', `${where}: effect "${v}" is not one of ${EFFECTS.join(', ')}`);
  return e as Effect;
}

/** The policy configuration a command's settings describe, and the custom policy files to load. */
export function policySettings(
  ctx: CommandContext,
  cwd = process.cwd(),
): { config: PolicyConfig; policyFiles: string[] } {
  const explicit = ctx.get<string | undefined>('policy-config');
  const configFile =
    explicit ??
    (existsSync(resolve(cwd, DEFAULT_POLICY_CONFIG)) ? resolve(cwd, DEFAULT_POLICY_CONFIG) : undefined);
  const file = configFile
    ? loadPolicyFile(configFile)
    : { checks: {}, exemptions: [], policies: [] as string[], pss: undefined };
  const exFile =
    ctx.get<string | undefined>('exemptions') ??
    (existsSync(resolve(cwd, DEFAULT_EXEMPTIONS)) ? resolve(cwd, DEFAULT_EXEMPTIONS) : undefined);
  const exemptions = [...file.exemptions, ...(exFile ? loadExemptions(exFile) : [])];
  const config: PolicyConfig = { checks: file.checks, exemptions };
  const pss = ctx.get<string | undefined>('pss') ?? file.pss;
  if (pss) config.pss = parsePssSpec(pss);
  const select = ctx.get<string[] | undefined>('checks');
  if (select?.length) {
    if (config.pss)
      throw new MoatError('USAGE', '--pss and --checks select checks in different ways: give one of them');
    config.select = select;
  }
  return { config, policyFiles: [...file.policies, ...(ctx.get<string[] | undefined>('policy') ?? [])] };
}
