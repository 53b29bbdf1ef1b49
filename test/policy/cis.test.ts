/**
 * CIS Kubernetes Benchmark section 5 checks. Metadata is compared with the Kubescape-encoded catalogue;
 * verdicts are taken from realistic objects (Kubernetes Goat's RBAC and namespaces, kubernetes/examples
 * workloads, pods recorded from a kind cluster) with expectations read off the objects themselves where
 * they carry the answer (a recorded pod's projected token volume says whether a token is mounted).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { CIS_CHECKS, CIS_CONTROLS } from '../../src/policy/checks/cis.js';
import { PSS_CHECKS } from '../../src/policy/checks/pss.js';
import { evaluateCheck, PolicyEngine } from '../../src/policy/engine.js';
import { containersOf, isObject, POD_KINDS, podSpecOf } from '../../src/policy/k8s.js';
import type { Check, K8sObject, Violation } from '../../src/policy/types.js';

const FIX = join(import.meta.dirname, '../fixtures/k8s-manifests');

interface IndexEntry {
  file: string;
  source: string;
  kinds: string[];
  parse_error?: string;
  helm_template?: boolean;
}
const INDEX = (JSON.parse(readFileSync(join(FIX, 'index.json'), 'utf8')) as { files: IndexEntry[] }).files;

/** Every object of a fixture file (multi-document YAML or JSON; `List` items flattened). */
function load(file: string): K8sObject[] {
  // json: a later duplicate key wins, as in PyYAML (which built the index) and kubectl
  const docs = yaml.loadAll(readFileSync(join(FIX, file), 'utf8'), undefined, { json: true });
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (!isObject(d)) continue;
    if (Array.isArray(d.items) && typeof d.kind === 'string' && d.kind.endsWith('List')) {
      for (const i of d.items) if (isObject(i)) out.push(i as K8sObject);
    } else out.push(d as K8sObject);
  }
  return out;
}

function apiList(file: string, kind: string): K8sObject[] {
  const list = JSON.parse(readFileSync(join(FIX, file), 'utf8')) as { items: K8sObject[] };
  // list responses leave kind/apiVersion off the items
  return list.items.map((i) => ({ ...i, kind }));
}

function check(id: string): Check {
  const c = CIS_CHECKS.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

/** One check on one object, as the engine would run it (only on the kinds the check declares). */
function run(
  id: string,
  obj: K8sObject,
  inventory?: K8sObject[],
  params?: Record<string, unknown>,
): Violation[] {
  const c = check(id);
  if (c.scope === 'object' && !c.kinds.includes(obj.kind ?? '')) return [];
  return evaluateCheck(c, obj, { inventory: inventory ?? [obj], ...(params ? { params } : {}) });
}

function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  assert.ok(o, `${kind} ${name} not in fixture`);
  return o;
}

const CATALOG = JSON.parse(readFileSync(join(FIX, 'catalog/cis-kubernetes-section5.json'), 'utf8')) as {
  benchmarks: Record<
    string,
    { controls: Array<Record<string, unknown> & { id: string; kubescapeRules: string[] }> }
  >;
};
const newest = Object.keys(CATALOG.benchmarks)
  .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
  .at(-1) as string;
const DATA = CATALOG.benchmarks[newest]?.controls ?? [];

