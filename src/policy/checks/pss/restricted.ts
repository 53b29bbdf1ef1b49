import { isObject } from '../../k8s.js';
import { joined, text } from '../../text.js';
import { unmaskedProcMount, validSeccompType } from './baseline.js';
import {
  containerList,
  display,
  objectAt,
  type PssDef,
  pluralize,
  quoteList,
  quoteSorted,
  Setters,
  type Spot,
  scOf,
} from './pod.js';

/*
 * The restricted-only Pod Security Standards checks (PSA semantics at every policy version):
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 * Restricted also runs every baseline check except those an `overrides` entry here replaces.
 */

/** Inline volume sources restricted allows; `image` was added without a version gate, so it counts at every version. */
const ALLOWED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/**
 * Every other VolumeSource field of core/v1. Keys that are no volume source at all would be dropped by the
 * API server's decoder (which then defaults the volume to emptyDir), so they are not reported.
 */
const RESTRICTED_VOLUMES = new Set([
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
]);

/** From policy v1.25 these checks skip `spec.os.name: windows` pods, which cannot set the Linux-only fields. */
const WINDOWS_EXEMPT_SINCE = 25;
/** From policy v1.35 runAsNonRoot and runAsUser skip pods in a user namespace (KEP-127). */
const USERNS_RELAXED_SINCE = 35;

const restrictedVolumes: PssDef = {
  name: 'restrictedVolumes',
  psa: 'restrictedVolumes',
  level: 'restricted',
  since: 0,
  overrides: 'hostPathVolumes',
  severity: 'MEDIUM',
  title: 'Only ephemeral, projected and claim volumes may be used',
  description:
    'Restricted pods may use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes; hostPath and direct network or cloud volume sources are forbidden (this check replaces the baseline hostPath check).',
  remediation:
    'Replace hostPath, nfs, gitRepo and other inline volume sources with a persistentVolumeClaim (the PersistentVolume carries the storage details) or one of the allowed types.',
  check(pod) {
    const volumes = pod.spec.volumes;
    if (!Array.isArray(volumes)) return undefined;
    const names: string[] = [];
    const types: string[] = [];
    const spots: Spot[] = [];
    volumes.forEach((v, i) => {
      if (!isObject(v)) return;
      // a volume with no source at all is defaulted to emptyDir by the API server
      const bad = Object.keys(v).find(
        (k) => RESTRICTED_VOLUMES.has(k) && v[k] !== null && v[k] !== undefined,
      );
      if (!bad || Object.keys(v).some((k) => ALLOWED_VOLUMES.has(k) && isObject(v[k]))) return;
      names.push(typeof v.name === 'string' ? v.name : `volumes[${i}]`);
      types.push(bad);
      spots.push({ path: text`${pod.ref.path}.volumes[${i}].${bad}` });
    });
    if (!names.length) return undefined;
    const distinct = new Set(types).size;
    return {
      reason: 'restricted volume types',
      detail: text`${pluralize('volume', 'volumes', names.length)} ${quoteList(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('restricted volume type', 'restricted volume types', distinct)} ${quoteSorted(types)}`,
      spots,
    };
  },
};

const allowPrivilegeEscalation: PssDef = {
  name: 'allowPrivilegeEscalation',
  psa: 'allowPrivilegeEscalation',
  level: 'restricted',
  since: 8,
  severity: 'MEDIUM',
  title: 'Privilege escalation must be disabled',
  description:
    'Unless allowPrivilegeEscalation is false, a process can gain privileges through set-user-ID binaries or file capabilities (no_new_privs is not set). Windows pods are exempt from policy v1.25.',
  remediation:
    'Set securityContext.allowPrivilegeEscalation: false on every container, init and ephemeral container.',
  check(pod, version) {
    if (version >= WINDOWS_EXEMPT_SINCE && pod.windows) return undefined;
    const s = new Setters();
    for (const c of pod.containers) {
      if (scOf(c)?.allowPrivilegeEscalation !== false) {
        s.addContainer(c, text`${c.path}.securityContext.allowPrivilegeEscalation`);
      }
    }
    if (s.empty) return undefined;
    return {
      reason: 'allowPrivilegeEscalation != false',
      detail: text`${s.subject()} must set securityContext.allowPrivilegeEscalation=false`,
      spots: s.spots,
    };
  },
};

