/**
 * Turns parsed JSON records into normalized audit events. One record may hold one event (an audit.k8s.io
 * Event of v1, v1beta1, v1alpha1 or with no apiVersion as in Falco's fixtures), a batch (EventList), or
 * a cloud export wrapper (EKS CloudWatch Logs, AKS diagnostic settings, GKE Cloud Audit Logs), told
 * apart by their keys in the order of how common they are. Events are the parsed objects themselves,
 * fixed up in place: no copies on the hot path.
 */
import type { AuditEvent } from '../event.js';
import {
  decodeAksRecord,
  decodeCloudWatchEvent,
  decodeGkeEntry,
  decodeSubscription,
  unwrapPubSub,
} from './cloud.js';
import { type IngestStats, recordMalformed } from './stats.js';

export interface DecodeOptions {
  /** cluster name for events whose format does not carry one */
  cluster?: string;
  /** attach `source` (file, line, cluster, format) to every event; default true */
  withSource?: boolean;
}

type Json = Record<string, unknown>;

/** Where the record being decoded came from; reused, never kept by events. */
export interface RecordContext {
  file: string | undefined;
  line: number | undefined;
  cluster: string | undefined;
  format: string;
}

export class AuditDecoder {
  readonly stats: IngestStats;
  /** the caller's cluster name, for formats that carry none */
  readonly cluster: string | undefined;
  private readonly withSource: boolean;

  constructor(stats: IngestStats, options: DecodeOptions = {}) {
    this.stats = stats;
    this.cluster = options.cluster;
    this.withSource = options.withSource ?? true;
  }

  /** One line of a JSON-lines file (or a whole JSON document). Blank lines are ignored. */
  decodeText(text: string, file: string | undefined, line: number | undefined, out: AuditEvent[]): void {
    let start = 0;
    // Skip leading whitespace without trim(): trim copies the string.
    while (start < text.length && text.charCodeAt(start) <= 32) start++;
    if (start === text.length) return;
    let format = 'k8s';
    const c = text.charCodeAt(start);
    if (c >= 48 && c <= 57) {
      // CloudWatch Logs export to S3 (CreateExportTask): "<ISO timestamp> <message>" per line
      const space = text.indexOf(' ', start);
      if (space < 0) {
        recordMalformed(this.stats, 'not JSON', file, line, text);
        return;
      }
      start = space + 1;
      format = 'eks-s3-export';
    }
    let value: unknown;
    try {
      value = JSON.parse(start === 0 ? text : text.slice(start));
    } catch (e) {
      const parts = format === 'k8s' ? splitConcatenated(text, start) : undefined;
      if (parts === undefined) {
        recordMalformed(this.stats, `invalid JSON: ${(e as Error).message}`, file, line, text);
        return;
      }
      // Kinesis Data Firehose writes records back to back with no separator: `{...}{...}`
      const ctx = { file, line, cluster: this.cluster, format };
      for (const part of parts) {
        try {
          this.decodeValue(JSON.parse(part), ctx, out);
        } catch (e2) {
          recordMalformed(this.stats, `invalid JSON: ${(e2 as Error).message}`, file, line, part);
        }
      }
      return;
    }
    this.decodeValue(value, { file, line, cluster: this.cluster, format }, out);
  }