describe('catalogue', () => {
  test('the shipped controls are the newest benchmark of the catalogue', () => {
    assert.equal(newest, 'cis-v1.12.0');
    assert.deepEqual(
      CIS_CONTROLS.map((c) => ({ ...c })),
      DATA.map((c) => ({
        id: c.id,
        title: c.title,
        subsection: c.subsection,
        subsectionTitle: c.subsectionTitle,
        kubescapeControlId: c.kubescapeControlId,
        description: c.description,
        remediation: c.remediation,
        severity: String(c.kubescapeSeverity).toUpperCase(),
        kubescapeRules: c.kubescapeRules,
      })),
    );
  });

  test('older benchmarks in the catalogue use the same control ids', () => {
    for (const [name, b] of Object.entries(CATALOG.benchmarks)) {
      assert.deepEqual(
        b.controls.map((c) => c.id),
        DATA.map((c) => c.id),
        name,
      );
    }
  });

  test('each check carries its control metadata', () => {
    const ids = new Set<string>();
    for (const c of CIS_CHECKS) {
      assert.ok(!ids.has(c.id), `duplicate ${c.id}`);
      ids.add(c.id);
      const d = DATA.find((x) => `cis.${x.id}` === c.id);
      assert.ok(d, `${c.id} is not a catalogue control`);
      assert.equal(c.family, 'cis');
      assert.equal(c.title, d.title);
      assert.equal(c.description, d.description);
      assert.equal(c.remediation, d.remediation);
      assert.equal(c.severity, String(d.kubescapeSeverity).toUpperCase());
      assert.equal(c.category, d.subsectionTitle);
      assert.equal(c.defaultEffect, 'audit');
      assert.equal(c.references?.cis, d.id);
      assert.equal(c.references?.kubescape, d.kubescapeControlId);
      assert.equal(c.references?.benchmark, newest);
      assert.ok(c.kinds.length > 0);
      for (const p of c.parameters) assert.ok(p.description && p.default !== undefined, `${c.id} ${p.name}`);
    }
  });

  test('every control is a check or documented as not decidable from API objects', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/policy/cis.md'), 'utf8');
    const notCovered = doc.slice(doc.indexOf('## Not decided from API objects'));
    for (const c of DATA) {
      const isCheck = CIS_CHECKS.some((x) => x.id === `cis.${c.id}`);
      const listed = notCovered.includes(`| ${c.id} |`);
      assert.ok(isCheck !== listed, `${c.id}: check=${isCheck}, documented as manual=${listed}`);
      // a control Kubescape cannot automate is never claimed as a check
      if (c.kubescapeRules.includes('rule-manual')) assert.ok(!isCheck, c.id);
    }
  });

  test('the PSS checks a 5.2 or 5.7 control points to exist', (t) => {
    if (!PSS_CHECKS.length) return t.skip('PSS checks not present');
    const pss = new Set(PSS_CHECKS.map((c) => c.id));
    for (const c of CIS_CHECKS) {
      for (const id of [c.references?.pss ?? []].flat()) assert.ok(pss.has(id), `${c.id} -> ${id}`);
    }
  });
});

describe('5.1.1 cluster-admin bindings', () => {
  const goat = load('kubernetes-goat/scenarios/insecure-rbac/setup.yaml');
  const binding = find(goat, 'ClusterRoleBinding', 'superadmin');

  test('Kubernetes Goat binds cluster-admin to a service account', () => {
    const v = run('cis.5.1.1', binding, goat);
    assert.equal(v.length, 1);
    const subject = (binding.subjects as Array<{ namespace: string; name: string }>)[0];
    assert.ok(v[0]?.message.includes(`ServiceAccount ${subject?.namespace}/${subject?.name}`), v[0]?.message);
    assert.ok(v[0]?.message.includes('cluster-admin'));
    assert.equal(run('cis.5.1.1', binding, goat, { allowedSubjects: [subject?.name] }).length, 0);
    assert.equal(run('cis.5.1.1', binding, goat, { allowedBindings: ['super*'] }).length, 0);
  });

  test('the built-in binding of system:masters is allowed by default', () => {
    const builtin: K8sObject = {
      ...binding,
      metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }],
    };
    assert.deepEqual(run('cis.5.1.1', builtin), []);
  });

  test('a role granting every verb on everything counts as cluster-admin, through any binding', () => {
    const role = find(
      load('kubernetes-goat/infrastructure/helm-tiller/pwnchart/templates/clusterrole.yaml'),
      'ClusterRole',
      'all-your-base',
    );
    const rb: K8sObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'tiller', namespace: 'apps' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'all-your-base' },
      subjects: [{ kind: 'ServiceAccount', name: 'tiller' }],
    };
    const v = run('cis.5.1.1', rb, [role, rb]);
    assert.equal(v.length, 1);
    assert.match(v[0]?.message ?? '', /ClusterRole all-your-base .*ServiceAccount apps\/tiller/);
    // without the role in the inventory its rules are unknown: only the name cluster-admin decides
    assert.deepEqual(run('cis.5.1.1', rb, [rb]), []);
  });

  test('ordinary bindings pass', () => {
    const objs = load('kubernetes-examples/AI/vllm-deployment/hpa/prometheus-adapter.yaml');
    const bindings = objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    assert.ok(bindings.length >= 2);
    for (const b of bindings) assert.deepEqual(run('cis.5.1.1', b, objs), [], b.metadata?.name);
  });
});

