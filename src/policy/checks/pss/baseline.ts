import { type ContainerRef, isObject } from '../../k8s.js';
import { joined, text } from '../../text.js';
import {
  containerList,
  display,
  type Finding,
  objectAt,
  type Pod,
  type PssDef,
  pluralize,
  quoteList,
  quoteSorted,
  Setters,
  type Spot,
  scOf,
} from './pod.js';

/*
 * The Pod Security Standards baseline checks, following the semantics of Kubernetes' Pod Security
 * admission (k8s.io/pod-security-admission/policy/check_*.go) at every policy version from v1.0:
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
 * Reasons match PSA's forbidden reasons, so messages read like the API server's warnings.
 */

/** Linux capabilities a baseline container may add: the container runtimes' default set (exact names). */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Safe (namespaced, isolated) sysctls, by the policy version that first allows them. */
const SAFE_SYSCTLS: ReadonlyArray<readonly [number, readonly string[]]> = [
  [
    0,
    [
      'kernel.shm_rmid_forced',
      'net.ipv4.ip_local_port_range',
      'net.ipv4.tcp_syncookies',
      'net.ipv4.ping_group_range',
      'net.ipv4.ip_unprivileged_port_start',
    ],
  ],
  [27, ['net.ipv4.ip_local_reserved_ports']],
  [
    29,
    [
      'net.ipv4.tcp_keepalive_time',
      'net.ipv4.tcp_fin_timeout',
      'net.ipv4.tcp_keepalive_intvl',
      'net.ipv4.tcp_keepalive_probes',
    ],
  ],
  [32, ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']],
  [37, ['net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat']],
];

const sysctlSets = new Map<number, Set<string>>();

/** The safe sysctls at a policy version. */
export function safeSysctls(version: number): ReadonlySet<string> {
  let set = sysctlSets.get(version);
  if (!set) {
    set = new Set();
    for (const [since, names] of SAFE_SYSCTLS) if (since <= version) for (const n of names) set.add(n);
    sysctlSets.set(version, set);
  }
  return set;
}

/** SELinux types a baseline pod may set (empty = the runtime's default); container_engine_t from v1.31. */
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const SELINUX_TYPES_1_31 = new Set([...SELINUX_TYPES, 'container_engine_t']);

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';
const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';

const annotationPath = (pod: Pod, key: string) =>
  `${pod.ref.metadataPath}.annotations[${JSON.stringify(key)}]`;

export function validSeccompType(t: unknown): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}

/** Seccomp annotation values baseline accepted before the field existed (v1.0-v1.18). */
function validSeccompAnnotation(v: string): boolean {
  return v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');
}

function validAppArmorAnnotation(v: string): boolean {
  return v === '' || v === 'runtime/default' || v.startsWith('localhost/');
}

/** Containers whose securityContext field is `true`: privileged, windowsOptions.hostProcess. */
function truthySetters(pod: Pod, field: readonly string[], includePod: boolean): Setters {
  const s = new Setters();
  if (includePod && isTrueAt(pod.sc, field))
    s.addPod(text`${pod.ref.path}.securityContext.${field.join('.')}`);
  for (const c of pod.containers) {
    if (isTrueAt(c.container.securityContext, field)) {
      s.addContainer(c, text`${c.path}.securityContext.${field.join('.')}`);
    }
  }
  return s;
}

function isTrueAt(o: unknown, field: readonly string[]): boolean {
  let cur = o;
  for (const k of field) cur = isObject(cur) ? cur[k] : undefined;
  return cur === true;
}

/** procMount other than `Default` (shared with the restricted procMount check). */
export function unmaskedProcMount(pod: Pod): Finding | undefined {
  const s = new Setters();
  const values: string[] = [];
  for (const c of pod.containers) {
    const v = scOf(c)?.procMount;
    if (v === undefined || v === null || v === 'Default') continue;
    s.addContainer(c, text`${c.path}.securityContext.procMount`);
    values.push(display(v));
  }
  if (s.empty) return undefined;
  return {
    reason: 'procMount',
    detail: text`${s.subject()} must not set securityContext.procMount to ${quoteSorted(values)}`,
    spots: s.spots,
  };
}

