import type { AlertForwarder, ForwarderStats } from './types.js';

/** One forwarder that sends each alert to several; each keeps its own queue, so one slow target delays no other. */
export interface FanoutForwarder extends AlertForwarder {
  readonly forwarders: readonly AlertForwarder[];
  /** each forwarder's counters, by name */
  statsByTarget(): Record<string, ForwarderStats>;
}

export function createFanout(forwarders: readonly AlertForwarder[]): FanoutForwarder {
  const list = [...forwarders];
  return {
    name: list.map((f) => f.name).join(', '),
    forwarders: list,
    send(alert) {
      for (const f of list) f.send(alert);
    },
    stats: () => sumStats(list.map((f) => f.stats())),
    statsByTarget() {
      const out: Record<string, ForwarderStats> = {};
      for (const f of list) out[f.name] = f.stats();
      return out;
    },
    async close(timeoutMs?: number) {
      return sumStats(await Promise.all(list.map((f) => f.close(timeoutMs))));
    },
  };
}

/** Counters added over targets; `lastError` is the most recent of theirs, `connected` true when all are. */
function sumStats(all: ForwarderStats[]): ForwarderStats {
  const s: ForwarderStats = {
    queued: 0,
    inFlight: 0,
    sent: 0,
    dropped: 0,
    failed: 0,
    retries: 0,
    abandoned: 0,
  };
  for (const t of all) {
    s.queued += t.queued;
    s.inFlight += t.inFlight;
    s.sent += t.sent;
    s.dropped += t.dropped;
    s.failed += t.failed;
    s.retries += t.retries;
    s.abandoned += t.abandoned;
    if (t.connected !== undefined) s.connected = (s.connected ?? true) && t.connected;
    if (t.lastErrorAt && (!s.lastErrorAt || t.lastErrorAt > s.lastErrorAt)) {
      s.lastError = t.lastError;
      s.lastErrorAt = t.lastErrorAt;
    }
  }
  return s;
}
