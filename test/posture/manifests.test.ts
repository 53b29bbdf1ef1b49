import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as jsyaml from 'js-yaml';
import { isMoatError } from '../../src/errors.js';
import type { K8sObject, SourcedObject } from '../../src/policy/types.js';
import { loadManifests, parseManifests, STDIN_NAME } from '../../src/posture/manifests.js';
import { NOT_SUBSET, parseSubset, YAML_SCHEMA } from '../../src/posture/yaml-subset.js';
import { recordedItems } from '../helpers/k8s-replay.js';

// the posture benchmark's manifest generator (plain JS, no type declarations)
const BENCH_GENERATOR = '../../bench/k8s-objects.mjs';
type CorpusWriter = (dir: string, objects: number, perFile: number) => { files: string[] };
const { writeK8sObjects, writeReferenceDeployments } = (await import(BENCH_GENERATOR)) as {
  writeK8sObjects: CorpusWriter;
  writeReferenceDeployments: CorpusWriter;
};
const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures');
const CORPUS = join(FIXTURES, 'k8s-manifests');
const tmp = mkdtempSync(join(tmpdir(), 'moat-manifests-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface IndexEntry {
  file: string;
  parse_error?: string;
  helm_template?: boolean;
  resources: Array<{ apiVersion: string; kind: string; name: string | null; namespace: string | null }>;
}
const INDEX = (JSON.parse(readFileSync(join(CORPUS, 'index.json'), 'utf8')) as { files: IndexEntry[] }).files;

function write(name: string, text: string): string {
  const p = join(tmp, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** 1-based line of the first occurrence of `needle` in text. */
function lineOfText(text: string, needle: string): number {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `fixture text lacks ${needle}`);
  return text.slice(0, i).split('\n').length;
}

const load = (text: string) => jsyaml.loadAll(text, null, { schema: YAML_SCHEMA, json: true });

describe('the manifest corpora', async () => {
  const res = await loadManifests([CORPUS]);
  const byFile = new Map<string, SourcedObject[]>();
  for (const o of res.objects) {
    const f = relative(CORPUS, o.source.file!);
    byFile.set(f, [...(byFile.get(f) ?? []), o]);
  }

  test('every file declares the resources index.json lists for it (PyYAML), in order', () => {
    for (const entry of INDEX) {
      const got = (byFile.get(entry.file) ?? []).map(({ object: o }) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata?.name ?? null,
        namespace: o.metadata?.namespace ?? null,
      }));
      assert.deepEqual(got, entry.resources, entry.file);
    }
  });

  test('files PyYAML could not parse are errors naming the file and a line in it', () => {
    const broken = INDEX.filter((e) => e.parse_error);
    assert.ok(broken.length > 5);
    for (const entry of broken) {
      const errs = res.errors.filter((e) => relative(CORPUS, e.file) === entry.file);
      assert.ok(errs.length > 0, `${entry.file}: no error`);
      const lines = readFileSync(join(CORPUS, entry.file), 'utf8').split('\n').length;
      for (const e of errs)
        assert.ok(e.line && e.line >= 1 && e.line <= lines, `${entry.file}: line ${e.line}`);
    }
  });

  test('objects of files js-yaml reads whole are its documents, at their document index', () => {
    let compared = 0;
    for (const [file, sourced] of byFile) {
      const text = readFileSync(join(CORPUS, file), 'utf8');
      let docs: unknown[];
      try {
        docs = file.endsWith('.json') ? [JSON.parse(text)] : load(text);
      } catch {
        continue;
      }
      for (const o of sourced) {
        const doc = docs[o.source.document!] as K8sObject;
        if (doc.kind?.endsWith('List')) continue;
        assert.deepEqual(o.object, doc, `${file} document ${o.source.document}`);
        compared++;
      }
    }
    assert.ok(compared > 1000, `compared ${compared}`);
  });

  test("each object's line is its document's first content line", () => {
    for (const o of res.objects) {
      const file = o.source.file!;
      if (file.endsWith('.json')) continue;
      const lines = readFileSync(file, 'utf8').replace(/\r/g, '').split('\n');
      const at = lines[o.source.line! - 1]!;
      assert.ok(at.trim() !== '' && !at.trimStart().startsWith('#'), `${file}:${o.source.line} ${at}`);
      // everything above, back to the document marker, is blank, a comment or the marker itself
      for (let i = o.source.line! - 2; i >= 0; i--) {
        const l = lines[i]!;
        if (/^---(\s|$)/.test(l)) break;
        if (/^-\s/.test(at)) break; // a List item
        assert.ok(l.trim() === '' || l.trimStart().startsWith('#') || /^\s*-\s/.test(at), `${file}:${i + 1}`);
      }
    }
  });

  test('a List in the corpus is flattened; item lines point at its `- ` entries', () => {
    const file = join(CORPUS, 'checkov/example_DockerSocketVolume/scope-2PASSED-1FAILED.yaml');
    const text = readFileSync(file, 'utf8');
    const list = load(text).find((d) => (d as K8sObject).kind === 'List') as { items: unknown[] };
    const items = res.objects.filter((o) => o.source.file === file);
    const objectItems = list.items.filter((i) => i !== null);
    assert.deepEqual(
      items.map((o) => o.object),
      objectItems,
    );
    const lines = text.split('\n');
    for (const o of items) assert.match(lines[o.source.line! - 1]!, /^\s*- /);
    assert.equal(new Set(items.map((o) => o.source.line)).size, items.length);
    // its null item is reported, not dropped silently
    assert.ok(res.errors.some((e) => e.file === file && /item \d+ is null/.test(e.message)));
  });

  test('files and documents are counted', () => {
    assert.ok(res.files >= INDEX.length);
    assert.ok(res.documents >= res.objects.length - 20);
  });
});

