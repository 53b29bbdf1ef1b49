/**
 * Audit-log ingest: every supported source becomes a stream of normalized AuditEvents
 * (src/detect/event.ts), with malformed records counted in IngestStats rather than thrown.
 */
import type { AuditEvent } from '../event.js';
import { ChunkDecoder } from './files.js';
import { AuditDecoder, type DecodeOptions } from './normalize.js';
import { type IngestStats, newIngestStats } from './stats.js';

export { aksClusterFromResourceId, eksClusterFromLogGroup } from './cloud.js';
export {
  ChunkDecoder,
  DEFAULT_MAX_DOCUMENT_BYTES,
  isGzipFile,
  listAuditFiles,
  openAuditStream,
  type ReadOptions,
  readAuditBatches,
  readAuditEvents,
} from './files.js';
export { type FollowOptions, followAuditFile } from './follow.js';
export { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './lines.js';
export { AuditDecoder, type DecodeOptions, type RecordContext, splitConcatenated } from './normalize.js';
export {
  DEFAULT_SAMPLE_LIMIT,
  type IngestStats,
  type MalformedSample,
  newIngestStats,
  recordMalformed,
} from './stats.js';

/**
 * Decodes an in-memory body (a webhook EventList, a Pub/Sub message, a test string): JSON lines or one
 * JSON document, any supported shape.
 */
export function decodeAuditText(
  text: string | Buffer,
  options: DecodeOptions & { stats?: IngestStats; file?: string } = {},
): { events: AuditEvent[]; stats: IngestStats } {
  const stats = options.stats ?? newIngestStats();
  const reader = new ChunkDecoder(new AuditDecoder(stats, options), options.file, {});
  reader.push(typeof text === 'string' ? Buffer.from(text) : text);
  reader.end();
  return { events: reader.take(), stats };
}