const hostNamespaces: PssDef = {
  name: 'hostNamespaces',
  psa: 'hostNamespaces',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'Host namespaces must not be shared',
  description:
    "Sharing the node's network, PID or IPC namespace (hostNetwork, hostPID, hostIPC) lets a pod see and reach host processes, interfaces and shared memory.",
  remediation:
    'Remove spec.hostNetwork, spec.hostPID and spec.hostIPC from the pod spec, or set them to false.',
  check(pod) {
    const set = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => pod.spec[k] === true);
    if (!set.length) return undefined;
    return {
      reason: 'host namespaces',
      detail: joined(
        set.map((k) => text`${k}=true`),
        ', ',
      ),
      spots: set.map((k) => ({ path: text`${pod.ref.path}.${k}` })),
    };
  },
};

const privileged: PssDef = {
  name: 'privileged',
  psa: 'privileged',
  level: 'baseline',
  since: 0,
  severity: 'CRITICAL',
  title: 'Containers must not be privileged',
  description:
    'A privileged container has every capability and access to all host devices; it can take over the node.',
  remediation: 'Remove securityContext.privileged from every container, or set it to false.',
  check(pod) {
    const s = truthySetters(pod, ['privileged'], false);
    if (s.empty) return undefined;
    return {
      reason: 'privileged',
      detail: text`${s.subject()} must not set securityContext.privileged=true`,
      spots: s.spots,
    };
  },
};

const capabilities: PssDef = {
  name: 'capabilities',
  psa: 'capabilities_baseline',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'Containers must not add capabilities beyond the default set',
  description:
    'Adding NET_RAW, SYS_ADMIN or any capability outside the runtime default set widens what a compromised container can do to the node and its neighbours.',
  remediation:
    'Limit securityContext.capabilities.add to AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT (upper case, without the CAP_ prefix).',
  check(pod) {
    const s = new Setters();
    const bad: string[] = [];
    for (const c of pod.containers) {
      const add = objectAt(scOf(c), 'capabilities')?.add;
      if (!Array.isArray(add)) continue;
      add.forEach((cap, i) => {
        if (typeof cap === 'string' && BASELINE_CAPABILITIES.has(cap)) return;
        s.addContainer(c, text`${c.path}.securityContext.capabilities.add[${i}]`);
        bad.push(display(cap));
      });
    }
    if (s.empty) return undefined;
    return {
      reason: 'non-default capabilities',
      detail: text`${s.subject()} must not include ${quoteSorted(bad)} in securityContext.capabilities.add`,
      spots: s.spots,
    };
  },
};

/** Volumes with a hostPath source, by name, with their paths. */
function hostPathVolumes(pod: Pod): { names: string[]; spots: Spot[] } {
  const names: string[] = [];
  const spots: Spot[] = [];
  const volumes = pod.spec.volumes;
  if (!Array.isArray(volumes)) return { names, spots };
  volumes.forEach((v, i) => {
    if (!isObject(v) || v.hostPath === undefined || v.hostPath === null) return;
    names.push(typeof v.name === 'string' ? v.name : `volumes[${i}]`);
    spots.push({ path: text`${pod.ref.path}.volumes[${i}].hostPath` });
  });
  return { names, spots };
}

const hostPathVolumesCheck: PssDef = {
  name: 'hostPathVolumes',
  psa: 'hostPathVolumes',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'hostPath volumes must not be used',
  description:
    "A hostPath volume mounts a directory of the node into the pod: node credentials, the container runtime socket or the kubelet's files are one path away.",
  remediation:
    'Replace hostPath volumes with emptyDir, configMap, secret, projected or persistentVolumeClaim volumes.',
  check(pod) {
    const { names, spots } = hostPathVolumes(pod);
    if (!names.length) return undefined;
    return {
      reason: 'hostPath volumes',
      detail: text`${pluralize('volume', 'volumes', names.length)} ${quoteList(names)}`,
      spots,
    };
  },
};

const hostPorts: PssDef = {
  name: 'hostPorts',
  psa: 'hostPorts',
  level: 'baseline',
  since: 0,
  severity: 'MEDIUM',
  title: 'Containers must not bind host ports',
  description:
    "A hostPort binds the node's network interface, bypassing Services and NetworkPolicies and limiting scheduling.",
  remediation:
    'Remove ports[].hostPort from every container (or set it to 0); expose the pod through a Service.',
  check(pod) {
    const s = new Setters();
    const ports: string[] = [];
    for (const c of pod.containers) {
      const list = c.container.ports;
      if (!Array.isArray(list)) continue;
      list.forEach((p, i) => {
        const hp = isObject(p) ? p.hostPort : undefined;
        if (hp === undefined || hp === null || Number(hp) === 0) return;
        s.addContainer(c, text`${c.path}.ports[${i}].hostPort`);
        if (!ports.includes(display(hp))) ports.push(display(hp));
      });
    }
    if (s.empty) return undefined;
    ports.sort((a, b) => Number(a) - Number(b));
    return {
      reason: 'hostPort',
      detail: text`${s.subject()} ${pluralize('uses', 'use', s.containers.length)} ${pluralize('hostPort', 'hostPorts', ports.length)} ${ports.join(', ')}`,
      spots: s.spots,
    };
  },
};

