/**
 * The file kube-apiserver reads with `--audit-webhook-config-file`: a kubeconfig whose current
 * context's cluster is the webhook (server URL, CA) and whose user is how the API server
 * authenticates to it (a bearer token, or a client certificate and key). k8s.io/apiserver loads it
 * with clientcmd, so any valid kubeconfig works; this writes the minimal one.
 */
import { randomBytes } from 'node:crypto';
import { MoatError } from '../../errors.js';

export interface AuditWebhookKubeconfigOptions {
  /** the webhook URL, e.g. https://moat-audit.moat-system.svc:9443/audit */
  url: string;
  /** PEM of the CA that signed the webhook's server certificate (certificate-authority-data) */
  caCert?: string;
  /** or a path to it on the API server's host (certificate-authority) */
  caFile?: string;
  /** a bearer token (users[].user.token) */
  token?: string;
  /** or a file holding it on the API server's host (users[].user.tokenFile) */
  tokenFile?: string;
  /** a client certificate and key, PEM (client-certificate-data, client-key-data) */
  clientCert?: string;
  clientKey?: string;
  /** or their paths on the API server's host */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** cluster, user and context name; default moat-audit */
  name?: string;
}

const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');
// JSON strings are valid YAML double-quoted scalars
const q = (s: string) => JSON.stringify(s);

/** A kubeconfig (YAML) for `--audit-webhook-config-file`. */
export function auditWebhookKubeconfig(opts: AuditWebhookKubeconfigOptions): string {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new MoatError('USAGE', `audit webhook URL ${opts.url} is not a URL`);
  }
  if (url.protocol !== 'https:') {
    // the API server would send its token in clear text
    throw new MoatError('USAGE', `audit webhook URL ${opts.url}: the API server must call it over https`);
  }
  const hasCert = opts.clientCert !== undefined || opts.clientCertFile !== undefined;
  const hasKey = opts.clientKey !== undefined || opts.clientKeyFile !== undefined;
  if (hasCert !== hasKey) {
    throw new MoatError(
      'USAGE',
      'audit webhook kubeconfig: a client certificate needs its key, and the reverse',
    );
  }
  if (!hasCert && opts.token === undefined && opts.tokenFile === undefined) {
    throw new MoatError('USAGE', 'audit webhook kubeconfig: give a token or a client certificate');
  }
  const name = opts.name ?? 'moat-audit';
  const cluster = [`      server: ${q(opts.url)}`];
  if (opts.caCert !== undefined) cluster.push(`      certificate-authority-data: ${b64(opts.caCert)}`);
  else if (opts.caFile !== undefined) cluster.push(`      certificate-authority: ${q(opts.caFile)}`);
  const user: string[] = [];
  if (opts.token !== undefined) user.push(`      token: ${q(opts.token)}`);
  else if (opts.tokenFile !== undefined) user.push(`      tokenFile: ${q(opts.tokenFile)}`);
  if (opts.clientCert !== undefined) user.push(`      client-certificate-data: ${b64(opts.clientCert)}`);
  else if (opts.clientCertFile !== undefined)
    user.push(`      client-certificate: ${q(opts.clientCertFile)}`);
  if (opts.clientKey !== undefined) user.push(`      client-key-data: ${b64(opts.clientKey)}`);
  else if (opts.clientKeyFile !== undefined) user.push(`      client-key: ${q(opts.clientKeyFile)}`);
  return [
    '# kube-apiserver --audit-webhook-config-file: where to send audit events (moat audit webhook)',
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - name: ${q(name)}`,
    '    cluster:',
    ...cluster,
    'users:',
    `  - name: ${q(name)}`,
    '    user:',
    ...user,
    'contexts:',
    `  - name: ${q(name)}`,
    '    context:',
    `      cluster: ${q(name)}`,
    `      user: ${q(name)}`,
    `current-context: ${q(name)}`,
    '',
  ].join('\n');
}

/** A random bearer token for the API server (256 bits, URL-safe). */
export function generateAuditWebhookToken(): string {
  return randomBytes(32).toString('base64url');
}
