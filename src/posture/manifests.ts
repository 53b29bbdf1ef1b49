import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import * as jsyaml from 'js-yaml';
import { MoatError } from '../errors.js';
import { isObject } from '../policy/k8s.js';
import type { K8sObject, SourcedObject } from '../policy/types.js';
import { NOT_SUBSET, parseSubset, YAML_SCHEMA } from './yaml-subset.js';

/**
 * Reads Kubernetes manifests for `moat posture`: files, directories (recursively) and stdin, as
 * multi-document YAML or JSON, with `List` kinds flattened. Every object keeps its file and the line
 * where its document (or List item) starts. A document that does not parse is an error entry with its
 * file and line; the file's other documents and the other files are still read.
 */

export interface ManifestError {
  file: string;
  /** 1-based line */
  line?: number;
  message: string;
}

export interface ManifestLoad {
  objects: SourcedObject[];
  errors: ManifestError[];
  /** files read (stdin counts as one) */
  files: number;
  /** YAML/JSON documents with content */
  documents: number;
}

export interface LoadManifestsOptions {
  /** what `-` reads; process.stdin by default */
  stdin?: NodeJS.ReadableStream;
}

/** The file name given to objects read from stdin. */
export const STDIN_NAME = '<stdin>';

/** Larger inputs are reported, not read: a JavaScript string cannot hold much more. */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Reads every input (`-` is stdin) in order; throws only when an input path does not exist. */
export async function loadManifests(
  inputs: string[],
  opts: LoadManifestsOptions = {},
): Promise<ManifestLoad> {
  const out: ManifestLoad = { objects: [], errors: [], files: 0, documents: 0 };
  for (const input of inputs) {
    if (input === '-') {
      const text = await readStream(opts.stdin ?? process.stdin, out);
      if (text === undefined) continue;
      out.files++;
      addParsed(out, parseManifests(text, STDIN_NAME, sniffJson(text) ? 'json' : 'yaml'));
      continue;
    }
    await loadManifestItems(await expandInput(input), out);
  }
  return out;
}

/** What reading a file or directory input comes to, in order: a file to read, or an error to report. */
export type ManifestItem = { file: string } | { error: ManifestError };

/**
 * The manifest files of file and directory inputs (not `-`), in the order loadManifests reads them, with
 * the directories that could not be read; throws NOT_FOUND as loadManifests does.
 */
export async function manifestItems(inputs: readonly string[]): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  for (const input of inputs) for (const item of await expandInput(input)) items.push(item);
  return items;
}

/** Reads items (from manifestItems) in order into `out`. */
export async function loadManifestItems(
  items: readonly ManifestItem[],
  out: ManifestLoad = { objects: [], errors: [], files: 0, documents: 0 },
): Promise<ManifestLoad> {
  const files: string[] = [];
  for (const item of items) {
    if ('error' in item) {
      await loadFiles(files.splice(0), out);
      out.errors.push(item.error);
    } else files.push(item.file);
  }
  await loadFiles(files, out);
  return out;
}

