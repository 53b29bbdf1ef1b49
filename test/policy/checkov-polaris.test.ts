/**
 * checkov and Polaris as a second opinion. For every checkov or Polaris check whose meaning overlaps one
 * of ours (CIS, PSS, Defender), the resources their upstream fixtures fail must be failed by ours and
 * those they pass passed by ours, per resource, with our defaults or with parameters mapped onto theirs.
 * Where the tools disagree on purpose, the disagreement is listed with its reason (and in
 * docs/policy/third-party-mapping.md); the test fails if a listed mismatch disappears or a new one appears.
 *
 * checkov: per-resource expectations come from the upstream test's passing_/failing_resources, else from
 * the PASSED/FAILED file name; and our pass/fail counts over the whole example directory (checkov runs
 * each check over the directory) must equal the upstream expected summary. Polaris: each success.* /
 * failure.* file is one audit, its target resource the one judged.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { isObject, POD_KINDS } from '../../src/policy/k8s.js';
import type { K8sObject, ObjectSource } from '../../src/policy/types.js';

const FIX = join(import.meta.dirname, '../fixtures/k8s-manifests');

interface IndexEntry {
  file: string;
  source: string;
  kinds: string[];
  parse_error?: string;
  filename_outcome?: 'pass' | 'fail' | null;
  checks?: string[];
  polaris_check?: string;
  expected?: string;
}
const INDEX = (JSON.parse(readFileSync(join(FIX, 'index.json'), 'utf8')) as { files: IndexEntry[] }).files;

interface CheckovExpected {
  check_id: string;
  checkov_module: string;
  example_dir: string;
  upstream_test: string;
  expected_summary: { passed: number; failed: number };
  passing_resources?: string[];
  failing_resources?: string[];
}
const CHECKOV = (
  JSON.parse(readFileSync(join(FIX, 'checkov-expected.json'), 'utf8')) as { checks: CheckovExpected[] }
).checks;
const POLARIS = (
  JSON.parse(readFileSync(join(FIX, 'catalog/polaris-checks.json'), 'utf8')) as {
    checks: Array<{ id: string; target: string }>;
  }
).checks;

/** One parsed object with where it came from (file + document index identifies it in results). */
interface Doc {
  object: K8sObject;
  source: ObjectSource;
}

function load(file: string): Doc[] {
  // json: a later duplicate key wins, as in the tools' own YAML parsers
  const docs = yaml.loadAll(readFileSync(join(FIX, file), 'utf8'), undefined, { json: true });
  const out: Doc[] = [];
  docs.forEach((d, document) => {
    if (!isObject(d) || typeof d.kind !== 'string') return;
    // List items are resources of their own for both tools; each gets its own source object
    const items = d.kind === 'List' && Array.isArray(d.items) ? d.items.filter(isObject) : [d];
    for (const object of items) out.push({ object: object as K8sObject, source: { file, document } });
  });
  return out;
}

/** Our check ids (with parameters mapped onto the other tool's) standing for one of its checks. */
interface Ours {
  id: string;
  params?: Record<string, unknown>;
  /** judge a workload by whether its namespace fails (our check is per namespace, theirs per workload) */
  viaNamespace?: boolean;
}

interface Row {
  tool: 'checkov' | 'polaris';
  /** CKV_K8S_n, or the Polaris check id */
  check: string;
  /** checkov: its upstream test, when one check has several */
  upstreamTest?: string;
  ours: Ours[];
  /** the kinds the other tool judges (checkov); Polaris' come from its catalogue's target */
  kinds?: readonly string[];
  /** differences we accept: `<our id> <file>#<Kind>/<name>` -> why */
  accept?: Record<string, string>;
  /** resources the other tool does not count (it cannot parse them): `<file>#<Kind>/<name>` -> why */
  uncounted?: Record<string, string>;
}

