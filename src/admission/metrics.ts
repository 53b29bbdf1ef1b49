/**
 * The webhook's counters and latency histogram, rendered in the Prometheus text exposition format
 * (version 0.0.4). Label values come from small fixed sets (outcomes, reasons, HTTP codes, check ids),
 * so the series stay bounded.
 */

type Labels = Record<string, string>;

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = seriesKey(labels);
    const cur = this.values.get(key);
    if (cur) cur.value += by;
    else this.values.set(key, { labels: { ...labels }, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(seriesKey(labels))?.value ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const v of this.values.values()) out.push(`${this.name}${labelText(v.labels)} ${v.value}`);
  }
}

/** Seconds; from half a millisecond (an allowed Pod) to the API server's 30 s webhook limit. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

class Histogram {
  private readonly counts = new Array<number>(BUCKETS.length).fill(0);
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (seconds <= (BUCKETS[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    let cumulative = 0;
    BUCKETS.forEach((le, i) => {
      cumulative += this.counts[i] as number;
      out.push(`${this.name}_bucket{le="${le}"} ${cumulative}`);
    });
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
  }
}

/** The series a label set names; cheap, since inc() runs several times per request (the text is built when rendering). */
function seriesKey(labels: Labels): string {
  let key = '';
  for (const k in labels) key += `${k}\u0001${labels[k]}\u0002`;
  return key;
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] as string)}"`).join(',')}}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class AdmissionMetrics {
  /** outcome: allowed | denied | bypassed | skipped; dry_run: true | false */
  readonly reviews = new Counter('moat_admission_reviews_total', 'AdmissionReviews answered, by outcome');
  readonly bypassed = new Counter(
    'moat_admission_bypassed_total',
    'requests allowed by the bypass step before any check ran, by reason',
  );
  readonly skipped = new Counter(
    'moat_admission_skipped_total',
    'requests allowed without evaluation (operation, subresource, kind no check evaluates, unchanged pod spec)',
  );
  readonly violations = new Counter(
    'moat_admission_violations_total',
    'violations found in persisted (not dry-run) requests, by check and effect',
  );
  readonly checkErrors = new Counter(
    'moat_admission_check_errors_total',
    'checks that threw on an object (the check is skipped for that request)',
  );
  readonly responses = new Counter('moat_admission_http_responses_total', 'HTTP responses, by status code');
  readonly tlsReloads = new Counter(
    'moat_admission_tls_reloads_total',
    'TLS certificate reloads after the files changed, by result',
  );
  readonly latency = new Histogram(
    'moat_admission_review_duration_seconds',
    'time from receiving an AdmissionReview request to sending its response',
  );

  render(): string {
    const out: string[] = [];
    for (const m of [
      this.reviews,
      this.bypassed,
      this.skipped,
      this.violations,
      this.checkErrors,
      this.responses,
      this.tlsReloads,
      this.latency,
    ]) {
      m.render(out);
    }
    return `${out.join('\n')}\n`;
  }
}
