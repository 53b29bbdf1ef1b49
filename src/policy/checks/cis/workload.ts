import { containersOf, isObject, type JsonObject, POD_KINDS, podSpecOf } from '../../k8s.js';
import { text } from '../../text.js';
import type { ObjectCheck, Violation } from '../../types.js';
import { anyGlob, cisMeta, EXCLUDED_NAMESPACES_PARAM, stringList } from './meta.js';

function securityContext(o: JsonObject): JsonObject | undefined {
  return isObject(o.securityContext) ? o.securityContext : undefined;
}

function isWindows(spec: JsonObject): boolean {
  return isObject(spec.os) && spec.os.name === 'windows';
}

const secretsInEnv: ObjectCheck = {
  ...cisMeta('5.4.1'),
  scope: 'object',
  kinds: POD_KINDS,
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'allowedSecrets',
      type: 'string-list',
      description: 'Secret names (`*` globs) that may be read into environment variables',
      default: [],
    },
  ],
  evaluate(obj, ctx) {
    const ref = podSpecOf(obj);
    if (!ref) return [];
    const allowed = anyGlob(ctx.params.allowedSecrets);
    const out: Violation[] = [];
    for (const c of containersOf(ref)) {
      const env = Array.isArray(c.container.env) ? c.container.env : [];
      env.forEach((e, i) => {
        const sk = isObject(e) && isObject(e.valueFrom) ? e.valueFrom.secretKeyRef : undefined;
        if (!isObject(sk) || allowed(String(sk.name ?? ''))) return;
        out.push({
          message: text`container "${c.name}" reads key "${String(sk.key)}" of Secret "${String(sk.name)}" into environment variable ${String(e.name)}`,
          container: c.name,
          path: text`${c.path}.env[${i}].valueFrom.secretKeyRef`,
        });
      });
      const envFrom = Array.isArray(c.container.envFrom) ? c.container.envFrom : [];
      envFrom.forEach((e, i) => {
        const sr = isObject(e) ? e.secretRef : undefined;
        if (!isObject(sr) || allowed(String(sr.name ?? ''))) return;
        out.push({
          message: text`container "${c.name}" loads every key of Secret "${String(sr.name)}" into its environment`,
          container: c.name,
          path: text`${c.path}.envFrom[${i}].secretRef`,
        });
      });
    }
    return out;
  },
};

const POD_SECCOMP_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const CONTAINER_SECCOMP_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';

/** The seccomp profile type a securityContext or legacy annotation value sets, in securityContext terms. */
function seccompType(sc: JsonObject | undefined): string | undefined {
  const p = sc?.seccompProfile;
  return isObject(p) && typeof p.type === 'string' ? p.type : undefined;
}

// The alpha annotations (removed in Kubernetes 1.27) named the runtime default docker/default or
// runtime/default, and custom profiles localhost/<path>
function annotationType(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === 'runtime/default' || v === 'docker/default') return 'RuntimeDefault';
  if (v.startsWith('localhost/')) return 'Localhost';
  return v === 'unconfined' ? 'Unconfined' : v;
}

const seccomp: ObjectCheck = {
  ...cisMeta('5.7.2', { pss: ['pss.baseline.seccompProfile', 'pss.restricted.seccompProfile'] }),
  scope: 'object',
  kinds: POD_KINDS,
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'allowedProfiles',
      type: 'string-list',
      description: 'seccompProfile types that satisfy the control (RuntimeDefault is docker/default)',
      default: ['RuntimeDefault', 'Localhost'],
    },
    {
      name: 'allowLegacyAnnotations',
      type: 'boolean',
      description:
        'honour the seccomp.security.alpha.kubernetes.io annotations (ignored by Kubernetes 1.27 and later)',
      default: true,
    },
  ],
  evaluate(obj, ctx) {
    const ref = podSpecOf(obj);
    if (!ref || isWindows(ref.spec)) return [];
    const allowed = stringList(ctx.params.allowedProfiles);
    const legacy = ctx.params.allowLegacyAnnotations === true;
    const ann = ref.metadata.annotations ?? {};
    const hasAnnotations = ref.metadata.annotations !== undefined;
    const podType =
      seccompType(securityContext(ref.spec)) ??
      (legacy ? annotationType(ann[POD_SECCOMP_ANNOTATION]) : undefined);
    const out: Violation[] = [];
    for (const c of containersOf(ref)) {
      // a container's own profile overrides the pod's
      const own =
        seccompType(securityContext(c.container)) ??
        (legacy && hasAnnotations
          ? annotationType(ann[`${CONTAINER_SECCOMP_ANNOTATION}${c.name}`])
          : undefined);
      const type = own ?? podType;
      if (type !== undefined && allowed.includes(type)) continue;
      out.push({
        message:
          type === undefined
            ? text`container "${c.name}" runs without a seccomp profile (neither the pod nor the container sets securityContext.seccompProfile)`
            : text`container "${c.name}" uses seccomp profile ${type}`,
        container: c.name,
        path:
          own !== undefined
            ? text`${c.path}.securityContext.seccompProfile.type`
            : text`${ref.path}.securityContext.seccompProfile`,
      });
    }
    return out;
  },
};