/** The Role/ClusterRole checks of 5.1 other than wildcards and the service-account ones. */
const ROLE_ACCESS = [
  'cis.5.1.2',
  'cis.5.1.4',
  'cis.5.1.8',
  'cis.5.1.9',
  'cis.5.1.10',
  'cis.5.1.11',
  'cis.5.1.12',
  'cis.5.1.13',
];

function clusterRole(name: string, rules: unknown[]): K8sObject {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules };
}

describe('5.1 role permissions', () => {
  test('a role allowing everything fails every permission check and the wildcard check', () => {
    const role = find(
      load('kubernetes-goat/infrastructure/helm-tiller/pwnchart/templates/clusterrole.yaml'),
      'ClusterRole',
      'all-your-base',
    );
    for (const id of [...ROLE_ACCESS, 'cis.5.1.3']) {
      const v = run(id, role);
      assert.equal(v.length, 1, id);
      assert.equal(v[0]?.path, 'rules[0]');
    }
  });

  test("Kubernetes Goat's secret-reader reads secrets through a resource wildcard", () => {
    const objs = load('kubernetes-goat/scenarios/hunger-check/deployment.yaml');
    const role = find(objs, 'Role', 'secret-reader');
    assert.match(run('cis.5.1.2', role)[0]?.message ?? '', /get, list, watch on secrets/);
    assert.match(run('cis.5.1.3', role)[0]?.message ?? '', /wildcard "\*" in the resources/);
    // read-only verbs: nothing to create, bind or escalate
    for (const id of ROLE_ACCESS.filter((i) => i !== 'cis.5.1.2')) assert.deepEqual(run(id, role), [], id);
  });

  test('roles of ordinary workloads pass the permission checks; wildcards are reported where they are', () => {
    const files = [
      'kubernetes-examples/AI/vllm-deployment/hpa/prometheus-adapter.yaml',
      'kubernetes-examples/_archived/elasticsearch/rbac.yaml',
      'kubernetes-examples/_archived/podsecuritypolicy/rbac/roles.yaml',
    ];
    const roles = files.flatMap(load).filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
    assert.ok(roles.length >= 4);
    for (const r of roles) {
      for (const id of ROLE_ACCESS) assert.deepEqual(run(id, r), [], `${id} ${r.metadata?.name}`);
      const wildRules = (r.rules as unknown[]).filter((x) => JSON.stringify(x).includes('"*"')).length;
      assert.equal(run('cis.5.1.3', r).length, wildRules, r.metadata?.name);
    }
  });

  test('matching follows Kubernetes RBAC: groups, subresources, resourceNames', () => {
    const cases: Array<[string, unknown[], boolean]> = [
      // secrets live in the core group only
      ['cis.5.1.2', [{ apiGroups: ['apps'], resources: ['secrets'], verbs: ['get'] }], false],
      ['cis.5.1.2', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }], true],
      ['cis.5.1.2', [{ apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] }], false],
      // a create of a new pod has no name: resourceNames cannot grant it
      [
        'cis.5.1.4',
        [{ apiGroups: [''], resources: ['pods'], verbs: ['create'], resourceNames: ['x'] }],
        false,
      ],
      ['cis.5.1.4', [{ apiGroups: ['*'], resources: ['pods'], verbs: ['*'] }], true],
      ['cis.5.1.4', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] }], false],
      // */subresource matches any resource's subresource, and there is no pods/* form
      ['cis.5.1.10', [{ apiGroups: [''], resources: ['*/proxy'], verbs: ['get'] }], true],
      ['cis.5.1.10', [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }], false],
      ['cis.5.1.10', [{ apiGroups: [''], resources: ['nodes/*'], verbs: ['get'] }], false],
      [
        'cis.5.1.11',
        [
          {
            apiGroups: ['certificates.k8s.io'],
            resources: ['certificatesigningrequests/approval'],
            verbs: ['update'],
          },
        ],
        true,
      ],
      [
        'cis.5.1.11',
        [
          {
            apiGroups: ['certificates.k8s.io'],
            resources: ['certificatesigningrequests'],
            verbs: ['update'],
          },
        ],
        false,
      ],
      [
        'cis.5.1.12',
        [
          {
            apiGroups: ['admissionregistration.k8s.io'],
            resources: ['mutatingwebhookconfigurations'],
            verbs: ['patch'],
          },
        ],
        true,
      ],
      [
        'cis.5.1.12',
        [
          {
            apiGroups: ['admissionregistration.k8s.io'],
            resources: ['mutatingwebhookconfigurations'],
            verbs: ['get', 'list'],
          },
        ],
        false,
      ],
      [
        'cis.5.1.13',
        [
          {
            apiGroups: [''],
            resources: ['serviceaccounts/token'],
            verbs: ['create'],
            resourceNames: ['builder'],
          },
        ],
        true,
      ],
      ['cis.5.1.13', [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['create'] }], false],
      ['cis.5.1.9', [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['create'] }], true],
      ['cis.5.1.9', [{ apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create'] }], false],
      // bind and escalate are verbs on roles; impersonate on users, groups and service accounts
      [
        'cis.5.1.8',
        [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'] }],
        true,
      ],
      [
        'cis.5.1.8',
        [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['bind'] }],
        false,
      ],
      ['cis.5.1.8', [{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] }], true],
      ['cis.5.1.8', [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'create'] }], false],
      ['cis.5.1.3', [{ apiGroups: [''], resources: ['*/scale'], verbs: ['get'] }], true],
      ['cis.5.1.3', [{ nonResourceURLs: ['*'], verbs: ['get'] }], true],
      ['cis.5.1.3', [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }], false],
    ];
    for (const [id, rules, fails] of cases) {
      assert.equal(run(id, clusterRole('r', rules)).length > 0, fails, `${id} ${JSON.stringify(rules)}`);
    }
  });

  test('cluster-scoped resources are judged on ClusterRoles only', () => {
    for (const id of ['cis.5.1.9', 'cis.5.1.10', 'cis.5.1.11', 'cis.5.1.12'])
      assert.deepEqual(check(id).kinds, ['ClusterRole']);
    for (const id of ['cis.5.1.2', 'cis.5.1.3', 'cis.5.1.4', 'cis.5.1.8', 'cis.5.1.13']) {
      assert.deepEqual([...check(id).kinds].sort(), ['ClusterRole', 'Role']);
    }
  });

  test('built-in roles are skipped unless asked for; allowedRoles and verbs narrow the checks', () => {
    const edit = {
      ...clusterRole('edit', [{ apiGroups: [''], resources: ['secrets', 'pods'], verbs: ['get', 'create'] }]),
      metadata: { name: 'edit', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    };
    assert.deepEqual(run('cis.5.1.2', edit), []);
    assert.equal(run('cis.5.1.2', edit, undefined, { includeDefaultRoles: true }).length, 1);
    const custom = clusterRole('ci-deployer', [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]);
    assert.deepEqual(run('cis.5.1.4', custom, undefined, { allowedRoles: ['ci-*'] }), []);
    const imp = clusterRole('imp', [{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'] }]);
    assert.equal(run('cis.5.1.8', imp).length, 1);
    assert.deepEqual(run('cis.5.1.8', imp, undefined, { verbs: ['bind', 'escalate'] }), []);
  });
});

/** Whether the API server gave a recorded pod a service account token: its projected token volume. */
function hasTokenVolume(pod: K8sObject): boolean {
  const vols =
    (pod.spec as { volumes?: Array<{ projected?: { sources?: Array<Record<string, unknown>> } }> }).volumes ??
    [];
  return vols.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken !== undefined));
}

