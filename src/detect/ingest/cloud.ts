/**
 * Managed-cluster export wrappers (../shared/catalog/k8s-audit-format.md §6): each unwraps to the
 * audit Event JSON the control plane wrote and recovers the cluster name where the wrapper carries it.
 * - EKS: CloudWatch log events `{logStreamName?, timestamp, message}` (message = one Event JSON), and
 *   subscription payloads `{messageType, logGroup, logStream, logEvents}`, raw or as base64+gzip
 *   `awslogs.data` (Lambda) / Firehose `data`. Log group `/aws/eks/<cluster>/cluster`.
 * - AKS: diagnostic-settings records `{category: kube-audit|kube-audit-admin, resourceId,
 *   properties: {log}}` (log a JSON string, or an object in some pipelines), and Log Analytics
 *   AzureDiagnostics rows `{Category, ResourceId, log_s}`.
 * - GKE: Cloud Logging LogEntry with a k8s.io AuditLog protoPayload, mapped to the Event shape as far
 *   as it goes (see decodeGkeEntry), also inside a Pub/Sub push envelope.
 */
import { gunzipSync } from 'node:zlib';
import type { AuditEvent } from '../event.js';
import type { AuditDecoder, RecordContext } from './normalize.js';
import { recordMalformed } from './stats.js';

type Json = Record<string, unknown>;

const EKS_AUDIT_STREAM = 'kube-apiserver-audit';
const AKS_CATEGORIES = new Set(['kube-audit', 'kube-audit-admin']);

/** `/aws/eks/<cluster>/cluster` → cluster */
export function eksClusterFromLogGroup(group: string): string | undefined {
  if (!group.startsWith('/aws/eks/') || !group.endsWith('/cluster')) return undefined;
  const name = group.slice(9, -8);
  return name.length > 0 && !name.includes('/') ? name : undefined;
}

/** `/SUBSCRIPTIONS/<s>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name>` → name */
export function aksClusterFromResourceId(id: string): string | undefined {
  const marker = '/MANAGEDCLUSTERS/';
  // Azure upper-cases resourceId in diagnostic records but not everywhere: compare case-insensitively.
  const at = id.toUpperCase().lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = id.slice(at + marker.length);
  const slash = rest.indexOf('/');
  const name = slash < 0 ? rest : rest.slice(0, slash);
  // the upper-cased id loses the real case; lower case is what `az aks list` shows for most clusters
  return name.length > 0 ? name.toLowerCase() : undefined;
}

function parseInner(
  decoder: AuditDecoder,
  text: string,
  ctx: RecordContext,
  format: string,
  cluster: string | undefined,
  out: AuditEvent[],
): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    recordMalformed(
      decoder.stats,
      `${format}: message is not JSON: ${(e as Error).message}`,
      ctx.file,
      ctx.line,
      text,
    );
    return;
  }
  const inner: RecordContext = { file: ctx.file, line: ctx.line, cluster: cluster ?? ctx.cluster, format };
  decoder.eventValue(value, inner, out);
}

/** One CloudWatch Logs event (FilterLogEvents / GetLogEvents / console export). */
export function decodeCloudWatchEvent(
  decoder: AuditDecoder,
  o: Json,
  ctx: RecordContext,
  out: AuditEvent[],
): void {
  const stream = o.logStreamName;
  if (typeof stream === 'string' && !stream.startsWith(EKS_AUDIT_STREAM)) {
    // other control-plane logs (authenticator, scheduler...) share the log group: not audit events
    decoder.stats.skipped++;
    return;
  }
  const group = o.logGroupName;
  const cluster = typeof group === 'string' ? eksClusterFromLogGroup(group) : undefined;
  parseInner(decoder, o.message as string, ctx, 'eks-cloudwatch', cluster, out);
}

