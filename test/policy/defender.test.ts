/**
 * Defender for Containers' data-plane recommendations as checks: the shipped table against the catalogue
 * (test/fixtures/defender, a copy of the Defender/Azure Policy catalogue), which checks stay off until
 * configured (derived: exactly those whose defaults flag a hardened workload), and each check's meaning
 * with its parameters, on Pods and every pod-template owner.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isMoatError } from '../../src/errors.js';
import { DEFENDER_CHECKS } from '../../src/policy/checks/defender.js';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { evaluateCheck, PolicyEngine } from '../../src/policy/engine.js';
import { POD_KINDS } from '../../src/policy/k8s.js';
import type { K8sObject, ObjectCheck, Violation } from '../../src/policy/types.js';

interface CatalogParam {
  type: string;
  default: unknown;
  description?: string;
}
interface Recommendation {
  name: string;
  assessmentKey: string;
  severity: string;
  description: string;
  securityControl: string;
  configurationRequired: boolean;
  relatedPolicy: {
    policyDefinitionId: string;
    file: string;
    version: string;
    gatekeeperTemplateUrl: string;
    kinds: string[];
    parameters: Record<string, CatalogParam>;
  };
  defenderDefault: {
    effect: string;
    parameters: Record<string, unknown>;
    initiativeWiring?: { definitionVersion: string };
  };
}

const catalog = JSON.parse(
  readFileSync(new URL('../fixtures/defender/defender-k8s-recommendations.json', import.meta.url), 'utf8'),
) as { dataPlaneRecommendations: Recommendation[] };
const recs = catalog.dataPlaneRecommendations;

const BOILERPLATE = new Set(['source', 'warn', 'effect', 'namespaces', 'labelSelector']);
const PARAM_TYPES: Record<string, string> = {
  Array: 'string-list',
  Object: 'object',
  String: 'string',
  Boolean: 'boolean',
  Integer: 'number',
};

/** The check for the recommendation whose Azure policy file is `file` (e.g. `ContainerNoPrivilege.json`). */
function check(file: string): ObjectCheck {
  const rec = recs.find((r) => r.relatedPolicy.file.endsWith(`/${file}`));
  assert.ok(rec, `no recommendation uses ${file}`);
  const c = DEFENDER_CHECKS.find((x) => x.id === `defender.${rec.assessmentKey}`);
  assert.ok(c, `no check for ${rec.assessmentKey}`);
  return c;
}

// --- objects ------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** A workload written to every recommendation's defaults: what a hardened Deployment looks like. */
function hardenedPodSpec(): Json {
  return {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      supplementalGroups: [10001],
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: 'app',
        image: 'registry.example.com/team/app:1.4.2',
        ports: [{ containerPort: 8443 }],
        resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
}

/** The same pod spec in any pod kind (Pod, Deployment, CronJob...). */
function workload(kind: string, spec: Json = hardenedPodSpec(), podMeta: Json = {}): K8sObject {
  const metadata = { name: 'app', namespace: 'apps' };
  const template = { metadata: { labels: { app: 'app' }, ...podMeta }, spec };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { ...metadata, ...podMeta }, spec };
    case 'PodTemplate':
      return { apiVersion: 'v1', kind, metadata, template };
    case 'CronJob':
      return {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '0 * * * *', jobTemplate: { spec: { template } } },
      };
    default:
      return {
        apiVersion: 'apps/v1',
        kind,
        metadata,
        spec: { selector: { matchLabels: { app: 'app' } }, template },
      };
  }
}

const hardenedService: K8sObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'app', namespace: 'apps' },
  spec: { selector: { app: 'app' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
};

const hardenedIngress: K8sObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'app', namespace: 'apps', annotations: { 'kubernetes.io/ingress.allow-http': 'false' } },
  spec: {
    tls: [{ hosts: ['app.example.com'], secretName: 'app-tls' }],
    rules: [{ host: 'app.example.com' }],
  },
};

const hardenedAccount: K8sObject = {
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name: 'app', namespace: 'apps' },
  automountServiceAccountToken: false,
};

const HARDENED: K8sObject[] = [
  ...POD_KINDS.map((k) => workload(k)),
  hardenedService,
  hardenedIngress,
  hardenedAccount,
];

/** The hardened pod spec with one change. */
function pod(change: (spec: Json, c: Json) => void, kind = 'Pod', podMeta: Json = {}): K8sObject {
  const spec = hardenedPodSpec();
  change(spec, (spec.containers as Json[])[0] as Json);
  return workload(kind, spec, podMeta);
}