const WORKLOADS: readonly string[] = [...POD_KINDS, 'DeploymentConfig'];
/** the kinds of the fixtures that are namespaced (checkov's CKV_K8S_21 skips the cluster-scoped ones) */
const NAMESPACED: readonly string[] = [
  ...WORKLOADS,
  'Service',
  'ServiceAccount',
  'ConfigMap',
  'Secret',
  'Role',
  'RoleBinding',
  'PodDisruptionBudget',
];
// Defender's "root" recommendation also rules group ids by default; checkov and Polaris look at users only
const USERS_ONLY = {
  runAsGroupRule: 'RunAsAny',
  supplementalGroupsRule: 'RunAsAny',
  fsGroupRule: 'RunAsAny',
};
/** the capabilities Polaris' own insecureCapabilities success fixture drops */
const POLARIS_INSECURE = (
  load('polaris/insecureCapabilities/success.yaml')[0]?.object.spec as
    | { containers: Array<{ securityContext: { capabilities: { drop: string[] } } }> }
    | undefined
)?.containers[0]?.securityContext.capabilities.drop;
const ROLES = ['Role', 'ClusterRole'];
const SYSTEM_BINDINGS = { allowedBindings: ['system:*', 'gce:podsecuritypolicy:calico-sa'] };
// checkov and Polaris judge the kube-system static pods of their fixtures like any other pod
const ALL_NS = { excludedNamespaces: [] };
const d = (key: string) => `defender.${key}`;
const DEF = {
  limits: d('405c9ae6-49f9-46c4-8873-a86690f27818'),
  hostNamespaces: d('802c0637-5a8c-4c98-abd7-7c96d89d6010'),
  escalation: d('43dc2a2e-ce69-4d42-923e-ab7d136f2cfe'),
  readOnlyRoot: d('27d6f0e9-b4d5-468b-ae7e-03d5473fd864'),
  https: d('c6d87087-9ebe-b31f-b452-0bf3bbbaccd2'),
  automount: d('32060ac3-f17f-4848-db8e-e7cf2c9a53eb'),
  sysAdmin: d('aba14f78-27c5-af84-848e-9105d18dfd92'),
  defaultNamespace: d('ff87e0b4-17df-d338-5b19-80e71e0dcc9d'),
  capabilities: d('11c95609-3553-430d-b788-fd41cde8b2db'),
  privileged: d('5d90913f-a1c5-4429-ad54-2c6c17fb3c73'),
  root: d('9b795646-9130-41a4-90b7-df9eae2437c8'),
  hostNetwork: d('ebc68898-5c0f-4353-a426-4a5f1e737b12'),
  hostPath: d('f0debc84-981c-4a0d-924d-aa4bd7d55fef'),
};

/** Reasons shared by several accepted differences. */
const WHY = {
  defenderToken:
    "Defender's policy judges a Pod by the token volume mount the API server adds at admission, so a manifest Pod without one passes; CIS 5.1.6 (cis.5.1.6) flags it as checkov and Polaris do",
  openshift: 'DeploymentConfig is an OpenShift kind; we evaluate the Kubernetes pod-template kinds only',
  specList:
    'spec is a YAML list, not a pod spec: Kubernetes would reject the object and we judge nothing in it',
  uidOnly:
    "Pod Security restricted requires runAsNonRoot: true; a non-zero runAsUser alone is pss.restricted.runAsUser's business, and checkov accepts it here",
  hostPath:
    'mounts host paths (/var/log, /var/lib/docker/containers...) but not the Docker socket: checkov 27 asks about the socket only, ours refuse every hostPath (Defender: every path outside allowedHostPaths, none by default)',
  allCase: "Pod Security matches capability names exactly (ALL); checkov also accepts 'all'",
};