describe('5.1.5 and 5.1.6 service accounts and tokens', () => {
  const pods = apiList('k8s-api/kube-system-pods-v1.36.json', 'Pod');

  test('recorded kube-system pods: a token is reported exactly where the API server mounted one', () => {
    assert.ok(pods.some(hasTokenVolume) && pods.some((p) => !hasTokenVolume(p)));
    for (const pod of pods) {
      const v = run('cis.5.1.6', pod, pods, { excludedNamespaces: [] });
      assert.equal(v.length > 0, hasTokenVolume(pod), pod.metadata?.name);
      if (v.length) {
        const sa = (pod.spec as { serviceAccountName: string }).serviceAccountName;
        assert.ok(v[0]?.message.includes(`"${sa}"`), v[0]?.message);
      }
    }
  });

  test('kube-system is excluded by default', () => {
    const engine = new PolicyEngine({ select: ['cis.5.1.6'] }, CIS_CHECKS);
    const sourced = pods.map((object) => ({ object, source: {} }));
    assert.deepEqual(engine.assess(sourced).results, []);
    const all = new PolicyEngine(
      { select: ['cis.5.1.6'], checks: { 'cis.5.1.6': { params: { excludedNamespaces: [] } } } },
      CIS_CHECKS,
    );
    assert.equal(all.assess(sourced).results.length, pods.filter(hasTokenVolume).length);
  });

  test("the pod's setting wins over its service account's, and a known service account decides the default", () => {
    const deploy = find(
      load('kubernetes-goat/scenarios/hunger-check/deployment.yaml'),
      'Deployment',
      'hunger-check-deployment',
    );
    const sa = find(
      load('kubernetes-goat/scenarios/hunger-check/deployment.yaml'),
      'ServiceAccount',
      'big-monolith-sa',
    );
    assert.equal(run('cis.5.1.6', deploy, [deploy, sa]).length, 1);
    const saOff = { ...sa, automountServiceAccountToken: false };
    assert.deepEqual(run('cis.5.1.6', deploy, [deploy, saOff]), []);
    // the same service account name in another namespace does not count
    const elsewhere = { ...saOff, metadata: { ...saOff.metadata, namespace: 'other' } };
    assert.equal(run('cis.5.1.6', deploy, [deploy, elsewhere]).length, 1);
    assert.deepEqual(run('cis.5.1.6', deploy, [deploy], { assumeServiceAccountAutomount: false }), []);
    const podOn = structuredClone(deploy);
    (podSpecOf(podOn)?.spec as Record<string, unknown>).automountServiceAccountToken = true;
    const v = run('cis.5.1.6', podOn, [podOn, saOff]);
    assert.equal(v[0]?.path, 'spec.template.spec.automountServiceAccountToken');
  });

  test('default service accounts: automount, bindings and workloads running as them', () => {
    const sa: K8sObject = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: 'shop' },
    };
    assert.equal(run('cis.5.1.5', sa).length, 1);
    assert.deepEqual(run('cis.5.1.5', { ...sa, automountServiceAccountToken: false }), []);
    assert.deepEqual(run('cis.5.1.5', { ...sa, metadata: { name: 'shop-api', namespace: 'shop' } }), []);

    const rb: K8sObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reader', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'default' }],
    };
    assert.match(run('cis.5.1.5', rb)[0]?.message ?? '', /ServiceAccount shop\/default/);
    // what Kubernetes itself binds to every service account is fine
    const discovery: K8sObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:service-account-issuer-discovery' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:service-account-issuer-discovery',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:serviceaccounts' }],
    };
    assert.deepEqual(run('cis.5.1.5', discovery), []);
    assert.equal(
      run('cis.5.1.5', { ...discovery, roleRef: { kind: 'ClusterRole', name: 'view' } }).length,
      1,
    );

    // a goat workload without serviceAccountName runs as default, whose token is mounted by default
    const objs = load('kubernetes-goat/scenarios/build-code/deployment.yaml');
    const deploy = find(objs, 'Deployment', 'build-code-deployment');
    assert.equal(podSpecOf(deploy)?.spec.serviceAccountName, undefined);
    assert.match(run('cis.5.1.5', deploy, objs)[0]?.message ?? '', /default service account/);
    const defaultOff = {
      ...sa,
      metadata: { name: 'default', namespace: 'default' },
      automountServiceAccountToken: false,
    };
    assert.deepEqual(run('cis.5.1.5', deploy, [...objs, defaultOff]), []);
    // the hunger-check deployment has its own service account
    const hc = load('kubernetes-goat/scenarios/hunger-check/deployment.yaml');
    assert.deepEqual(run('cis.5.1.5', find(hc, 'Deployment', 'hunger-check-deployment'), hc), []);
  });
});

