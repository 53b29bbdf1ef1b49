import { createHash, type Hash } from 'node:crypto';
import { addAbortSignal, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { MoatError } from '../errors.js';
import type { ProgressFn } from '../model/progress.js';
import { digestProblem } from './reference.js';

/** What a blob must be: its digest, its size when the descriptor gives one, and what to call it in errors. */
export interface BlobExpectation {
  digest: string;
  size?: number;
  /** names the blob and its image in error messages, e.g. "layer 2 (sha256:ab…) of docker.io/library/alpine:3.20" */
  subject: string;
}

export interface VerifyOptions {
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

/** Progress is reported at most once per this many bytes, so a 1 GB layer makes ~4000 events, not 60 000. */
const PROGRESS_STEP = 256 * 1024;

/** Splits a digest into the node:crypto algorithm and the expected hex; throws BAD_MANIFEST when unusable. */
export function parseDigest(
  digest: string,
  subject: string,
): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const problem = digestProblem(digest);
  if (problem) throw new MoatError('BAD_MANIFEST', `${subject}: ${problem}`);
  const [algorithm, hex] = digest.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex };
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function mismatch(subject: string, digest: string, actual: string): MoatError {
  return new MoatError(
    'DIGEST_MISMATCH',
    `${subject}: content does not match digest ${digest} (got ${actual})`,
  );
}

function sizeMismatch(subject: string, expected: number, actual: number, more: boolean): MoatError {
  const got = more ? `more than ${expected}` : String(actual);
  return new MoatError(
    'DIGEST_MISMATCH',
    `${subject}: size is ${got} bytes, the descriptor says ${expected}`,
  );
}

/** Verifies bytes already in memory (manifests, configs) against a digest and optional size. */
export function verifyBuffer(data: Buffer, expected: BlobExpectation): void {
  const { algorithm, hex } = parseDigest(expected.digest, expected.subject);
  if (expected.size !== undefined && data.length !== expected.size) {
    throw sizeMismatch(expected.subject, expected.size, data.length, false);
  }
  const actual = createHash(algorithm).update(data).digest('hex');
  if (actual !== hex) throw mismatch(expected.subject, expected.digest, `${algorithm}:${actual}`);
}

/**
 * A pass-through that hashes what flows through it. It fails as soon as more bytes than the descriptor's
 * size arrive (a hostile server cannot stream forever), and at the end when the size or digest differ.
 */
class DigestVerifier extends Transform {
  readonly #hash: Hash;
  readonly #expected: BlobExpectation;
  readonly #algorithm: string;
  readonly #hex: string;
  readonly #onProgress?: ProgressFn;
  #done = 0;
  #reported = 0;

  constructor(expected: BlobExpectation, onProgress?: ProgressFn) {
    super();
    const { algorithm, hex } = parseDigest(expected.digest, expected.subject);
    this.#hash = createHash(algorithm);
    this.#algorithm = algorithm;
    this.#hex = hex;
    this.#expected = expected;
    this.#onProgress = onProgress;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#done += chunk.length;
    const { size, subject } = this.#expected;
    if (size !== undefined && this.#done > size) {
      cb(sizeMismatch(subject, size, this.#done, true));
      return;
    }
    this.#hash.update(chunk);
    if (this.#onProgress && this.#done - this.#reported >= PROGRESS_STEP) {
      this.#reported = this.#done;
      this.#onProgress({
        phase: 'download',
        id: this.#expected.digest,
        done: this.#done,
        total: size,
        unit: 'bytes',
      });
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const { size, subject, digest } = this.#expected;
    if (size !== undefined && this.#done !== size) {
      cb(sizeMismatch(subject, size, this.#done, false));
      return;
    }
    const actual = this.#hash.digest('hex');
    if (actual !== this.#hex) {
      cb(mismatch(subject, digest, `${this.#algorithm}:${actual}`));
      return;
    }
    this.#onProgress?.({
      phase: 'download',
      id: digest,
      done: this.#done,
      total: size ?? this.#done,
      unit: 'bytes',
      finished: true,
    });
    cb();
  }
}

/**
 * Returns `source` piped through a DigestVerifier. Errors of the source propagate to the returned stream,
 * and destroying the returned stream (a consumer that stops early) destroys the source.
 */
export function verifiedStream(
  source: Readable,
  expected: BlobExpectation,
  opts: VerifyOptions = {},
): Readable {
  const verifier = new DigestVerifier(expected, opts.onProgress);
  pipeline(source, verifier, () => {
    // errors surface on `verifier`, which pipeline destroys with them
  });
  if (opts.signal) addAbortSignal(opts.signal, verifier);
  return verifier;
}
