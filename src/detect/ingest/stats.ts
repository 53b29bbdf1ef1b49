/**
 * Counters for one ingest run. Bad records never throw: they are counted, and the first few are kept
 * (with file, line and reason) and logged, so a user can find them without the log being flooded.
 */
import { log } from '../../log.js';

export interface MalformedSample {
  file?: string;
  line?: number;
  reason: string;
  /** the first bytes of the record, for a human to recognise it */
  excerpt?: string;
}

export interface IngestStats {
  /** events produced */
  events: number;
  /** records that were meant to be audit events but could not be used */
  malformed: number;
  /** records recognised and deliberately dropped (CloudWatch CONTROL_MESSAGE, other log categories) */
  skipped: number;
  /** the first `sampleLimit` malformed records */
  samples: MalformedSample[];
  sampleLimit: number;
}

export const DEFAULT_SAMPLE_LIMIT = 20;
const EXCERPT = 120;

export function newIngestStats(sampleLimit = DEFAULT_SAMPLE_LIMIT): IngestStats {
  return { events: 0, malformed: 0, skipped: 0, samples: [], sampleLimit };
}

export function recordMalformed(
  stats: IngestStats,
  reason: string,
  file: string | undefined,
  line: number | undefined,
  text?: string,
): void {
  stats.malformed++;
  if (stats.samples.length >= stats.sampleLimit) return;
  const sample: MalformedSample = { reason };
  if (file !== undefined) sample.file = file;
  if (line !== undefined) sample.line = line;
  if (text !== undefined) sample.excerpt = text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text;
  stats.samples.push(sample);
  log.warn({ file, line, reason }, 'skipping malformed audit record');
}
