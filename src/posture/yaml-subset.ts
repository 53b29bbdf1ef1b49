import * as jsyaml from 'js-yaml';

/**
 * A fast reader for the YAML that Kubernetes manifests are made of: block mappings and sequences,
 * single-line plain and quoted scalars, literal and folded block scalars, and one-line flow
 * collections. It builds the same values as js-yaml's core schema (`YAML_SCHEMA` below, with
 * `json: true`) about three times faster, which is what lets `moat posture` parse 20,000 Deployments in
 * well under a second. Anything outside that subset (anchors, aliases, tags, multi-line plain or quoted
 * scalars, complex keys, merge keys, directives, tabs in indentation, CRLF...) is not guessed at: the
 * reader gives up and the caller parses the document with js-yaml, which also reports every error. The
 * tests check both readers agree on every manifest in the fixture corpora.
 */

// js-yaml exports its scalar types at run time; @types/js-yaml does not declare them.
const { types } = jsyaml as unknown as {
  types: Record<'null' | 'bool' | 'int' | 'float' | 'merge', jsyaml.Type>;
};

/**
 * YAML 1.2 core schema (strings stay strings: timestamps are not Dates, as in the JSON the API server
 * sees) plus merge keys, which go-yaml, and so kubectl, accepts.
 */
export const YAML_SCHEMA = jsyaml.CORE_SCHEMA.extend({ implicit: [types.merge] });

/** Returned by {@link parseSubset} when the document is outside the subset. */
export const NOT_SUBSET: unique symbol = Symbol('not in the YAML subset');

const IMPLICIT = [types.null, types.bool, types.int, types.float];
// the core schema's null and boolean words, resolved by js-yaml's own types
const WORDS = new Map<string, { v: unknown }>(
  ['~', 'null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'].map((w) => {
    const t = IMPLICIT.find((x) => x.resolve(w))!;
    return [w, { v: t.construct(w) }];
  }),
);
const MAX_DEPTH = 90; // js-yaml refuses nesting deeper than 100; leave those documents to it

const LF = 10;
const TAB = 9;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const PERCENT = 37;
const AMP = 38;
const SQUOTE = 39;
const STAR = 42;
const PLUS = 43;
const COMMA = 44;
const DASH = 45;
const COLON = 58;
const GT = 62;
const QUESTION = 63;
const AT = 64;
const LBRACK = 91;
const BACKSLASH = 92;
const RBRACK = 93;
const BACKTICK = 96;
const LBRACE = 123;
const PIPE = 124;
const RBRACE = 125;

// Thrown (never escapes this module) when the text leaves the subset.
const BAIL = new Error('outside the YAML subset');

// Parser state: module-level for speed; parseSubset is synchronous and not re-entrant.
let src = '';
let pos = 0; // start of the current line
let end = 0;
let depth = 0;
let keyOut = '';
let strOut = '';
let flowEnd = 0;
let itemOut: unknown;

/** Character code at p; the end of the document reads as a line break. */
function code(p: number): number {
  return p < end ? src.charCodeAt(p) : LF;
}

function eol(p: number): number {
  const i = src.indexOf('\n', p);
  return i < 0 || i > end ? end : i;
}

function nextLine(p: number): number {
  const e = eol(p);
  return e < end ? e + 1 : end;
}

/** End of a key, a `-` or a value: a space, a line break or the end. */
function isSep(p: number): boolean {
  const c = code(p);
  return c === SPACE || c === LF;
}

/** c-indicator characters, which cannot start a plain scalar or a plain key. */
function isIndicator(c: number): boolean {
  switch (c) {
    case DASH:
    case QUESTION:
    case COLON:
    case COMMA:
    case LBRACK:
    case RBRACK:
    case LBRACE:
    case RBRACE:
    case HASH:
    case AMP:
    case STAR:
    case BANG:
    case PIPE:
    case GT:
    case SQUOTE:
    case DQUOTE:
    case PERCENT:
    case AT:
    case BACKTICK:
      return true;
    default:
      return false;
  }
}

