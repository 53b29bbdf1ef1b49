/**
 * A fast reader for the block-style YAML that lockfile writers emit (pnpm through js-yaml): nested block
 * mappings and sequences, plain and quoted scalars, one-line flow collections, `---` documents. Scalars are
 * kept as strings, as YAML's failsafe schema reads them (an empty value is "", `null` and `~` are text), so
 * that versions like `1.10` are not turned into numbers. Anything else (anchors, tags, block scalars, multi-line flow or quoted scalars, complex keys)
 * makes it give up with a reason, and the caller falls back to a full YAML parser: the general one is
 * two orders of magnitude slower on multi-megabyte lockfiles.
 */

export type YamlValue = string | null | YamlMap | YamlValue[];
/** mappings are Maps: lockfiles key them by package, and objects with thousands of distinct keys are slow */
export type YamlMap = Map<string, YamlValue>;

export class YamlLiteUnsupported extends Error {}

const MAX_DEPTH = 128;

interface Frame {
  indent: number;
  value: YamlMap | YamlValue[];
  /** a sequence written at its parent key's indentation (`key:\n- a`) */
  flush: boolean;
}

interface Pending {
  /** the indentation of the line that opened the block */
  indent: number;
  /** where the block's value goes: a mapping key or a sequence index */
  target: YamlMap | YamlValue[];
  key: string | number;
  /** the opener was a mapping key, so a sequence may sit at the same indentation */
  inMap: boolean;
}

function settle(p: Pending, v: YamlValue): void {
  if (Array.isArray(p.target)) p.target[p.key as number] = v;
  else put(p.target, p.key as string, v);
}

function fail(line: number, why: string): never {
  throw new YamlLiteUnsupported(`line ${line}: ${why}`);
}

function newMap(): YamlMap {
  return new Map();
}

function put(map: YamlMap, key: string, v: YamlValue): void {
  map.set(key, v);
}

export interface YamlLiteOptions {
  /**
   * Keys whose one-line flow values (`resolution: {integrity: ...}`) are kept as their raw text instead of
   * parsed: a caller that never looks inside them saves a third of the time on large lockfiles.
   */
  rawFlowKeys?: ReadonlySet<string>;
}

/** Parses all documents of `text`; throws YamlLiteUnsupported for constructs outside the subset. */
export function parseYamlLite(text: string, opts: YamlLiteOptions = {}): YamlValue[] {
  const raw = opts.rawFlowKeys;
  const docs: YamlValue[] = [];
  let stack: Frame[] = [];
  let root: YamlValue = null;
  let started = false;
  let pending: Pending | undefined;
  let lineNo = 0;
  let pos = 0;

  const endDoc = () => {
    if (pending) settle(pending, '');
    pending = undefined;
    if (started) docs.push(root);
    stack = [];
    root = null;
    started = false;
  };

  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);

    if (line.startsWith('---') && (line.length === 3 || line[3] === ' ')) {
      if (line.slice(3).trim() !== '' && !line.slice(3).trim().startsWith('#'))
        fail(lineNo, 'content after a document marker');
      endDoc();
      started = true;
      continue;
    }
    if (line === '...') {
      endDoc();
      continue;
    }
    if (!started && line.startsWith('%')) continue;

    let indent = 0;
    while (indent < line.length && line.charCodeAt(indent) === 0x20) indent++;
    if (indent === line.length) continue;
    const first = line.charCodeAt(indent);
    if (first === 0x23 /* # */) continue;
    if (first === 0x09) fail(lineNo, 'tab indentation');
    const content = line.slice(indent);
    const isItem = content === '-' || content.startsWith('- ');
    started = true;

    if (pending) {
      const p = pending;
      pending = undefined;
      if (indent > p.indent || (indent === p.indent && isItem && p.inMap)) {
        const value: YamlMap | YamlValue[] = isItem ? [] : newMap();
        settle(p, value);
        stack.push({ indent, value, flush: indent === p.indent });
        if (stack.length > MAX_DEPTH) fail(lineNo, `nested deeper than ${MAX_DEPTH} levels`);
      } else {
        settle(p, '');
      }
    }
    if (stack.length === 0) {
      if (root !== null) fail(lineNo, 'a second top-level value');
      const value: YamlMap | YamlValue[] = isItem ? [] : newMap();
      root = value;
      stack.push({ indent, value, flush: false });
    }
    for (;;) {
      const top = stack[stack.length - 1]!;
      if (top.indent > indent || (top.indent === indent && top.flush && !isItem)) {
        stack.pop();
        if (stack.length === 0) fail(lineNo, 'indentation below the document root');
        continue;
      }
      break;
    }
    const top = stack[stack.length - 1]!;
    if (top.indent !== indent) fail(lineNo, 'unexpected indentation');

    if (isItem) {
      if (!Array.isArray(top.value)) fail(lineNo, 'a sequence item inside a mapping');
      const seq = top.value;
      let col = indent + 1;
      while (col < line.length && line.charCodeAt(col) === 0x20) col++;
      const rest = line.slice(col);
      if (rest === '' || rest.startsWith('#')) {
        pending = { indent, target: seq, key: seq.push('') - 1, inMap: false };
      } else if (looksLikeEntry(rest)) {
        // `- key: value` starts a mapping whose keys sit at the item's content column
        const map = newMap();
        seq.push(map);
        stack.push({ indent: col, value: map, flush: false });
        if (stack.length > MAX_DEPTH) fail(lineNo, `nested deeper than ${MAX_DEPTH} levels`);
        pending = entry(map, rest, col, lineNo, raw);
      } else {
        seq.push(scalar(rest, lineNo));
      }
      continue;
    }
    if (Array.isArray(top.value)) fail(lineNo, 'a mapping entry inside a sequence');
    pending = entry(top.value, content, indent, lineNo, raw);
  }
  endDoc();
  return docs;
}