describe('multi-document YAML', () => {
  const text = `# Source: chart/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  script: |
    echo start
      ---
    echo end
---
# an empty document follows
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  containers:
    - name: a
     image: bad-indent
---
apiVersion: v1
kind: Service
metadata: {name: third, namespace: web}
...
apiVersion: v1
kind: Namespace
metadata:
  name: after-end-marker
--- # marker with a comment
"just a string"
---
- a
- sequence
---
kind: Secret
metadata:
  name: no-api-version
---
apiVersion: v1
metadata:
  name: no-kind
data:
  a: |
    x
---x: not a marker
----: nor this
`;
  const file = write('multi.yaml', text);

  test('the bad document is an error with file, line and reason; the others are read', async () => {
    const res = await loadManifests([file]);
    assert.deepEqual(
      res.objects.map((o) => [o.object.metadata?.name, o.source.line, o.source.document]),
      [
        ['first', lineOfText(text, 'apiVersion: v1\nkind: ConfigMap'), 0],
        ['third', lineOfText(text, 'apiVersion: v1\nkind: Service'), 3],
        ['after-end-marker', lineOfText(text, 'apiVersion: v1\nkind: Namespace'), 4],
      ],
    );
    const bad = res.errors.find((e) => e.message.startsWith('invalid YAML'));
    assert.ok(bad);
    assert.equal(bad.file, file);
    assert.equal(bad.line, lineOfText(text, '     image: bad-indent'));
    assert.match(bad.message, /bad indentation/);
    assert.ok(!bad.message.includes('\n'));
  });

  test('indented `---` inside a block scalar is content; `---x` and `----` are not markers', async () => {
    const res = await loadManifests([file]);
    assert.equal((res.objects[0]!.object.data as { script: string }).script, 'echo start\n  ---\necho end\n');
    const noKind = res.errors.find((e) => e.message.includes('no "kind"'));
    assert.ok(noKind);
    assert.equal(noKind.line, lineOfText(text, 'apiVersion: v1\nmetadata:\n  name: no-kind'));
    const last = jsyaml.load(text.slice(text.lastIndexOf('---\napiVersion')), {
      schema: YAML_SCHEMA,
    }) as Record<string, unknown>;
    assert.equal(last['---x'], 'not a marker');
    assert.equal(last['----'], 'nor this');
  });

  test('non-objects and objects without kind or apiVersion are errors, not objects', async () => {
    const res = await loadManifests([file]);
    const messages = res.errors.map((e) => e.message);
    assert.ok(messages.includes('document is a string, not a Kubernetes object'), messages.join('\n'));
    assert.ok(messages.includes('document is a sequence, not a Kubernetes object'));
    assert.ok(messages.includes('document (Secret) has no "apiVersion"'));
    assert.equal(
      res.errors.find((e) => e.message.includes('Secret'))?.line,
      lineOfText(text, 'kind: Secret'),
    );
    // empty and comment-only documents are neither errors nor documents
    assert.equal(res.documents, 8);
  });

  test('CRLF line endings and a byte-order mark read the same, with the same lines', () => {
    const crlf = parseManifests(`\ufeff${text.replace(/\n/g, '\r\n')}`, 'crlf.yaml');
    const lf = parseManifests(text, 'lf.yaml');
    assert.deepEqual(
      crlf.objects.map((o) => [o.object, o.source.line]),
      lf.objects.map((o) => [o.object, o.source.line]),
    );
    assert.deepEqual(
      crlf.errors.map((e) => [e.line, e.message]),
      lf.errors.map((e) => [e.line, e.message]),
    );
  });

  test('YAML details: duplicate keys (last wins), merge keys, timestamps and yes/no stay strings', () => {
    const res = parseManifests(
      `%YAML 1.2
---
apiVersion: v1
kind: Pod
metadata:
  name: dup
  creationTimestamp: 2024-01-01T00:00:00Z
  labels: &labels
    enabled: yes
    port: "80"
spec:
  hostNetwork: false
  hostNetwork: true
  nodeSelector:
    <<: *labels
    extra: "1"
`,
      'details.yaml',
    );
    assert.deepEqual(res.errors, []);
    const o = res.objects[0]!;
    assert.equal(o.source.line, 3);
    assert.equal(o.object.metadata?.creationTimestamp, '2024-01-01T00:00:00Z');
    assert.deepEqual((o.object.spec as Record<string, unknown>).hostNetwork, true);
    assert.deepEqual((o.object.spec as Record<string, unknown>).nodeSelector, {
      enabled: 'yes',
      port: '80',
      extra: '1',
    });
  });

  test('an unrendered template value is an error at its line, not a "[object Object]" key', () => {
    const t = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Values.name }}\n';
    const res = parseManifests(t, 'svc.yaml');
    assert.equal(res.objects.length, 0);
    assert.deepEqual(
      res.errors.map((e) => e.line),
      [4],
    );
  });
});

