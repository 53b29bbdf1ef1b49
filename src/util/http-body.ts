import type { IncomingMessage } from 'node:http';

/** Body bytes held by a server's requests being read; past `max`, new bodies are refused as busy. */
export class BodyBudget {
  held = 0;
  constructor(readonly max: number) {}
}

/** Why a body was refused: over the per-request limit (413), or over the server's budget (503). */
export type BodyRefusal = { why: 'too-large'; size: string } | { why: 'busy' };

/**
 * Reads one request body of at most `maxBytes` while the bodies of all the server's requests stay within
 * `budget`. Content-Length is checked before a byte is read; a streamed body stops being read (paused)
 * the moment it crosses either limit. Exactly one of `onBody` / `onRefuse` is called, unless the client
 * goes away first; the budget is given back however the request ends.
 */
export function readBoundedBody(
  req: IncomingMessage,
  maxBytes: number,
  budget: BodyBudget,
  onBody: (body: Buffer) => void,
  onRefuse: (r: BodyRefusal) => void,
): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    onRefuse({ why: 'too-large', size: `${declared} bytes` });
    return;
  }
  if (budget.held + Number(declared ?? 0) > budget.max) {
    onRefuse({ why: 'busy' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  const release = () => {
    budget.held -= size;
    size = 0;
  };
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    size += chunk.length;
    budget.held += chunk.length;
    if (size > maxBytes || budget.held > budget.max) {
      done = true;
      const over = size > maxBytes;
      release();
      req.pause();
      onRefuse(over ? { why: 'too-large', size: `more than ${maxBytes} bytes` } : { why: 'busy' });
      return;
    }
    chunks.push(chunk);
  });
  const abandon = () => {
    if (done) return;
    done = true;
    release();
  };
  req.on('error', abandon);
  req.on('close', abandon);
  req.on('end', () => {
    if (done) return;
    done = true;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    release();
    onBody(body);
  });
}