const ROWS: Row[] = [
  // ---- checkov ----
  {
    tool: 'checkov',
    check: 'CKV_K8S_21',
    upstreamTest: 'test_summary',
    kinds: NAMESPACED,
    ours: [{ id: 'cis.5.7.4' }],
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_21',
    upstreamTest: 'test_summary_with_env_var',
    kinds: NAMESPACED,
    ours: [{ id: 'cis.5.7.4', params: { missingNamespaceIsDefault: false } }],
  },
  { tool: 'checkov', check: 'CKV_K8S_41', kinds: ['ServiceAccount'], ours: [{ id: 'cis.5.1.5' }] },
  { tool: 'checkov', check: 'CKV_K8S_35', kinds: WORKLOADS, ours: [{ id: 'cis.5.4.1' }] },
  {
    tool: 'checkov',
    check: 'CKV_K8S_38',
    kinds: WORKLOADS,
    ours: [{ id: 'cis.5.1.6' }, { id: DEF.automount }],
    accept: {
      [`${DEF.automount} checkov/example_ServiceAccountTokens/ServiceAccountTokensFAILED.yaml#Pod/pod1`]:
        WHY.defenderToken,
    },
  },
  { tool: 'checkov', check: 'CKV_K8S_49', kinds: ROLES, ours: [{ id: 'cis.5.1.3' }] },
  { tool: 'checkov', check: 'CKV_K8S_156', kinds: ['ClusterRole'], ours: [{ id: 'cis.5.1.11' }] },
  {
    tool: 'checkov',
    check: 'CKV_K8S_157',
    kinds: ROLES,
    ours: [{ id: 'cis.5.1.8', params: { verbs: ['bind'] } }],
    accept: {
      'cis.5.1.8 checkov/example_RbacBindRoleBindings/clusterrole-failed-1.yaml#ClusterRole/test-should-fail-1':
        'the role grants bind on rolebindings; Kubernetes authorizes bind against roles and clusterroles, so it grants nothing',
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_158',
    kinds: ROLES,
    ours: [{ id: 'cis.5.1.8', params: { verbs: ['escalate'] } }],
  },
  { tool: 'checkov', check: 'CKV_K8S_31', kinds: WORKLOADS, ours: [{ id: 'cis.5.7.2' }] },
  {
    tool: 'checkov',
    check: 'CKV_K8S_20',
    kinds: WORKLOADS,
    ours: [
      { id: 'pss.restricted.allowPrivilegeEscalation' },
      { id: DEF.escalation, params: { forcePrivilegeEscalationToBeFalse: true } },
    ],
    accept: {
      'pss.restricted.allowPrivilegeEscalation checkov/example_AllowPrivilegeEscalation/oc-deploymentConfig-FAILED.yml#DeploymentConfig/frontend':
        WHY.openshift,
      [`${DEF.escalation} checkov/example_AllowPrivilegeEscalation/oc-deploymentConfig-FAILED.yml#DeploymentConfig/frontend`]:
        WHY.openshift,
    },
    uncounted: {
      'checkov/example_AllowPrivilegeEscalation/pod-runas1000-malformed-PASSED.yaml#Pod/security-context-demo':
        'containers is a mapping, not a list: checkov does not count the pod (Kubernetes would reject it)',
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_17',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNamespaces }],
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_18',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNamespaces }],
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_19',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNetwork }],
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_26',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.baseline.hostPorts' }, { id: DEF.hostNetwork }],
  },
  { tool: 'checkov', check: 'CKV_K8S_22', kinds: WORKLOADS, ours: [{ id: DEF.readOnlyRoot }] },
  {
    tool: 'checkov',
    check: 'CKV_K8S_23',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.restricted.runAsNonRoot' }, { id: DEF.root, params: USERS_ONLY }],
    accept: {
      'pss.restricted.runAsNonRoot checkov/example_RootContainers/rootContainersFAILED-malformed-spec.yaml#Pod/pod1':
        WHY.specList,
      [`${DEF.root} checkov/example_RootContainers/rootContainersFAILED-malformed-spec.yaml#Pod/pod1`]:
        WHY.specList,
      'pss.restricted.runAsNonRoot checkov/example_RootContainers/rootContainersPASSED.yaml#Pod/pod3':
        'the pod sets runAsNonRoot: false and its only container true; Pod Security forbids the explicit false at pod level all the same',
      'pss.restricted.runAsNonRoot checkov/example_RootContainers/rootContainersPASSED.yaml#Pod/pod4':
        WHY.uidOnly,
      'pss.restricted.runAsNonRoot checkov/example_RootContainers/rootContainersPASSED.yaml#Pod/pod5':
        WHY.uidOnly,
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_40',
    kinds: WORKLOADS,
    ours: [
      {
        id: DEF.root,
        params: {
          ...USERS_ONLY,
          runAsUserRule: 'MustRunAs',
          runAsUserRanges: { ranges: [{ min: 10000, max: -1 }] },
        },
      },
    ],
    accept: {
      [`${DEF.root} checkov/example_RootContainersHighUID/rootContainersHighUIDPASSED.yaml#Pod/pod4`]:
        'hostUsers: false runs the pod in a user namespace, which checkov accepts instead of a high UID; the Azure policy (and ours) still asks for runAsUser in range',
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_28',
    kinds: WORKLOADS,
    ours: [{ id: DEF.capabilities, params: { requiredDropCapabilities: ['NET_RAW'] } }],
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_37',
    kinds: WORKLOADS,
    ours: [
      { id: 'pss.restricted.capabilities' },
      { id: DEF.capabilities, params: { requiredDropCapabilities: ['ALL'] } },
    ],
    accept: {
      'pss.restricted.capabilities checkov/example_DropCapabilities/pod-drop-all-capabilities-PASSED2.yaml#Pod/pod-drop-all-capability':
        WHY.allCase,
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_39',
    kinds: WORKLOADS,
    ours: [{ id: DEF.sysAdmin }, { id: 'pss.baseline.capabilities' }],
    uncounted: {
      'checkov/example_AllowedCapabilitiesSysAdmin/pod-FAILED2.yaml#Pod/security-context-demo-1':
        'containers is empty: there is no container to judge, and checkov leaves the pod out of its summary though the file is named FAILED',
    },
  },
  {
    tool: 'checkov',
    check: 'CKV_K8S_27',
    kinds: WORKLOADS,
    ours: [{ id: 'pss.baseline.hostPathVolumes' }, { id: DEF.hostPath }],
    accept: {
      'pss.baseline.hostPathVolumes checkov/example_DockerSocketVolume/cloudwatch-agent-1PASSED-1FAILED.yaml#DaemonSet/fluentd-cloudwatch':
        WHY.hostPath,
      [`${DEF.hostPath} checkov/example_DockerSocketVolume/cloudwatch-agent-1PASSED-1FAILED.yaml#DaemonSet/fluentd-cloudwatch`]:
        WHY.hostPath,
    },
  },
  // ---- Polaris ----
  {
    tool: 'polaris',
    check: 'automountServiceAccountToken',
    ours: [{ id: 'cis.5.1.6' }, { id: DEF.automount }],
    accept: {
      [`${DEF.automount} polaris/automountServiceAccountToken/failure.uses_defaults.yaml#Pod/test-pod`]:
        WHY.defenderToken,
    },
  },
  {
    tool: 'polaris',
    check: 'clusterrolebindingClusterAdmin',
    ours: [{ id: 'cis.5.1.1', params: SYSTEM_BINDINGS }],
  },
  {
    tool: 'polaris',
    check: 'rolebindingClusterAdminClusterRole',
    ours: [{ id: 'cis.5.1.1', params: SYSTEM_BINDINGS }],
  },
  {
    tool: 'polaris',
    check: 'rolebindingClusterAdminRole',
    ours: [{ id: 'cis.5.1.1', params: SYSTEM_BINDINGS }],
  },
  {
    tool: 'polaris',
    check: 'missingNetworkPolicy',
    ours: [{ id: 'cis.5.3.2', viaNamespace: true }],
    accept: Object.fromEntries(
      [
        'netpol_missing_egress_in_policytypes',
        'netpol_missing_egress_rules',
        'netpol_missing_ingress_in_policytypes',
        'netpol_missing_ingress_rules',
        'netpol_targets_wrong_pod_label',
      ].map((f) => [
        `cis.5.3.2 polaris/missingNetworkPolicy/failure.${f}.yaml#Pod/test-pod`,
        'CIS 5.3.2 asks that every namespace have a NetworkPolicy, and this one has; Polaris asks that a policy select the pod and carry both ingress and egress rules',
      ]),
    ),
  },
  {
    tool: 'polaris',
    check: 'hostIPCSet',
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNamespaces }],
  },
  {
    tool: 'polaris',
    check: 'hostPIDSet',
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNamespaces }],
  },
  {
    tool: 'polaris',
    check: 'hostNetworkSet',
    ours: [{ id: 'pss.baseline.hostNamespaces' }, { id: DEF.hostNetwork }],
  },
  {
    tool: 'polaris',
    check: 'hostPathSet',
    ours: [{ id: 'pss.baseline.hostPathVolumes' }, { id: DEF.hostPath }],
  },
  {
    tool: 'polaris',
    check: 'hostPortSet',
    ours: [{ id: 'pss.baseline.hostPorts' }, { id: DEF.hostNetwork }],
  },
  { tool: 'polaris', check: 'hostProcess', ours: [{ id: 'pss.baseline.windowsHostProcess' }] },
  {
    tool: 'polaris',
    check: 'runAsPrivileged',
    ours: [{ id: 'pss.baseline.privileged' }, { id: DEF.privileged }],
  },
  {
    tool: 'polaris',
    check: 'runAsRootAllowed',
    ours: [{ id: 'pss.restricted.runAsNonRoot' }, { id: DEF.root, params: USERS_ONLY }],
  },
  {
    tool: 'polaris',
    check: 'privilegeEscalationAllowed',
    ours: [
      { id: 'pss.restricted.allowPrivilegeEscalation' },
      { id: DEF.escalation, params: { forcePrivilegeEscalationToBeFalse: true } },
    ],
  },
  { tool: 'polaris', check: 'dangerousCapabilities', ours: [{ id: 'pss.baseline.capabilities' }] },
  {
    tool: 'polaris',
    check: 'insecureCapabilities',
    ours: [
      { id: 'pss.restricted.capabilities' },
      { id: DEF.capabilities, params: { requiredDropCapabilities: POLARIS_INSECURE } },
    ],
    accept: Object.fromEntries(
      ['success.all', 'success.case', 'success.pod', 'success'].map((f) => [
        `pss.restricted.capabilities polaris/insecureCapabilities/${f}.yaml#Pod/nginx`,
        "Pod Security restricted requires drop: [ALL] exactly; Polaris accepts dropping its list of insecure capabilities, or 'All' in any case (the Defender check with that list agrees with Polaris)",
      ]),
    ),
  },
  { tool: 'polaris', check: 'procMount', ours: [{ id: 'pss.baseline.procMount' }] },
  { tool: 'polaris', check: 'notReadOnlyRootFilesystem', ours: [{ id: DEF.readOnlyRoot }] },
  { tool: 'polaris', check: 'cpuLimitsMissing', ours: [{ id: DEF.limits }] },
  {
    tool: 'polaris',
    check: 'memoryLimitsMissing',
    ours: [{ id: DEF.limits }],
    accept: {
      [`${DEF.limits} polaris/memoryLimitsMissing/success.yaml#Pod/nginx`]:
        "Defender's recommendation wants CPU and memory limits together; Polaris judges memory here (and CPU in cpuLimitsMissing)",
    },
  },
  {
    tool: 'polaris',
    check: 'tlsSettingsMissing',
    ours: [{ id: DEF.https }],
    accept: {
      [`${DEF.https} polaris/tlsSettingsMissing/success.yaml#Ingress/minimal-ingress`]:
        'the Azure policy behind Defender\'s HTTPS recommendation also requires the annotation kubernetes.io/ingress.allow-http: "false"; Polaris asks for spec.tls only',
    },
  },
];

