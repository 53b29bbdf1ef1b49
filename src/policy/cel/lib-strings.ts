import type { Environment } from '@marcbachmann/cel-js';
import { type CelValue, celError, fn, isPlainMap } from './values.js';

/**
 * The parts of cel-go's strings extension (https://pkg.go.dev/github.com/google/cel-go/ext#Strings) that
 * cel-js lacks: charAt, replace, format, reverse and strings.quote. cel-js already has indexOf,
 * lastIndexOf, substring, trim, lowerAscii, upperAscii, split and join (indices count UTF-16 units there,
 * code points in cel-go; they differ only outside the Basic Multilingual Plane).
 */
export class StringsNamespace {}

export function registerStrings(env: Environment): void {
  env.registerType('StringsNamespace', StringsNamespace);
  env.registerConstant('strings', 'StringsNamespace', new StringsNamespace());

  fn(env, 'string.charAt(int): string', (s: string, i: bigint) => {
    const cps = [...s];
    if (i < 0n || i > BigInt(cps.length)) throw celError('index_out_of_range', `index out of range: ${i}`);
    return cps[Number(i)] ?? '';
  });
  fn(env, 'string.replace(string, string): string', (s: string, a: string, b: string) => s.replaceAll(a, b));
  fn(env, 'string.replace(string, string, int): string', replaceN);
  fn(env, 'string.reverse(): string', (s: string) => [...s].reverse().join(''));
  fn(env, 'string.format(list): string', (s: string, args: CelValue[]) => formatString(s, args));
  fn(env, 'StringsNamespace.quote(string): string', (_ns: unknown, s: string) => quote(s));
}

function replaceN(s: string, from: string, to: string, n: bigint): string {
  if (n < 0n) return s.replaceAll(from, to);
  let out = '';
  let rest = s;
  for (let i = 0n; i < n; i++) {
    const at = rest.indexOf(from);
    if (at < 0) break;
    // an empty search string matches before every character (Go's strings.Replace)
    const step = from === '' ? Math.min(1, rest.length) : 0;
    out += rest.slice(0, at) + to + rest.slice(at, at + step);
    rest = rest.slice(at + from.length + step);
    if (from === '' && rest === '' && step === 0) break;
  }
  return out + rest;
}

/** Go's strconv.Quote, which strings.quote follows. */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

/**
 * printf-style substitution: %s (any value; lists and maps rendered with quoted strings), %d, %f and %e
 * (optional precision, default 6), %b, %o, %x, %X, %%. %v is accepted as %s.
 */
export function formatString(fmt: string, args: readonly CelValue[]): string {
  let out = '';
  let argIndex = 0;
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i];
    if (ch !== '%') {
      out += ch;
      continue;
    }
    i++;
    if (fmt[i] === '%') {
      out += '%';
      continue;
    }
    let precision: number | undefined;
    if (fmt[i] === '.') {
      let digits = '';
      while (i + 1 < fmt.length && /[0-9]/.test(fmt[i + 1] ?? '')) digits += fmt[++i];
      if (digits === '') throw celError('invalid_format', `format: missing precision after "." at ${i}`);
      precision = Number(digits);
      i++;
    }
    const verb = fmt[i];
    if (verb === undefined)
      throw celError('invalid_format', 'format: unterminated format clause at end of string');
    if (argIndex >= args.length) {
      throw celError('invalid_format', `format: index ${argIndex} out of range (${args.length} arguments)`);
    }
    const arg = args[argIndex++];
    out += formatClause(verb, arg, precision);
  }
  return out;
}

function formatClause(verb: string, arg: CelValue, precision: number | undefined): string {
  switch (verb) {
    case 's':
    case 'v':
      return display(arg, true);
    case 'd':
      if (typeof arg === 'bigint') return arg.toString();
      if (isUint(arg)) return String(arg);
      if (typeof arg === 'number' && Number.isInteger(arg)) return String(arg);
      throw celError('invalid_format', `format: %d needs an integer, got ${display(arg, false)}`);
    case 'f':
    case 'e': {
      const n = toDouble(arg, verb);
      if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
      if (verb === 'f') return n.toFixed(precision ?? 6);
      // Go writes at least two exponent digits: 2.718280e+00
      return n.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
    }
    case 'b':
      if (typeof arg === 'boolean') return arg ? '1' : '0';
      return radix(arg, 2, verb);
    case 'o':
      return radix(arg, 8, verb);
    case 'x':
    case 'X': {
      let s: string;
      if (typeof arg === 'string') s = Buffer.from(arg, 'utf8').toString('hex');
      else if (arg instanceof Uint8Array) s = Buffer.from(arg).toString('hex');
      else s = radix(arg, 16, verb);
      return verb === 'X' ? s.toUpperCase() : s;
    }
    default:
      throw celError('invalid_format', `format: unrecognized formatting clause "%${verb}"`);
  }
}

function isUint(v: unknown): boolean {
  return typeof v === 'object' && v !== null && v.constructor?.name === 'UnsignedInt';
}

function toDouble(v: CelValue, verb: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (isUint(v)) return Number(String(v));
  if (typeof v === 'string' && ['Infinity', '-Infinity', 'NaN'].includes(v)) return Number(v);
  throw celError('invalid_format', `format: %${verb} needs a number, got ${display(v, false)}`);
}

function radix(v: CelValue, base: number, verb: string): string {
  if (typeof v === 'bigint') return v.toString(base);
  if (isUint(v)) return BigInt(String(v)).toString(base);
  throw celError('invalid_format', `format: %${verb} needs an integer, got ${display(v, false)}`);
}

/** The %s rendering of a value; strings are quoted when nested in a list or map. */
export function display(v: CelValue, top: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return top ? v : JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => display(x, false)).join(', ')}]`;
  if (v instanceof Date) return v.toISOString().replace('.000Z', 'Z');
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof Map) {
    const entries = [...v].map(([k, x]) => [display(k, false), display(x, false)] as const);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${k}:${x}`)
      .join(', ')}}`;
  }
  if (typeof v === 'object' && isPlainMap(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${display(v[k], false)}`).join(', ')}}`;
  }
  if (typeof v === 'object' && v !== null && 'name' in v && v.constructor?.name === 'Type') {
    return String((v as { name: unknown }).name);
  }
  return String(v);
}
