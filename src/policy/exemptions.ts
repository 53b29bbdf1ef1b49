import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { MoatError } from '../errors.js';
import { globMatcher } from './glob.js';
import type { K8sObject, PolicyResult } from './types.js';

/**
 * An exemption: a check (id or glob) for the resources a selector picks, with a reason and an optional
 * expiry date after which it stops applying (and the report says so). Fields of `resource` are globs;
 * `labels` must all match the object's labels. All given fields must match.
 */
export interface Exemption {
  check: string;
  resource?: {
    cluster?: string;
    namespace?: string;
    kind?: string;
    name?: string;
    container?: string;
    labels?: Record<string, string>;
  };
  reason: string;
  /** ISO date (YYYY-MM-DD) or timestamp; exemption applies through that day */
  expires?: string;
  /** where it was written, for messages */
  source?: string;
}

const RESOURCE_KEYS = ['cluster', 'namespace', 'kind', 'name', 'container', 'labels'] as const;

export function matchExemption(ex: Exemption, result: PolicyResult, object: K8sObject, now: Date): boolean {
  if (ex.expires !== undefined && expiryTime(ex.expires) < now.getTime()) return false;
  if (!globMatcher(ex.check)(result.checkId)) return false;
  const sel = ex.resource;
  if (!sel) return true;
  const r = result.resource;
  const fields: Array<[string | undefined, string | undefined]> = [
    [sel.cluster, r.cluster],
    [sel.namespace, r.namespace],
    [sel.kind, r.kind],
    [sel.name, r.name],
    [sel.container, r.container],
  ];
  for (const [pattern, value] of fields) {
    if (pattern !== undefined && !globMatcher(pattern)(value ?? '')) return false;
  }
  if (sel.labels) {
    const labels = object.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(sel.labels)) if (labels[k] !== v) return false;
  }
  return true;
}

/** A date without a time covers the whole day (UTC). */
function expiryTime(s: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(`${s}T23:59:59.999Z`) : Date.parse(s);
}

export function isExpired(ex: Exemption, now: Date): boolean {
  return ex.expires !== undefined && expiryTime(ex.expires) < now.getTime();
}

/** Reads an exemptions file: a YAML list, or `{exemptions: [...]}`. */
export function loadExemptions(file: string): Exemption[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MoatError(
      'USAGE',
      `exemptions file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    throw new MoatError('USAGE', `exemptions file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseExemptions(doc, file);
}

export function parseExemptions(doc: unknown, file: string): Exemption[] {
  const list = doc == null ? [] : Array.isArray(doc) ? doc : (doc as { exemptions?: unknown }).exemptions;
  if (!Array.isArray(list))
    throw new MoatError('USAGE', `exemptions file ${file}: expected a list of exemptions`);
  return list.map((raw, i) => {
    const where = `exemptions file ${file}: entry ${i + 1}`;
    if (typeof raw !== 'object' || raw === null) throw new MoatError('USAGE', `${where}: expected a mapping`);
    const e = raw as Record<string, unknown>;
    if (typeof e.check !== 'string' || !e.check)
      throw new MoatError('USAGE', `${where}: "check" (a check id or glob) is required`);
    if (typeof e.reason !== 'string' || !e.reason.trim())
      throw new MoatError('USAGE', `${where}: "reason" is required`);
    let expires: string | undefined;
    if (e.expires !== undefined) {
      // js-yaml reads an unquoted date as a Date
      expires = e.expires instanceof Date ? e.expires.toISOString().slice(0, 10) : String(e.expires);
      if (Number.isNaN(expiryTime(expires)))
        throw new MoatError('USAGE', `${where}: "expires" is not a date: ${expires}`);
    }
    let resource: Exemption['resource'];
    if (e.resource !== undefined) {
      if (typeof e.resource !== 'object' || e.resource === null)
        throw new MoatError('USAGE', `${where}: "resource" must be a mapping`);
      const r = e.resource as Record<string, unknown>;
      for (const k of Object.keys(r)) {
        if (!(RESOURCE_KEYS as readonly string[]).includes(k)) {
          throw new MoatError(
            'USAGE',
            `${where}: unknown resource field "${k}" (expected ${RESOURCE_KEYS.join(', ')})`,
          );
        }
      }
      resource = {};
      for (const k of ['cluster', 'namespace', 'kind', 'name', 'container'] as const) {
        if (r[k] !== undefined) resource[k] = String(r[k]);
      }
      if (r.labels !== undefined) {
        if (typeof r.labels !== 'object' || r.labels === null)
          throw new MoatError('USAGE', `${where}: "labels" must be a mapping`);
        resource.labels = Object.fromEntries(Object.entries(r.labels).map(([k, v]) => [k, String(v)]));
      }
    }
    return {
      check: e.check,
      reason: e.reason,
      ...(resource ? { resource } : {}),
      ...(expires ? { expires } : {}),
      source: file,
    };
  });
}