/** Runs one of our checks over a set of documents (one audit); returns what fails. */
function failing(docs: Doc[], our: Ours): (doc: Doc) => boolean {
  const engine = new PolicyEngine({
    select: [our.id],
    checks: { [our.id]: { params: { ...ALL_NS, ...our.params } } },
  });
  const a = engine.assess(docs);
  assert.deepEqual(a.errors, []);
  if (our.viaNamespace) {
    const names = new Set(a.results.map((r) => r.resource.name));
    return (doc) => names.has(doc.object.metadata?.namespace || 'default');
  }
  const sources = new Set(a.results.flatMap((r) => (r.resource.source ? [r.resource.source] : [])));
  return (doc) => sources.has(doc.source);
}

const where = (doc: Doc) => `${doc.source.file}#${doc.object.kind}/${doc.object.metadata?.name ?? ''}`;

/** Checkov's resource id: Kind.namespace.name, namespace `default` when absent. */
const checkovId = (o: K8sObject) => `${o.kind}.${o.metadata?.namespace ?? 'default'}.${o.metadata?.name}`;

interface Outcome {
  /** resources where ours and theirs differ (per resource, where the fixtures say) -> how */
  mismatches: Map<string, string>;
  /** counts over the judged resources, accepted differences flipped back to theirs */
  passed: number;
  failed: number;
}