describe('List kinds and JSON', () => {
  const pods = recordedItems('v1.36', 'pod-list');
  const recorded = JSON.parse(
    (
      JSON.parse(
        readFileSync(join(FIXTURES, 'k8s-api/k8s-openapi-replays/v1.36/pod-list.json'), 'utf8'),
      ) as Array<{
        response_body: string;
      }>
    )[0]!.response_body,
  ) as { kind: string; apiVersion: string; items: object[] };

  test("a recorded PodList (JSON, items without kind) gives Pods, each at its item's line", async () => {
    const text = JSON.stringify(recorded, null, 2);
    const file = write('pods.json', text);
    const res = await loadManifests([file]);
    assert.deepEqual(res.errors, []);
    assert.deepEqual(
      res.objects.map((o) => o.object),
      pods,
    );
    // the first item starts on the line after `"items": [`; each next one after the previous one's lines
    let line = lineOfText(text, '"items": [') + 1;
    for (const [i, o] of res.objects.entries()) {
      assert.equal(o.source.line, line, `item ${i}`);
      line += JSON.stringify(recorded.items[i], null, 2).split('\n').length;
    }
  });

  test('a YAML List of full objects is flattened with item lines; items without kind in `List` are errors', async () => {
    const text = jsyaml.dump({
      apiVersion: 'v1',
      kind: 'List',
      items: [...pods.slice(0, 3), { metadata: { name: 'x' } }],
    });
    const file = write('list.yaml', text);
    const res = await loadManifests([file]);
    assert.deepEqual(
      res.objects.map((o) => o.object),
      pods.slice(0, 3),
    );
    const lines = text.split('\n');
    for (const o of res.objects) assert.match(lines[o.source.line! - 1]!, /^ {2}- /);
    assert.deepEqual(
      res.errors.map((e) => e.message),
      ['List item 3 has no "kind": not a Kubernetes object'],
    );
  });

  test('malformed JSON is an error with the line of the fault', () => {
    const text = '{\n  "apiVersion": "v1",\n  "kind": "Pod"\n  "metadata": {}\n}\n';
    const res = parseManifests(text, 'bad.json', 'json');
    assert.equal(res.objects.length, 0);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0]!.line, 4);
    assert.match(res.errors[0]!.message, /^invalid JSON: /);
  });
});

