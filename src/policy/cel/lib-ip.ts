import type { Environment } from '@marcbachmann/cel-js';
import { type CelComparable, celError, fn } from './values.js';

/**
 * Kubernetes' IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/ip.go, cidr.go), which follow Go's
 * net/netip: IPv4 without leading zeros, IPv6 in any RFC 4291 text form; zones and IPv4-mapped IPv6
 * addresses are rejected. String forms are canonical (RFC 5952 for IPv6).
 */
export class IPAddr implements CelComparable {
  /** 4 bytes for IPv4, 16 for IPv6 */
  constructor(readonly bytes: Uint8Array) {}

  get family(): 4 | 6 {
    return this.bytes.length === 4 ? 4 : 6;
  }

  isUnspecified(): boolean {
    return this.bytes.every((b) => b === 0);
  }

  isLoopback(): boolean {
    const b = this.bytes;
    return this.family === 4 ? b[0] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
  }

  isLinkLocalMulticast(): boolean {
    const b = this.bytes;
    return this.family === 4
      ? b[0] === 224 && b[1] === 0 && b[2] === 0
      : b[0] === 0xff && ((b[1] ?? 0) & 0x0f) === 0x02;
  }

  isLinkLocalUnicast(): boolean {
    const b = this.bytes;
    return this.family === 4 ? b[0] === 169 && b[1] === 254 : b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80;
  }

  isMulticast(): boolean {
    const b0 = this.bytes[0] ?? 0;
    return this.family === 4 ? (b0 & 0xf0) === 0xe0 : b0 === 0xff;
  }

  /** Go's Addr.IsGlobalUnicast: private ranges included. */
  isGlobalUnicast(): boolean {
    if (this.family === 4 && this.bytes.every((b) => b === 255)) return false;
    return !this.isUnspecified() && !this.isLoopback() && !this.isMulticast() && !this.isLinkLocalUnicast();
  }

  celEquals(o: unknown): boolean {
    return (
      o instanceof IPAddr &&
      o.bytes.length === this.bytes.length &&
      o.bytes.every((b, i) => b === this.bytes[i])
    );
  }

  toString(): string {
    if (this.family === 4) return [...this.bytes].join('.');
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((this.bytes[i] ?? 0) << 8) | (this.bytes[i + 1] ?? 0));
    // RFC 5952: compress the longest run (2+ groups) of zeros, the first one on ties
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (best < 0) return hex.join(':');
    return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
  }
}

export class CIDR implements CelComparable {
  constructor(
    readonly ip: IPAddr,
    readonly bits: number,
  ) {}

