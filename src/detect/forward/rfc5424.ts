import { hostname } from 'node:os';
import type { Alert, AlertSeverity } from '../alert.js';

/**
 * RFC 5424 syslog messages for alerts:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID PARAM="value"...] MSG
 *
 * PRI is facility * 8 + severity (local0 by default: operators route an application's messages by a
 * local facility, and it keeps alerts out of the host's own auth log), MSGID the rule id, and one
 * structured-data element carries the fields a collector indexes. MSG is the whole alert as JSON (the
 * default) or a short line for people. moat has no IANA enterprise number, so the SD-ID uses 32473, the
 * number RFC 5612 reserves for documentation; set `sdId` to your own `name@PEN` if you have one.
 */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

export function isSyslogFacility(s: string): s is SyslogFacility {
  return Object.hasOwn(SYSLOG_FACILITIES, s);
}

/** RFC 5424 §6.2.1 severities: crit, err, warning, notice, informational. */
export const SYSLOG_SEVERITY: Readonly<Record<AlertSeverity, number>> = {
  CRITICAL: 2,
  HIGH: 3,
  MEDIUM: 4,
  LOW: 5,
  INFO: 6,
};

export type SyslogMessageFormat = 'json' | 'text';

export interface SyslogFormatOptions {
  /** a facility name or number 0-23; default local0 */
  facility?: SyslogFacility | number;
  /** default: this machine's host name */
  hostname?: string;
  /** default `moat` */
  appName?: string;
  /** default: this process's pid */
  procId?: string;
  /** the structured-data element's id; default `moat@32473` */
  sdId?: string;
  /** MSG: `json` (default) the whole alert, `text` one line for people */
  message?: SyslogMessageFormat;
  /**
   * the largest message (without its framing) to emit; default 8192, rsyslog's default maxMessageSize and
   * the size RFC 5425 says receivers should accept. A longer alert is sent slimmed (see `fitMessage`);
   * the limit holds whenever the header itself fits in half of it.
   */
  maxMessageBytes?: number;
}

const SD_NAME_MAX = 32;
/** bounds tried in turn on each SD value, so that the header leaves room for MSG */
const SD_VALUE_CAPS = [256, 64, 16];
const BOM = '\u{feff}';

