// The audit webhook in a process of its own, for the crash test (webhook-crash.test.ts) to kill -9.
// Env: WEBHOOK_DIR (data dir), WEBHOOK_CERT / WEBHOOK_KEY (PEM), WEBHOOK_TOKEN, WEBHOOK_CONSUMED (a
// file the consumer appends each event's auditID/stage to). Prints {"port":N} once listening; SIGTERM
// closes it cleanly.
import { appendFileSync } from 'node:fs';
import { startAuditWebhook } from '../../src/detect/webhook/index.js';
import { setLogLevel } from '../../src/log.js';

setLogLevel('error');
const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const consumed = env('WEBHOOK_CONSUMED');
const server = await startAuditWebhook({
  dataDir: env('WEBHOOK_DIR'),
  tls: { cert: env('WEBHOOK_CERT'), key: env('WEBHOOK_KEY') },
  host: '127.0.0.1',
  port: 0,
  tokens: [env('WEBHOOK_TOKEN')],
  onEvents: (events) => {
    appendFileSync(consumed, events.map((e) => `${e.auditID}/${e.stage}\n`).join(''));
  },
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.on('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