describe('5.2 Pod Security admission per namespace', () => {
  const ns52 = CIS_CHECKS.filter((c) => c.id.startsWith('cis.5.2.'));
  const goatNs = find(
    load('kubernetes-goat/scenarios/hunger-check/deployment.yaml'),
    'Namespace',
    'big-monolith',
  );
  const labelled = (level: string): K8sObject => ({
    ...goatNs,
    metadata: { ...goatNs.metadata, labels: { 'pod-security.kubernetes.io/enforce': level } },
  });
  /** the level Kubescape's rules for a control require (their names say baseline or restricted) */
  const levelOf = (id: string) =>
    DATA.find((c) => `cis.${c.id}` === id)?.kubescapeRules.some((r) => r.includes('restricted'))
      ? 'restricted'
      : 'baseline';

  test('every 5.2 control of the catalogue is a namespace check', () => {
    assert.deepEqual(
      ns52.map((c) => c.id),
      DATA.filter((c) => c.id.startsWith('5.2.')).map((c) => `cis.${c.id}`),
    );
    for (const c of ns52) assert.equal(c.scope, 'cluster');
  });

  test('a namespace without the enforce label fails all of them, on the namespace', () => {
    for (const c of ns52) {
      const v = evaluateCheck(c, goatNs, { inventory: [goatNs] });
      assert.equal(v.length, 1, c.id);
      assert.equal(v[0]?.resource, goatNs);
      assert.match(v[0]?.message ?? '', /^namespace has no pod-security\.kubernetes\.io\/enforce label/);
    }
  });

  test('baseline satisfies the baseline controls, restricted all; privileged none', () => {
    for (const level of ['privileged', 'baseline', 'restricted']) {
      const ns = labelled(level);
      for (const c of ns52) {
        const want = level === 'restricted' || (level === 'baseline' && levelOf(c.id) === 'baseline');
        assert.equal(evaluateCheck(c, ns, { inventory: [ns] }).length === 0, want, `${c.id} at ${level}`);
      }
    }
  });

  test('the cluster default level, policy webhooks and excluded namespaces', () => {
    const vwc: K8sObject = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'gatekeeper-validating-webhook-configuration' },
    };
    const sys: K8sObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } };
    for (const c of ns52) {
      assert.deepEqual(
        evaluateCheck(c, goatNs, { inventory: [goatNs], params: { clusterDefaultLevel: 'restricted' } }),
        [],
      );
      assert.equal(
        evaluateCheck(c, goatNs, { inventory: [goatNs, vwc] }).length,
        1,
        'unknown webhooks do not count',
      );
      const inv = [goatNs, vwc];
      assert.deepEqual(
        evaluateCheck(c, goatNs, { inventory: inv, params: { policyWebhooks: ['gatekeeper-*'] } }),
        [],
      );
      assert.deepEqual(evaluateCheck(c, sys, { inventory: [sys] }), []);
    }
  });
});

