// biome-ignore-all lint/suspicious/noExplicitAny: these tests read manifests and reviews as untyped JSON
/**
 * Drives the admission webhook the way the API server does: HTTPS with the generated CA as the only
 * trust root and the Service's DNS name as the TLS server name, keep-alive, JSON AdmissionReviews.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:https';
import { generateWebhookCertificates, type WebhookCertificates } from '../../src/admission/certs.js';
import type { AdmissionReview } from '../../src/admission/review.js';
import {
  type AdmissionServer,
  type AdmissionServerOptions,
  startAdmissionServer,
} from '../../src/admission/server.js';
import type { K8sObject } from '../../src/policy/types.js';

export const SERVICE = 'moat-admission';
export const NAMESPACE = 'moat-system';
/** the name the API server dials: <service>.<namespace>.svc */
export const SERVER_NAME = `${SERVICE}.${NAMESPACE}.svc`;

let certs: WebhookCertificates | undefined;
export function testCertificates(): WebhookCertificates {
  certs ??= generateWebhookCertificates(SERVICE, NAMESPACE);
  return certs;
}

export interface Harness {
  server: AdmissionServer;
  agent: Agent;
  audit: unknown[];
  post(body: string | Buffer | object, headers?: Record<string, string>): Promise<HttpResult>;
  get(path: string): Promise<HttpResult>;
  review(req: Partial<ReviewRequest> & { object?: K8sObject | null }): Promise<AdmissionReview>;
  close(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export interface ReviewRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  namespace: string;
  name: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo: { username?: string; groups?: string[] };
  oldObject: K8sObject | null;
  dryRun: boolean;
  subResource: string;
}

const GROUPS: Record<string, string> = {
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

/** A v1 AdmissionReview as the API server builds one for `object`. */
export function admissionReview(
  req: Partial<ReviewRequest> & { object?: K8sObject | null },
): AdmissionReview {
  const obj = req.object ?? undefined;
  const kind = obj?.kind ?? 'Pod';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: req.uid ?? randomUUID(),
      kind: req.kind ?? { group: GROUPS[kind] ?? '', version: 'v1', kind },
      name: req.name ?? obj?.metadata?.name ?? '',
      namespace: req.namespace ?? obj?.metadata?.namespace ?? 'default',
      operation: req.operation ?? 'CREATE',
      userInfo: req.userInfo ?? { username: 'alice', groups: ['system:authenticated'] },
      object: req.object ?? null,
      oldObject: req.oldObject ?? null,
      dryRun: req.dryRun ?? false,
      ...(req.subResource ? { subResource: req.subResource } : {}),
    },
  } as AdmissionReview;
}

export async function startHarness(
  opts: Omit<AdmissionServerOptions, 'tls' | 'bypass'> & Partial<AdmissionServerOptions>,
): Promise<Harness> {
  const c = testCertificates();
  const audit: unknown[] = [];
  const server = await startAdmissionServer({
    tls: { cert: c.server.cert, key: c.server.key },
    port: 0,
    host: '127.0.0.1',
    bypass: { namespace: NAMESPACE, serviceAccount: SERVICE },
    audit: (r) => audit.push(r),
    ...opts,
  });
  const agent = new Agent({ keepAlive: true, ca: c.ca.cert, servername: SERVER_NAME, maxSockets: 4 });
  const call = (method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) =>
    new Promise<HttpResult>((resolve, reject) => {
      const r = request(
        { host: '127.0.0.1', port: server.port, method, path, agent, servername: SERVER_NAME, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json: () => JSON.parse(text),
            });
          });
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  return {
    server,
    agent,
    audit,
    post(body, headers = {}) {
      const buf =
        typeof body === 'string' || Buffer.isBuffer(body)
          ? Buffer.from(body)
          : Buffer.from(JSON.stringify(body));
      return call('POST', '/validate?timeout=5s', buf, { 'Content-Type': 'application/json', ...headers });
    },
    get(path) {
      return call('GET', path);
    },
    async review(req) {
      const res = await call(
        'POST',
        '/validate?timeout=5s',
        Buffer.from(JSON.stringify(admissionReview(req))),
        {
          'Content-Type': 'application/json',
        },
      );
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
      return res.json() as AdmissionReview;
    },
    async close() {
      agent.destroy();
      await server.close();
    },
  };
}