  masked(): CIDR {
    const b = new Uint8Array(this.ip.bytes);
    for (let i = 0; i < b.length; i++) {
      const keep = Math.max(0, Math.min(8, this.bits - i * 8));
      b[i] = (b[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
    }
    return new CIDR(new IPAddr(b), this.bits);
  }

  containsIP(ip: IPAddr): boolean {
    if (ip.family !== this.ip.family) return false;
    return new CIDR(ip, this.bits).masked().ip.celEquals(this.masked().ip);
  }

  containsCIDR(o: CIDR): boolean {
    return o.bits >= this.bits && this.containsIP(o.ip);
  }

  celEquals(o: unknown): boolean {
    return o instanceof CIDR && o.bits === this.bits && o.ip.celEquals(this.ip);
  }

  toString(): string {
    return `${this.ip}/${this.bits}`;
  }
}

function parseIPv4(s: string): Uint8Array | string {
  const parts = s.split('.');
  if (parts.length !== 4) return 'IPv4 address must have 4 fields';
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^[0-9]{1,3}$/.test(p)) return `invalid IPv4 field ${JSON.stringify(p)}`;
    if (p.length > 1 && p[0] === '0') return 'IPv4 field has octet with leading zero';
    const v = Number(p);
    if (v > 255) return 'IPv4 field has value >255';
    out[i] = v;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | string {
  if (s.includes('%')) return 'zone';
  const groups: number[] = [];
  let ellipsis = -1;
  let rest = s;
  if (rest.startsWith('::')) {
    ellipsis = 0;
    rest = rest.slice(2);
    if (rest === '') return new Uint8Array(16);
  }
  while (rest !== '') {
    const m = /^[0-9A-Fa-f]{1,4}/.exec(rest);
    if (m && rest[m[0].length] === '.') {
      // trailing embedded IPv4 (e.g. ::ffff:1.2.3.4)
      const v4 = parseIPv4(rest);
      if (typeof v4 === 'string') return v4;
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      rest = '';
      break;
    }
    if (!m) return `unexpected character ${JSON.stringify(rest[0])}`;
    groups.push(Number.parseInt(m[0], 16));
    rest = rest.slice(m[0].length);
    if (rest === '') break;
    if (rest.startsWith('::')) {
      if (ellipsis >= 0) return 'multiple ::';
      ellipsis = groups.length;
      rest = rest.slice(2);
    } else if (rest[0] === ':') {
      rest = rest.slice(1);
      if (rest === '') return 'colon must be followed by more characters';
    } else return `unexpected character ${JSON.stringify(rest[0])}`;
    if (groups.length > 8) return 'too many fields';
  }
  if (ellipsis < 0 ? groups.length !== 8 : groups.length > 7) return 'address string too short or too long';
  const full =
    ellipsis < 0
      ? groups
      : [
          ...groups.slice(0, ellipsis),
          ...new Array<number>(8 - groups.length).fill(0),
          ...groups.slice(ellipsis),
        ];
  const out = new Uint8Array(16);
  full.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Parses an IP the way the Kubernetes library does; a string result is the reason it is invalid. */
export function parseIP(s: string): IPAddr | string {
  if (s.includes('%')) return `IP address ${JSON.stringify(s)} with zone value is not allowed`;
  const bytes = s.includes(':') ? parseIPv6(s) : parseIPv4(s);
  if (typeof bytes === 'string') {
    return `IP Address ${JSON.stringify(s)} parse error during conversion from string: ${bytes}`;
  }
  if (
    bytes.length === 16 &&
    bytes.slice(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff &&
    bytes[11] === 0xff
  ) {
    return `IPv4-mapped IPv6 address ${JSON.stringify(s)} is not allowed`;
  }
  return new IPAddr(bytes);
}

export function parseCIDR(s: string): CIDR | string {
  const slash = s.lastIndexOf('/');
  if (slash < 0)
    return `network address parse error during conversion from string: no '/' in ${JSON.stringify(s)}`;
  const bitsText = s.slice(slash + 1);
  const ip = parseIP(s.slice(0, slash));
  if (typeof ip === 'string') return `network address parse error during conversion from string: ${ip}`;
  // Go's netip.ParsePrefix: decimal bits, no sign, no leading zero
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > (ip.family === 4 ? 32 : 128)) {
    return `network address parse error during conversion from string: bad bits after slash: ${JSON.stringify(bitsText)}`;
  }
  return new CIDR(ip, Number(bitsText));
}

function must<T>(v: T | string): T {
  if (typeof v === 'string') throw celError('invalid_argument', v);
  return v;
}

export class IPNamespace {}

export function registerIP(env: Environment): void {
  env.registerType('net.IP', IPAddr);
  env.registerType('net.CIDR', CIDR);
  env.registerType('IPNamespace', IPNamespace);
  // `ip` is both a function (ip('1.2.3.4')) and a namespace (ip.isCanonical(s)); cel-js keeps
  // functions and variables apart, so both can exist
  env.registerConstant('ip', 'IPNamespace', new IPNamespace());
  fn(env, 'ip(string): net.IP', (s: string) => must(parseIP(s)));
  fn(env, 'isIP(string): bool', (s: string) => typeof parseIP(s) !== 'string');
  fn(
    env,
    'IPNamespace.isCanonical(string): bool',
    (_ns: unknown, s: string) => must(parseIP(s)).toString() === s,
  );
  fn(env, 'net.IP.family(): int', (ip: IPAddr) => BigInt(ip.family));
  fn(env, 'net.IP.isUnspecified(): bool', (ip: IPAddr) => ip.isUnspecified());
  fn(env, 'net.IP.isLoopback(): bool', (ip: IPAddr) => ip.isLoopback());
  fn(env, 'net.IP.isLinkLocalMulticast(): bool', (ip: IPAddr) => ip.isLinkLocalMulticast());
  fn(env, 'net.IP.isLinkLocalUnicast(): bool', (ip: IPAddr) => ip.isLinkLocalUnicast());
  fn(env, 'net.IP.isGlobalUnicast(): bool', (ip: IPAddr) => ip.isGlobalUnicast());
  fn(env, 'string(net.IP): string', (ip: IPAddr) => ip.toString());
  env.registerOperator('net.IP == net.IP', (a: IPAddr, b: IPAddr) => a.celEquals(b));

  fn(env, 'cidr(string): net.CIDR', (s: string) => must(parseCIDR(s)));
  fn(env, 'isCIDR(string): bool', (s: string) => typeof parseCIDR(s) !== 'string');
  fn(env, 'net.CIDR.containsIP(net.IP): bool', (c: CIDR, ip: IPAddr) => c.containsIP(ip));
  fn(env, 'net.CIDR.containsIP(string): bool', (c: CIDR, s: string) => c.containsIP(must(parseIP(s))));
  fn(env, 'net.CIDR.containsCIDR(net.CIDR): bool', (c: CIDR, o: CIDR) => c.containsCIDR(o));
  fn(env, 'net.CIDR.containsCIDR(string): bool', (c: CIDR, s: string) => c.containsCIDR(must(parseCIDR(s))));
  fn(env, 'net.CIDR.ip(): net.IP', (c: CIDR) => c.ip);
  fn(env, 'net.CIDR.masked(): net.CIDR', (c: CIDR) => c.masked());
  fn(env, 'net.CIDR.prefixLength(): int', (c: CIDR) => BigInt(c.bits));
  fn(env, 'string(net.CIDR): string', (c: CIDR) => c.toString());
  env.registerOperator('net.CIDR == net.CIDR', (a: CIDR, b: CIDR) => a.celEquals(b));
}