async function expandInput(input: string): Promise<ManifestItem[]> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MoatError(
      'NOT_FOUND',
      code === 'ENOENT'
        ? `manifest path ${input} does not exist`
        : `cannot read manifest path ${input}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (!st.isDirectory()) return [{ file: input }];
  const files: string[] = [];
  const errors: ManifestError[] = [];
  await walk(input, files, new Set([await realpath(input)]), errors);
  // a directory's read errors come first, as they are found before any file is read
  return [...errors.map((error) => ({ error })), ...files.map((file) => ({ file }))];
}

function addParsed(out: ManifestLoad, p: ParsedManifests): void {
  for (const o of p.objects) out.objects.push(o);
  for (const e of p.errors) out.errors.push(e);
  out.documents += p.documents;
}

/** Collects manifest files under dir, sorted, skipping hidden entries and directory cycles. */
async function walk(dir: string, files: string[], seen: Set<string>, errors: ManifestError[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    errors.push({ file: dir, message: `cannot read directory: ${(e as Error).message}` });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    if (ent.name.startsWith('.')) continue;
    const path = join(dir, ent.name);
    let isDir = ent.isDirectory();
    let isFile = ent.isFile();
    if (ent.isSymbolicLink()) {
      try {
        const st = await stat(path);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue; // dangling link
      }
    }
    if (isDir) {
      const real = await realpath(path);
      if (seen.has(real)) continue;
      seen.add(real);
      await walk(path, files, seen, errors);
    } else if (isFile && MANIFEST_EXTENSIONS.has(extname(ent.name).toLowerCase())) files.push(path);
  }
}

/** Parses files in order, reading the next one while the current one is parsed. */
async function loadFiles(files: string[], out: ManifestLoad): Promise<void> {
  let next = files.length > 0 ? readManifestFile(files[0]!) : undefined;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const read = await next!;
    next = i + 1 < files.length ? readManifestFile(files[i + 1]!) : undefined;
    if (typeof read === 'string') {
      out.errors.push({ file, message: read });
      continue;
    }
    out.files++;
    const format = extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
    addParsed(out, parseManifests(read.toString('utf8'), file, format));
  }
}

/** The file's bytes, or why they cannot be read (never rejects: it runs ahead of the parse). */
async function readManifestFile(file: string): Promise<Buffer | string> {
  try {
    const st = await stat(file);
    if (st.size > MAX_MANIFEST_BYTES) return `file is larger than ${MAX_MANIFEST_BYTES >> 20} MiB; not read`;
    return await readFile(file);
  } catch (e) {
    return `cannot read file: ${(e as Error).message}`;
  }
}

async function readStream(stream: NodeJS.ReadableStream, out: ManifestLoad): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_MANIFEST_BYTES) {
      out.errors.push({
        file: STDIN_NAME,
        message: `input is larger than ${MAX_MANIFEST_BYTES >> 20} MiB; not read`,
      });
      return undefined;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sniffJson(text: string): boolean {
  const m = /\S/.exec(text);
  return m !== null && (m[0] === '{' || m[0] === '[');
}

export interface ParsedManifests {
  objects: SourcedObject[];
  errors: ManifestError[];
  documents: number;
}

/**
 * Parses one file's text. JSON is one document (an object or a List); when JSON.parse fails on text
 * that was only sniffed as JSON (stdin), it is read as YAML, of which JSON is mostly a subset.
 */
export function parseManifests(
  text: string,
  file: string,
  format: 'yaml' | 'json' = 'yaml',
): ParsedManifests {
  const res: ParsedManifests = { objects: [], errors: [], documents: 0 };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      if (file === STDIN_NAME) return parseYaml(body, file, res);
      res.errors.push(jsonError(body, file, e as Error));
      return res;
    }
    res.documents = 1;
    addDocument(res, value, file, lineOf(body, firstNonSpace(body)), 0, (n) => jsonItemLines(body, n));
    return res;
  }
  return parseYaml(body, file, res);
}

function firstNonSpace(text: string): number {
  const m = /\S/.exec(text);
  return m ? m.index : 0;
}

function jsonError(text: string, file: string, e: Error): ManifestError {
  const m = /at position (\d+)/.exec(e.message);
  const reason = e.message.replace(/ in JSON at position \d+.*$/, '').replace(/\s+/g, ' ');
  if (m) {
    const p = Number(m[1]);
    return { file, line: lineOf(text, p), message: `invalid JSON: ${reason}` };
  }
  return { file, line: lineOf(text, text.length), message: `invalid JSON: ${reason}` };
}

/** 1-based line of offset p. */
function lineOf(text: string, p: number): number {
  let line = 1;
  let i = text.indexOf('\n');
  while (i >= 0 && i < p) {
    line++;
    i = text.indexOf('\n', i + 1);
  }
  return line;
}

// js-yaml rejects a stream with these; such files skip the fast reader so that js-yaml reports them.
const NON_PRINTABLE =
  /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;
// the same characters plus every surrogate: a plain class, which scans about twice as fast
const MAYBE_NON_PRINTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF\uD800-\uDFFF]/;
// A document marker is `---` or `...` at column 0 followed by whitespace or the end of the line. YAML
// forbids such a line inside any scalar (block scalars included), so this split is exact.
const MARKER = /^(?:---|\.\.\.)(?=[ \t\n]|$)/gm;

interface Segment {
  start: number;
  end: number;
  /** 1-based line of `start` */
  line: number;
  /** starts with a `---` marker: counts as a document even when empty, as in js-yaml's loadAll */
  explicit: boolean;
}

function parseYaml(input: string, file: string, res: ParsedManifests): ParsedManifests {
  // YAML treats CRLF and CR as line breaks; normalising keeps line numbers and lets the fast reader run
  const text = input.includes('\r') ? input.replace(/\r\n?/g, '\n') : input;
  const fast = !MAYBE_NON_PRINTABLE.test(text) || !NON_PRINTABLE.test(text);
  let docIndex = 0;
  for (const seg of splitDocuments(text)) {
    const first = firstContent(text, seg);
    if (first < 0) {
      if (seg.explicit) docIndex++;
      continue;
    }
    const doc = docIndex++;
    res.documents++;
    const firstLine = seg.line + countLines(text, seg.start, first);
    let value = fast ? parseSubset(text, seg.start, seg.end) : NOT_SUBSET;
    const slow = value === NOT_SUBSET;
    if (slow) {
      try {
        value = jsyaml.load(text.slice(seg.start, seg.end), {
          schema: YAML_SCHEMA,
          json: true,
          filename: file,
        });
      } catch (e) {
        if (!(e instanceof jsyaml.YAMLException)) throw e;
        const mark = e.mark as jsyaml.Mark | undefined;
        res.errors.push({
          file,
          line: mark ? seg.line + mark.line : firstLine,
          message: `invalid YAML: ${e.reason}${mark ? ` (column ${mark.column + 1})` : ''}`,
        });
        continue;
      }
    }
    if (value === null || value === undefined) continue;
    if (slow && hasObjectKey(value)) {
      // js-yaml turns a mapping used as a key into "[object Object]"; Kubernetes' YAML-to-JSON step
      // rejects it. Unrendered templates (`name: {{ .Values.name }}`) are where these come from.
      const at = text.indexOf('{{', seg.start);
      res.errors.push({
        file,
        line: at >= 0 && at < seg.end ? seg.line + countLines(text, seg.start, at) : firstLine,
        message: 'a mapping is used as a mapping key (an unrendered template such as {{ ... }}?)',
      });
      continue;
    }
    addDocument(res, value, file, firstLine, doc, (n) => yamlItemLines(text, seg, n));
  }
  return res;
}

function hasObjectKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasObjectKey);
  if (!isObject(v)) return false;
  for (const k in v) if (k === '[object Object]' || hasObjectKey(v[k])) return true;
  return false;
}

function splitDocuments(text: string): Segment[] {
  const segs: Segment[] = [];
  let start = 0;
  let line = 1;
  let counted = 0; // offset up to which newlines were counted into `line`
  let explicit = false;
  MARKER.lastIndex = 0;
  for (let m = MARKER.exec(text); m !== null; m = MARKER.exec(text)) {
    const at = m.index;
    const isStart = m[0] === '---';
    // `%YAML` / `%TAG` directives belong to the document that the next `---` starts
    if (isStart && directivesOnly(text, start, at)) continue;
    if (at > start || explicit) segs.push({ start, end: at, line, explicit });
    line += countLines(text, counted, at);
    counted = at;
    if (isStart) {
      start = at;
      explicit = true;
    } else {
      const e = text.indexOf('\n', at);
      start = e < 0 ? text.length : e + 1;
      line += e < 0 ? 0 : 1;
      counted = start;
      explicit = false;
    }
  }
  if (start < text.length || explicit) segs.push({ start, end: text.length, line, explicit });
  return segs;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  let i = text.indexOf('\n', from);
  while (i >= 0 && i < to) {
    n++;
    i = text.indexOf('\n', i + 1);
  }
  return n;
}

function directivesOnly(text: string, start: number, stop: number): boolean {
  let sawDirective = false;
  for (let p = start; p < stop; ) {
    let e = text.indexOf('\n', p);
    if (e < 0 || e > stop) e = stop;
    const l = text.slice(p, e).trim();
    if (l.startsWith('%')) sawDirective = true;
    else if (l !== '' && !l.startsWith('#')) return false;
    p = e + 1;
  }
  return sawDirective;
}

/**
 * Offset of the first line of the segment that holds content (not blank, not a comment, not a
 * directive, not a bare `---`), or -1 when the document is empty.
 */
function firstContent(text: string, seg: Segment): number {
  let p = seg.start;
  let marker = false; // the `---` has been passed: no directives after it
  while (p < seg.end) {
    let e = text.indexOf('\n', p);
    if (e < 0 || e > seg.end) e = seg.end;
    let i = p;
    while (i < e && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    const c = i < e ? text.charCodeAt(i) : -1;
    if (c !== -1 && c !== 35) {
      if (!marker && i === p && c === 37) {
        p = e + 1; // %YAML, %TAG
        continue;
      }
      if (marker || !/^---(?=[ \t]|$)/.test(text.slice(p, Math.min(e, p + 4)))) return p;
      marker = true;
      // the `---` line: content only if something other than a comment follows the marker
      const rest = text.slice(p + 3, e).trim();
      if (rest !== '' && !rest.startsWith('#')) return p;
    }
    p = e + 1;
  }
  return -1;
}

/**
 * 1-based lines of the `- ` entries of a YAML List's top-level `items:` sequence, or undefined when
 * they cannot be found cheaply (flow style, unusual layout); items then get the document's line.
 */
function yamlItemLines(text: string, seg: Segment, count: number): number[] | undefined {
  let p = seg.start;
  let line = seg.line;
  let inItems = false;
  let col = -1;
  const lines: number[] = [];
  while (p < seg.end) {
    let e = text.indexOf('\n', p);
    if (e < 0 || e > seg.end) e = seg.end;
    let i = p;
    while (i < e && text.charCodeAt(i) === 32) i++;
    const c = i < e ? text.charCodeAt(i) : -1;
    if (c !== -1 && c !== 35) {
      const ind = i - p;
      if (!inItems) {
        if (ind === 0 && /^items:\s*(#.*)?$/.test(text.slice(p, e))) inItems = true;
      } else {
        const dash = c === 45 && (i + 1 === e || text.charCodeAt(i + 1) === 32);
        if (col < 0) {
          if (!dash) return undefined;
          col = ind;
        }
        if (ind < col || (ind === col && !dash)) break;
        if (ind === col) lines.push(line);
      }
    }
    p = e + 1;
    line++;
  }
  return lines.length === count ? lines : undefined;
}

/** 1-based lines of the objects in a JSON List's top-level `items` array (the `{` of each). */
function jsonItemLines(text: string, count: number): number[] | undefined {
  const offsets: number[] = [];
  let depth = 0;
  let lastString = '';
  let inItems = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      let j = text.indexOf('"', i + 1);
      while (j > 0) {
        let b = j - 1;
        while (text.charCodeAt(b) === 92) b--;
        if ((j - 1 - b) % 2 === 0) break;
        j = text.indexOf('"', j + 1);
      }
      if (j < 0) return undefined;
      if (depth === 1) lastString = text.slice(i + 1, j);
      i = j;
    } else if (c === 123 || c === 91) {
      if (c === 91 && depth === 1 && lastString === 'items') inItems = true;
      else if (c === 123 && inItems && depth === 2) offsets.push(i);
      depth++;
    } else if (c === 125 || c === 93) {
      depth--;
      if (inItems && depth === 1) break;
    }
  }
  if (offsets.length !== count) return undefined;
  const lines: number[] = [];
  let line = 1;
  let from = 0;
  for (const o of offsets) {
    line += countLines(text, from, o);
    from = o;
    lines.push(line);
  }
  return lines;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a sequence';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

/** Adds one parsed document: an object, or the items of a List. */
function addDocument(
  res: ParsedManifests,
  value: unknown,
  file: string,
  line: number,
  document: number,
  itemLines: (count: number) => number[] | undefined,
): void {
  if (!isObject(value)) {
    res.errors.push({ file, line, message: `document is ${describeValue(value)}, not a Kubernetes object` });
    return;
  }
  const kind = value.kind;
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value.items)) {
    const items = value.items as unknown[];
    const lines = items.length ? itemLines(items.length) : undefined;
    // `PodList` items, as the API server sends them, carry no kind or apiVersion; `List` items must
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    const apiVersion = value.apiVersion;
    items.forEach((item, i) => {
      const at = lines?.[i] ?? line;
      if (!isObject(item)) {
        res.errors.push({
          file,
          line: at,
          message: `${kind} item ${i} is ${describeValue(item)}, not an object`,
        });
        return;
      }
      const obj =
        itemKind && item.kind === undefined
          ? { apiVersion: item.apiVersion ?? apiVersion, kind: itemKind, ...item }
          : item;
      addObject(res, obj, file, at, document, `${kind} item ${i}`);
    });
    return;
  }
  addObject(res, value, file, line, document, 'document');
}

function addObject(
  res: ParsedManifests,
  obj: Record<string, unknown>,
  file: string,
  line: number,
  document: number,
  what: string,
): void {
  if (typeof obj.kind !== 'string' || obj.kind === '') {
    res.errors.push({ file, line, message: `${what} has no "kind": not a Kubernetes object` });
    return;
  }
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') {
    res.errors.push({ file, line, message: `${what} (${obj.kind}) has no "apiVersion"` });
    return;
  }
  res.objects.push({ object: obj as K8sObject, source: { file, line, document } });
}
