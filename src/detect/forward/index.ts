export { createFanout, type FanoutForwarder } from './fanout.js';
export { AlertQueue, backoffMs } from './queue.js';
export {
  createSyslogFormatter,
  escapeParamValue,
  isSyslogFacility,
  SYSLOG_FACILITIES,
  SYSLOG_SEVERITY,
  type SyslogFacility,
  type SyslogFormatOptions,
  type SyslogFormatter,
  type SyslogMessageFormat,
} from './rfc5424.js';
export { createSyslogForwarder, type SyslogForwarderOptions } from './syslog.js';
export {
  createForwarder,
  createForwarders,
  type ForwardTarget,
  type ForwardTargetOptions,
  parseForwardTarget,
} from './target.js';
export type { AlertForwarder, ForwarderStats, OverflowPolicy, QueueOptions, TlsOptions } from './types.js';
export { createWebhookForwarder, type WebhookForwarderOptions } from './webhook.js';