function sc(c: Json): Json {
  return c.securityContext as Json;
}

function run(c: ObjectCheck, object: K8sObject, params?: Record<string, unknown>, inventory?: K8sObject[]) {
  return evaluateCheck(c, object, { params: params ?? {}, inventory: inventory ?? [object] });
}

function messages(vs: Violation[]): string {
  return JSON.stringify(vs.map((v) => v.message));
}

// --- the table against the catalogue ---------------------------------------------------------------------

describe('Defender catalogue', () => {
  test('one check per data-plane recommendation, with its metadata', () => {
    assert.equal(DEFENDER_CHECKS.length, recs.length);
    for (const rec of recs) {
      const id = `defender.${rec.assessmentKey}`;
      const c = DEFENDER_CHECKS.find((x) => x.id === id);
      assert.ok(c, id);
      assert.ok(BUILTIN_CHECKS.includes(c), `${id} is registered`);
      assert.equal(c.family, 'defender');
      assert.equal(c.title, rec.name);
      assert.equal(c.description, rec.description);
      assert.equal(c.severity, rec.severity.toUpperCase());
      assert.equal(c.category, rec.securityControl);
      assert.equal(c.defaultEffect, rec.defenderDefault.effect.toLowerCase());
      assert.ok(c.remediation.length > 20, `${id} has a remediation`);
      const kinds = rec.relatedPolicy.kinds.flatMap((k) => (k === 'Pod' ? [...POD_KINDS] : [k]));
      assert.deepEqual([...c.kinds].sort(), kinds.sort(), `${id} kinds`);
      const refs = c.references ?? {};
      assert.equal(refs.assessmentKey, rec.assessmentKey);
      assert.equal(refs.azurePolicyId, rec.relatedPolicy.policyDefinitionId);
      assert.equal(refs.gatekeeperTemplate, rec.relatedPolicy.gatekeeperTemplateUrl);
      assert.equal(refs.defenderConfigurationRequired, String(rec.configurationRequired));
    }
  });

  test("parameters are the policy's own, with Defender's defaults", () => {
    for (const rec of recs) {
      const c = check(rec.relatedPolicy.file.split('/').pop() ?? '');
      const defaults = rec.defenderDefault.parameters;
      const expected: Record<string, { type: string; default: unknown }> = {};
      for (const [name, p] of Object.entries(rec.relatedPolicy.parameters)) {
        if (BOILERPLATE.has(name)) continue;
        expected[name] = {
          type: PARAM_TYPES[p.type] ?? p.type,
          default: name in defaults ? defaults[name] : p.default,
        };
      }
      let version = rec.relatedPolicy.version;
      // the initiative pins host networking to v6, whose minPort/maxPort v7 replaced with allowedHostPorts
      if ('minPort' in defaults && 'allowedHostPorts' in expected) {
        delete expected.allowedHostPorts;
        expected.minPort = { type: 'number', default: defaults.minPort };
        expected.maxPort = { type: 'number', default: defaults.maxPort };
        version = rec.defenderDefault.initiativeWiring?.definitionVersion ?? '';
      }
      const actual = Object.fromEntries(
        c.parameters.map((p) => [p.name, { type: p.type, default: p.default }]),
      );
      assert.deepEqual(actual, expected, c.id);
      assert.equal(c.references?.azurePolicyVersion, version, `${c.id} version`);
      for (const p of c.parameters) assert.ok(p.description.length > 10, `${c.id} ${p.name} description`);
    }
  });

  test('configuration-required exactly when the defaults flag a hardened workload', () => {
    for (const c of DEFENDER_CHECKS) {
      const flagged = HARDENED.filter((o) => c.kinds.includes(o.kind ?? '')).filter(
        (o) => run(c, o).length > 0,
      );
      if (c.configurationRequired) assert.ok(flagged.length > 0, `${c.id} flags nothing with its defaults`);
      else
        assert.deepEqual(
          flagged.map((o) => `${o.kind}: ${messages(run(c, o))}`),
          [],
          `${c.id} flags a hardened object`,
        );
    }
    // Defender's own flag is broader (allow-lists to tailor); the trusted registries pattern is the one the
    // issue names, and it is among ours
    assert.ok(check('ContainerAllowedImages.json').configurationRequired);
  });

  test('configuration-required checks are off in a default engine and on once configured', () => {
    const required = DEFENDER_CHECKS.filter((c) => c.configurationRequired);
    const active = new Set(new PolicyEngine().active.map((a) => a.check.id));
    for (const c of DEFENDER_CHECKS) assert.equal(active.has(c.id), !c.configurationRequired, c.id);
    const images = check('ContainerAllowedImages.json');
    const ports = check('ServiceAllowedPorts.json');
    assert.deepEqual(required.map((c) => c.id).sort(), [images.id, ports.id].sort());
    const engine = new PolicyEngine({
      select: ['defender.*'],
      checks: {
        [images.id]: { params: { allowedContainerImagesRegex: '^registry\\.example\\.com/' } },
        [ports.id]: { params: { allowedServicePortsList: ['80'] } },
      },
    });
    assert.ok(engine.active.some((a) => a.check.id === images.id));
    const out = engine.assess(HARDENED.map((object) => ({ object, source: {} })));
    // the hardened workloads come from the trusted registry; the Service listens on 443, not 80
    assert.deepEqual(
      out.results.map((r) => `${r.checkId} ${r.resource.kind}`),
      [`${ports.id} Service`],
    );
    const untrusted = engine.review(
      pod((_s, c) => Object.assign(c, { image: 'docker.io/nginx' })),
      {
        operation: 'CREATE',
      },
    );
    assert.deepEqual(
      untrusted.results.map((r) => r.checkId),
      [images.id],
    );
  });

  test('docs/policy/defender.md lists every check with its parameters and defaults', () => {
    const doc = readFileSync(new URL('../../docs/policy/defender.md', import.meta.url), 'utf8');
    for (const c of DEFENDER_CHECKS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${c.id}\` |`));
      assert.ok(row, `${c.id} has a row`);
      assert.ok(row.includes(c.title), `${c.id} title`);
      for (const p of c.parameters) {
        if (p.name === 'excludedNamespaces') continue;
        assert.ok(row.includes(`\`${p.name}\` = \`${JSON.stringify(p.default)}\``), `${c.id} ${p.name}`);
      }
      assert.ok(
        row.endsWith(c.configurationRequired ? '| yes |' : '| no |'),
        `${c.id} configuration required`,
      );
    }
  });

  test('the shipped catalogue does not read the shared data folder at run time', () => {
    // the Defender files: checks, their data, the mapping, quantities, the update rule
    const src = new URL('../../src/policy/', import.meta.url).pathname;
    const files = ['checks/defender.ts', 'gatekeeper-map.ts', 'quantity.ts', 'update.ts'].map((f) =>
      join(src, f),
    );
    for (const f of readdirSync(join(src, 'checks/defender'))) files.push(join(src, 'checks/defender', f));
    for (const f of files) {
      const code = readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
        .join('\n');
      assert.doesNotMatch(code, /shared|readFileSync|import\.meta\.url/, f);
    }
  });
});