describe('5.3.2 network policies', () => {
  const c = check('cis.5.3.2');
  const objs = load('kubernetes-goat/scenarios/cache-store/deployment.yaml');

  test('a namespace of Kubernetes Goat without a NetworkPolicy fails', () => {
    const v = evaluateCheck(c, objs[0] as K8sObject, { inventory: objs });
    assert.deepEqual(
      v.map((x) => x.resource?.metadata?.name),
      ['secure-middleware'],
    );
    assert.equal(v[0]?.resource, find(objs, 'Namespace', 'secure-middleware'));
  });

  test('namespaces implied by objects count, objects without a namespace land in default', () => {
    const files = [
      'kubernetes-goat/scenarios/build-code/deployment.yaml',
      'kubernetes-goat/scenarios/batch-check/job.yaml',
    ];
    const inv = files.flatMap(load);
    const v = evaluateCheck(c, inv[0] as K8sObject, { inventory: inv });
    assert.deepEqual(
      v.map((x) => [x.resource?.kind, x.resource?.metadata?.name]),
      [['Namespace', 'default']],
    );
  });

  test('a NetworkPolicy in the namespace, or a cluster-wide policy, satisfies it', () => {
    const np: K8sObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: 'secure-middleware' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    };
    assert.deepEqual(evaluateCheck(c, np, { inventory: [...objs, np] }), []);
    // a policy covers its own namespace only
    const other = { ...np, metadata: { name: 'x', namespace: 'elsewhere' } };
    const v = evaluateCheck(c, np, { inventory: [...objs, other] });
    assert.deepEqual(
      v.map((x) => x.resource?.metadata?.name),
      ['secure-middleware'],
    );
    const ccnp: K8sObject = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumClusterwideNetworkPolicy',
      metadata: { name: 'deny' },
    };
    assert.deepEqual(evaluateCheck(c, ccnp, { inventory: [...objs, ccnp] }), []);
  });
});

