import { readAll } from '../input.js';
import type { FileInput } from '../types.js';

/**
 * The text of a file, honouring a byte order mark: lockfiles and requirements written on Windows come as
 * UTF-16 (LE or BE) with a BOM, or UTF-8 with one, which JSON.parse and line parsers would trip over.
 */
export function decodeText(buf: Buffer): string {
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return buf.toString('utf16le', 2);
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    // swap16 needs an even length: a trailing odd byte is a truncated character anyway
    const le = Buffer.from(buf.subarray(2, buf.length - (buf.length % 2)));
    return le.swap16().toString('utf16le');
  }
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
    return buf.toString('utf8', 3);
  return buf.toString('utf8');
}

/** The decoded text of an analyzer's input. */
export function readText(file: FileInput): string {
  return decodeText(readAll(file));
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; reason: string };

/** JSON.parse with the failure as a one-line reason instead of an exception (V8's parser is not recursive). */
export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return {
      ok: false,
      reason: `invalid JSON: ${oneLine(err instanceof Error ? err.message : String(err))}`,
    };
  }
}

/**
 * A parser's message made fit for a warning line: parsers quote the offending input, which in a corrupt file
 * is binary junk, newlines or a whole megabyte-long token.
 */
export function oneLine(msg: string, max = 160): string {
  const flat = msg
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty string value, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The last path segment. */
export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Whether `path` lies inside a directory named `dir` (any depth). */
export function underDir(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`) || path.includes(`/${dir}/`);
}