const runAsNonRoot: PssDef = {
  name: 'runAsNonRoot',
  psa: 'runAsNonRoot',
  level: 'restricted',
  since: 0,
  severity: 'MEDIUM',
  title: 'Containers must run as non-root',
  description:
    'runAsNonRoot: true (on the pod, or on every container) makes the kubelet refuse to start a container whose user is root. From policy v1.35 pods in a user namespace (hostUsers: false) are exempt.',
  remediation:
    'Set spec.securityContext.runAsNonRoot: true (or on every container), do not set it to false anywhere, and give the image a non-root USER.',
  check(pod, version) {
    if (version >= USERNS_RELAXED_SINCE && pod.userNamespace) return undefined;
    const explicit = new Setters();
    const podValue = pod.sc?.runAsNonRoot;
    if (podValue === false) explicit.addPod(text`${pod.ref.path}.securityContext.runAsNonRoot`);
    const implicit = new Setters();
    for (const c of pod.containers) {
      const v = scOf(c)?.runAsNonRoot;
      const path = text`${c.path}.securityContext.runAsNonRoot`;
      if (v === false) explicit.addContainer(c, path);
      else if (v !== true && podValue !== true) implicit.addContainer(c, path);
    }
    if (!explicit.empty) {
      return {
        reason: 'runAsNonRoot != true',
        detail: text`${explicit.subject()} must not set securityContext.runAsNonRoot=false`,
        spots: explicit.spots,
      };
    }
    if (implicit.empty) return undefined;
    return {
      reason: 'runAsNonRoot != true',
      detail: text`pod or ${implicit.subject()} must set securityContext.runAsNonRoot=true`,
      spots: implicit.spots,
    };
  },
};

const runAsUser: PssDef = {
  name: 'runAsUser',
  psa: 'runAsUser',
  level: 'restricted',
  since: 23,
  severity: 'MEDIUM',
  title: 'Containers must not run as UID 0',
  description:
    'runAsUser: 0 runs the container as root whatever the image says. From policy v1.35 pods in a user namespace (hostUsers: false) are exempt.',
  remediation: 'Remove runAsUser: 0 from the pod and container security contexts, or set a non-zero UID.',
  check(pod, version) {
    if (version >= USERNS_RELAXED_SINCE && pod.userNamespace) return undefined;
    const s = new Setters();
    if (pod.sc?.runAsUser === 0) s.addPod(text`${pod.ref.path}.securityContext.runAsUser`);
    for (const c of pod.containers) {
      if (scOf(c)?.runAsUser === 0) s.addContainer(c, text`${c.path}.securityContext.runAsUser`);
    }
    if (s.empty) return undefined;
    return { reason: 'runAsUser=0', detail: text`${s.subject()} must not set runAsUser=0`, spots: s.spots };
  },
};