describe('5.4.1 secrets in environment variables', () => {
  /** secretKeyRef and secretRef occurrences under the containers' env and envFrom (not volumes) */
  function envSecretRefs(obj: K8sObject): number {
    const ref = podSpecOf(obj);
    if (!ref) return 0;
    let n = 0;
    for (const c of containersOf(ref)) {
      n += (JSON.stringify(c.container.env ?? []).match(/"secretKeyRef"/g) ?? []).length;
      n += (JSON.stringify(c.container.envFrom ?? []).match(/"secretRef"/g) ?? []).length;
    }
    return n;
  }

  test('every workload of the corpora: one violation per secret read into the environment', () => {
    let flagged = 0;
    for (const e of INDEX) {
      if (
        e.parse_error ||
        e.helm_template ||
        !e.kinds.some((k) => (POD_KINDS as readonly string[]).includes(k))
      )
        continue;
      if (e.source === 'checkov' || e.source === 'polaris') continue;
      for (const obj of load(e.file)) {
        if (!(POD_KINDS as readonly string[]).includes(obj.kind ?? '')) continue;
        const v = run('cis.5.4.1', obj);
        assert.equal(v.length, envSecretRefs(obj), `${e.file} ${obj.metadata?.name}`);
        flagged += v.length;
      }
    }
    assert.ok(flagged >= 2, 'the corpora read secrets into the environment somewhere');
  });

  test('the message names the container, secret and variable; cephfs secretRef in a volume is not env', () => {
    const objs = load('kubernetes-goat/scenarios/system-monitor/deployment.yaml');
    const deploy = find(objs, 'Deployment', 'system-monitor-deployment');
    const v = run('cis.5.4.1', deploy);
    assert.ok(v.length >= 1);
    assert.match(
      v[0]?.message ?? '',
      /container "[^"]+" (reads key "[^"]+" of|loads every key of) Secret "goatvault"/,
    );
    assert.ok(v[0]?.container && v[0]?.path?.startsWith('spec.template.spec.containers['));
    assert.deepEqual(run('cis.5.4.1', deploy, undefined, { allowedSecrets: ['goat*'] }), []);
    for (const o of load('kubernetes-examples/_archived/volumes/cephfs/cephfs-with-secret.yaml'))
      assert.deepEqual(run('cis.5.4.1', o), []);
  });
});

describe('5.7.2 seccomp', () => {
  const pods = apiList('k8s-api/kube-system-pods-v1.36.json', 'Pod');

  test('recorded kube-system pods: static pods set RuntimeDefault on the pod, the others set none', () => {
    for (const pod of pods) {
      const ref = podSpecOf(pod);
      assert.ok(ref);
      const podLevel = (ref.spec.securityContext as { seccompProfile?: { type?: string } } | undefined)
        ?.seccompProfile?.type;
      const v = run('cis.5.7.2', pod, pods, { excludedNamespaces: [] });
      assert.equal(v.length === 0, podLevel === 'RuntimeDefault', pod.metadata?.name);
      assert.equal(v.length, podLevel ? 0 : containersOf(ref).length);
    }
  });

  test('a container profile overrides the pod profile; legacy annotations count unless disabled', () => {
    const pod: K8sObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'app' },
      spec: {
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          { name: 'a', image: 'x' },
          { name: 'b', image: 'x', securityContext: { seccompProfile: { type: 'Unconfined' } } },
        ],
      },
    };
    const v = run('cis.5.7.2', pod);
    assert.deepEqual(
      v.map((x) => [x.container, x.message]),
      [['b', 'container "b" uses seccomp profile Unconfined']],
    );
    const annotated: K8sObject = {
      ...pod,
      metadata: { name: 'p', annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'docker/default' } },
      spec: { containers: [{ name: 'a', image: 'x' }] },
    };
    assert.deepEqual(run('cis.5.7.2', annotated), []);
    assert.equal(run('cis.5.7.2', annotated, undefined, { allowLegacyAnnotations: false }).length, 1);
  });
});

