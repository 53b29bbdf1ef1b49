import { POD_KINDS } from '../k8s.js';
import { text } from '../text.js';
import type { K8sObject, ObjectCheck, Violation } from '../types.js';
import { BASELINE } from './pss/baseline.js';
import { type PssDef, type PssLevel, podOf } from './pss/pod.js';
import { RESTRICTED } from './pss/restricted.js';

export type { PssLevel } from './pss/pod.js';

/**
 * Kubernetes Pod Security Standards, baseline and restricted, at every policy version from v1.0 to
 * PSS_LATEST, with the semantics of the Pod Security admission controller (k8s.io/pod-security-admission).
 * Each PSA check id is one check `pss.<level>.<name>`; `pssCheckIds` says which of them PSA runs at a
 * level and version. See docs/policy/pss.md.
 */

/** newest PSS policy version known, as a minor number (v1.37 -> 37) */
export const PSS_LATEST = 37;

const DEFS: readonly PssDef[] = [...BASELINE, ...RESTRICTED];

const idOf = (d: PssDef) => `pss.${d.level}.${d.name}`;

function toCheck(def: PssDef): ObjectCheck {
  const overridden = def.overrides ? DEFS.find((d) => d.psa === def.overrides) : undefined;
  return {
    id: idOf(def),
    family: 'pss',
    scope: 'object',
    title: def.title,
    description: def.description,
    severity: def.severity,
    remediation: def.remediation,
    category: `Pod Security Standards (${def.level})`,
    kinds: POD_KINDS,
    parameters: [],
    defaultEffect: def.level === 'baseline' ? 'warn' : 'audit',
    references: {
      pss: def.psa,
      level: def.level,
      since: `v1.${def.since}`,
      ...(overridden ? { overrides: idOf(overridden) } : {}),
      docs: `https://kubernetes.io/docs/concepts/security/pod-security-standards/#${def.level}`,
    },
    evaluate(object: K8sObject, ctx): Violation[] {
      // a check that does not exist yet at the chosen policy version allows everything, as in PSA
      const version = Math.min(ctx.pssVersion, PSS_LATEST);
      if (version < def.since) return [];
      const pod = podOf(object);
      if (!pod) return [];
      const found = def.check(pod, version);
      if (!found) return [];
      const v: Violation = { message: text`${found.reason} (${found.detail})` };
      const first = found.spots[0];
      if (first) v.path = first.path;
      // the container, when every spot is in the same one
      if (first?.container !== undefined && found.spots.every((s) => s.container === first.container))
        v.container = first.container;
      return [v];
    },
  };
}

/** One check per PSA check id: baseline first, then restricted-only, each in PSA's order. */
export const PSS_CHECKS: readonly ObjectCheck[] = DEFS.map(toCheck);

/**
 * Ids of the checks PSA runs at a level and policy version (minor number; above PSS_LATEST means the
 * newest, as PSA clamps). Restricted runs the baseline checks too, except those a restricted check
 * in force at that version overrides (hostPath volumes from v1.0, seccomp from v1.19, capabilities from
 * v1.22, procMount from v1.35); checks that do not exist yet at that version are left out.
 */
export function pssCheckIds(level: PssLevel, version: number): string[] {
  const v = Math.min(version, PSS_LATEST);
  const baseline = BASELINE.filter((d) => d.since <= v);
  if (level === 'baseline') return baseline.map(idOf);
  const restricted = RESTRICTED.filter((d) => d.since <= v);
  const overridden = new Set(restricted.map((d) => d.overrides));
  return [...baseline.filter((d) => !overridden.has(d.psa)), ...restricted].map(idOf);
}
