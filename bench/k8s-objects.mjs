// Writes a realistic set of Kubernetes manifests for the posture benchmark: mostly Deployments (the
// bulk of any real manifest repository or cluster), with the Services, ServiceAccounts, ConfigMaps and
// RBAC objects that come with them, spread over namespaces, in multi-document YAML files of ~500
// documents each (helm template output looks like this). Some workloads are hardened, some are not, so
// every family of checks has work to do.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function deployment(i, ns, hardened) {
  const sc = hardened
    ? `
          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
            seccompProfile:
              type: RuntimeDefault`
    : i % 7 === 0
      ? `
          securityContext:
            privileged: true`
      : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  namespace: ${ns}
  labels:
    app.kubernetes.io/name: app-${i}
    app.kubernetes.io/part-of: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: app-${i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-${i}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: app-${i}
      containers:
        - name: app
          image: registry.example.com/shop/app-${i % 50}:1.${i % 13}.${i % 5}
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: LOG_LEVEL
              value: info
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: db-${i % 10}
                  key: password
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 512Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: http
          livenessProbe:
            httpGet:
              path: /healthz
              port: http${sc}
        - name: sidecar
          image: registry.example.com/infra/proxy:2.${i % 3}
          args: ["--port=15001"]
          resources:
            limits:
              cpu: 200m
              memory: 64Mi
      volumes:
        - name: cache
          emptyDir: {}
${i % 11 === 0 ? `        - name: host\n          hostPath:\n            path: /var/run/docker.sock\n` : ''}`;
}

function service(i, ns) {
  return `apiVersion: v1
kind: Service
metadata:
  name: app-${i}
  namespace: ${ns}
spec:
  type: ${i % 9 === 0 ? 'NodePort' : 'ClusterIP'}
  selector:
    app.kubernetes.io/name: app-${i}
  ports:
    - port: 80
      targetPort: http
`;
}

function serviceAccount(i, ns) {
  return `apiVersion: v1
kind: ServiceAccount
metadata:
  name: app-${i}
  namespace: ${ns}
automountServiceAccountToken: false
`;
}

function configMap(i, ns) {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${i}-config
  namespace: ${ns}
data:
  config.yaml: |
    server:
      port: 8080
      timeout: 30s
`;
}

function roleBinding(i, ns) {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app-${i}
  namespace: ${ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ${i % 13 === 0 ? 'ClusterRole' : 'Role'}
  name: ${i % 13 === 0 ? 'cluster-admin' : `app-${i}`}
subjects:
  - kind: ServiceAccount
    name: app-${i}
    namespace: ${ns}
`;
}

function role(i, ns) {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: app-${i}
  namespace: ${ns}
rules:
  - apiGroups: [""]
    resources: ["configmaps"${i % 17 === 0 ? ', "secrets"' : ''}]
    verbs: ["get", "list", "watch"]
`;
}

/**
 * Writes `objects` objects (about half Deployments) under `dir`; returns the files and counts per kind.
 */
export function writeK8sObjects(dir, objects = 20_000, perFile = 500) {
  const makers = [
    deployment,
    deployment,
    deployment,
    deployment,
    deployment,
    service,
    serviceAccount,
    configMap,
    roleBinding,
    role,
  ];
  const counts = {};
  const files = writeDocuments(dir, 'manifests', objects, perFile, (n) => {
    const i = Math.floor(n / makers.length);
    const make = makers[n % makers.length];
    const ns = `team-${i % 40}`;
    const text = make === deployment ? deployment(n, ns, n % 3 === 0) : make(i, ns);
    const kind = /^kind: (\S+)/m.exec(text)[1];
    counts[kind] = (counts[kind] ?? 0) + 1;
    return text;
  });
  return { files, counts, objects };
}

/** Writes documents `make(0..n-1)` under `dir` as `<prefix>-NNN.yaml`, `perFile` to a file; returns the files. */
function writeDocuments(dir, prefix, n, perFile, make) {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (let start = 0; start < n; start += perFile) {
    const docs = [];
    for (let i = start; i < Math.min(start + perFile, n); i++) docs.push(make(i));
    const file = join(dir, `${prefix}-${String(files.length).padStart(3, '0')}.yaml`);
    writeFileSync(file, docs.join('---\n'));
    files.push(file);
  }
  return files;
}

/**
 * The Deployment of the Kubernetes documentation's Deployment page (nginx-deployment), named `i`: the
 * workload the posture goal in issue 4 was calibrated on. 20,000 of them take js-yaml under 1 s and the
 * `yaml` package about 7 s to parse on the benchmark machine, the two figures the issue gives.
 */
function referenceDeployment(i) {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment-${i}
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
`;
}

/** Writes `objects` reference Deployments under `dir`, `perFile` to a file; returns the files and counts. */
export function writeReferenceDeployments(dir, objects = 20_000, perFile = 500) {
  const files = writeDocuments(dir, 'deployments', objects, perFile, referenceDeployment);
  return { files, counts: { Deployment: objects }, objects };
}