describe('stdin', () => {
  test('`-` reads multi-document YAML from the stream (helm template | moat posture -)', async () => {
    const docs = [
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n',
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n',
    ];
    const text = `---\n# Source: x/templates/ns.yaml\n${docs.join('---\n# Source: x/templates/ns2.yaml\n')}`;
    // split across chunks in the middle of a line
    const stream = Readable.from([Buffer.from(text.slice(0, 17)), Buffer.from(text.slice(17))]);
    const res = await loadManifests(['-'], { stdin: stream });
    assert.equal(res.files, 1);
    assert.deepEqual(
      res.objects.map((o) => [o.object.metadata?.name, o.source.file, o.source.line]),
      [
        ['a', STDIN_NAME, 3],
        ['b', STDIN_NAME, lineOfText(text, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b')],
      ],
    );
  });

  test('JSON on stdin (kubectl get -o json) is read as JSON', async () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: recordedItems('v1.36', 'deployment-list'),
    });
    const res = await loadManifests(['-'], { stdin: Readable.from([text]) });
    assert.deepEqual(
      res.objects.map((o) => o.object),
      recordedItems('v1.36', 'deployment-list'),
    );
  });
});

describe('directories', () => {
  const root = join(tmp, 'tree');
  const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
  write('tree/b/two.yml', ns('two'));
  write('tree/a/one.yaml', ns('one'));
  write('tree/a/deeper/three.JSON', JSON.stringify(jsyaml.load(ns('three'))));
  write('tree/.hidden/skipped.yaml', ns('hidden'));
  write('tree/a/.also-hidden.yaml', ns('hidden-file'));
  write('tree/notes.txt', ns('not-a-manifest'));
  symlinkSync('..', join(root, 'a', 'loop'));

  test('recursive, sorted, manifest extensions only, hidden entries and cycles skipped', async () => {
    const res = await loadManifests([root]);
    assert.deepEqual(
      res.objects.map((o) => [o.object.metadata?.name, relative(root, o.source.file!)]),
      [
        ['three', 'a/deeper/three.JSON'],
        ['one', 'a/one.yaml'],
        ['two', 'b/two.yml'],
      ],
    );
    assert.equal(res.files, 3);
    assert.deepEqual(res.errors, []);
  });

  test('a path that does not exist is a NOT_FOUND error naming it', async () => {
    const missing = join(root, 'nope.yaml');
    await assert.rejects(
      loadManifests([missing]),
      (e) => isMoatError(e) && e.code === 'NOT_FOUND' && e.message.includes(missing),
    );
  });

  test('a 50 MB file is read', async () => {
    const line = 'x'.repeat(99);
    const body = `    ${line}\n`.repeat(500_000);
    const file = write(
      'big.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: |\n${body}`,
    );
    const res = await loadManifests([file]);
    assert.equal(res.errors.length, 0);
    assert.equal((res.objects[0]!.object.data as { blob: string }).blob.length, 500_000 * 100);
  });
});