// --- each check's meaning -----------------------------------------------------------------------------

interface Case {
  name: string;
  object: K8sObject;
  params?: Record<string, unknown>;
  inventory?: K8sObject[];
  /** number of violations, and substrings the messages must contain */
  count: number;
  says?: string[];
}

const CASES: Record<string, Case[]> = {
  'ContainerResourceLimits.json': [
    {
      name: 'no limits',
      object: pod((_s, c) => delete c.resources),
      count: 2,
      says: ['no cpu limit', 'no memory limit'],
    },
    {
      name: 'cpu above 32',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { cpu: '33', memory: '1Gi' } } })),
      count: 1,
      says: ['cpu limit 33 is above the maximum 32'],
    },
    {
      name: 'memory at 64Gi in bytes',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { cpu: 2, memory: '68719476736' } } })),
      count: 0,
    },
    {
      name: 'memory one byte above 64Gi',
      object: pod((_s, c) =>
        Object.assign(c, { resources: { limits: { cpu: '32000m', memory: '68719476737' } } }),
      ),
      count: 1,
      says: ['memory limit 68719476737'],
    },
    {
      name: 'configured maximum',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { cpu: '0.5', memory: '1e9' } } })),
      params: { cpuLimit: '500m', memoryLimit: '1G' },
      count: 0,
    },
    {
      name: 'configured maximum exceeded',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { cpu: '501m', memory: '1Gi' } } })),
      params: { cpuLimit: '500m', memoryLimit: '1G' },
      count: 2,
    },
    {
      name: 'unparseable limit',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { cpu: 'lots', memory: '1Gi' } } })),
      count: 1,
      says: ['"lots" is not a valid quantity'],
    },
    {
      name: 'init container without limits',
      object: pod((s) =>
        Object.assign(s, { initContainers: [{ name: 'setup', image: 'registry.example.com/x' }] }),
      ),
      count: 2,
      says: ['init container "setup"'],
    },
    {
      name: 'ephemeral containers cannot set resources',
      object: pod((s) => Object.assign(s, { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] })),
      count: 0,
    },
    {
      name: 'excluded container',
      object: pod((_s, c) => delete c.resources),
      params: { excludedContainers: ['app'] },
      count: 0,
    },
    {
      name: '-1 turns a resource off',
      object: pod((_s, c) => Object.assign(c, { resources: { limits: { memory: '1Gi' } } })),
      params: { cpuLimit: '-1' },
      count: 0,
    },
  ],
  'ContainerAllowedImages.json': [
    { name: 'default pattern matches no image', object: pod(() => {}), count: 1, says: ['^(.+){0}$'] },
    {
      name: 'trusted registry',
      object: pod(() => {}),
      params: { allowedContainerImagesRegex: '^registry\\.example\\.com/.+$' },
      count: 0,
    },
    {
      name: 'untrusted image in an init container',
      object: pod((s) =>
        Object.assign(s, { initContainers: [{ name: 'setup', image: 'docker.io/busybox' }] }),
      ),
      params: { allowedContainerImagesRegex: '^registry\\.example\\.com/.+$' },
      count: 1,
      says: ['init container "setup" image "docker.io/busybox"'],
    },
    {
      name: 'excluded container',
      object: pod(() => {}),
      params: { excludedContainers: ['app'] },
      count: 0,
    },
  ],
  'BlockHostNamespace.json': [
    { name: 'hostPID', object: pod((s) => Object.assign(s, { hostPID: true })), count: 1, says: ['hostPID'] },
    {
      name: 'hostPID and hostIPC',
      object: pod((s) => Object.assign(s, { hostPID: true, hostIPC: true })),
      count: 2,
    },
    {
      name: 'hostNetwork is another check',
      object: pod((s) => Object.assign(s, { hostNetwork: true })),
      count: 0,
    },
    {
      name: 'every container excluded',
      object: pod((s) => Object.assign(s, { hostPID: true })),
      params: { excludedImages: ['registry.example.com/*'] },
      count: 0,
    },
  ],
  'EnforceAppArmorProfile.json': [
    { name: 'no profile is the runtime default', object: pod(() => {}), count: 0 },
    {
      name: 'unconfined annotation',
      object: pod(() => {}, 'Deployment', {
        annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' },
      }),
      count: 1,
      says: ['"unconfined"'],
    },
    {
      name: 'unconfined field',
      object: pod((_s, c) => Object.assign(sc(c), { appArmorProfile: { type: 'Unconfined' } })),
      count: 1,
    },
    {
      name: 'container field overrides pod field',
      object: pod((s, c) => {
        Object.assign(s.securityContext as Json, { appArmorProfile: { type: 'Unconfined' } });
        Object.assign(sc(c), { appArmorProfile: { type: 'RuntimeDefault' } });
      }),
      count: 0,
    },
    {
      name: 'localhost profile not allowed by default',
      object: pod((_s, c) =>
        Object.assign(sc(c), { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-app' } }),
      ),
      count: 1,
      says: ['localhost/k8s-app'],
    },
    {
      name: 'localhost/* allows it',
      object: pod((_s, c) =>
        Object.assign(sc(c), { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-app' } }),
      ),
      params: { allowedProfiles: ['runtime/default', 'localhost/*'] },
      count: 0,
    },
  ],
  'ContainerNoPrivilegeEscalation.json': [
    {
      name: 'explicitly allowed',
      object: pod((_s, c) => Object.assign(sc(c), { allowPrivilegeEscalation: true })),
      count: 1,
      says: ['allowPrivilegeEscalation: true'],
    },
    {
      name: 'unset, non-root',
      object: pod((_s, c) => delete sc(c).allowPrivilegeEscalation),
      count: 0,
    },
    {
      name: 'unset, non-root, forced',
      object: pod((_s, c) => delete sc(c).allowPrivilegeEscalation),
      params: { forcePrivilegeEscalationToBeFalse: true },
      count: 1,
    },
    {
      name: 'unset, may run as root',
      object: pod((s, c) => {
        delete sc(c).allowPrivilegeEscalation;
        s.securityContext = {};
      }),
      count: 1,
      says: ['may run as root'],
    },
    {
      name: 'unset, privileged',
      object: pod((_s, c) => {
        delete sc(c).allowPrivilegeEscalation;
        sc(c).privileged = true;
      }),
      count: 1,
    },
  ],
  'ReadOnlyRootFileSystem.json': [
    {
      name: 'writable root',
      object: pod((_s, c) => Object.assign(sc(c), { readOnlyRootFilesystem: false })),
      count: 1,
      says: ['container "app"'],
    },
    {
      name: 'init container without a security context',
      object: pod((s) => Object.assign(s, { initContainers: [{ name: 'setup', image: 'x' }] })),
      count: 1,
      says: ['init container "setup"'],
    },
    {
      name: 'excluded image prefix',
      object: pod((_s, c) => Object.assign(sc(c), { readOnlyRootFilesystem: false })),
      params: { excludedImages: ['registry.example.com/team/*'] },
      count: 0,
    },
  ],
  'IngressHttpsOnly.json': [
    {
      name: 'no TLS',
      object: { ...hardenedIngress, spec: { rules: [] } },
      count: 1,
      says: ['spec.tls'],
    },
    {
      name: 'TLS without the allow-http annotation',
      object: { ...hardenedIngress, metadata: { name: 'app', namespace: 'apps' } },
      count: 1,
      says: ['kubernetes.io/ingress.allow-http'],
    },
  ],
  'BlockAutomountToken.json': [
    {
      name: 'explicitly on',
      object: pod((s) => Object.assign(s, { automountServiceAccountToken: true })),
      count: 1,
    },
    {
      name: 'admitted pod with the token mounted',
      object: pod((s, c) => {
        delete s.automountServiceAccountToken;
        (c.volumeMounts as Json[]).push({
          name: 'kube-api-access',
          mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
          readOnly: true,
        });
      }),
      count: 1,
      says: ['/var/run/secrets/kubernetes.io/serviceaccount'],
    },
    {
      name: 'pod without a token mount',
      object: pod((s) => delete s.automountServiceAccountToken),
      count: 0,
    },
    {
      name: 'template with the default account',
      object: pod((s) => delete s.automountServiceAccountToken, 'Deployment'),
      count: 1,
      says: ['"default"'],
    },
    {
      name: 'template whose account opts out',
      object: pod((s) => {
        delete s.automountServiceAccountToken;
        s.serviceAccountName = 'app';
      }, 'Deployment'),
      inventory: [hardenedAccount],
      count: 0,
    },
  ],
  'ContainerDisallowedSysAdminCapability.json': [
    {
      name: 'SYS_ADMIN',
      object: pod((_s, c) => Object.assign(sc(c), { capabilities: { add: ['SYS_ADMIN'] } })),
      count: 1,
    },
    {
      name: 'spelling variants and ALL',
      object: pod((s, c) => {
        Object.assign(sc(c), { capabilities: { add: ['cap_sys_admin'] } });
        s.initContainers = [{ name: 'i', image: 'x', securityContext: { capabilities: { add: ['ALL'] } } }];
      }),
      count: 2,
    },
    {
      name: 'other capabilities',
      object: pod((_s, c) => Object.assign(sc(c), { capabilities: { add: ['NET_ADMIN'] } })),
      count: 0,
    },
  ],
  'BlockDefaultNamespace.json': [
    {
      name: 'workload in default',
      object: { ...workload('Deployment'), metadata: { name: 'app', namespace: 'default' } },
      count: 1,
    },
    {
      name: 'the API server Service',
      object: { ...hardenedService, metadata: { name: 'kubernetes', namespace: 'default' } },
      count: 0,
    },
    {
      name: 'the default ServiceAccount',
      object: { ...hardenedAccount, metadata: { name: 'default', namespace: 'default' } },
      count: 0,
    },
    {
      name: 'a Service in default',
      object: { ...hardenedService, metadata: { name: 'web', namespace: 'default' } },
      count: 1,
      says: ['Service is in the default namespace'],
    },
  ],
  'ContainerAllowedCapabilities.json': [
    {
      name: 'adds a capability',
      object: pod((_s, c) =>
        Object.assign(sc(c), { capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } }),
      ),
      count: 1,
      says: ['NET_BIND_SERVICE', 'allowed to add: none'],
    },
    {
      name: 'allowed capability',
      object: pod((_s, c) =>
        Object.assign(sc(c), { capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } }),
      ),
      params: { allowedCapabilities: ['NET_BIND_SERVICE'] },
      count: 0,
    },
    {
      name: 'required drop missing',
      object: pod((_s, c) => Object.assign(sc(c), { capabilities: { drop: ['NET_ADMIN'] } })),
      params: { requiredDropCapabilities: ['NET_RAW', 'NET_ADMIN'] },
      count: 1,
      says: ['NET_RAW'],
    },
    {
      name: 'ALL covers required drops',
      object: pod(() => {}),
      params: { requiredDropCapabilities: ['NET_RAW'] },
      count: 0,
    },
  ],
  'ContainerNoPrivilege.json': [
    {
      name: 'privileged ephemeral container',
      object: pod((s) =>
        Object.assign(s, {
          ephemeralContainers: [{ name: 'debug', image: 'busybox', securityContext: { privileged: true } }],
        }),
      ),
      count: 1,
      says: ['ephemeral container "debug"'],
    },
  ],
  'AllowedUsersGroups.json': [
    {
      name: 'root user',
      object: pod((_s, c) => Object.assign(sc(c), { runAsUser: 0 })),
      count: 1,
      says: ['runAsUser: 0'],
    },
    {
      name: 'nothing about users',
      object: pod((s) => {
        s.securityContext = {};
      }),
      // runAsNonRoot missing, runAsGroup required by Defender's default (MustRunAs 1 and above)
      count: 2,
      says: ['runAsNonRoot', 'does not set runAsGroup'],
    },
    {
      name: 'root group and fsGroup',
      object: pod((s) =>
        Object.assign(s.securityContext as Json, { runAsGroup: 0, fsGroup: 0, supplementalGroups: [0, 5] }),
      ),
      count: 3,
      says: ['runAsGroup 0', 'fsGroup 0', 'supplemental group 0'],
    },
    {
      name: 'MustRunAs range',
      object: pod(() => {}),
      params: { runAsUserRule: 'MustRunAs', runAsUserRanges: { ranges: [{ min: 1000, max: 2000 }] } },
      count: 1,
      says: ['runAsUser 10001', '1000-2000'],
    },
    {
      name: 'RunAsAny everywhere',
      object: pod((s) => {
        s.securityContext = {};
      }),
      params: { runAsUserRule: 'RunAsAny', runAsGroupRule: 'RunAsAny' },
      count: 0,
    },
  ],
  'ServiceAllowedPorts.json': [
    { name: 'default allows no port', object: hardenedService, count: 1, says: ['port 443 (https)'] },
    { name: 'allowed port', object: hardenedService, params: { allowedServicePortsList: ['443'] }, count: 0 },
  ],
  'HostNetworkPorts.json': [
    { name: 'host network', object: pod((s) => Object.assign(s, { hostNetwork: true })), count: 1 },
    {
      name: 'host network allowed',
      object: pod((s) => Object.assign(s, { hostNetwork: true })),
      params: { allowHostNetwork: true },
      count: 0,
    },
    {
      name: 'host port outside 0-0',
      object: pod((_s, c) => Object.assign(c, { ports: [{ containerPort: 8443, hostPort: 8443 }] })),
      count: 1,
      says: ['hostPort 8443'],
    },
    {
      name: 'host port in the configured range',
      object: pod((_s, c) => Object.assign(c, { ports: [{ containerPort: 8443, hostPort: 8443 }] })),
      params: { minPort: 8000, maxPort: 9000 },
      count: 0,
    },
  ],
  'AllowedHostPaths.json': [
    {
      name: 'any host path by default',
      object: pod((s) => (s.volumes as Json[]).push({ name: 'logs', hostPath: { path: '/var/log' } })),
      count: 1,
      says: ['"/var/log"'],
    },
    {
      name: 'allowed read-only but mounted writable',
      object: pod((s, c) => {
        (s.volumes as Json[]).push({ name: 'logs', hostPath: { path: '/var/log/app' } });
        (c.volumeMounts as Json[]).push({ name: 'logs', mountPath: '/logs' });
      }),
      params: { allowedHostPaths: { paths: [{ pathPrefix: '/var/log', readOnly: true }] } },
      count: 1,
      says: ['writable'],
    },
    {
      name: 'allowed read-only and mounted read-only',
      object: pod((s, c) => {
        (s.volumes as Json[]).push({ name: 'logs', hostPath: { path: '/var/log/app' } });
        (c.volumeMounts as Json[]).push({ name: 'logs', mountPath: '/logs', readOnly: true });
      }),
      params: { allowedHostPaths: { paths: [{ pathPrefix: '/var/log', readOnly: true }] } },
      count: 0,
    },
    {
      name: 'prefix matches whole path components',
      object: pod((s) => (s.volumes as Json[]).push({ name: 'logs', hostPath: { path: '/var/logs' } })),
      params: { allowedHostPaths: { paths: [{ pathPrefix: '/var/log' }] } },
      count: 1,
    },
    {
      name: 'Windows pods use the Windows list',
      object: pod((s) => {
        s.os = { name: 'windows' };
        (s.volumes as Json[]).push({ name: 'c', hostPath: { path: 'C:\\Logs\\app' } });
      }),
      params: { windowsAllowedHostPaths: { paths: [{ pathPrefix: 'c:/logs' }] } },
      count: 0,
    },
  ],
};

describe('Defender checks', () => {
  test('every check has cases', () => {
    for (const rec of recs) {
      const file = rec.relatedPolicy.file.split('/').pop() ?? '';
      assert.ok(
        CASES[file]?.some((c) => c.count > 0),
        `${file} has a failing case`,
      );
    }
  });

  for (const [file, cases] of Object.entries(CASES)) {
    describe(file, () => {
      for (const k of cases) {
        test(k.name, () => {
          const c = check(file);
          const vs = run(c, k.object, k.params, k.inventory);
          assert.equal(vs.length, k.count, messages(vs));
          const text = messages(vs);
          for (const s of k.says ?? [])
            assert.ok(text.includes(s.replaceAll('"', '\\"')), `${text} says ${s}`);
          for (const v of vs) if (v.path) assert.match(v.path, /^(spec|metadata|template)\b/);
        });
      }
    });
  }

  test('pod-spec checks find the same violations in every pod-template owner', () => {
    for (const c of DEFENDER_CHECKS.filter((x) => x.kinds.includes('CronJob'))) {
      const file = CASES[Object.keys(CASES).find((f) => check(f) === c) ?? ''] ?? [];
      const failing = file.find((k) => k.count > 0 && k.object.kind === 'Pod');
      if (!failing) continue;
      const spec = failing.object.spec as Json;
      const meta = { annotations: failing.object.metadata?.annotations ?? {} };
      for (const kind of POD_KINDS) {
        const vs = run(c, workload(kind, structuredClone(spec), meta), failing.params);
        // a template without a token mount is judged by its account (Pods: by the mount)
        if (kind !== 'Pod' && c === check('BlockAutomountToken.json')) continue;
        assert.equal(vs.length, failing.count, `${c.id} ${failing.name} as ${kind}: ${messages(vs)}`);
      }
    }
  });

  test('bad configuration is an error naming the check and the parameter', () => {
    const limits = check('ContainerResourceLimits.json');
    assert.throws(
      () =>
        run(
          limits,
          pod(() => {}),
          { cpuLimit: 'two' },
        ),
      (e) =>
        isMoatError(e) &&
        e.code === 'CONFIG' &&
        e.message.includes(limits.id) &&
        e.message.includes('cpuLimit'),
    );
    const images = check('ContainerAllowedImages.json');
    assert.throws(
      () =>
        run(
          images,
          pod(() => {}),
          { allowedContainerImagesRegex: '([' },
        ),
      (e) => isMoatError(e) && e.code === 'CONFIG' && e.message.includes('allowedContainerImagesRegex'),
    );
  });

  test('excludedNamespaces default to the system namespaces and the engine honours them', () => {
    const privileged = check('ContainerNoPrivilege.json');
    const ns = privileged.parameters.find((p) => p.name === 'excludedNamespaces')?.default as string[];
    assert.ok(ns.includes('kube-system'));
    const object = pod((_s, c) => Object.assign(sc(c), { privileged: true }));
    const engine = new PolicyEngine({ select: [privileged.id] });
    assert.equal(engine.review(object, { operation: 'CREATE' }).results.length, 1);
    const system = { ...object, metadata: { ...object.metadata, namespace: 'kube-system' } };
    assert.equal(engine.review(system, { operation: 'CREATE' }).results.length, 0);
  });
});
