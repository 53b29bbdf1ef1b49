/**
 * The normalized audit event every detection runs on: the audit.k8s.io/v1 `Event` shape
 * (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go), whatever the
 * source (v1beta1 file, Falco fixture without apiVersion, CloudWatch, Azure Monitor, GKE). Ingest
 * fills `source` with where the event came from; nothing else is added, so rules read the same
 * field paths as the Kubernetes docs and Falco's `ka.*` fields.
 */

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';

export interface AuditUserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** metav1.Status as the API server records it: `code` is always set, failures add the rest. */
export interface AuditResponseStatus {
  code?: number;
  status?: string;
  reason?: string;
  message?: string;
  metadata?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

/** Where ingest found the event: for alerts' evidence and malformed-record samples. */
export interface AuditEventSource {
  file?: string;
  /** 1-based line (or record index for formats without lines) */
  line?: number;
  /** cluster name where the export format carries it (EKS log group, AKS resourceId, GKE labels) */
  cluster?: string;
  /** the input format: 'k8s' | 'eks-cloudwatch' | 'eks-subscription' | 'aks' | 'gke' | ... */
  format?: string;
}

export interface AuditEvent {
  kind?: string;
  apiVersion?: string;
  level: AuditLevel;
  auditID: string;
  stage: AuditStage;
  requestURI: string;
  verb: string;
  user: AuditUserInfo;
  impersonatedUser?: AuditUserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: AuditResponseStatus;
  /** raw JSON as sent (before admission); for patch it is the patch document, possibly an array */
  requestObject?: unknown;
  /** raw JSON of the stored object, only at level RequestResponse */
  responseObject?: unknown;
  /** RFC 3339 with microseconds */
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string>;
  source?: AuditEventSource;
}