/** Header fields are PRINTUSASCII (33-126) of bounded length, or `-` (NILVALUE) when empty. */
function headerField(s: string, max: number): string {
  const v = s.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` take a backslash, nothing else may. */
export function escapeParamValue(s: string): string {
  return s.replace(/["\\\]]/g, '\\$&');
}

function checkSdName(s: string, what: string): string {
  if (!/^[\x21-\x7e]{1,32}$/.test(s) || /[= \]"]/.test(s)) {
    throw new RangeError(`invalid ${what} for RFC 5424 structured data: ${JSON.stringify(s)}`);
  }
  return s;
}

/** The alert's fields for the SD element, in a fixed order. */
function sdParams(a: Alert): [string, string][] {
  const p: [string, string][] = [
    ['id', a.id],
    ['rule', a.rule.id],
    ['severity', a.severity],
    ['tactic', a.tactic],
    ['technique', a.technique],
  ];
  if (a.cluster) p.push(['cluster', a.cluster]);
  if (a.namespace) p.push(['namespace', a.namespace]);
  const r = a.resource;
  if (r.apiGroup) p.push(['apiGroup', r.apiGroup]);
  p.push(['resource', r.subresource ? `${r.resource}/${r.subresource}` : r.resource]);
  if (r.name) p.push(['name', r.name]);
  p.push(['verb', a.verb], ['user', a.user]);
  // one comma-separated param, not a repeated one: RFC 5424 allows repeats, but rsyslog's mmpstrucdata
  // and most SIEM parsers keep only the last value of a name
  if (a.sourceIPs.length > 0) p.push(['sourceIPs', a.sourceIPs.slice(0, 5).join(',')]);
  p.push(['count', String(a.count)], ['firstSeen', a.firstSeen], ['lastSeen', a.lastSeen]);
  return p;
}

/** JSON with every non-ASCII character escaped: MSG stays ASCII, so it needs no BOM (see docs). */
function asciiJson(v: unknown): string {
  const s = JSON.stringify(v);
  return /[^\x00-\x7e]/.test(s)
    ? s.replace(/[^\x00-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : s;
}

function textLine(a: Alert): string {
  const r = a.resource;
  const what = [
    r.subresource ? `${r.resource}/${r.subresource}` : r.resource,
    [a.namespace, r.name].filter(Boolean).join('/'),
  ]
    .filter(Boolean)
    .join(' ');
  let line = `${a.severity} ${a.rule.name} (${a.rule.id}): ${a.verb} ${what} by ${a.user}`;
  if (a.sourceIPs.length > 0) line += ` from ${a.sourceIPs.join(',')}`;
  if (a.count > 1) line += ` (${a.count} events)`;
  return line.replace(/[\x00-\x1f\x7f]/g, ' ');
}

/** A UTF-8 MSG starts with a BOM (RFC 5424 §6.4); a pure ASCII one is MSG-ANY and goes without. */
function withBom(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? BOM + s : s;
}

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, bytes: number): string {
  if (Buffer.byteLength(s) <= bytes) return s;
  let out = Buffer.from(s).subarray(0, Math.max(0, bytes)).toString('utf8');
  // a cut multi-byte sequence decodes to U+FFFD, which is 3 bytes: drop it
  while (out.length > 0 && (Buffer.byteLength(out) > bytes || out.endsWith('\u{fffd}')))
    out = out.slice(0, -1);
  return out;
}

export type SyslogFormatter = (alert: Alert, now?: Date) => string;

export function createSyslogFormatter(opts: SyslogFormatOptions = {}): SyslogFormatter {
  const facility =
    typeof opts.facility === 'number' ? opts.facility : SYSLOG_FACILITIES[opts.facility ?? 'local0'];
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
    throw new RangeError(`syslog facility must be 0-23 or a name: ${String(opts.facility)}`);
  }
  const host = headerField(opts.hostname ?? hostname(), 255);
  const app = headerField(opts.appName ?? 'moat', 48);
  const proc = headerField(opts.procId ?? String(process.pid), 128);
  const sdId = checkSdName(opts.sdId ?? 'moat@32473', 'SD-ID');
  const mode = opts.message ?? 'json';
  const max = opts.maxMessageBytes ?? 8192;

  const sdFor = (alert: Alert, cap: number): string => {
    let sd = `[${sdId}`;
    for (const [k, v] of sdParams(alert)) sd += ` ${k}="${escapeParamValue(v.slice(0, cap))}"`;
    return `${sd}]`;
  };

  return (alert, now = new Date()) => {
    const pri = facility * 8 + SYSLOG_SEVERITY[alert.severity];
    const msgId = headerField(alert.rule.id, SD_NAME_MAX);
    const start = `<${pri}>1 ${now.toISOString()} ${host} ${app} ${proc} ${msgId} `;
    // long user or resource names must not crowd out MSG: values are cut harder until the header fits
    let head = '';
    for (const cap of SD_VALUE_CAPS) {
      head = `${start}${sdFor(alert, cap)} `;
      if (Buffer.byteLength(head) <= max / 2) break;
    }
    return head + fitMessage(alert, mode, Math.max(0, max - Buffer.byteLength(head)));
  };
}

/**
 * MSG within `room` bytes: the alert JSON; if too long, the JSON without description and remediation
 * (the rule id names them) and with at most 5 audit IDs, source IPs and groups, marked `"truncated":
 * true`; if still too long (or in text mode), the text line cut to fit.
 */
function fitMessage(a: Alert, mode: SyslogMessageFormat, room: number): string {
  if (mode === 'json') {
    const full = asciiJson(a);
    if (full.length <= room) return full;
    const { description: _d, remediation: _r, ...rest } = a;
    const slim = asciiJson({
      ...rest,
      groups: a.groups.slice(0, 5),
      sourceIPs: a.sourceIPs.slice(0, 5),
      auditIDs: a.auditIDs.slice(0, 5),
      truncated: true,
    });
    if (slim.length <= room) return slim;
  }
  const line = withBom(textLine(a));
  return truncateUtf8(line, room);
}