// what can end or spoil a plain scalar on its line (a tab, a comment, a `:`), and the line break
const SPECIAL = /[\t:\n]| #/g;

/** Moves `pos` to the next line with content; returns its indentation, or -1 at the end. */
function skipToContent(): number {
  while (pos < end) {
    let i = pos;
    while (i < end && src.charCodeAt(i) === SPACE) i++;
    const c = code(i);
    if (c === LF || c === HASH) {
      pos = nextLine(i);
      continue;
    }
    if (c === TAB) throw BAIL;
    return i - pos;
  }
  return -1;
}

/** The value of a plain scalar under the core schema: null, boolean, number or the string itself. */
function resolvePlain(s: string): unknown {
  if (s.length === 0) return null;
  const c = s.charCodeAt(0);
  // only a digit, sign or dot can begin an int or float; words are a short fixed list
  if ((c >= 48 && c <= 57) || c === DASH || c === PLUS || c === 46) {
    for (const t of IMPLICIT) if (t.resolve(s)) return t.construct(s);
    return s;
  }
  if (
    s.length <= 5 &&
    (c === 126 || c === 110 || c === 78 || c === 116 || c === 84 || c === 102 || c === 70)
  ) {
    const w = WORDS.get(s);
    if (w !== undefined) return w.v;
  }
  return s;
}

// Short plain scalars repeat across documents (`app`, `http`, `100m`, `true`, `8080`): one string (or
// value) each, found without slicing, saves an allocation per value and gives later lookups (interned
// messages, maps keyed by names) a string whose hash is already computed
const VALUE_MAX = 12;
const VALUE_CACHE_MAX = 8192;
const valueCache = new Map<number, Array<{ text: string; value: unknown }>>();
let valueCacheSize = 0;

/** resolvePlain of src[r, stop), remembered for short scalars. */
function plainAt(r: number, stop: number): unknown {
  const len = stop - r;
  if (len === 0) return null;
  if (len > VALUE_MAX) return resolvePlain(src.slice(r, stop));
  let id = len;
  for (let i = r; i < stop; i++) id = (Math.imul(id, 31) + src.charCodeAt(i)) | 0;
  let bucket = valueCache.get(id);
  if (bucket !== undefined) {
    // same hash: compare (lengths can differ only by a collision)
    for (const e of bucket) if (e.text.length === len && src.startsWith(e.text, r)) return e.value;
  }
  const text = src.slice(r, stop);
  const value = resolvePlain(text);
  if (valueCacheSize < VALUE_CACHE_MAX) {
    if (bucket === undefined) {
      bucket = [];
      valueCache.set(id, bucket);
    }
    if (bucket.length < 8) {
      bucket.push({ text, value });
      valueCacheSize++;
    }
  }
  return value;
}

function hex(p: number, n: number): number {
  const h = src.slice(p, p + n);
  if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw BAIL;
  return Number.parseInt(h, 16);
}

/** Reads a double-quoted scalar ending on this line into strOut; returns the position after it. */
function readDouble(p: number): number {
  let i = p + 1;
  let out = '';
  let seg = i;
  for (;;) {
    if (i >= end) throw BAIL;
    const c = src.charCodeAt(i);
    if (c === DQUOTE) {
      strOut = seg === p + 1 ? src.slice(seg, i) : out + src.slice(seg, i);
      return i + 1;
    }
    if (c === LF) throw BAIL;
    if (c === BACKSLASH) {
      out += src.slice(seg, i);
      const e = code(i + 1);
      let len = 2;
      switch (e) {
        case DQUOTE:
        case BACKSLASH:
        case 47: // '/'
        case SPACE:
          out += String.fromCharCode(e);
          break;
        case 110: // n
          out += '\n';
          break;
        case 116: // t
        case TAB:
          out += '\t';
          break;
        case 114: // r
          out += '\r';
          break;
        case 48: // 0
          out += '\0';
          break;
        case 120: // x
          out += String.fromCharCode(hex(i + 2, 2));
          len = 4;
          break;
        case 117: // u
          out += String.fromCharCode(hex(i + 2, 4));
          len = 6;
          break;
        default:
          throw BAIL;
      }
      i += len;
      seg = i;
      continue;
    }
    i++;
  }
}

