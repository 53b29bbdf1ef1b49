/**
 * Layers as the final filesystem sees them: packages purged in a later layer are gone, whiteouts and
 * opaque directories hide what is below them, and each package is attributed to the lowest layer from
 * which the same name and version has been present continuously up to the top. The expectation is
 * computed here from each layer's own dpkg status, extracted from the layer blob with GNU tar.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { importedCache, moatJson, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { debianRoot, gzip, tar, writeLayout } from '../helpers/hostile.js';
import { layoutBlob, layoutRef, type TestImages, testImages } from '../helpers/registry.js';
import { isInstalled, layerNames, parseStatus, type Report } from './lib.js';

const run = promisify(execFile);
const STATUS = 'var/lib/dpkg/status';

let images: TestImages;
let sb: Sandbox;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache() });
});
after(() => sb?.remove());

/** name/arch → version of the installed packages, as each layer leaves the dpkg status (GNU tar's reading). */
async function dpkgStates(layout: string, ref: string): Promise<Map<string, string>[]> {
  const manifest = layoutBlob<{ layers: { digest: string }[] }>(layout, layoutRef(layout, ref).digest);
  const states: Map<string, string>[] = [];
  let current = new Map<string, string>();
  for (const l of manifest.layers) {
    const blob = join(layout, 'blobs', ...l.digest.split(':'));
    const raw = await layerNames(blob);
    const names = new Set(raw.map((n) => n.replace(/^\.\//, '').replace(/\/$/, '')));
    assert.ok(
      ![...names].some((n) => n.startsWith('var/lib/dpkg/status.d/')),
      'status.d is not modelled here',
    );
    // OCI whiteouts: ".wh.NAME" deletes NAME below; ".wh..wh..opq" in a directory hides all below it
    const hidden = ['var', 'var/lib', 'var/lib/dpkg', STATUS].some((p) => {
      const slash = p.lastIndexOf('/');
      const wh = slash < 0 ? `.wh.${p}` : `${p.slice(0, slash)}/.wh.${p.slice(slash + 1)}`;
      return names.has(wh) || (p !== STATUS && names.has(`${p}/.wh..wh..opq`));
    });
    if (hidden) current = new Map();
    if (names.has(STATUS)) {
      const entry = raw.find((n) => n.replace(/^\.\//, '') === STATUS)!;
      const { stdout } = await run('tar', ['-xzOf', blob, entry], { maxBuffer: 64 << 20 });
      current = new Map(
        parseStatus(stdout)
          .filter(isInstalled)
          .map((e) => [`${e.name}/${e.arch}`, e.version]),
      );
    }
    states.push(current);
  }
  return states;
}

/** The lowest layer from which the same name+version has been present continuously up to the top. */
function expectedLayer(states: Map<string, string>[], key: string): number {
  const top = states.length - 1;
  const version = states[top]!.get(key);
  let j = top;
  while (j > 0 && states[j - 1]!.get(key) === version) j--;
  return j;
}

function checkAttribution(report: Report, states: Map<string, string>[]): void {
  const top = states.at(-1)!;
  const got = new Map((report.packages ?? []).map((p) => [`${p.name}/${p.arch}`, p]));
  assert.deepEqual([...got.keys()].sort(), [...top.keys()].sort(), 'packages of the final filesystem');
  for (const [key, version] of top) {
    const p = got.get(key)!;
    assert.equal(p.version, version, key);
    assert.equal(p.layer?.index, expectedLayer(states, key), `layer of ${key} ${version}`);
    assert.equal(p.layer?.digest, report.target.layers[p.layer.index]?.digest);
  }
  for (const f of report.findings) {
    const p = got.get(`${f.package.name}/${f.package.arch}`);
    assert.equal(f.package.layer?.index, p?.layer?.index, `finding ${f.id} on ${f.package.name}: layer`);
  }
}

describe('multilayer image (install curl, then upgrade and purge curl)', () => {
  let states: Map<string, string>[];
  let report: Report;
  before(async () => {
    states = await dpkgStates(images.oci, 'multilayer');
    report = await moatJson<Report>(sb, ['scan', 'image', `oci:${images.oci}:multilayer`, '--list-packages']);
  });

  it('packages purged in a later layer are absent', () => {
    const top = states.at(-1)!;
    const purged = new Set(states.flatMap((s) => [...s.keys()].filter((k) => !top.has(k))));
    assert.ok(purged.size > 0, 'the image should have purged packages (curl) to test');
    const names = new Set((report.packages ?? []).map((p) => `${p.name}/${p.arch}`));
    for (const k of purged) assert.ok(!names.has(k), `${k} was purged but is reported`);
    for (const f of report.findings) assert.ok(!purged.has(`${f.package.name}/${f.package.arch}`));
  });

  it('each package is attributed to the layer the dpkg statuses of the layers give', () => {
    // upgrades in the last layer and installs in the middle one: not everything is layer 0
    const layers = new Set([...states.at(-1)!.keys()].map((k) => expectedLayer(states, k)));
    assert.ok(layers.size >= 2, `expected packages from several layers, got layers ${[...layers]}`);
    checkAttribution(report, states);
  });
});

describe('whiteouts in hand-built layers', () => {
  const root = debianRoot();
  const statusText = (root.find((e) => e.path === STATUS)?.body ?? '').toString();
  // the first 20 packages of the real status, as a later layer's smaller database
  const fewer = `${statusText.split(/\n\n/).slice(0, 20).join('\n\n')}\n`;
  const layer = (entries: Parameters<typeof tar>[0]) => {
    const t = tar(entries);
    return { blob: gzip(t), tar: t };
  };

  const cases: [string, Parameters<typeof tar>[0][]][] = [
    [
      'a whiteout of the status file hides every package',
      [root, [{ path: 'var/lib/dpkg/.wh.status', body: '' }]],
    ],
    [
      'an opaque directory hides the status below it; the layer above brings a smaller one',
      [
        root,
        [
          { path: 'var/lib/dpkg/', type: 'dir' },
          { path: 'var/lib/dpkg/.wh..wh..opq', body: '' },
          { path: STATUS, body: fewer },
        ],
      ],
    ],
    [
      'a package deleted and added again belongs to the layer that added it again',
      [
        root,
        [{ path: 'var/lib/.wh.dpkg', body: '' }],
        [
          { path: 'var/lib/dpkg/', type: 'dir' },
          { path: STATUS, body: statusText },
        ],
      ],
    ],
    [
      'a layer that rewrites the same database keeps the lower attribution',
      [root, [{ path: STATUS, body: statusText }]],
    ],
  ];

  for (const [title, layers] of cases) {
    it(title, async () => {
      const dir = join(sb.inputs, title.replace(/\W+/g, '-'));
      const built = writeLayout(dir, { layers: layers.map(layer) });
      const states = await dpkgStates(dir, 'img');
      const report = await moatJson<Report>(sb, ['scan', 'image', built.ref, '--list-packages']);
      checkAttribution(report, states);
    });
  }
});