const appArmorProfile: PssDef = {
  name: 'appArmorProfile',
  psa: 'appArmorProfile',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'AppArmor must not be disabled or overridden',
  description:
    "Setting the AppArmor profile to unconfined (field or annotation) removes the runtime's default confinement. PSA checks the securityContext.appArmorProfile field (Kubernetes 1.30+) and the beta annotations at every policy version.",
  remediation:
    'Set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (or leave it unset), and remove container.apparmor.security.beta.kubernetes.io/* annotations whose value is not runtime/default or localhost/<profile>.',
  check(pod) {
    const s = new Setters();
    const values: string[] = [];
    const podType = objectAt(pod.sc, 'appArmorProfile');
    if (podType && !validAppArmorType(podType.type)) {
      s.addPod(text`${pod.ref.path}.securityContext.appArmorProfile.type`);
      values.push(display(podType.type ?? ''));
    }
    for (const c of pod.containers) {
      const p = objectAt(scOf(c), 'appArmorProfile');
      if (!p || validAppArmorType(p.type)) continue;
      s.addContainer(c, text`${c.path}.securityContext.appArmorProfile.type`);
      values.push(display(p.type ?? ''));
    }
    const parts: string[] = [];
    if (!s.empty)
      parts.push(text`${s.subject()} must not set AppArmor profile type to ${quoteSorted(values)}`);
    // the beta annotations name their container in the key suffix
    const annotations = pod.ref.metadata.annotations;
    const badAnnotations: string[] = [];
    const names: string[] = [];
    const spots = [...s.spots];
    if (isObject(annotations)) {
      for (const key of Object.keys(annotations).sort()) {
        const v = annotations[key];
        if (!key.startsWith(APPARMOR_ANNOTATION) || (typeof v === 'string' && validAppArmorAnnotation(v)))
          continue;
        const container = key.slice(APPARMOR_ANNOTATION.length);
        badAnnotations.push(`${key}=${JSON.stringify(display(v))}`);
        names.push(container);
        spots.push({ container, path: annotationPath(pod, key) });
      }
    }
    if (badAnnotations.length) {
      parts.push(
        text`${containerList(names)} must not use AppArmor ${pluralize('annotation', 'annotations', badAnnotations.length)} ${badAnnotations.join(', ')}`,
      );
    }
    if (!parts.length) return undefined;
    return {
      reason: pluralize(
        'forbidden AppArmor profile',
        'forbidden AppArmor profiles',
        new Set(values).size + badAnnotations.length,
      ),
      detail: joined(parts, '; '),
      spots,
    };
  },
};

function validAppArmorType(t: unknown): boolean {
  return t === 'RuntimeDefault' || t === 'Localhost';
}

const seLinuxOptions: PssDef = {
  name: 'seLinuxOptions',
  psa: 'seLinuxOptions',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'SELinux options must not escape the container domain',
  description:
    'A custom SELinux type (other than container_t, container_init_t, container_kvm_t and, from v1.31, container_engine_t), user or role can run the container unconfined by SELinux.',
  remediation:
    'Remove seLinuxOptions.user and seLinuxOptions.role, and set seLinuxOptions.type only to container_t, container_init_t, container_kvm_t or container_engine_t (pod and containers).',
  check(pod, version) {
    const seen: SeLinuxFindings = {
      allowed: version >= 31 ? SELINUX_TYPES_1_31 : SELINUX_TYPES,
      types: [],
      user: false,
      role: false,
    };
    const s = new Setters();
    const podOpts = objectAt(pod.sc, 'seLinuxOptions');
    if (podOpts && badSeLinux(podOpts, seen)) s.addPod(text`${pod.ref.path}.securityContext.seLinuxOptions`);
    for (const c of pod.containers) {
      const o = objectAt(scOf(c), 'seLinuxOptions');
      if (o && badSeLinux(o, seen)) s.addContainer(c, text`${c.path}.securityContext.seLinuxOptions`);
    }
    if (s.empty) return undefined;
    const what: string[] = [];
    if (seen.types.length) {
      what.push(text`${pluralize('type', 'types', new Set(seen.types).size)} ${quoteSorted(seen.types)}`);
    }
    if (seen.user) what.push('user may not be set');
    if (seen.role) what.push('role may not be set');
    return {
      reason: 'seLinuxOptions',
      detail: text`${s.subject()} set forbidden securityContext.seLinuxOptions: ${what.join('; ')}`,
      spots: s.spots,
    };
  },
};