/** A subscription-filter payload, decoded or as base64(gzip(JSON)). */
export function decodeSubscription(
  decoder: AuditDecoder,
  o: Json,
  ctx: RecordContext,
  out: AuditEvent[],
): void {
  let payload = o;
  const awslogs = o.awslogs as Json | undefined;
  if (awslogs !== undefined) {
    const data = awslogs?.data;
    if (typeof data !== 'string') {
      recordMalformed(decoder.stats, 'awslogs without data', ctx.file, ctx.line);
      return;
    }
    try {
      payload = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as Json;
    } catch (e) {
      recordMalformed(
        decoder.stats,
        `awslogs.data is not base64 gzip JSON: ${(e as Error).message}`,
        ctx.file,
        ctx.line,
      );
      return;
    }
    if (typeof payload !== 'object' || payload === null) {
      recordMalformed(decoder.stats, 'awslogs.data is not a JSON object', ctx.file, ctx.line);
      return;
    }
  }
  // CONTROL_MESSAGE records are CloudWatch's reachability checks, not log data
  if (payload.messageType === 'CONTROL_MESSAGE') {
    decoder.stats.skipped++;
    return;
  }
  const events = payload.logEvents;
  if (!Array.isArray(events)) {
    recordMalformed(decoder.stats, 'subscription payload without logEvents', ctx.file, ctx.line);
    return;
  }
  const stream = payload.logStream;
  if (typeof stream === 'string' && !stream.startsWith(EKS_AUDIT_STREAM)) {
    decoder.stats.skipped += events.length;
    return;
  }
  const group = payload.logGroup;
  const cluster = typeof group === 'string' ? eksClusterFromLogGroup(group) : undefined;
  for (const e of events) {
    const message = (e as Json | null)?.message;
    if (typeof message !== 'string') {
      recordMalformed(decoder.stats, 'subscription log event without message', ctx.file, ctx.line);
      continue;
    }
    parseInner(decoder, message, ctx, 'eks-subscription', cluster, out);
  }
}

/** One Azure Monitor diagnostic record (Event Hub / Storage) or Log Analytics AzureDiagnostics row. */
export function decodeAksRecord(decoder: AuditDecoder, o: Json, ctx: RecordContext, out: AuditEvent[]): void {
  const category = o.category ?? o.Category;
  if (typeof category !== 'string' || !AKS_CATEGORIES.has(category.toLowerCase())) {
    // kube-apiserver, guard, ... routed to the same hub carry klog text, not audit events
    decoder.stats.skipped++;
    return;
  }
  const resourceId = o.resourceId ?? o.ResourceId;
  const cluster = typeof resourceId === 'string' ? aksClusterFromResourceId(resourceId) : undefined;
  const props = o.properties as Json | undefined;
  const log = props?.log ?? o.log_s;
  if (typeof log === 'string') {
    parseInner(decoder, log, ctx, 'aks', cluster, out);
  } else if (typeof log === 'object' && log !== null) {
    decoder.eventValue(
      log,
      { file: ctx.file, line: ctx.line, cluster: cluster ?? ctx.cluster, format: 'aks' },
      out,
    );
  } else {
    recordMalformed(decoder.stats, `aks ${category} record without properties.log`, ctx.file, ctx.line);
  }
}

