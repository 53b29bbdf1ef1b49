/**
 * `--follow`: tail a growing audit log as the API server writes it. Polls (fs.watch misses events on
 * network and overlay filesystems, and a poll every few hundred ms costs nothing next to the log's
 * own rate). Handles the log backend's rotation (lumberjack renames the file and creates a new one at
 * the same path: the old inode is read to its end, then the new file from its start) and truncation
 * (copytruncate-style rotation: read again from offset 0). Plain text only: a gzipped file is not a
 * file that grows. Stops cleanly when `signal` aborts.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../event.js';
import { ChunkDecoder, type ReadOptions } from './files.js';
import { AuditDecoder } from './normalize.js';
import { newIngestStats } from './stats.js';

export interface FollowOptions extends ReadOptions {
  /** how often to look for new data, rotation and truncation; default 250 ms */
  pollMs?: number;
  /** start at the end of the existing file (like `tail -f`) instead of its beginning; default false */
  fromEnd?: boolean;
}

const DEFAULT_POLL_MS = 250;
const READ_BYTES = 256 * 1024;

/** Events appended to `file`, in batches, until `options.signal` aborts. */
export async function* followAuditFile(
  file: string,
  options: FollowOptions = {},
): AsyncGenerator<AuditEvent[]> {
  const stats = options.stats ?? newIngestStats();
  const decoder = new AuditDecoder(stats, options);
  const signal = options.signal;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const buf = Buffer.allocUnsafe(options.chunkBytes ?? READ_BYTES);
  let fh: FileHandle | undefined;
  let ino = -1;
  let pos = 0;
  let reader = new ChunkDecoder(decoder, file, options);
  let first = true;
  let rotated = false;
  try {
    while (!signal?.aborted) {
      if (fh === undefined) {
        try {
          fh = await open(file, 'r');
        } catch {
          // between a rename and the new file's creation the path does not exist: wait for it
          if (!(await pause(pollMs, signal))) return;
          continue;
        }
        const s = await fh.stat();
        ino = s.ino;
        pos = first && options.fromEnd ? s.size : 0;
        first = false;
      }
      // drain what is there now
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        reader.push(buf.subarray(0, bytesRead));
        if (reader.out.length > 0) yield reader.take();
        if (signal?.aborted) return;
      }
      if (rotated) {
        // the old file is complete (its last line may lack a newline); the new one starts fresh
        rotated = false;
        reader.end();
        if (reader.out.length > 0) yield reader.take();
        await fh.close();
        fh = undefined;
        reader = new ChunkDecoder(decoder, file, options);
        continue;
      }
      const now = await stat(file).catch(() => undefined);
      if (now === undefined || now.ino !== ino) {
        // rotated: drain the old inode once more (the writer may have written after our last read)
        rotated = true;
        if (now === undefined && !(await pause(pollMs, signal))) return;
        continue;
      }
      if (now.size < pos) {
        // truncated in place
        pos = 0;
        reader.reset();
        continue;
      }
      if (now.size > pos) continue;
      if (!(await pause(pollMs, signal))) return;
    }
  } finally {
    await fh?.close();
  }
}

/** false when aborted */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