interface SeLinuxFindings {
  allowed: ReadonlySet<string>;
  types: string[];
  user: boolean;
  role: boolean;
}

/** Whether seLinuxOptions are forbidden; records what is wrong in `seen`. */
function badSeLinux(o: Record<string, unknown>, seen: SeLinuxFindings): boolean {
  let bad = false;
  const type = o.type ?? '';
  if (typeof type !== 'string' || !seen.allowed.has(type)) {
    seen.types.push(display(type));
    bad = true;
  }
  if (o.user !== undefined && o.user !== null && o.user !== '') seen.user = bad = true;
  if (o.role !== undefined && o.role !== null && o.role !== '') seen.role = bad = true;
  return bad;
}

const procMount: PssDef = {
  name: 'procMount',
  psa: 'procMount',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'The default /proc masks must be kept',
  description:
    'procMount: Unmasked exposes kernel interfaces under /proc that the runtime normally hides. From policy v1.35 baseline allows it for pods in a user namespace (hostUsers: false).',
  remediation:
    'Remove securityContext.procMount from every container or set it to Default (from v1.35 baseline, a pod with spec.hostUsers: false may unmask /proc).',
  check(pod, version) {
    if (version >= 35 && pod.userNamespace) return undefined;
    return unmaskedProcMount(pod);
  },
};

const seccompProfile: PssDef = {
  name: 'seccompProfile',
  psa: 'seccompProfile_baseline',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'Seccomp must not be disabled',
  description:
    'An Unconfined seccomp profile removes the system-call filter. Before policy v1.19 the profile was set by the seccomp.security.alpha.kubernetes.io annotations; from v1.19 by securityContext.seccompProfile.',
  remediation:
    'Set securityContext.seccompProfile.type to RuntimeDefault or Localhost, or leave it unset (pod and containers); before v1.19 use the annotation values runtime/default, docker/default or localhost/<profile>.',
  check(pod, version) {
    return version >= 19 ? seccompFields(pod) : seccompAnnotations(pod);
  },
};

function seccompAnnotations(pod: Pod): Finding | undefined {
  const annotations = pod.ref.metadata.annotations;
  if (!isObject(annotations)) return undefined;
  const bad: string[] = [];
  const spots: Spot[] = [];
  const test = (key: string, container?: string) => {
    const v = annotations[key];
    if (v === undefined || (typeof v === 'string' && validSeccompAnnotation(v))) return;
    bad.push(`${key}=${JSON.stringify(display(v))}`);
    spots.push({ ...(container ? { container } : {}), path: annotationPath(pod, key) });
  };
  test(SECCOMP_POD_ANNOTATION);
  // only annotations of containers that exist count, as in PSA
  for (const c of pod.containers) test(SECCOMP_CONTAINER_ANNOTATION + c.name, c.name);
  if (!bad.length) return undefined;
  return {
    reason: 'seccompProfile',
    detail: text`forbidden ${pluralize('annotation', 'annotations', bad.length)} ${bad.sort().join(', ')}`,
    spots,
  };
}

function seccompFields(pod: Pod): Finding | undefined {
  const s = new Setters();
  const values: string[] = [];
  const podProfile = objectAt(pod.sc, 'seccompProfile');
  if (podProfile && !validSeccompType(podProfile.type)) {
    s.addPod(text`${pod.ref.path}.securityContext.seccompProfile.type`);
    values.push(display(podProfile.type ?? ''));
  }
  for (const c of pod.containers) {
    const p = objectAt(scOf(c), 'seccompProfile');
    if (!p || validSeccompType(p.type)) continue;
    s.addContainer(c, text`${c.path}.securityContext.seccompProfile.type`);
    values.push(display(p.type ?? ''));
  }
  if (s.empty) return undefined;
  return {
    reason: 'seccompProfile',
    detail: text`${s.subject()} must not set securityContext.seccompProfile.type to ${quoteSorted(values)}`,
    spots: s.spots,
  };
}

