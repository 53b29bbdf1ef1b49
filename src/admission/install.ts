import yaml from 'js-yaml';
import { MoatError } from '../errors.js';
import { builtinResource } from '../policy/resources.js';
import type { K8sObject } from '../policy/types.js';
import { MOAT_VERSION } from '../util/version.js';
import { type CertOptions, generateWebhookCertificates, type WebhookCertificates } from './certs.js';

/**
 * `moat admission install`: the manifest that runs the webhook. Every object is hardened so that the
 * output passes moat's own posture checks (test/admission/install.test.ts runs them on it): restricted
 * Pod Security, no service-account token, read-only root, resource limits, two replicas spread over
 * nodes with a disruption budget, and network policy that admits only the webhook port.
 */

export const FAILURE_POLICIES = ['Ignore', 'Fail'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

/** The repository release images are published under; pass --image REF@sha256:... to pin one. */
export const DEFAULT_IMAGE = `ghcr.io/moat-dev/moat:${MOAT_VERSION}`;
export const DEFAULT_NAMESPACE = 'moat-system';
export const DEFAULT_NAME = 'moat-admission';
/** qualified (three segments at least, as the API server requires); it prefixes moat's audit-annotation keys */
export const WEBHOOK_NAME = 'validate.moat.dev';
export const WEBHOOK_PORT = 8443;
const TLS_DIR = '/etc/moat/tls';
/** where the policy ConfigMap is mounted; the CLI's serve arguments point here */
/** where the policy ConfigMap is mounted; serve's arguments point into it */
export const POLICY_DIR = '/etc/moat/policy';
/** a non-root uid/gid outside the ranges distributions give to system users (distroless "nonroot") */
const RUN_AS = 65532;

export interface InstallOptions {
  kinds: Iterable<string>;
  namespace?: string;
  /** name of the Deployment, Service, ServiceAccount and the webhook configuration */
  name?: string;
  image?: string;
  /** default Ignore: see docs/admission.md#failure-policy */
  failurePolicy?: FailurePolicy;
  /** the API server's wait for an answer, 1-30 s (default 5) */
  timeoutSeconds?: number;
  replicas?: number;
  /** namespaces the API server does not send at all, besides moat's own (default kube-system) */
  excludedNamespaces?: readonly string[];
  /** extra `moat admission serve` arguments (policy selection) */
  serveArgs?: readonly string[];
  /** files for `serve` (policy config, exemptions, custom policies) by path under /etc/moat/policy: one ConfigMap */
  policyFiles?: ReadonlyArray<{ path: string; content: string }>;
  /** reuse these certificates (tests); else a fresh CA and server certificate are generated */
  certificates?: WebhookCertificates;
  certOptions?: CertOptions;
}

export interface InstallManifest {
  objects: K8sObject[];
  certificates: WebhookCertificates;
  /** kinds moat evaluates that no webhook rule can name (custom kinds): not registered */
  unregisteredKinds: string[];
}

/** Group, version and resources (plural) a webhook rule names for a built-in kind (policy/resources.ts). */
function ruleResources(kind: string): { group: string; version: string; resources: string[] } | undefined {
  const r = builtinResource(kind);
  if (!r) return undefined;
  // ephemeral containers are added through their own subresource of a Pod, which PSA checks too
  const resources = kind === 'Pod' ? [r.resource, 'pods/ephemeralcontainers'] : [r.resource];
  return { group: r.group, version: r.version, resources };
}

/**
 * Kinds that controllers and kubelets write many times a minute (node heartbeats, leader election,
 * endpoint updates, events): never routed through the webhook, whatever checks read them in posture,
 * so that a slow or absent webhook cannot stall the control plane.
 */
export const UNREGISTERED_KINDS: ReadonlySet<string> = new Set([
  'Lease',
  'Endpoints',
  'EndpointSlice',
  'Event',
  'CSIStorageCapacity',
]);

export interface WebhookRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope: '*';
}

/**
 * One rule per API group/version for the given kinds (CREATE and UPDATE), and the kinds it cannot name
 * (custom kinds). The high-churn kinds above are left out silently.
 */