  /** A parsed JSON value of any supported shape. */
  decodeValue(value: unknown, ctx: RecordContext, out: AuditEvent[]): void {
    if (typeof value !== 'object' || value === null) {
      recordMalformed(this.stats, 'not a JSON object', ctx.file, ctx.line);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) this.decodeValue(v, ctx, out);
      return;
    }
    const o = value as Json;
    const kind = o.kind;
    if (kind === 'Event') {
      this.event(o, ctx, out);
      return;
    }
    if (kind === 'EventList') {
      const items = o.items;
      if (!Array.isArray(items)) {
        recordMalformed(this.stats, 'EventList without items', ctx.file, ctx.line);
        return;
      }
      for (const item of items) this.eventValue(item, ctx, out);
      return;
    }
    if (kind !== undefined) {
      recordMalformed(this.stats, `not an audit event (kind ${JSON.stringify(kind)})`, ctx.file, ctx.line);
      return;
    }
    this.wrapper(o, ctx, out);
  }

  /** Records without `kind`: an Event without TypeMeta, or a cloud wrapper. */
  private wrapper(o: Json, ctx: RecordContext, out: AuditEvent[]): void {
    if (typeof o.auditID === 'string') {
      this.event(o, ctx, out);
    } else if (Array.isArray(o.items) && o.apiVersion !== undefined) {
      for (const item of o.items) this.eventValue(item, ctx, out);
    } else if (typeof o.message === 'string') {
      decodeCloudWatchEvent(this, o, ctx, out);
    } else if (o.logEvents !== undefined || o.messageType !== undefined || o.awslogs !== undefined) {
      decodeSubscription(this, o, ctx, out);
    } else if (Array.isArray(o.records)) {
      for (const r of o.records) this.decodeValue(r, ctx, out);
    } else if (o.category !== undefined || o.Category !== undefined) {
      decodeAksRecord(this, o, ctx, out);
    } else if (typeof o.recordId === 'string' && typeof o.data === 'string') {
      // Kinesis Data Firehose transformation record: the data is a subscription payload
      decodeSubscription(this, { awslogs: { data: o.data } }, ctx, out);
    } else if (typeof o.protoPayload === 'object' && o.protoPayload !== null) {
      decodeGkeEntry(this, o, ctx, out);
    } else if (Array.isArray(o.events)) {
      // `aws logs filter-log-events` / `get-log-events` output
      for (const e of o.events) this.decodeValue(e, ctx, out);
    } else if (typeof o.message === 'object' && o.message !== null) {
      unwrapPubSub(this, o, ctx, out);
    } else {
      recordMalformed(this.stats, 'not a recognized audit record', ctx.file, ctx.line);
    }
  }

  /** An EventList item: must itself be an Event (kind Event or absent). */
  eventValue(v: unknown, ctx: RecordContext, out: AuditEvent[]): void {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      recordMalformed(this.stats, 'EventList item is not an object', ctx.file, ctx.line);
      return;
    }
    const o = v as Json;
    if (o.kind !== undefined && o.kind !== 'Event') {
      recordMalformed(this.stats, `not an audit event (kind ${JSON.stringify(o.kind)})`, ctx.file, ctx.line);
      return;
    }
    this.event(o, ctx, out);
  }

  /** Validates the fields every rule relies on, applies the old-version fix-ups, attaches the source. */
  event(o: Json, ctx: RecordContext, out: AuditEvent[]): void {
    const missing =
      typeof o.auditID !== 'string'
        ? 'auditID'
        : typeof o.verb !== 'string'
          ? 'verb'
          : typeof o.stage !== 'string'
            ? 'stage'
            : typeof o.requestURI !== 'string'
              ? 'requestURI'
              : typeof o.level !== 'string'
                ? 'level'
                : typeof o.user !== 'object' || o.user === null
                  ? 'user'
                  : undefined;
    if (missing !== undefined) {
      recordMalformed(this.stats, `audit event without ${missing}`, ctx.file, ctx.line);
      return;
    }
    const apiVersion = o.apiVersion;
    if (apiVersion !== 'audit.k8s.io/v1') upgrade(o, apiVersion);
    if (this.withSource) {
      o.source = { file: ctx.file, line: ctx.line, cluster: ctx.cluster, format: ctx.format };
    }
    this.stats.events++;
    // Validated above: the remaining fields are optional in the Event shape.
    out.push(o as unknown as AuditEvent);
  }
}

/**
 * v1beta1 and v1alpha1 serialize the same Event plus ObjectMeta and a `timestamp`; before 1.9 the
 * micro-time stage fields did not exist, and the conversion (apiserver/pkg/apis/audit/v1alpha1/
 * conversion.go) fills them from `timestamp` (request received) and `metadata.creationTimestamp`
 * (stage). v1alpha1 also folds the group into `objectRef.apiVersion` ("rbac.authorization.k8s.io/v1").
 * The extra fields are left in place: deleting properties would deoptimize the object.
 */
function upgrade(o: Json, apiVersion: unknown): void {
  if (o.requestReceivedTimestamp === undefined && typeof o.timestamp === 'string') {
    o.requestReceivedTimestamp = o.timestamp;
  }
  if (o.stageTimestamp === undefined) {
    const meta = o.metadata as Json | undefined;
    const created = meta?.creationTimestamp;
    if (typeof created === 'string') o.stageTimestamp = created;
  }
  if (apiVersion === 'audit.k8s.io/v1alpha1') {
    const ref = o.objectRef as Json | undefined;
    const v = ref?.apiVersion;
    if (ref && ref.apiGroup === undefined && typeof v === 'string') {
      const slash = v.lastIndexOf('/');
      if (slash >= 0) {
        ref.apiGroup = v.slice(0, slash);
        ref.apiVersion = v.slice(slash + 1);
      }
    }
  }
}

/**
 * Top-level JSON objects written back to back (`{..}{..}`), found by tracking strings and depth; only
 * tried after JSON.parse failed. undefined when the text is not such a sequence of two or more.
 */
export function splitConcatenated(text: string, start = 0): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let begin = -1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash escapes the next char
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      if (depth++ === 0) begin = i;
    } else if (c === 125 || c === 93) {
      if (--depth === 0) parts.push(text.slice(begin, i + 1));
      else if (depth < 0) return undefined;
    } else if (depth === 0 && c > 32) {
      return undefined;
    }
  }
  return depth === 0 && parts.length > 1 ? parts : undefined;
}