function compareCheckov(
  row: Row,
  exp: CheckovExpected,
  our: Ours,
  accepted: Record<string, string>,
): Outcome {
  const files = INDEX.filter((e) => e.file.startsWith(`checkov/${exp.example_dir}/`) && !e.parse_error);
  // file names say PASSED/FAILED for the directory's own check only (the one checkov module named after it,
  // or the only check run over it); UNKNOWN files are those checkov cannot judge
  const own =
    exp.upstream_test.endsWith('::test_summary') &&
    (`example_${exp.checkov_module}` === exp.example_dir ||
      files.every((e) => (e.checks ?? []).every((c) => c === row.check)));
  const docs = files.flatMap((e) => load(e.file));
  const judged = docs.filter(
    (x) =>
      row.kinds?.includes(x.object.kind ?? '') &&
      !x.source.file?.includes('UNKNOWN') &&
      !row.uncounted?.[where(x)],
  );
  const fails = failing(docs, our);
  const out: Outcome = { mismatches: new Map(), passed: 0, failed: 0 };
  for (const doc of judged) {
    const ours = fails(doc);
    const k = `${our.id} ${where(doc)}`;
    const theirs = accepted[k] ? !ours : ours;
    if (theirs) out.failed++;
    else out.passed++;
    const id = checkovId(doc.object);
    let want: boolean | undefined;
    if (exp.failing_resources?.includes(id)) want = true;
    else if (exp.passing_resources?.includes(id)) want = false;
    else if (own && !/PASSED.*FAILED|FAILED.*PASSED/.test(doc.source.file ?? '')) {
      // (a file named "1PASSED-1FAILED" holds both outcomes: only the counts judge it)
      const outcome = files.find((f) => f.file === doc.source.file)?.filename_outcome;
      if (outcome) want = outcome === 'fail';
    }
    if (want !== undefined && want !== ours)
      out.mismatches.set(k, want ? 'checkov fails, ours passes' : 'checkov passes, ours fails');
    // without a per-resource expectation, an accepted difference is trusted and checked through the counts
    if (want === undefined && accepted[k]) out.mismatches.set(k, accepted[k]);
  }
  return out;
}