export function webhookRules(kinds: Iterable<string>): { rules: WebhookRule[]; unknown: string[] } {
  const byGroup = new Map<string, WebhookRule>();
  const unknown: string[] = [];
  for (const kind of [...new Set(kinds)].sort()) {
    if (UNREGISTERED_KINDS.has(kind)) continue;
    const r = ruleResources(kind);
    if (!r) {
      unknown.push(kind);
      continue;
    }
    const key = `${r.group}/${r.version}`;
    let rule = byGroup.get(key);
    if (!rule) {
      rule = {
        apiGroups: [r.group],
        apiVersions: [r.version],
        operations: ['CREATE', 'UPDATE'],
        resources: [],
        scope: '*',
      };
      byGroup.set(key, rule);
    }
    rule.resources.push(...r.resources);
  }
  const rules = [...byGroup.values()].sort((a, b) =>
    (a.apiGroups[0] as string).localeCompare(b.apiGroups[0] as string),
  );
  return { rules, unknown };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

export function installManifest(opts: InstallOptions): InstallManifest {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const name = opts.name ?? DEFAULT_NAME;
  for (const [what, v] of [
    ['--namespace', namespace],
    ['name', name],
  ] as const) {
    if (v.length > 63 || !DNS_LABEL.test(v)) {
      throw new MoatError(
        'USAGE',
        `${what} ${v}: expected a DNS label (lower-case letters, digits and "-", at most 63)`,
      );
    }
  }
  const timeout = opts.timeoutSeconds ?? 5;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 30) {
    throw new MoatError(
      'USAGE',
      `webhook timeout ${timeout}s: the API server accepts whole seconds from 1 to 30`,
    );
  }
  const failurePolicy = opts.failurePolicy ?? 'Ignore';
  const excluded = [...new Set([namespace, ...(opts.excludedNamespaces ?? ['kube-system'])])];
  const image = opts.image ?? DEFAULT_IMAGE;
  const certificates = opts.certificates ?? generateWebhookCertificates(name, namespace, opts.certOptions);
  const { rules, unknown } = webhookRules(opts.kinds);
  if (rules.length === 0) {
    throw new MoatError(
      'USAGE',
      'admission install: the selected checks evaluate no kind a webhook can be registered for',
    );
  }
  const labels = { 'app.kubernetes.io/name': 'moat', 'app.kubernetes.io/component': 'admission' };
  const meta = (n: string) => ({ name: n, namespace, labels });
  const tlsSecret = `${name}-tls`;
  const policyMap = `${name}-policy`;
  const policyFiles = opts.policyFiles ?? [];
  const hasPolicy = policyFiles.length > 0;
  // ConfigMap keys cannot hold a slash: the volume's items put each key back at its path
  const policyItems = policyFiles.map((f) => ({
    key: f.path.replace(/[^-._a-zA-Z0-9]/g, '.'),
    path: f.path,
  }));

  const args = [
    'admission',
    'serve',
    `--port=${WEBHOOK_PORT}`,
    `--tls-cert=${TLS_DIR}/tls.crt`,
    `--tls-key=${TLS_DIR}/tls.key`,
    `--exclude-namespaces=${excluded.filter((n) => n !== namespace).join(',')}`,
    // endpoints drop a terminating pod asynchronously: keep answering a few seconds after SIGTERM
    '--drain-delay=5s',
    ...(opts.serveArgs ?? []),
  ];

  const objects: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          ...labels,
          // the webhook's own pods meet the restricted standard; the API server enforces it here
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(name),
      // moat admission never calls the API server
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(tlsSecret),
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(certificates.server.cert),
        'tls.key': b64(certificates.server.key),
        'ca.crt': b64(certificates.ca.cert),
      },
    },
  ];
  if (hasPolicy) {
    const data = Object.fromEntries(policyFiles.map((f, i) => [policyItems[i]?.key, f.content]));
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(policyMap), data });
  }
  const securityContext = {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: RUN_AS,
    runAsGroup: RUN_AS,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
    appArmorProfile: { type: 'RuntimeDefault' },
  };
  const probe = (path: string, period: number) => ({
    httpGet: { path, port: 'https', scheme: 'HTTPS' },
    periodSeconds: period,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  objects.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(name),
      spec: {
        replicas: opts.replicas ?? 2,
        revisionHistoryLimit: 3,
        selector: { matchLabels: labels },
        // never fewer ready replicas than asked for during a rollout
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: RUN_AS,
              runAsGroup: RUN_AS,
              fsGroup: RUN_AS,
              seccompProfile: { type: 'RuntimeDefault' },
              appArmorProfile: { type: 'RuntimeDefault' },
            },
            affinity: {
              podAntiAffinity: {
                // preferred, not required: a one-node cluster still runs both replicas
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: 'kubernetes.io/hostname',
                      labelSelector: { matchLabels: labels },
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: 'webhook',
                image,
                imagePullPolicy: 'IfNotPresent',
                args,
                env: [
                  { name: 'MOAT_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  {
                    name: 'MOAT_SERVICE_ACCOUNT',
                    valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } },
                  },
                  // V8 collects garbage well before the container's memory limit would OOM-kill it
                  { name: 'NODE_OPTIONS', value: '--max-old-space-size=192' },
                ],
                ports: [{ name: 'https', containerPort: WEBHOOK_PORT, protocol: 'TCP' }],
                readinessProbe: probe('/readyz', 5),
                livenessProbe: probe('/healthz', 10),
                resources: {
                  requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '16Mi' },
                  limits: { cpu: '1', memory: '256Mi', 'ephemeral-storage': '64Mi' },
                },
                securityContext,
                volumeMounts: [
                  { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                  ...(hasPolicy ? [{ name: 'policy', mountPath: POLICY_DIR, readOnly: true }] : []),
                ],
              },
            ],
            volumes: [
              { name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } },
              ...(hasPolicy
                ? [{ name: 'policy', configMap: { name: policyMap, defaultMode: 0o440, items: policyItems } }]
                : []),
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name),
      spec: {
        type: 'ClusterIP',
        selector: labels,
        ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(name),
      spec: { minAvailable: 1, selector: { matchLabels: labels } },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(name),
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        // the API server's address cannot be named by a selector, so the port is the restriction;
        // no egress at all: the webhook answers from memory and calls nothing
        ingress: [{ ports: [{ protocol: 'TCP', port: WEBHOOK_PORT }] }],
        egress: [],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name, labels },
      webhooks: [
        {
          name: WEBHOOK_NAME,
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy,
          matchPolicy: 'Equivalent',
          timeoutSeconds: timeout,
          clientConfig: {
            service: { name, namespace, path: '/validate', port: 443 },
            caBundle: b64(certificates.ca.cert),
          },
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded }],
          },
          rules,
        },
      ],
    },
  );
  return { objects, certificates, unregisteredKinds: unknown };
}

/** Multi-document YAML, ready for `kubectl apply -f -`. */
export function renderManifest(objects: readonly K8sObject[], header?: string): string {
  const docs = objects.map((o) => yaml.dump(o, { lineWidth: -1, noRefs: true, sortKeys: false }));
  return `${header ? `${header.replace(/^/gm, '# ')}\n` : ''}---\n${docs.join('---\n')}`;
}