describe('the fast reader agrees with js-yaml', () => {
  const MARKER = /^(?:---|\.\.\.)(?=[ \t\n]|$)/gm;
  function* documents(text: string): Generator<[number, number]> {
    const cuts = [0];
    MARKER.lastIndex = 0;
    for (let m = MARKER.exec(text); m; m = MARKER.exec(text)) cuts.push(m.index);
    cuts.push(text.length);
    for (let i = 0; i + 1 < cuts.length; i++)
      if (!text.startsWith('...', cuts[i]!)) yield [cuts[i]!, cuts[i + 1]!];
  }
  /** Returns how many documents the fast reader took; fails on any disagreement. */
  function compare(text: string, label: string): { fast: number; total: number } {
    let fast = 0;
    let total = 0;
    for (const [s, e] of documents(text)) {
      total++;
      const v = parseSubset(text, s, e);
      if (v === NOT_SUBSET) continue;
      fast++;
      let ref: unknown;
      try {
        ref = jsyaml.load(text.slice(s, e), { schema: YAML_SCHEMA, json: true });
      } catch (err) {
        assert.fail(
          `${label}: fast reader accepted what js-yaml rejects (${(err as Error).message})\n${text.slice(s, e)}`,
        );
      }
      assert.deepEqual(v, ref, `${label}\n${text.slice(s, e)}`);
    }
    return { fast, total };
  }
  const corpusFiles = INDEX.filter((e) => !e.file.endsWith('.json')).map((e) => join(CORPUS, e.file));

  test('on every document of the corpora, and takes most of them', () => {
    let fast = 0;
    let total = 0;
    for (const f of corpusFiles) {
      const r = compare(readFileSync(f, 'utf8').replace(/\r\n?/g, '\n'), f);
      fast += r.fast;
      total += r.total;
    }
    assert.ok(fast / total > 0.85, `${fast}/${total}`);
  });

  test('on the benchmark manifests, all of which it takes', () => {
    for (const [name, generate] of [
      ['mixed', writeK8sObjects],
      ['reference', writeReferenceDeployments],
    ] as const) {
      const { files } = generate(join(tmp, `bench-${name}`), 400, 100);
      assert.equal(files.length, 4, name);
      for (const f of files) {
        const r = compare(readFileSync(f, 'utf8'), f);
        assert.equal(r.fast, r.total, f);
      }
    }
  });

  test('on edge cases of scalars, collections and indentation', () => {
    const cases = [
      'a: |\n  x\n\n  y\n\n\nb: 1\n',
      'a: |-\n  x\n  y\n\nb: 1\n',
      'a: |+\n  x\n\n\nb: 1\n',
      'a: >\n  folded\n  text\n\n  para\nb: 1\n',
      'a: >-\n  x\n   more\n  y\n',
      'a: >+\n  x\n\n',
      'a: |\n\n  leading\n',
      'a: |\n    deeper\n  shallower\n',
      'a: | # comment\n  x\n',
      'a: |2\n   x\n',
      'a:\n- 1\n- two\nb: [1, "2", x, 3.5, -1, 0x1f, .inf, null, ~, true, False]\n',
      'a: {x: 1, "y": "z", k: [a, {b: c}]}\n',
      'a: \'it\'\'s\'\nb: "tab\\there \\u00e9 \\x41 \\\\ \\"q\\""\nc: "\\e"\n',
      'a: b # comment\nc: d#not-comment\ne: "f" # c\n',
      'a: b  #  two spaces\nb: x:y:z\nc: trailing:\n',
      'a: b\tc\n',
      'a: b\t# tab before a comment\n',
      'a: last line without a break',
      '- x\n- y # c\n- z:\n- "q"\n',
      'a: http://x:80/y\nb: c:d\n"quoted key": 1\n\'single\': 2\n',
      'a: b: c\n',
      'a: 012\nb: +1\nc: 1e3\nd: 1_000\ne: 0o17\nf: .5\ng: -.inf\nh: .NaN\n',
      'list:\n  - name: a\n    value: 1\n  - name: b\n\n    # comment between\n    value: 2\n  -\n    name: c\n  - - nested\n',
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: "multi\n  line"\n',
      'a: plain\n  continued\n',
      '? complex\n: value\n',
      'a:\n  b:\n    c: 1\n   d: 2\n',
      'a:\tb\n',
      'a: 1\na: 2\n',
      'true: 1\n',
      '__proto__: 1\n',
      'a: [1, 2\n',
      'a: [1, 2,]\n',
      'a: {}\nb: []\nc: ""\nd: \'\'\ne:\nf: ~\n',
      '- a\n- b: c\n  d: e\n',
      '  a: 1\n  b: 2\n',
      '--- # c\na: 1\n',
      '--- |\n  root scalar\n',
      'a: "x"y\n',
      'a: [a: b]\n',
      'key with spaces: value with spaces   \n',
      'a: -\n',
      'a: -1\nb: -x\nc: :x\n',
      'a: |\n  no final newline',
      'emoji: "😀"\nkey: 日本語\n',
    ];
    for (const c of cases) compare(c, JSON.stringify(c));
  });

  test('on randomly corrupted corpus documents (fixed seed)', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [
      ' ',
      '  ',
      ':',
      ': ',
      '-',
      '- ',
      '#',
      ' #',
      '"',
      "'",
      '|',
      '>',
      '[',
      ']',
      '{',
      '}',
      ',',
      '\n',
      '\t',
      '&a',
      '*a',
      '!',
    ];
    const texts = corpusFiles.slice(0, 300).map((f) => readFileSync(f, 'utf8').replace(/\r\n?/g, '\n'));
    for (let i = 0; i < 3000; i++) {
      const t = texts[rand(texts.length)]!;
      const p = rand(t.length + 1);
      const cut = rand(3);
      const mutated = t.slice(0, p) + pieces[rand(pieces.length)] + t.slice(p + cut);
      compare(mutated, `mutation ${i}`);
    }
  });
});