/** Reads a single-quoted scalar ending on this line into strOut; returns the position after it. */
function readSingle(p: number): number {
  let i = p + 1;
  let out = '';
  let seg = i;
  for (;;) {
    if (i >= end) throw BAIL;
    const c = src.charCodeAt(i);
    if (c === SQUOTE) {
      if (code(i + 1) === SQUOTE) {
        out += src.slice(seg, i + 1);
        i += 2;
        seg = i;
        continue;
      }
      strOut = out + src.slice(seg, i);
      return i + 1;
    }
    if (c === LF) throw BAIL;
    i++;
  }
}

/** After a value: only spaces and a comment may follow on the line; moves to the next line. */
function finishLine(p: number): void {
  let i = p;
  while (code(i) === SPACE) i++;
  const c = code(i);
  if (c === LF || (c === HASH && i > p)) {
    pos = nextLine(i);
    return;
  }
  throw BAIL;
}

const keyCache = new Map<number, string[]>();
let keyCacheSize = 0;
const KEY_CACHE_MAX = 4096;
const BUCKET_MAX = 16;

/** Adds a key to the cache as an internalized string (a copy: a slice would pin the whole file text). */
function remember(key: string, c0: number, c1: number): string {
  if (keyCacheSize >= KEY_CACHE_MAX || key.length > 64) return key;
  const id = (c0 << 16) | c1;
  let bucket = keyCache.get(id);
  if (bucket === undefined) {
    bucket = [];
    keyCache.set(id, bucket);
  }
  if (bucket.length >= BUCKET_MAX) return key;
  const interned = Object.keys({ [key]: 0 })[0]!;
  bucket.push(interned);
  keyCacheSize++;
  return interned;
}

/** Reads a mapping key at p into keyOut; returns the position after its `:`, or -1 if p holds no key. */
function readKey(p: number): number {
  const c = code(p);
  if (c === DQUOTE || c === SQUOTE) {
    const q = c === DQUOTE ? readDouble(p) : readSingle(p);
    if (code(q) !== COLON || !isSep(q + 1)) return -1;
    keyOut = strOut;
    if (keyOut === '__proto__') throw BAIL;
    return q + 1;
  }
  if (isIndicator(c) || c === LF) return -1;
  // keys repeat across documents: matching a known key skips the scan, the slice and the string-table
  // lookup the property store would do; a cached key has no `: ` inside, so its match is the line's key
  const bucket = keyCache.get((c << 16) | code(p + 1));
  if (bucket !== undefined) {
    for (const k of bucket) {
      const n = p + k.length;
      if (src.charCodeAt(n) === COLON && n < end && isSep(n + 1) && src.startsWith(k, p)) {
        keyOut = k;
        return n + 1;
      }
    }
  }
  let i = p;
  for (;;) {
    const d = code(i);
    if (d === LF) return -1;
    if (d === COLON && isSep(i + 1)) break;
    i++;
  }
  let k = i;
  while (k > p && src.charCodeAt(k - 1) === SPACE) k--;
  const key = src.slice(p, k);
  if (key.includes(' #') || key.includes('\t') || key === '<<' || key === '__proto__') throw BAIL;
  // a key that reads as null, a boolean or a number becomes a string in js-yaml; leave those to it
  if (resolvePlain(key) !== key) throw BAIL;
  keyOut = remember(key, c, code(p + 1));
  return i + 1;
}

function parseBlockNode(ind: number): unknown {
  if (++depth > MAX_DEPTH) throw BAIL;
  const p = pos + ind;
  const v = code(p) === DASH && isSep(p + 1) ? parseSeq(ind) : parseMap(ind, p, -1);
  depth--;
  return v;
}