const sysctls: PssDef = {
  name: 'sysctls',
  psa: 'sysctls',
  level: 'baseline',
  since: 0,
  severity: 'HIGH',
  title: 'Only safe sysctls may be set',
  description:
    'Sysctls outside the safe, namespaced set can change kernel behaviour for every pod on the node. The safe set grows with the policy version (v1.27, v1.29, v1.32, v1.37).',
  remediation:
    'Remove spec.securityContext.sysctls entries that are not in the safe set of the policy version (see docs/policy/pss.md); unsafe sysctls need a node-level allowlist instead.',
  check(pod, version) {
    const list = pod.sc?.sysctls;
    if (!Array.isArray(list)) return undefined;
    const safe = safeSysctls(version);
    const bad: string[] = [];
    const spots: Spot[] = [];
    list.forEach((s, i) => {
      const name = isObject(s) ? s.name : undefined;
      if (typeof name === 'string' && safe.has(name)) return;
      bad.push(display(name ?? ''));
      spots.push({ path: text`${pod.ref.path}.securityContext.sysctls[${i}].name` });
    });
    if (!bad.length) return undefined;
    return {
      reason: pluralize('forbidden sysctl', 'forbidden sysctls', bad.length),
      detail: joined(bad, ', '),
      spots,
    };
  },
};

const windowsHostProcess: PssDef = {
  name: 'windowsHostProcess',
  psa: 'windowsHostProcess',
  level: 'baseline',
  since: 0,
  severity: 'CRITICAL',
  title: 'Windows HostProcess containers must not be used',
  description:
    'A Windows HostProcess container runs directly on the node with host network and file-system access: the Windows equivalent of a privileged container.',
  remediation: 'Remove securityContext.windowsOptions.hostProcess (pod and containers), or set it to false.',
  check(pod) {
    const s = truthySetters(pod, ['windowsOptions', 'hostProcess'], true);
    if (s.empty) return undefined;
    return {
      reason: 'hostProcess',
      detail: text`${s.subject()} must not set securityContext.windowsOptions.hostProcess=true`,
      spots: s.spots,
    };
  },
};

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const HOOKS = ['postStart', 'preStop'] as const;
const HANDLERS = ['httpGet', 'tcpSocket'] as const;

const hostProbesAndHostLifecycle: PssDef = {
  name: 'hostProbesAndHostLifecycle',
  psa: 'hostProbesAndHostLifecycle',
  level: 'baseline',
  since: 34,
  severity: 'MEDIUM',
  title: 'Probes and lifecycle hooks must not target other hosts',
  description:
    'A host in an httpGet or tcpSocket probe or lifecycle handler makes the kubelet connect to an arbitrary address from the node (a server-side request forgery path).',
  remediation:
    'Remove .host from httpGet and tcpSocket in liveness, readiness and startup probes and in postStart/preStop hooks; the kubelet then targets the pod IP.',
  check(pod) {
    const s = new Setters();
    const hosts: string[] = [];
    for (const c of pod.containers) {
      for (const p of PROBES) scanHandler(c, c.container[p], p, s, hosts);
      const lifecycle = objectAt(c.container, 'lifecycle');
      if (lifecycle) for (const h of HOOKS) scanHandler(c, lifecycle[h], `lifecycle.${h}`, s, hosts);
    }
    if (s.empty) return undefined;
    const distinct = new Set(hosts).size;
    return {
      reason: 'probe or lifecycle host',
      detail: text`${s.subject()} ${pluralize('uses', 'use', s.containers.length)} ${pluralize('probe or lifecycle host', 'probe or lifecycle hosts', distinct)} ${quoteSorted(hosts)}`,
      spots: s.spots,
    };
  },
};

/** Records the non-empty hosts of a probe or lifecycle handler at `at` of a container. */
function scanHandler(c: ContainerRef, handler: unknown, at: string, s: Setters, hosts: string[]): void {
  if (!isObject(handler)) return;
  for (const h of HANDLERS) {
    const host = objectAt(handler, h)?.host;
    if (host === undefined || host === null || host === '') continue;
    s.addContainer(c, text`${c.path}.${at}.${h}.host`);
    hosts.push(display(host));
  }
}

/** Baseline checks in PSA's order. */
export const BASELINE: readonly PssDef[] = [
  hostNamespaces,
  privileged,
  capabilities,
  hostPathVolumesCheck,
  hostPorts,
  appArmorProfile,
  seLinuxOptions,
  procMount,
  seccompProfile,
  sysctls,
  windowsHostProcess,
  hostProbesAndHostLifecycle,
];