/** Whether a sequence item's text is a `key: value` pair rather than a scalar. */
function looksLikeEntry(s: string): boolean {
  const c = s.charCodeAt(0);
  if (c === 0x27 || c === 0x22 || c === 0x7b || c === 0x5b) return false;
  return keyEnd(s) >= 0;
}

/** Index of the `:` ending a plain key (followed by a space or the end of the line), or -1. */
function keyEnd(s: string): number {
  let i = s.indexOf(':');
  while (i >= 0) {
    if (i + 1 === s.length || s.charCodeAt(i + 1) === 0x20) return i;
    i = s.indexOf(':', i + 1);
  }
  return -1;
}

/** Stores one `key: value` line into `map`; returns a Pending when the value is a nested block. */
function entry(
  map: YamlMap,
  content: string,
  indent: number,
  lineNo: number,
  raw: ReadonlySet<string> | undefined,
): Pending | undefined {
  let key: string;
  let after: number;
  const c = content.charCodeAt(0);
  if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
    const q = quoted(content, 0, lineNo);
    key = q.value;
    after = q.end;
    while (after < content.length && content.charCodeAt(after) === 0x20) after++;
    if (content.charCodeAt(after) !== 0x3a) fail(lineNo, 'a quoted key without ":"');
  } else {
    if (c === 0x3f /* ? */ || c === 0x7b || c === 0x5b || c === 0x26 || c === 0x2a || c === 0x21)
      fail(lineNo, 'complex key, anchor, alias or tag');
    after = keyEnd(content);
    if (after < 0) fail(lineNo, 'a line that is neither "key: value" nor "- item"');
    key = content.slice(0, after).trimEnd();
  }
  if (key === '<<') fail(lineNo, 'merge key');
  const rest = content.slice(after + 1).trim();
  if (rest === '' || rest.startsWith('#')) {
    put(map, key, '');
    return { indent, target: map, key, inMap: true };
  }
  const c0 = rest.charCodeAt(0);
  if (raw !== undefined && (c0 === 0x7b || c0 === 0x5b) && raw.has(key)) {
    const hash = rest.indexOf(' #');
    const v = hash >= 0 ? rest.slice(0, hash).trimEnd() : rest;
    // a flow collection continued on the next lines is outside the subset either way
    if (v.charCodeAt(v.length - 1) !== (c0 === 0x7b ? 0x7d : 0x5d))
      fail(lineNo, 'a flow collection that does not close on its line');
    put(map, key, v);
    return undefined;
  }
  put(map, key, scalar(rest, lineNo));
  return undefined;
}