/** A block mapping whose keys sit at column `ind`; the first key starts at p (its `:` ends at q0 if read). */
function parseMap(ind: number, p: number, q0: number): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  let q = q0;
  for (;;) {
    if (q < 0) q = readKey(p);
    if (q < 0) throw BAIL;
    const key = keyOut;
    obj[key] = parseValue(q, ind, true);
    const ni = skipToContent();
    if (ni < ind) break;
    if (ni > ind) throw BAIL;
    p = pos + ind;
    if (code(p) === DASH && isSep(p + 1)) throw BAIL;
    q = -1;
  }
  return obj;
}

/** A block sequence whose `-` sit at column `ind`. */
function parseSeq(ind: number): unknown[] {
  const arr: unknown[] = [];
  for (;;) {
    arr.push(parseValue(pos + ind + 1, ind, false));
    const ni = skipToContent();
    if (ni !== ind) {
      if (ni > ind) throw BAIL;
      break;
    }
    const d = pos + ind;
    if (code(d) !== DASH || !isSep(d + 1)) break;
  }
  return arr;
}

/**
 * The value after a mapping key's `:` or a sequence entry's `-` at q, for a parent at column `ind`.
 * Leaves `pos` at the start of the line after the value.
 */
function parseValue(q: number, ind: number, inMap: boolean): unknown {
  let r = q;
  while (code(r) === SPACE) r++;
  const c = code(r);
  if (c === LF || c === HASH) {
    pos = nextLine(r);
    const ni = skipToContent();
    if (ni > ind) return parseBlockNode(ni);
    // a mapping value may be a sequence at the key's own indentation
    if (inMap && ni === ind && code(pos + ind) === DASH && isSep(pos + ind + 1)) {
      if (++depth > MAX_DEPTH) throw BAIL;
      const v = parseSeq(ind);
      depth--;
      return v;
    }
    // js-yaml nests an outer sequence's next entry into a sequence that ends with an empty entry
    if (!inMap && ni >= 0 && ni < ind) throw BAIL;
    return null;
  }
  switch (c) {
    case PIPE:
    case GT:
      return parseBlockScalar(r, ind);
    case DQUOTE:
    case SQUOTE: {
      if (!inMap) {
        const k = readKey(r);
        if (k >= 0) return parseMap(r - pos, r, k);
      }
      const e = c === DQUOTE ? readDouble(r) : readSingle(r);
      const s = strOut;
      finishLine(e);
      return s;
    }
    case LBRACK:
    case LBRACE: {
      if (++depth > MAX_DEPTH) throw BAIL;
      const v = parseFlow(r);
      depth--;
      finishLine(flowEnd);
      return v;
    }
  }
  if (c === TAB) throw BAIL;
  if (isIndicator(c)) {
    // `-1`, `-foo`, `:x` are plain scalars; every other indicator start is left to js-yaml
    if (!((c === DASH || c === COLON || c === QUESTION) && !isSep(r + 1))) throw BAIL;
  }
  if (!inMap) {
    const k = readKey(r);
    if (k >= 0) {
      if (++depth > MAX_DEPTH) throw BAIL;
      const v = parseMap(r - pos, r, k);
      depth--;
      return v;
    }
  }
  // scan to the end of the line or a comment; a tab, `: ` or a trailing `:` is left to js-yaml. One
  // search with a native regular expression (fast before the JIT has optimized this function) finds
  // the line break too; test() rather than exec(): no match array, the match ends at lastIndex
  let i = end; // where the value's text ends: the line break, a comment or the end
  let next = end; // where the next line starts
  SPECIAL.lastIndex = r;
  while (SPECIAL.test(src)) {
    const last = SPECIAL.lastIndex - 1;
    if (last >= end) break;
    const c2 = src.charCodeAt(last);
    if (c2 === LF) {
      i = last;
      next = last + 1;
      break;
    }
    if (c2 === TAB) throw BAIL;
    if (c2 === HASH) {
      i = last - 1; // ` #`: a comment (two characters) runs to the end of the line
      next = nextLine(last);
      break;
    }
    if (isSep(last + 1)) throw BAIL; // `: ` or a trailing `:`
  }
  let stop = i;
  while (stop > r && src.charCodeAt(stop - 1) === SPACE) stop--;
  pos = next;
  return plainAt(r, stop);
}