/** The security context settings 5.7.3 can require, each with the value that satisfies it. */
const SETTINGS: Record<
  string,
  { want: string; linuxOnly: boolean; ok: (c: JsonObject, pod: JsonObject) => boolean }
> = {
  runAsNonRoot: {
    want: 'runAsNonRoot=true (or a non-zero runAsUser)',
    linuxOnly: false,
    ok: (c, pod) => {
      const nonRoot = c.runAsNonRoot ?? pod.runAsNonRoot;
      const user = c.runAsUser ?? pod.runAsUser;
      return nonRoot === true || (typeof user === 'number' && user > 0);
    },
  },
  allowPrivilegeEscalation: {
    want: 'allowPrivilegeEscalation=false',
    linuxOnly: true,
    ok: (c) => c.allowPrivilegeEscalation === false,
  },
  readOnlyRootFilesystem: {
    want: 'readOnlyRootFilesystem=true',
    linuxOnly: true,
    ok: (c) => c.readOnlyRootFilesystem === true,
  },
  'capabilities.drop': {
    want: 'capabilities.drop=[ALL]',
    linuxOnly: true,
    ok: (c) => isObject(c.capabilities) && stringList(c.capabilities.drop).includes('ALL'),
  },
  seccompProfile: {
    want: 'seccompProfile.type=RuntimeDefault or Localhost',
    linuxOnly: true,
    ok: (c, pod) => {
      const t = seccompType(c) ?? seccompType(pod);
      return t === 'RuntimeDefault' || t === 'Localhost';
    },
  },
};

type Setting = (typeof SETTINGS)[string];
// resolved once per parameter value (the engine passes the same array for every object)
const settingsCache = new WeakMap<object, { linux: Setting[]; windows: Setting[] }>();

function requiredSettings(param: unknown, windows: boolean): readonly Setting[] {
  const names = stringList(param);
  let cached = settingsCache.get(names);
  if (!cached) {
    const linux = names.flatMap((n) => (SETTINGS[n] ? [SETTINGS[n]] : []));
    cached = { linux, windows: linux.filter((s) => !s.linuxOnly) };
    settingsCache.set(names, cached);
  }
  return windows ? cached.windows : cached.linux;
}

const NONE: JsonObject = {};

const securityContextApplied: ObjectCheck = {
  ...cisMeta('5.7.3', {
    pss: [
      'pss.restricted.allowPrivilegeEscalation',
      'pss.restricted.runAsNonRoot',
      'pss.restricted.capabilities',
    ],
  }),
  scope: 'object',
  kinds: POD_KINDS,
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'requiredSettings',
      type: 'string-list',
      description: `security context settings every container must have (effective, pod settings included); any of ${Object.keys(SETTINGS).join(', ')}`,
      default: ['runAsNonRoot', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'capabilities.drop'],
    },
  ],
  evaluate(obj, ctx) {
    const ref = podSpecOf(obj);
    if (!ref) return [];
    const required = requiredSettings(ctx.params.requiredSettings, isWindows(ref.spec));
    const pod = securityContext(ref.spec);
    const out: Violation[] = [];
    for (const c of containersOf(ref)) {
      const sc = securityContext(c.container);
      if (!sc && !pod) {
        out.push({
          message: text`container "${c.name}" has no security context (neither the pod nor the container sets securityContext)`,
          container: c.name,
          path: text`${c.path}.securityContext`,
        });
        continue;
      }
      let missing: string | undefined;
      for (const s of required) {
        if (s.ok(sc ?? NONE, pod ?? NONE)) continue;
        missing = missing === undefined ? s.want : text`${missing}, ${s.want}`;
      }
      if (missing === undefined) continue;
      out.push({
        message: text`container "${c.name}" security context does not set ${missing}`,
        container: c.name,
        path: text`${c.path}.securityContext`,
      });
    }
    return out;
  },
};

export const WORKLOAD_CHECKS: readonly ObjectCheck[] = [secretsInEnv, seccomp, securityContextApplied];