/** A value on one line: quoted, flow collection or plain scalar (trailing comment removed). */
function scalar(s: string, lineNo: number): YamlValue {
  const c = s.charCodeAt(0);
  if (c === 0x27 || c === 0x22) {
    const q = quoted(s, 0, lineNo);
    trailing(s, q.end, lineNo);
    return q.value;
  }
  if (c === 0x7b || c === 0x5b) {
    const f = flow(s, 0, 0, lineNo);
    trailing(s, f.end, lineNo);
    return f.value;
  }
  if (c === 0x7c /* | */ || c === 0x3e /* > */) fail(lineNo, 'block scalar');
  if (c === 0x26 || c === 0x2a || c === 0x21) fail(lineNo, 'anchor, alias or tag');
  const hash = s.indexOf(' #');
  const v = (hash >= 0 ? s.slice(0, hash) : s).trimEnd();
  return v;
}

function trailing(s: string, i: number, lineNo: number): void {
  const rest = s.slice(i).trim();
  if (rest !== '' && !rest.startsWith('#')) fail(lineNo, 'text after a quoted or flow value');
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
};

/** A single- or double-quoted scalar starting at `i`, which must close on the same line. */
function quoted(s: string, i: number, lineNo: number): { value: string; end: number } {
  const q = s[i];
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    const ch = s[j]!;
    if (ch === q) {
      if (q === "'" && s[j + 1] === "'") {
        out += "'";
        j += 2;
        continue;
      }
      return { value: out, end: j + 1 };
    }
    if (ch === '\\' && q === '"') {
      const e = s[j + 1];
      if (e === undefined) break;
      const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (width > 0) {
        const hex = s.slice(j + 2, j + 2 + width);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) fail(lineNo, 'bad escape');
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        j += 2 + width;
        continue;
      }
      const r = ESCAPES[e];
      if (r === undefined) fail(lineNo, 'bad escape');
      out += r;
      j += 2;
      continue;
    }
    out += ch;
    j++;
  }
  return fail(lineNo, 'a quoted scalar that does not close on its line');
}

/** A one-line flow collection (`{a: b, c: [d]}`) starting at `i`. */
function flow(s: string, i: number, depth: number, lineNo: number): { value: YamlValue; end: number } {
  if (depth > 32) fail(lineNo, 'flow collections nested too deep');
  const close = s.charCodeAt(i) === 0x7b ? 0x7d : 0x5d;
  const isMap = close === 0x7d;
  const map = newMap();
  const seq: YamlValue[] = [];
  let j = skipSpaces(s, i + 1);
  if (s.charCodeAt(j) === close) return { value: isMap ? map : seq, end: j + 1 };
  for (;;) {
    j = skipSpaces(s, j);
    let key = '';
    if (isMap) {
      const c = s.charCodeAt(j);
      if (c === 0x27 || c === 0x22) {
        const q = quoted(s, j, lineNo);
        key = q.value;
        j = skipSpaces(s, q.end);
      } else {
        const start = j;
        for (; j < s.length; j++) {
          const d = s.charCodeAt(j);
          if (d === 0x3a /* : */) {
            const n = s.charCodeAt(j + 1);
            if (n === 0x20 || n === 0x2c || n === close) break;
          } else if (d === 0x2c || d === close || d === 0x7b || d === 0x5b) fail(lineNo, 'bad flow mapping');
        }
        key = s.slice(start, j).trim();
      }
      if (s.charCodeAt(j) !== 0x3a) fail(lineNo, 'flow mapping key without ":"');
      j = skipSpaces(s, j + 1);
    }
    let value: YamlValue;
    const c = s.charCodeAt(j);
    if (c === 0x27 || c === 0x22) {
      const q = quoted(s, j, lineNo);
      value = q.value;
      j = q.end;
    } else if (c === 0x7b || c === 0x5b) {
      const f = flow(s, j, depth + 1, lineNo);
      value = f.value;
      j = f.end;
    } else {
      const start = j;
      for (; j < s.length; j++) {
        const d = s.charCodeAt(j);
        if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x7b || d === 0x5b) break;
      }
      const v = s.slice(start, j).trim();
      value = v;
    }
    if (isMap) put(map, key, value);
    else seq.push(value);
    j = skipSpaces(s, j);
    const d = s.charCodeAt(j);
    if (d === 0x2c) {
      j = skipSpaces(s, j + 1);
      if (s.charCodeAt(j) === close) return { value: isMap ? map : seq, end: j + 1 };
      continue;
    }
    if (d === close) return { value: isMap ? map : seq, end: j + 1 };
    return fail(lineNo, 'a flow collection that does not close on its line');
  }
}

function skipSpaces(s: string, j: number): number {
  while (s.charCodeAt(j) === 0x20) j++;
  return j;
}
