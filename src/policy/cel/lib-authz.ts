import type { Environment } from '@marcbachmann/cel-js';
import { celError, fn } from './values.js';

/**
 * Kubernetes' authorizer library (k8s.io/apiserver/pkg/cel/library/authz.go), declared so that policies
 * using `authorizer` compile, but every check fails at evaluation: moat evaluates policies without an API
 * server to ask (posture from manifests, the webhook outside the API server). A failing expression is an
 * evaluation error, which the policy's failurePolicy turns into a violation (Fail) or nothing (Ignore).
 */
export const AUTHORIZER_UNAVAILABLE =
  'authorizer checks are not available: moat evaluates policies without access to the cluster authorizer';

const fail = (): never => {
  throw celError('authorizer_unavailable', AUTHORIZER_UNAVAILABLE);
};

export class Authorizer {
  get requestResource(): never {
    return fail();
  }
}
class PathCheck {}
class GroupCheck {}
class ResourceCheck {}
class Decision {}

export function registerAuthz(env: Environment): void {
  env.registerType('kubernetes.authorization.ResourceCheck', ResourceCheck);
  env.registerType('kubernetes.authorization.Authorizer', {
    ctor: Authorizer,
    fields: { requestResource: 'kubernetes.authorization.ResourceCheck' },
  });
  env.registerType('kubernetes.authorization.PathCheck', PathCheck);
  env.registerType('kubernetes.authorization.GroupCheck', GroupCheck);
  env.registerType('kubernetes.authorization.Decision', Decision);
  const A = 'kubernetes.authorization.Authorizer';
  const R = 'kubernetes.authorization.ResourceCheck';
  const D = 'kubernetes.authorization.Decision';
  for (const sig of [
    `${A}.path(string): kubernetes.authorization.PathCheck`,
    `${A}.group(string): kubernetes.authorization.GroupCheck`,
    `${A}.serviceAccount(string, string): ${A}`,
    `kubernetes.authorization.PathCheck.check(string): ${D}`,
    `kubernetes.authorization.GroupCheck.resource(string): ${R}`,
    `${R}.subresource(string): ${R}`,
    `${R}.namespace(string): ${R}`,
    `${R}.name(string): ${R}`,
    `${R}.fieldSelector(string): ${R}`,
    `${R}.labelSelector(string): ${R}`,
    `${R}.check(string): ${D}`,
    `${D}.allowed(): bool`,
    `${D}.reason(): string`,
    `${D}.errored(): bool`,
    `${D}.error(): string`,
  ]) {
    fn(env, sig, fail);
  }
}