describe('5.7.3 security context', () => {
  const pods = apiList('k8s-api/kube-system-pods-v1.36.json', 'Pod');

  test('coredns sets everything but runAsNonRoot; the static pods set no container context', () => {
    const coredns = pods.find((p) => p.metadata?.name?.startsWith('coredns-')) as K8sObject;
    const containers = podSpecOf(coredns)?.spec.containers as
      | Array<{ securityContext: Record<string, unknown> }>
      | undefined;
    const sc = containers?.[0]?.securityContext;
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    const v = run('cis.5.7.3', coredns, pods, { excludedNamespaces: [] });
    assert.equal(v.length, 1);
    assert.equal(
      v[0]?.message,
      'container "coredns" security context does not set runAsNonRoot=true (or a non-zero runAsUser)',
    );
    assert.deepEqual(
      run('cis.5.7.3', coredns, pods, {
        excludedNamespaces: [],
        requiredSettings: ['allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'capabilities.drop'],
      }),
      [],
    );
  });

  test('a workload with no security context at all says so', () => {
    const objs = load('kubernetes-goat/scenarios/build-code/deployment.yaml');
    const v = run('cis.5.7.3', find(objs, 'Deployment', 'build-code-deployment'));
    assert.ok(v.length >= 1);
    for (const x of v) assert.match(x.message, /has no security context/);
  });
});

describe('5.7.4 default namespace', () => {
  test('objects placed in default, or without a namespace, fail', () => {
    const objs = load('kubernetes-goat/scenarios/build-code/deployment.yaml');
    for (const o of objs) {
      assert.equal(o.metadata?.namespace, 'default');
      assert.match(run('cis.5.7.4', o)[0]?.message ?? '', /is in the default namespace/);
    }
    const job = find(load('kubernetes-goat/scenarios/batch-check/job.yaml'), 'Job', 'batch-check-job');
    assert.match(run('cis.5.7.4', job)[0]?.message ?? '', /has no namespace/);
    assert.deepEqual(run('cis.5.7.4', job, undefined, { missingNamespaceIsDefault: false }), []);
  });

  test('objects in their own namespace, what Kubernetes creates in default, and owned objects pass', () => {
    for (const o of load('kubernetes-goat/scenarios/cache-store/deployment.yaml')) {
      if (check('cis.5.7.4').kinds.includes(o.kind ?? '')) assert.deepEqual(run('cis.5.7.4', o), []);
    }
    const builtins: K8sObject[] = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: 'default' } },
    ];
    for (const o of builtins) assert.deepEqual(run('cis.5.7.4', o), [], o.kind);
    const rs: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-5d8f',
        namespace: 'default',
        ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }],
      },
    };
    assert.deepEqual(run('cis.5.7.4', rs), []);
    assert.ok(
      !check('cis.5.7.4').kinds.includes('Namespace') && !check('cis.5.7.4').kinds.includes('ClusterRole'),
    );
  });
});

describe('through the engine', () => {
  const parseable = INDEX.filter(
    (e) => !e.parse_error && !e.helm_template && /\.(ya?ml|json)$/.test(e.file) && e.kinds.length,
  );

  test('every object of every corpus is assessed without a check throwing', () => {
    const objects = parseable.flatMap((e) =>
      load(e.file).map((object) => ({ object, source: { file: e.file } })),
    );
    const engine = new PolicyEngine({ select: ['cis.*'] }, CIS_CHECKS);
    const a = engine.assess(objects);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(new Set(a.checks.map((x) => x.check.id)), new Set(CIS_CHECKS.map((x) => x.id)));
    for (const r of a.results) assert.ok(r.checkId.startsWith('cis.') && r.resource.kind, JSON.stringify(r));
    // cluster-scope results name the namespace, with the source of its Namespace object when there is one
    const goatNs = a.results.find((r) => r.checkId === 'cis.5.3.2' && r.resource.name === 'big-monolith');
    assert.equal(goatNs?.resource.source?.file, 'kubernetes-goat/scenarios/hunger-check/deployment.yaml');
  });

  test('admission reviews run the object checks and skip the cluster ones', () => {
    const engine = new PolicyEngine({ select: ['cis.*'] }, CIS_CHECKS);
    const binding = find(
      load('kubernetes-goat/scenarios/insecure-rbac/setup.yaml'),
      'ClusterRoleBinding',
      'superadmin',
    );
    const r = engine.review(binding, { operation: 'CREATE' });
    assert.deepEqual(
      r.results.map((x) => x.checkId),
      ['cis.5.1.1'],
    );
    const ns = find(
      load('kubernetes-goat/scenarios/hunger-check/deployment.yaml'),
      'Namespace',
      'big-monolith',
    );
    assert.deepEqual(engine.review(ns, { operation: 'CREATE' }).results, []);
  });
});
