/**
 * A TOML 1.0 reader for lockfiles (poetry.lock, and Cargo.lock or uv.lock for whoever needs them): tables,
 * arrays of tables, dotted and quoted keys, all four string forms, integers, floats, booleans, arrays and
 * inline tables. Dates and times are returned as their text. One pass over the text, no regular
 * expressions per character, nesting capped so that hostile input cannot exhaust the stack.
 * Spec: https://toml.io/en/v1.0.0
 */

export type TomlValue = string | number | boolean | TomlTable | TomlValue[];
export type TomlTable = { [key: string]: TomlValue };

export class TomlError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const MAX_DEPTH = 64;

function table(): TomlTable {
  return Object.create(null) as TomlTable;
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseToml(src: string): TomlTable {
  return new Reader(src).document();
}

class Reader {
  private i = 0;
  private line = 1;
  private readonly root = table();
  /** tables created by a [header] or as a parent of one: may be reopened implicitly, not redefined */
  private readonly defined = new Set<TomlTable>();
  /** arrays created by [[header]]: only these may be appended to */
  private readonly tableArrays = new Set<TomlValue[]>();
  /** inline tables and arrays are sealed */
  private readonly sealed = new Set<object>();

  constructor(private readonly s: string) {}

  private fail(msg: string): never {
    throw new TomlError(msg, this.line);
  }

  document(): TomlTable {
    let current = this.root;
    for (;;) {
      this.skipBlankLines();
      if (this.i >= this.s.length) return this.root;
      const c = this.s[this.i];
      if (c === '[') {
        const array = this.s[this.i + 1] === '[';
        this.i += array ? 2 : 1;
        this.ws();
        const keys = this.key();
        this.ws();
        if (this.s[this.i] !== ']' || (array && this.s[this.i + 1] !== ']'))
          this.fail('unterminated table header');
        this.i += array ? 2 : 1;
        this.endOfLine();
        current = array ? this.appendTable(keys) : this.openTable(keys);
      } else {
        const keys = this.key();
        this.ws();
        if (this.s[this.i] !== '=') this.fail('expected "=" after a key');
        this.i++;
        this.ws();
        const value = this.value(0);
        this.assign(current, keys, value);
        this.endOfLine();
      }
    }
  }

  /** The table at `keys` below `from`, created on the way; arrays of tables resolve to their last table. */
  private descend(from: TomlTable, keys: string[]): TomlTable {
    let t = from;
    for (const k of keys) {
      const v = t[k];
      if (v === undefined) {
        const n = table();
        t[k] = n;
        t = n;
      } else if (isTable(v) && !this.sealed.has(v)) {
        t = v;
      } else if (Array.isArray(v) && this.tableArrays.has(v) && isTable(v[v.length - 1])) {
        t = v[v.length - 1] as TomlTable;
      } else {
        this.fail(`key "${k}" is already a value`);
      }
    }
    return t;
  }

  private openTable(keys: string[]): TomlTable {
    const parent = this.descend(this.root, keys.slice(0, -1));
    const last = keys[keys.length - 1]!;
    const v = parent[last];
    if (v === undefined) {
      const t = table();
      parent[last] = t;
      this.defined.add(t);
      return t;
    }
    if (!isTable(v) || this.sealed.has(v) || this.defined.has(v))
      this.fail(`table "${keys.join('.')}" defined twice`);
    this.defined.add(v);
    return v;
  }

  private appendTable(keys: string[]): TomlTable {
    const parent = this.descend(this.root, keys.slice(0, -1));
    const last = keys[keys.length - 1]!;
    let arr = parent[last];
    if (arr === undefined) {
      arr = [];
      parent[last] = arr;
      this.tableArrays.add(arr);
    } else if (!Array.isArray(arr) || !this.tableArrays.has(arr)) {
      this.fail(`"${keys.join('.')}" is not an array of tables`);
    }
    const t = table();
    arr.push(t);
    return t;
  }

  private assign(t: TomlTable, keys: string[], value: TomlValue): void {
    const parent = this.descend(t, keys.slice(0, -1));
    const last = keys[keys.length - 1]!;
    if (parent[last] !== undefined) this.fail(`key "${keys.join('.')}" defined twice`);
    parent[last] = value;
  }

  /** A dotted key: bare (A-Za-z0-9_-), "basic" or 'literal' parts. */
  private key(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '"') keys.push(this.basicString());
      else if (c === "'") keys.push(this.literalString());
      else {
        const start = this.i;
        while (this.i < this.s.length && isBare(this.s.charCodeAt(this.i))) this.i++;
        if (this.i === start) this.fail('expected a key');
        keys.push(this.s.slice(start, this.i));
      }
      this.ws();
      if (this.s[this.i] !== '.') return keys;
      this.i++;
    }
  }

  private value(depth: number): TomlValue {
    if (depth > MAX_DEPTH) this.fail(`values nested deeper than ${MAX_DEPTH} levels`);
    const c = this.s[this.i];
    if (c === '"') return this.s.startsWith('"""', this.i) ? this.multiBasic() : this.basicString();
    if (c === "'") return this.s.startsWith("'''", this.i) ? this.multiLiteral() : this.literalString();
    if (c === '[') return this.array(depth);
    if (c === '{') return this.inlineTable(depth);
    if (this.s.startsWith('true', this.i) && !isBare(this.s.charCodeAt(this.i + 4))) {
      this.i += 4;
      return true;
    }
    if (this.s.startsWith('false', this.i) && !isBare(this.s.charCodeAt(this.i + 5))) {
      this.i += 5;
      return false;
    }
    return this.scalar();
  }

  /** Numbers, dates and times: read up to a delimiter, then interpret. */
  private scalar(): TomlValue {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === ',' || c === ']' || c === '}' || c === '#' || c === '\n' || c === '\r') break;
      // a space belongs to a date-time ("1979-05-27 07:32:00") only between a date and a time
      if (
        c === ' ' &&
        !(/^\d{4}-\d{2}-\d{2}$/.test(this.s.slice(start, this.i)) && /\d/.test(this.s[this.i + 1] ?? ''))
      )
        break;
      this.i++;
    }
    const raw = this.s.slice(start, this.i);
    if (raw === '') this.fail('expected a value');
    const t = raw.replace(/_/g, '');
    if (/^[+-]?(0|[1-9]\d*)$/.test(t)) return Number(t);
    if (/^0x[0-9a-fA-F]+$|^0o[0-7]+$|^0b[01]+$/.test(t))
      return Number(t.slice(0, 2) === '0o' ? `0o${t.slice(2)}` : t);
    if (/^[+-]?(inf|nan)$/.test(t))
      return t.endsWith('nan') ? Number.NaN : t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t)) return Number(t);
    if (
      /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2})?(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?)?$|^\d{2}:\d{2}(:\d{2})?(\.\d+)?$/.test(
        raw,
      )
    )
      return raw;
    return this.fail(`invalid value ${JSON.stringify(raw.slice(0, 40))}`);
  }

  private array(depth: number): TomlValue[] {
    this.i++;
    const out: TomlValue[] = [];
    for (;;) {
      this.skipBlankLines();
      if (this.s[this.i] === ']') {
        this.i++;
        break;
      }
      out.push(this.value(depth + 1));
      this.skipBlankLines();
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.s[this.i] !== ']') this.fail('expected "," or "]" in an array');
      this.i++;
      break;
    }
    this.sealed.add(out);
    return out;
  }

  private inlineTable(depth: number): TomlTable {
    this.i++;
    const t = table();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      this.sealed.add(t);
      return t;
    }
    for (;;) {
      const keys = this.key();
      if (this.s[this.i] !== '=') this.fail('expected "=" in an inline table');
      this.i++;
      this.ws();
      this.assign(t, keys, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') break;
      if (c !== ',') this.fail('expected "," or "}" in an inline table');
    }
    this.sealed.add(t);
    return t;
  }

  private basicString(): string {
    this.i++;
    let out = '';
    let start = this.i;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === '"') {
        out += this.s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c === '\\') {
        out += this.s.slice(start, this.i);
        out += this.escape();
        start = this.i;
        continue;
      }
      this.i++;
    }
  }

  private multiBasic(): string {
    this.i += 3;
    if (this.s[this.i] === '\r' && this.s[this.i + 1] === '\n') this.i += 2;
    else if (this.s[this.i] === '\n') this.i++;
    let out = '';
    let start = this.i;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated multi-line string');
      if (c === '"' && this.s.startsWith('"""', this.i)) {
        // up to two quotes may end the content right before the closing delimiter
        let end = this.i + 3;
        while (this.s[end] === '"' && end - this.i < 5) end++;
        out += this.s.slice(start, end - 3);
        this.i = end;
        return out;
      }
      if (c === '\\') {
        out += this.s.slice(start, this.i);
        const n = this.s[this.i + 1];
        if (n === ' ' || n === '\t' || n === '\n' || n === '\r') {
          // a line-ending backslash trims the newline and the whitespace that follows
          let j = this.i + 1;
          while (this.s[j] === ' ' || this.s[j] === '\t') j++;
          if (this.s[j] !== '\n' && this.s[j] !== '\r') this.fail('invalid escape');
          while (j < this.s.length && /[ \t\r\n]/.test(this.s[j]!)) {
            if (this.s[j] === '\n') this.line++;
            j++;
          }
          this.i = j;
        } else {
          out += this.escape();
        }
        start = this.i;
        continue;
      }
      if (c === '\n') this.line++;
      this.i++;
    }
  }

  private literalString(): string {
    const end = this.s.indexOf("'", this.i + 1);
    const nl = this.s.indexOf('\n', this.i + 1);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail('unterminated literal string');
    const v = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return v;
  }

  private multiLiteral(): string {
    let from = this.i + 3;
    if (this.s[from] === '\r' && this.s[from + 1] === '\n') from += 2;
    else if (this.s[from] === '\n') from++;
    const close = this.s.indexOf("'''", from);
    if (close < 0) this.fail('unterminated multi-line literal string');
    let end = close + 3;
    while (this.s[end] === "'" && end - close < 5) end++;
    const v = this.s.slice(from, end - 3);
    for (let k = this.i; k < end; k++) if (this.s.charCodeAt(k) === 0x0a) this.line++;
    this.i = end;
    return v;
  }

  private escape(): string {
    const e = this.s[this.i + 1];
    this.i += 2;
    switch (e) {
      case 'b':
        return '\b';
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'f':
        return '\f';
      case 'r':
        return '\r';
      case 'e':
        return '\x1b';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'u':
      case 'U': {
        const n = e === 'u' ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + n);
        if (hex.length !== n || !/^[0-9a-fA-F]+$/.test(hex)) this.fail('invalid unicode escape');
        const cp = Number.parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('invalid unicode escape');
        this.i += n;
        return String.fromCodePoint(cp);
      }
      default:
        return this.fail('invalid escape');
    }
  }

  /** spaces and tabs */
  private ws(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }

  /** whitespace, comments and newlines */
  private skipBlankLines(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '\n') {
        this.i++;
        this.line++;
      } else if (c === '#') {
        const nl = this.s.indexOf('\n', this.i);
        this.i = nl < 0 ? this.s.length : nl;
      } else return;
    }
  }

  /** optional whitespace and comment, then a newline or the end */
  private endOfLine(): void {
    this.ws();
    if (this.s[this.i] === '#') {
      const nl = this.s.indexOf('\n', this.i);
      this.i = nl < 0 ? this.s.length : nl;
    }
    if (this.s[this.i] === '\r') this.i++;
    if (this.i >= this.s.length) return;
    if (this.s[this.i] !== '\n') this.fail('expected the end of the line');
    this.i++;
    this.line++;
  }
}

function isBare(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2d
  );
}