/** A `|` or `>` block scalar whose header is at r, in a parent at column `ind`. */
function parseBlockScalar(r: number, ind: number): string {
  const folded = code(r) === GT;
  let i = r + 1;
  let chomp = 0; // 0 clip, 1 strip (-), 2 keep (+)
  if (code(i) === DASH) {
    chomp = 1;
    i++;
  } else if (code(i) === PLUS) {
    chomp = 2;
    i++;
  }
  let j = i;
  while (code(j) === SPACE) j++;
  if (!(code(j) === LF || (code(j) === HASH && j > i))) throw BAIL;
  pos = nextLine(j);
  const lines: string[] = [];
  let detected = -1;
  let maxLead = 0;
  while (pos < end) {
    let sp = 0;
    while (code(pos + sp) === SPACE) sp++;
    const c = code(pos + sp);
    if (c === LF) {
      if (detected < 0) {
        if (sp > maxLead) maxLead = sp;
        lines.push('');
      } else if (sp > detected) {
        // spaces beyond the indentation are content
        if (folded) throw BAIL;
        lines.push(src.slice(pos + detected, pos + sp));
      } else lines.push('');
      pos = nextLine(pos + sp);
      continue;
    }
    if (c === TAB && (detected < 0 || sp < detected)) throw BAIL;
    if (detected < 0) {
      if (sp <= ind) break;
      detected = sp;
      if (maxLead > detected) throw BAIL;
    } else if (sp < detected) break;
    const e = eol(pos);
    // the last line of the text without a line break: chomping differs, leave it to js-yaml
    if (e >= end && src.charCodeAt(end - 1) !== LF) throw BAIL;
    lines.push(src.slice(pos + detected, e));
    pos = nextLine(e);
  }
  let last = lines.length - 1;
  while (last >= 0 && lines[last] === '') last--;
  if (last < 0) throw BAIL;
  let text: string;
  if (folded) {
    text = '';
    let seen = false;
    let empties = 0;
    for (let k = 0; k <= last; k++) {
      const line = lines[k]!;
      if (line === '') {
        empties++;
        continue;
      }
      const f = line.charCodeAt(0);
      if (f === SPACE || f === TAB) throw BAIL; // more-indented lines keep their breaks
      text += seen && empties === 0 ? ' ' : '\n'.repeat(empties);
      text += line;
      seen = true;
      empties = 0;
    }
  } else {
    text = last === lines.length - 1 ? lines.join('\n') : lines.slice(0, last + 1).join('\n');
  }
  if (chomp === 1) return text;
  if (chomp === 0) return `${text}\n`;
  return `${text}\n${'\n'.repeat(lines.length - 1 - last)}`;
}

function skipSpaces(p: number): number {
  let i = p;
  while (code(i) === SPACE) i++;
  return i;
}