function comparePolaris(row: Row, our: Ours): Outcome {
  const target = POLARIS.find((p) => p.id === row.check)?.target;
  assert.ok(target, `${row.check} is not in the Polaris catalogue`);
  // PodSpec/Container/PodTemplate/Controller targets are the workload; others name apiGroup/Kind
  const kinds = ['PodSpec', 'Container', 'PodTemplate', 'Controller'].includes(target)
    ? WORKLOADS
    : [target.split('/').at(-1) ?? ''];
  const out: Outcome = { mismatches: new Map(), passed: 0, failed: 0 };
  for (const e of INDEX) {
    if (
      e.source !== 'polaris' ||
      e.polaris_check !== row.check ||
      (e.expected !== 'pass' && e.expected !== 'fail')
    )
      continue;
    const docs = load(e.file);
    const fails = failing(docs, our);
    for (const doc of docs.filter((x) => kinds.includes(x.object.kind ?? ''))) {
      const ours = fails(doc);
      if (ours) out.failed++;
      else out.passed++;
      if (ours !== (e.expected === 'fail')) {
        out.mismatches.set(
          `${our.id} ${where(doc)}`,
          e.expected === 'fail' ? 'Polaris fails, ours passes' : 'Polaris passes, ours fails',
        );
      }
    }
  }
  return out;
}

