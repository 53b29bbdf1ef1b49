/**
 * The Kubernetes audit webhook backend: an HTTPS endpoint for kube-apiserver's EventList batches, a
 * write-ahead log that makes each acknowledged batch durable, dedup of retried events, and at-least-once
 * delivery to a consumer. docs/detect/webhook.md describes it for users.
 */
export {
  type AuditConsumer,
  type BatchInfo,
  type ConsumerStats,
  DEFAULT_MAX_QUEUED_EVENTS,
  decodeWalRecord,
} from './consumer.js';
export { DEFAULT_DEDUP_KEYS, DedupIndex, eventKey, KEY_BYTES, writeEventKey } from './dedup.js';
export {
  type AuditWebhookKubeconfigOptions,
  auditWebhookKubeconfig,
  generateAuditWebhookToken,
} from './kubeconfig.js';
export {
  type AuditWebhook,
  type AuditWebhookOptions,
  type AuditWebhookStats,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  renderMetrics,
  startAuditWebhook,
  type WebhookTls,
} from './server.js';
export {
  openWal,
  storedEventKeys,
  type Wal,
  type WalOptions,
  type WalReader,
  type WalRecord,
  type WalRecordType,
  type WalStats,
} from './wal.js';
