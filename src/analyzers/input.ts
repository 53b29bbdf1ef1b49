import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { MoatError } from '../errors.js';
import type { FileInput } from './types.js';

/** The whole content of a (text) database file, from memory or from its spool copy. */
export function readAll(file: FileInput): Buffer {
  if (file.data) return file.data;
  if (file.spoolPath) return readFileSync(file.spoolPath);
  throw new MoatError('INTERNAL', `${file.path}: analyzer input has neither data nor a spool file`);
}

/**
 * Positioned reads over a file held in memory or spooled to disk, so that page-based databases (Berkeley DB,
 * NDB) are read page by page instead of being loaded whole.
 */
export interface RandomAccess {
  readonly size: number;
  /** `length` bytes at `offset`; shorter (possibly empty) at the end of the file */
  read(offset: number, length: number): Buffer;
  close(): void;
}

export function openRandomAccess(file: FileInput): RandomAccess {
  if (file.data) {
    const data = file.data;
    return {
      size: data.length,
      read: (offset, length) =>
        data.subarray(Math.min(offset, data.length), Math.min(offset + length, data.length)),
      close: () => {},
    };
  }
  if (file.spoolPath) {
    const fd = openSync(file.spoolPath, 'r');
    const size = fstatSync(fd).size;
    return {
      size,
      read(offset, length) {
        const n = Math.max(0, Math.min(length, size - offset));
        const buf = Buffer.allocUnsafe(n);
        let done = 0;
        while (done < n) {
          const got = readSync(fd, buf, done, n - done, offset + done);
          if (got === 0) break;
          done += got;
        }
        return done === n ? buf : buf.subarray(0, done);
      },
      close: () => closeSync(fd),
    };
  }
  throw new MoatError('INTERNAL', `${file.path}: analyzer input has neither data nor a spool file`);
}

/** Splits text into lines without the line terminators (`\n` or `\r\n`). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}