/** A flow collection that opens at p and closes on the same line; sets flowEnd after it. */
function parseFlow(p: number): unknown {
  let i = skipSpaces(p + 1);
  if (code(p) === LBRACK) {
    const arr: unknown[] = [];
    if (code(i) === RBRACK) {
      flowEnd = i + 1;
      return arr;
    }
    for (;;) {
      i = flowItem(i);
      arr.push(itemOut);
      const c = code(i);
      if (c === COMMA) {
        i = skipSpaces(i + 1);
        if (code(i) === RBRACK) throw BAIL;
        continue;
      }
      if (c === RBRACK) {
        flowEnd = i + 1;
        return arr;
      }
      throw BAIL;
    }
  }
  const obj: Record<string, unknown> = {};
  if (code(i) === RBRACE) {
    flowEnd = i + 1;
    return obj;
  }
  for (;;) {
    let key: string;
    const c0 = code(i);
    if (c0 === DQUOTE || c0 === SQUOTE) {
      i = skipSpaces(c0 === DQUOTE ? readDouble(i) : readSingle(i));
      key = strOut;
      if (code(i) !== COLON) throw BAIL;
      i++;
    } else {
      if (isIndicator(c0) || c0 === LF) throw BAIL;
      let j = i;
      for (;;) {
        const d = code(j);
        if (d === COLON && code(j + 1) === SPACE) break;
        if (
          d === LF ||
          d === COMMA ||
          d === RBRACE ||
          d === RBRACK ||
          d === LBRACE ||
          d === LBRACK ||
          d === TAB
        )
          throw BAIL;
        j++;
      }
      let k = j;
      while (k > i && src.charCodeAt(k - 1) === SPACE) k--;
      key = src.slice(i, k);
      if (key.includes(' #') || resolvePlain(key) !== key || key === '<<') throw BAIL;
      i = j + 1;
    }
    if (key === '__proto__') throw BAIL;
    i = flowItem(skipSpaces(i));
    obj[key] = itemOut;
    const c = code(i);
    if (c === COMMA) {
      i = skipSpaces(i + 1);
      if (code(i) === RBRACE) throw BAIL;
      continue;
    }
    if (c === RBRACE) {
      flowEnd = i + 1;
      return obj;
    }
    throw BAIL;
  }
}

/** One entry of a flow collection at i into itemOut; returns the position after it and its spaces. */
function flowItem(i: number): number {
  const c = code(i);
  if (c === DQUOTE || c === SQUOTE) {
    const e = c === DQUOTE ? readDouble(i) : readSingle(i);
    itemOut = strOut;
    return skipSpaces(e);
  }
  if (c === LBRACK || c === LBRACE) {
    if (++depth > MAX_DEPTH) throw BAIL;
    itemOut = parseFlow(i);
    depth--;
    return skipSpaces(flowEnd);
  }
  if (c === LF || c === TAB) throw BAIL;
  if (isIndicator(c) && !((c === DASH || c === COLON || c === QUESTION) && !isSep(i + 1))) throw BAIL;
  let j = i;
  for (;;) {
    const d = code(j);
    if (d === COMMA || d === RBRACK || d === RBRACE || d === LF) break;
    if (d === LBRACK || d === LBRACE || d === TAB) throw BAIL;
    if (d === COLON) {
      // `[a: b]` is a single-pair mapping; leave it to js-yaml
      const n = code(j + 1);
      if (n === SPACE || n === COMMA || n === RBRACK || n === RBRACE || n === LF) throw BAIL;
    }
    if (d === HASH && code(j - 1) === SPACE) throw BAIL;
    j++;
  }
  let k = j;
  while (k > i && src.charCodeAt(k - 1) === SPACE) k--;
  itemOut = plainAt(i, k);
  return j;
}

/**
 * Parses the YAML document text[start, end) (which may begin with its `---` marker line) when it is
 * within the subset; returns {@link NOT_SUBSET} otherwise, including for an empty document. The text
 * must not contain carriage returns or the characters YAML forbids (the caller checks once per file).
 */
export function parseSubset(text: string, start: number, stop: number): unknown {
  src = text;
  pos = start;
  end = stop;
  depth = 0;
  try {
    let ind = skipToContent();
    if (ind === 0 && text.startsWith('---', pos)) {
      const after = pos + 3;
      const e = eol(after);
      const rest = text.slice(after, e).trim();
      if (!isSep(after) || (rest !== '' && !rest.startsWith('#'))) return NOT_SUBSET;
      pos = e < end ? e + 1 : end;
      ind = skipToContent();
    }
    if (ind < 0) return NOT_SUBSET;
    const v = parseBlockNode(ind);
    if (skipToContent() >= 0) return NOT_SUBSET;
    return v;
  } catch (e) {
    if (e === BAIL) return NOT_SUBSET;
    throw e;
  } finally {
    src = '';
  }
}
