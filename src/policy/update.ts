import { isObject, podSpecOf } from './k8s.js';
import type { K8sMetadata, K8sObject } from './types.js';

/**
 * The "unchanged UPDATE" rule of the admission door. Kubernetes' Pod Security admission evaluates a pod
 * UPDATE only when it is significant (pod-security-admission/admission/admission.go,
 * isSignificantPodUpdate): a changed image, a changed seccomp annotation, containers added or removed, an
 * ephemeral container added. Everything else a pod UPDATE can change is metadata (labels, most
 * annotations, finalizers, owner references) or fields no policy reads, because the API server rejects
 * changes to the rest of a pod's spec. Gatekeeper's library templates skip UPDATEs of those immutable
 * fields altogether (their `update.yaml` samples).
 *
 * Pod-template owners (Deployment, CronJob...) have a mutable template, so for every kind the rule here is:
 * the UPDATE is unchanged when the pod spec is deep-equal to the old one and the annotations that pod
 * checks read (seccomp and AppArmor, pod- and container-level) are equal. Labels and other annotations
 * may change freely, as may anything outside the pod template (replicas, strategy, status...).
 */

/** Annotation prefixes pod-spec checks read (PSS seccomp/AppArmor for old versions, Defender's AppArmor). */
const SECURITY_ANNOTATIONS = [
  'seccomp.security.alpha.kubernetes.io/',
  'container.seccomp.security.alpha.kubernetes.io/',
  'container.apparmor.security.beta.kubernetes.io/',
] as const;

/**
 * True when an UPDATE of `object` from `oldObject` leaves the pod spec and its security annotations as
 * they were, so the request can be allowed without evaluating pod-spec checks. False for objects without
 * a pod spec (Services, Ingresses... are evaluated on every UPDATE) and when the kind changed.
 *
 * Without an old object (the API server always sends one with an UPDATE; hand-made reviews such as
 * Gatekeeper's samples may not), a Pod counts as unchanged, because the API server keeps a pod's spec
 * immutable apart from images; a pod-template owner, whose template is mutable, does not.
 */
export function unchangedPodSpecUpdate(object: K8sObject, oldObject: K8sObject | undefined): boolean {
  const ref = podSpecOf(object);
  if (!ref) return false;
  if (!oldObject) return object.kind === 'Pod';
  if (oldObject.kind !== object.kind) return false;
  const old = podSpecOf(oldObject);
  if (!old) return false;
  return deepEqual(ref.spec, old.spec) && sameSecurityAnnotations(ref.metadata, old.metadata);
}

function sameSecurityAnnotations(a: K8sMetadata, b: K8sMetadata): boolean {
  const x = a.annotations ?? {};
  const y = b.annotations ?? {};
  for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (!SECURITY_ANNOTATIONS.some((p) => key.startsWith(p))) continue;
    if (x[key] !== y[key]) return false;
  }
  return true;
}

/** Structural equality of JSON values; key order is irrelevant, array order is not. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}