/** Pub/Sub push envelope `{message: {data: base64}, subscription}` around a LogEntry. */
export function unwrapPubSub(decoder: AuditDecoder, o: Json, ctx: RecordContext, out: AuditEvent[]): void {
  const data = (o.message as Json).data;
  if (typeof data !== 'string') {
    recordMalformed(decoder.stats, 'not a recognized audit record', ctx.file, ctx.line);
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch (e) {
    recordMalformed(
      decoder.stats,
      `pubsub message data is not JSON: ${(e as Error).message}`,
      ctx.file,
      ctx.line,
    );
    return;
  }
  decoder.decodeValue(value, ctx, out);
}

// google.rpc.Code → HTTP status, for AuditLog.status (GKE logs the gRPC code, not the HTTP one)
const GRPC_TO_HTTP: Record<number, number> = {
  0: 200,
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/**
 * GKE LogEntry → Event. What the mapping cannot recover: the user's groups, uid and extra (GKE logs
 * only the principal email), the query string of requestURI (exec/attach command and container: the
 * URI is rebuilt from resourceName), the exact stage (GKE logs one entry per request: mapped to
 * ResponseComplete) and the exact HTTP status (rebuilt from the gRPC code). `auditID` is the
 * LogEntry's operation id or insertId.
 */
export function decodeGkeEntry(decoder: AuditDecoder, o: Json, ctx: RecordContext, out: AuditEvent[]): void {
  const p = o.protoPayload as Json;
  if (p.serviceName !== 'k8s.io' || typeof p.methodName !== 'string') {
    decoder.stats.skipped++;
    return;
  }
  const method = p.methodName;
  const verb = method.slice(method.lastIndexOf('.') + 1);
  const objectRef = typeof p.resourceName === 'string' ? gkeObjectRef(p.resourceName) : undefined;
  const auth = p.authenticationInfo as Json | undefined;
  const meta = p.requestMetadata as Json | undefined;
  const status = p.status as Json | undefined;
  const labels = o.labels as Record<string, string> | undefined;
  const resource = o.resource as Json | undefined;
  const rlabels = resource?.labels as Json | undefined;
  const operation = o.operation as Json | undefined;
  const grpc = typeof status?.code === 'number' ? status.code : 0;
  const ts = typeof o.timestamp === 'string' ? o.timestamp : undefined;
  const event: Json = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: p.response !== undefined ? 'RequestResponse' : p.request !== undefined ? 'Request' : 'Metadata',
    auditID: (operation?.id as string | undefined) ?? (o.insertId as string | undefined) ?? '',
    stage: 'ResponseComplete',
    requestURI: objectRef ? gkeRequestURI(objectRef) : '',
    verb,
    user: { username: auth?.principalEmail },
    sourceIPs: typeof meta?.callerIp === 'string' ? [meta.callerIp] : undefined,
    userAgent: meta?.callerSuppliedUserAgent,
    objectRef,
    responseStatus: {
      code: GRPC_TO_HTTP[grpc] ?? 500,
      ...(grpc !== 0 ? { status: 'Failure', message: status?.message } : {}),
    },
    requestObject: p.request,
    responseObject: p.response,
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
    annotations: labels,
  };
  const cluster = typeof rlabels?.cluster_name === 'string' ? rlabels.cluster_name : ctx.cluster;
  decoder.event(event, { file: ctx.file, line: ctx.line, cluster, format: 'gke' }, out);
}

/** `core/v1/namespaces/ns/pods/p/exec`, `rbac.authorization.k8s.io/v1/clusterroles/x` → objectRef */
function gkeObjectRef(name: string): Json | undefined {
  const parts = name.split('/');
  if (parts.length < 3) return undefined;
  const group = parts[0] === 'core' ? '' : parts[0];
  const ref: Json = { apiGroup: group, apiVersion: parts[1] };
  let i = 2;
  // `namespaces/<ns>/<resource>...` is namespaced; `namespaces/<ns>` alone is the Namespace object
  if (parts[i] === 'namespaces' && parts.length > i + 2) {
    ref.namespace = parts[i + 1];
    i += 2;
  }
  ref.resource = parts[i];
  if (parts[i + 1] !== undefined) ref.name = parts[i + 1];
  if (parts[i + 2] !== undefined) ref.subresource = parts[i + 2];
  return ref;
}

function gkeRequestURI(ref: Json): string {
  let uri = ref.apiGroup === '' ? `/api/${ref.apiVersion}` : `/apis/${ref.apiGroup}/${ref.apiVersion}`;
  if (ref.namespace !== undefined) uri += `/namespaces/${ref.namespace}`;
  uri += `/${ref.resource}`;
  if (ref.name !== undefined) uri += `/${ref.name}`;
  if (ref.subresource !== undefined) uri += `/${ref.subresource}`;
  return uri;
}
