/**
 * Typed errors: one registry of codes, each with the exit code the CLI uses. A MoatError's message is
 * the whole line the user sees (it names the input and the cause); anything else reaching the CLI is
 * an internal error (exit 3).
 */
export const EXIT = {
  ok: 0,
  findings: 1,
  input: 2,
  internal: 3,
} as const;

export const ERROR_CODES = {
  USAGE: EXIT.input,
  CONFIG: EXIT.input,
  BAD_REFERENCE: EXIT.input,
  NOT_FOUND: EXIT.input,
  UNAUTHORIZED: EXIT.input,
  REGISTRY: EXIT.input,
  TIMEOUT: EXIT.input,
  NETWORK: EXIT.input,
  INSECURE: EXIT.input,
  DIGEST_MISMATCH: EXIT.input,
  BAD_MANIFEST: EXIT.input,
  UNSUPPORTED_MEDIA_TYPE: EXIT.input,
  NO_MATCHING_PLATFORM: EXIT.input,
  CORRUPT_LAYER: EXIT.input,
  LAYER_TOO_LARGE: EXIT.input,
  PATH_TRAVERSAL: EXIT.input,
  SYMLINK_LOOP: EXIT.input,
  BAD_ARCHIVE: EXIT.input,
  BAD_DB_INPUT: EXIT.input,
  DB_MISSING: EXIT.input,
  DB_SCHEMA: EXIT.input,
  /** an SBOM given to `scan sbom` that is not CycloneDX or SPDX JSON */
  BAD_SBOM: EXIT.input,
  /** an ignore file or VEX document that cannot be read */
  BAD_SUPPRESSION: EXIT.input,
  INTERNAL: EXIT.internal,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MoatError extends Error {
  readonly code: ErrorCode;
  override readonly cause?: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'MoatError';
    this.code = code;
    this.cause = options?.cause;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code];
  }
}

export function isMoatError(e: unknown): e is MoatError {
  return e instanceof MoatError;
}

/** Message of any thrown value, for wrapping causes into one line. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
