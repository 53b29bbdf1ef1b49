/**
 * Splits a byte stream into lines without per-line Buffers: each chunk is decoded to a string once,
 * up to its last newline (so a UTF-8 sequence is never cut), and lines are cut from that string with
 * indexOf. A line longer than `maxLineBytes` is reported once and dropped up to its end, so one
 * runaway record cannot grow memory without bound.
 */
export type LineHandler = (text: string, line: number) => void;
export type OverlongHandler = (line: number, bytes: number) => void;

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export class LineSplitter {
  /** number of the last line handed out (1-based) */
  line = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;

  constructor(
    private readonly onLine: LineHandler,
    private readonly onOverlong: OverlongHandler,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.hold(chunk);
      return;
    }
    let head = 0;
    if (this.pendingBytes > 0 || this.overlong) {
      // finish the line that started in an earlier chunk
      const nl = chunk.indexOf(10);
      this.hold(chunk.subarray(0, nl));
      this.flushPending();
      head = nl + 1;
    }
    if (head <= last) this.splitText(chunk.toString('utf8', head, last));
    if (last + 1 < chunk.length) this.hold(chunk.subarray(last + 1));
  }

  /** End of input: the last line may lack its newline. */
  end(): void {
    if (this.pendingBytes > 0 || this.overlong) this.flushPending();
  }

  /** Forget a partial line (the file was truncated under us). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.overlong = false;
  }

  private splitText(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        this.onLine(start === 0 ? text : text.slice(start), ++this.line);
        return;
      }
      this.onLine(text.slice(start, nl), ++this.line);
      start = nl + 1;
    }
  }

  private hold(part: Buffer): void {
    if (this.overlong) {
      this.pendingBytes += part.length;
      return;
    }
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.overlong = true;
      this.pending = [];
      this.pendingBytes += part.length;
      return;
    }
    // copy: the caller's chunk buffer may be reused (tail reads into one buffer)
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private flushPending(): void {
    const line = ++this.line;
    if (this.overlong) this.onOverlong(line, this.pendingBytes);
    else this.onLine(Buffer.concat(this.pending, this.pendingBytes).toString('utf8'), line);
    this.reset();
  }
}