const seccompProfile: PssDef = {
  name: 'seccompProfile',
  psa: 'seccompProfile_restricted',
  level: 'restricted',
  since: 19,
  overrides: 'seccompProfile_baseline',
  severity: 'MEDIUM',
  title: 'A seccomp profile must be set',
  description:
    'Restricted requires securityContext.seccompProfile.type RuntimeDefault or Localhost on the pod (or on every container); unset means Unconfined on most runtimes. Windows pods are exempt from policy v1.25.',
  remediation:
    'Set spec.securityContext.seccompProfile.type: RuntimeDefault (or Localhost with a profile) and do not override it with Unconfined in a container.',
  check(pod, version) {
    if (version >= WINDOWS_EXEMPT_SINCE && pod.windows) return undefined;
    const explicit = new Setters();
    const values: string[] = [];
    const podProfile = objectAt(pod.sc, 'seccompProfile');
    const podSet = podProfile !== undefined && validSeccompType(podProfile.type);
    if (podProfile && !podSet) {
      explicit.addPod(text`${pod.ref.path}.securityContext.seccompProfile.type`);
      values.push(display(podProfile.type ?? ''));
    }
    const implicit = new Setters();
    for (const c of pod.containers) {
      const p = objectAt(scOf(c), 'seccompProfile');
      const path = text`${c.path}.securityContext.seccompProfile.type`;
      if (p) {
        if (validSeccompType(p.type)) continue;
        explicit.addContainer(c, path);
        values.push(display(p.type ?? ''));
      } else if (!podSet) implicit.addContainer(c, path);
    }
    if (!explicit.empty) {
      return {
        reason: 'seccompProfile',
        detail: text`${explicit.subject()} must not set securityContext.seccompProfile.type to ${quoteSorted(values)}`,
        spots: explicit.spots,
      };
    }
    if (implicit.empty) return undefined;
    return {
      reason: 'seccompProfile',
      detail: text`pod or ${implicit.subject()} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      spots: implicit.spots,
    };
  },
};

const capabilities: PssDef = {
  name: 'capabilities',
  psa: 'capabilities_restricted',
  level: 'restricted',
  since: 22,
  overrides: 'capabilities_baseline',
  severity: 'MEDIUM',
  title: 'Containers must drop ALL capabilities',
  description:
    'Restricted containers must drop ALL capabilities and may add back only NET_BIND_SERVICE (this check replaces the baseline capabilities check). Windows pods are exempt from policy v1.25.',
  remediation:
    'Set securityContext.capabilities.drop: ["ALL"] on every container and add at most NET_BIND_SERVICE.',
  check(pod, version) {
    if (version >= WINDOWS_EXEMPT_SINCE && pod.windows) return undefined;
    const missingDrop = new Setters();
    const adding = new Setters();
    const added: string[] = [];
    for (const c of pod.containers) {
      const caps = objectAt(scOf(c), 'capabilities');
      const drop = caps?.drop;
      if (!Array.isArray(drop) || !drop.includes('ALL')) {
        missingDrop.addContainer(c, text`${c.path}.securityContext.capabilities.drop`);
      }
      const add = caps?.add;
      if (!Array.isArray(add)) continue;
      add.forEach((cap, i) => {
        if (cap === 'NET_BIND_SERVICE') return;
        adding.addContainer(c, text`${c.path}.securityContext.capabilities.add[${i}]`);
        added.push(display(cap));
      });
    }
    const details: string[] = [];
    if (!missingDrop.empty) {
      details.push(
        text`${containerList(missingDrop.containers)} must set securityContext.capabilities.drop=["ALL"]`,
      );
    }
    if (!adding.empty) {
      details.push(
        text`${containerList(adding.containers)} must not include ${quoteSorted(added)} in securityContext.capabilities.add`,
      );
    }
    if (!details.length) return undefined;
    return {
      reason: 'unrestricted capabilities',
      detail: joined(details, '; '),
      spots: [...missingDrop.spots, ...adding.spots],
    };
  },
};

const procMount: PssDef = {
  name: 'procMount',
  psa: 'procMount_restricted',
  level: 'restricted',
  since: 35,
  overrides: 'procMount',
  severity: 'MEDIUM',
  title: 'The default /proc masks must be kept, even in a user namespace',
  description:
    'From policy v1.35 baseline lets user-namespace pods unmask /proc; restricted keeps forbidding any procMount but Default (this check replaces the baseline procMount check).',
  remediation: 'Remove securityContext.procMount from every container or set it to Default.',
  check(pod) {
    return unmaskedProcMount(pod);
  },
};

/** Restricted-only checks in PSA's order. */
export const RESTRICTED: readonly PssDef[] = [
  restrictedVolumes,
  allowPrivilegeEscalation,
  runAsNonRoot,
  seccompProfile,
  capabilities,
  runAsUser,
  procMount,
];