const ids = new Set(BUILTIN_CHECKS.map((c) => c.id));

describe('checkov and Polaris overlaps', () => {
  for (const row of ROWS) {
    for (const our of row.ours) {
      const name = `${row.tool} ${row.check}${row.upstreamTest ? ` (${row.upstreamTest})` : ''} ~ ${our.id}${our.params ? ` ${JSON.stringify(our.params)}` : ''}`;
      const accepted = Object.fromEntries(
        Object.entries(row.accept ?? {}).filter(([k]) => k.startsWith(`${our.id} `)),
      );
      const missing = !ids.has(our.id);
      test(name, { skip: missing ? `${our.id} is not in the catalogue yet` : false }, () => {
        let outcome: Outcome;
        if (row.tool === 'checkov') {
          const exps = CHECKOV.filter(
            (c) =>
              c.check_id === row.check &&
              (!row.upstreamTest || c.upstream_test.endsWith(`::${row.upstreamTest}`)),
          );
          assert.equal(exps.length, 1, `${row.check}: one upstream expectation`);
          const exp = exps[0] as CheckovExpected;
          outcome = compareCheckov(row, exp, our, accepted);
          debug(name, outcome, exp.expected_summary);
          // checkov counts over the whole directory; ours agree once the accepted differences are flipped
          assert.deepEqual(
            { passed: outcome.passed, failed: outcome.failed },
            { passed: exp.expected_summary.passed, failed: exp.expected_summary.failed },
          );
        } else {
          outcome = comparePolaris(row, our);
          debug(name, outcome);
        }
        const got = Object.fromEntries(
          [...outcome.mismatches.keys()].map((k) => [k, accepted[k] ?? outcome.mismatches.get(k)]),
        );
        assert.deepEqual(got, accepted);
        assert.ok(outcome.passed + outcome.failed > 0, 'the fixtures judge at least one resource');
      });
    }
  }

  test('every mapped check of theirs has fixtures here, and the mapping is documented', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/policy/third-party-mapping.md'), 'utf8');
    for (const row of ROWS) {
      if (row.tool === 'checkov')
        assert.ok(
          CHECKOV.some((c) => c.check_id === row.check),
          row.check,
        );
      else
        assert.ok(
          INDEX.some((e) => e.polaris_check === row.check),
          row.check,
        );
      assert.ok(
        doc.includes(`| ${row.check} |`),
        `${row.check} is not in docs/policy/third-party-mapping.md`,
      );
      for (const k of [...Object.keys(row.accept ?? {}), ...Object.keys(row.uncounted ?? {})]) {
        const file = k.split(' ').at(-1)?.split('#')[0] ?? '';
        assert.ok(doc.includes(file), `accepted difference ${k} is not documented`);
      }
    }
  });
});

function debug(name: string, o: Outcome, theirs?: { passed: number; failed: number }) {
  if (!process.env.OVERLAP_DEBUG) return;
  const counts = theirs ? ` ours=${o.passed}/${o.failed} theirs=${theirs.passed}/${theirs.failed}` : '';
  console.log(
    `@@ ${name} judged=${o.passed + o.failed} differ=${o.mismatches.size}${counts} ${JSON.stringify([...o.mismatches])}`,
  );
}
