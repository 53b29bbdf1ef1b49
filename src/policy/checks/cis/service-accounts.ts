import { type JsonObject, podSpecOf } from '../../k8s.js';
import { text } from '../../text.js';
import type { CheckContext, K8sObject } from '../../types.js';
import { lookup, namespaceOf } from './meta.js';

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** The service account a pod spec runs as (`serviceAccount` is the deprecated alias). */
export function serviceAccountOf(spec: JsonObject): string {
  const sa = spec.serviceAccountName ?? spec.serviceAccount;
  return typeof sa === 'string' && sa !== '' ? sa : 'default';
}

export interface TokenMount {
  spec: JsonObject;
  mounted: boolean;
  /** why the token is (or is not) mounted, for messages */
  reason: string;
  /** where to fix it */
  path: string;
}

/**
 * Whether the pod gets a service account token: the pod's automountServiceAccountToken wins when set,
 * otherwise its ServiceAccount's (looked up in the inventory, same namespace); a ServiceAccount that is
 * not in the inventory mounts by default unless `assumeServiceAccountAutomount` is false.
 */
export function tokenMount(obj: K8sObject, ctx: CheckContext): TokenMount | undefined {
  const ref = podSpecOf(obj);
  if (!ref) return undefined;
  const spec = ref.spec;
  const path = text`${ref.path}.automountServiceAccountToken`;
  // static pods (their API objects are mirror pods) never get a service account or a token
  if (obj.kind === 'Pod' && obj.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) {
    return { spec, mounted: false, reason: 'static pod', path };
  }
  if (spec.automountServiceAccountToken === false)
    return { spec, mounted: false, reason: 'pod disables it', path };
  if (spec.automountServiceAccountToken === true) {
    return { spec, mounted: true, reason: 'the pod sets automountServiceAccountToken=true', path };
  }
  const name = serviceAccountOf(spec);
  const ns = namespaceOf(obj);
  const sa = lookup(ctx.inventory, 'ServiceAccount', name, ns ?? 'default');
  if (!sa) {
    const assumed = ctx.params.assumeServiceAccountAutomount !== false;
    return {
      spec,
      mounted: assumed,
      reason: 'automountServiceAccountToken is not false on the pod, and its service account is not known',
      path,
    };
  }
  if (sa.automountServiceAccountToken === false) {
    return { spec, mounted: false, reason: 'its service account disables it', path };
  }
  return {
    spec,
    mounted: true,
    reason: 'automountServiceAccountToken is set to false neither on the pod nor on its service account',
    path,
  };
}
