/**
 * Language packages in the real test images, through the built CLI, against oracles independent of
 * moat's analyzers and version comparators:
 *
 * - node-app: the packages are read from the image's own package-lock.json (GNU tar out of the layer
 *   blob); the npm GHSA records' ranges are evaluated with npm's own `semver` package (the copy npm
 *   bundles, loaded by path).
 * - python: the installed distributions from the layer's file names (`<name>-<version>.egg-info` /
 *   `.dist-info`); the PyPI records' explicit `versions` lists decide (names compared per PEP 503).
 *   The packages are Debian's (python3-requests & co.): without --os-managed-lang nothing is matched,
 *   and each one names its owner as the image's own dpkg file lists do.
 * - go-scratch: the binary is taken out of the layer and read with `go version -m`; the Go records'
 *   SEMVER ranges are evaluated by a small Go program with golang.org/x/mod/semver (Debian's
 *   golang-golang-x-mod-dev), built offline.
 *
 * Every comparison is of (package, version, record id) sets, and every expected set must be non-empty.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { importedCache, moatJson, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { layoutBlob, layoutRef, type TestImages, testImages } from '../helpers/registry.js';
import { setDiff, zipJsonEntries } from './lib.js';

const run = promisify(execFile);
const EXPORTS = join(REPO, 'test/fixtures/vulndb/osv-export');
const ZIPS = ['Debian', 'npm', 'PyPI', 'Go'].map((e) => join(EXPORTS, e, 'all.zip'));

interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}
interface OsvRecord {
  id: string;
  withdrawn?: string;
  affected?: {
    package?: { ecosystem: string; name: string };
    ranges?: { type: string; events: OsvEvent[] }[];
    versions?: string[];
  }[];
}

interface Finding {
  id: string;
  records: string[];
  ecosystem: string;
  package: { type: string; name: string; version: string; path: string };
}
interface Pkg {
  type: string;
  name: string;
  version: string;
  path: string;
  foundBy?: string;
  osPackage?: string;
  locations?: string[];
}
interface Report {
  findings: Finding[];
  packages?: Pkg[];
  warnings: { code: string; message: string }[];
}

const key = (name: string, version: string, record: string): string => `${name}\t${version}\t${record}`;
const pep503 = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');

function records(ecosystem: string): OsvRecord[] {
  return zipJsonEntries(join(EXPORTS, ecosystem, 'all.zip'))
    .map((e) => JSON.parse(e.data().toString('utf8')) as OsvRecord)
    .filter((r) => !r.withdrawn);
}

/** moat's findings in one ecosystem as (package, version, record) keys */
function findingKeys(r: Report, ecosystem: string): Set<string> {
  const out = new Set<string>();
  for (const f of r.findings) {
    if (f.ecosystem !== ecosystem) continue;
    for (const rec of f.records) out.add(key(f.package.name, f.package.version, rec));
  }
  return out;
}

let images: TestImages;
let sb: Sandbox;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache(ZIPS) });
});
after(() => sb?.remove());

/** The image's layer blobs (compressed, in order), read from the OCI layout without moat. */
function layerBlobs(name: string): string[] {
  const desc = layoutRef(images.oci, name);
  const manifest = layoutBlob<{ layers: { digest: string }[] }>(images.oci, desc.digest);
  return manifest.layers.map((l) => join(images.oci, 'blobs', ...l.digest.split(':')));
}

async function tarList(blob: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', blob], { maxBuffer: 256 << 20 });
  return stdout.split('\n').filter((l) => l !== '');
}

async function tarRead(
  blob: string,
  path: string,
  encoding: 'utf8' | 'buffer' = 'utf8',
): Promise<string | Buffer> {
  const { stdout } = await run('tar', ['-xzOf', blob, path], {
    maxBuffer: 256 << 20,
    encoding: encoding === 'utf8' ? 'utf8' : 'buffer',
  });
  return stdout;
}

const scan = (ref: string, ...extra: string[]): Promise<Report> =>
  moatJson<Report>(sb, ['scan', 'image', ref, '--list-packages', ...extra], { timeoutMs: 300_000 });

describe('node-app: npm packages against npm semver', () => {
  it('shows the advisories the npm records hold for the locked versions', async () => {
    const blobs = layerBlobs('node-app');
    const app = blobs.at(-1)!;
    const lock = JSON.parse((await tarRead(app, 'app/package-lock.json')) as string) as {
      packages: Record<string, { version?: string; name?: string }>;
    };
    // every installed package: "node_modules/<name>" (nested ones too), the name after the last node_modules/
    const installed: { name: string; version: string }[] = [];
    for (const [p, v] of Object.entries(lock.packages)) {
      if (!p.includes('node_modules/') || !v.version) continue;
      installed.push({ name: v.name ?? p.slice(p.lastIndexOf('node_modules/') + 13), version: v.version });
    }
    assert.ok(installed.length > 40, `express and friends: ${installed.length} packages`);
    for (const want of ['express@4.17.1', 'jsonwebtoken@8.5.0', 'lodash@4.17.15', 'minimist@1.2.0']) {
      assert.ok(
        installed.some((p) => `${p.name}@${p.version}` === want),
        want,
      );
    }

    const semver = createRequire(import.meta.url)(
      join((await run('npm', ['root', '-g'])).stdout.trim(), 'npm/node_modules/semver'),
    ) as { satisfies(v: string, range: string): boolean; lte(a: string, b: string): boolean };
    const expected = new Set<string>();
    for (const rec of records('npm')) {
      for (const a of rec.affected ?? []) {
        if (a.package?.ecosystem !== 'npm') continue;
        for (const p of installed) {
          if (p.name !== a.package.name) continue;
          let hit = a.versions?.includes(p.version) ?? false;
          for (const r of a.ranges ?? []) {
            if (r.type !== 'SEMVER' && r.type !== 'ECOSYSTEM') continue;
            // GHSA writes one interval per range: introduced, then fixed or last_affected
            const lo = r.events.find((e) => e.introduced !== undefined)?.introduced ?? '0';
            const fixed = r.events.find((e) => e.fixed !== undefined)?.fixed;
            const last = r.events.find((e) => e.last_affected !== undefined)?.last_affected;
            assert.equal(r.events.length, fixed || last ? 2 : 1, `${rec.id}: one interval per range`);
            const range = `${lo === '0' ? '>=0.0.0-0' : `>=${lo}`}${fixed ? ` <${fixed}` : ''}${last ? ` <=${last}` : ''}`;
            if (semver.satisfies(p.version, range)) hit = true;
          }
          if (hit) expected.add(key(p.name, p.version, rec.id));
        }
      }
    }
    assert.ok(expected.size > 0, "the npm records must affect some of the app's packages");

    const report = await scan(`oci:${images.oci}:node-app`);
    assert.deepEqual(setDiff(findingKeys(report, 'npm'), expected), { missing: [], extra: [] });
    // the app's packages are there once each, installed (node_modules) and locked (package-lock.json)
    const lodash = report.packages!.filter((p) => p.type === 'npm' && p.name === 'lodash');
    assert.equal(lodash.length, 1, JSON.stringify(lodash));
    assert.equal(lodash[0]!.foundBy, 'installed');
    assert.ok(lodash[0]!.locations?.includes('app/package-lock.json'), JSON.stringify(lodash[0]));
    // ... from the layer the application was copied in
    const f = report.findings.find((x) => x.package.name === 'lodash')! as Finding & {
      package: { layer?: { index: number } };
    };
    assert.equal(f.package.layer?.index, blobs.length - 1);
  });
});

describe('python: Debian-installed distributions', () => {
  let installed: { name: string; version: string; dir: string }[] = [];
  let owners = new Map<string, string>();

  before(async () => {
    const blobs = layerBlobs('python');
    installed = [];
    owners = new Map();
    for (const blob of blobs) {
      const names = await tarList(blob);
      for (const n of names) {
        const m =
          /^(?:\.\/)?((?:usr\/lib\/python3[^/]*|usr\/local\/lib\/python3[^/]*)\/(?:dist|site)-packages\/([^/]+)-([^-/]+?)(?:-py[0-9.]+)?\.(?:egg|dist)-info)\/?$/.exec(
            n,
          );
        if (m) installed.push({ dir: m[1]!, name: m[2]!, version: m[3]! });
      }
      // the owner of each metadata directory, as the image's dpkg file lists say
      for (const n of names.filter((x) => /var\/lib\/dpkg\/info\/[^/]+\.list$/.test(x))) {
        const owner = n.slice(n.lastIndexOf('/') + 1, -5).split(':')[0]!;
        for (const line of ((await tarRead(blob, n)) as string).split('\n'))
          owners.set(line.replace(/^\//, ''), owner);
      }
    }
    assert.ok(installed.length >= 5, JSON.stringify(installed));
  });

  function expectedPyPI(): Set<string> {
    const expected = new Set<string>();
    for (const rec of records('PyPI')) {
      for (const a of rec.affected ?? []) {
        if (a.package?.ecosystem !== 'PyPI') continue;
        for (const p of installed) {
          if (pep503(p.name) !== pep503(a.package.name)) continue;
          assert.ok(
            a.versions && a.versions.length > 0,
            `${rec.id} lists no versions: the oracle cannot decide`,
          );
          if (a.versions.includes(p.version)) expected.add(key(p.name, p.version, rec.id));
        }
      }
    }
    return expected;
  }

  it('with --os-managed-lang: the advisories whose versions lists name the installed versions', async () => {
    const expected = expectedPyPI();
    assert.ok(expected.size > 0, 'the PyPI records must affect some of the installed distributions');
    const report = await scan(`oci:${images.oci}:python`, '--os-managed-lang');
    assert.deepEqual(setDiff(findingKeys(report, 'PyPI'), expected), { missing: [], extra: [] });
  });

  it('by default: none matched, each reported with its Debian owner', async () => {
    const report = await scan(`oci:${images.oci}:python`);
    assert.deepEqual([...findingKeys(report, 'PyPI')], []);
    const py = report.packages!.filter((p) => p.type === 'python');
    assert.deepEqual(
      py.map((p) => `${pep503(p.name)} ${p.version}`).sort(),
      installed.map((p) => `${pep503(p.name)} ${p.version}`).sort(),
    );
    for (const p of py) {
      const dir = installed.find((i) => pep503(i.name) === pep503(p.name))!.dir;
      const owner = owners.get(dir);
      assert.ok(owner, `dpkg lists ${dir}`);
      assert.equal(p.osPackage, owner, `${p.name} is Debian's ${owner}`);
    }
    // and their Debian packages are there, as OS packages
    for (const owner of new Set(py.map((p) => p.osPackage!))) {
      assert.ok(
        report.packages!.some((p) => p.type === 'dpkg' && p.name === owner),
        `${owner} is an installed dpkg package`,
      );
    }
  });
});

/** OSV SEMVER evaluation with golang.org/x/mod/semver (the reference implementation Go's tools use). */
const GO_ORACLE = `package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

type event struct {
	Introduced   string \`json:"introduced"\`
	Fixed        string \`json:"fixed"\`
	LastAffected string \`json:"last_affected"\`
	Limit        string \`json:"limit"\`
}

type record struct {
	ID        string \`json:"id"\`
	Withdrawn string \`json:"withdrawn"\`
	Affected  []struct {
		Package struct{ Ecosystem, Name string } \`json:"package"\`
		Ranges  []struct {
			Type   string  \`json:"type"\`
			Events []event \`json:"events"\`
		} \`json:"ranges"\`
		Versions []string \`json:"versions"\`
	} \`json:"affected"\`
}

func v(s string) string {
	if s == "0" {
		return "v0.0.0-0"
	}
	return "v" + s
}

func main() {
	// stdin: "module version" lines; argv[1]: a folder of OSV records
	mods := map[string]string{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			mods[f[0]] = f[1]
		}
	}
	dir := os.Args[1]
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		b, err := os.ReadFile(dir + "/" + n.Name())
		if err != nil {
			panic(err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			panic(err)
		}
		if r.Withdrawn != "" {
			continue
		}
		for _, a := range r.Affected {
			have, ok := mods[a.Package.Name]
			if a.Package.Ecosystem != "Go" || !ok {
				continue
			}
			hit := false
			for _, x := range a.Versions {
				if v(x) == have {
					hit = true
				}
			}
			for _, rg := range a.Ranges {
				if rg.Type != "SEMVER" {
					continue
				}
				ev := append([]event(nil), rg.Events...)
				key := func(e event) string { return v(e.Introduced + e.Fixed + e.LastAffected + e.Limit) }
				sort.SliceStable(ev, func(i, j int) bool { return semver.Compare(key(ev[i]), key(ev[j])) < 0 })
				in := false
				for _, e := range ev {
					switch {
					case e.Introduced != "" && semver.Compare(have, v(e.Introduced)) >= 0:
						in = true
					case e.Fixed != "" && semver.Compare(have, v(e.Fixed)) >= 0:
						in = false
					case e.LastAffected != "" && semver.Compare(have, v(e.LastAffected)) > 0:
						in = false
					}
				}
				if in {
					hit = true
				}
			}
			if hit {
				fmt.Printf("%s\\t%s\\n", a.Package.Name, r.ID)
			}
		}
	}
}
`;

describe('go-scratch: a static Go binary', () => {
  it('shows the Go advisories for its modules and toolchain, as x/mod/semver decides them', async () => {
    const blob = layerBlobs('go-scratch').at(-1)!;
    const work = join(sb.inputs, 'go');
    mkdirSync(join(work, 'records'), { recursive: true });
    // go version -m reads only executable files
    writeFileSync(join(work, 'vulnapp'), (await tarRead(blob, 'vulnapp', 'buffer')) as Buffer, {
      mode: 0o755,
    });
    // go version -m: "<file>: go1.19.8", then "\tdep\t<path>\t<version>[\t<sum>]" lines
    const { stdout } = await run('go', ['version', '-m', join(work, 'vulnapp')]);
    const toolchain = /:\s+go(\S+)/.exec(stdout.split('\n')[0]!)?.[1];
    assert.ok(toolchain, stdout);
    const deps = stdout
      .split('\n')
      .map((l) => l.trim().split('\t'))
      .filter((f) => f[0] === 'dep')
      .map((f) => ({ path: f[1]!, version: f[2]! }));
    assert.ok(deps.length >= 2, stdout);
    // the toolchain as Go's records name it: stdlib at SemVer "v1.19.8" (a bare "go1.21" is 1.21.0)
    const std = `v${toolchain.split('.').length === 2 ? `${toolchain}.0` : toolchain}`;
    const mods = [...deps.map((d) => `${d.path} ${d.version}`), `stdlib ${std}`].join('\n');

    for (const e of zipJsonEntries(join(EXPORTS, 'Go', 'all.zip')))
      writeFileSync(join(work, 'records', e.name), e.data());
    writeFileSync(join(work, 'oracle.go'), GO_ORACLE);
    const env = {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: join(work, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
    };
    await run('go', ['build', '-o', join(work, 'oracle'), join(work, 'oracle.go')], { env, cwd: work });
    const child = execFile(join(work, 'oracle'), [join(work, 'records')], { maxBuffer: 64 << 20 });
    const out = new Promise<string>((res, rej) => {
      let buf = '';
      child.stdout!.on('data', (c: string) => {
        buf += c;
      });
      child.on('error', rej);
      child.on('close', (code) => (code === 0 ? res(buf) : rej(new Error(`oracle exited ${code}`))));
    });
    child.stdin!.end(mods);
    // the toolchain's version as a bare number on both sides ("go1.19.8" or "1.19.8" in a report)
    const version = new Map([...deps.map((d) => [d.path, d.version] as const), ['stdlib', toolchain]]);
    const expected = new Set(
      (await out)
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const [name, id] = l.split('\t') as [string, string];
          return key(name, version.get(name)!, id);
        }),
    );
    assert.ok(
      [...expected].some((k) => k.startsWith('stdlib\t')),
      'Go 1.19 has standard-library advisories',
    );
    assert.ok(
      [...expected].some((k) => k.startsWith('golang.org/x/net\t')),
      'x/net v0.7.0 has advisories',
    );

    const report = await scan(`oci:${images.oci}:go-scratch`);
    for (const f of report.findings)
      if (f.package.name === 'stdlib') f.package.version = f.package.version.replace(/^go/, '');
    assert.deepEqual(setDiff(findingKeys(report, 'Go'), expected), { missing: [], extra: [] });
    const binPkgs = report.packages!.filter((p) => p.type === 'go');
    assert.ok(
      binPkgs.every((p) => p.path === 'vulnapp' && p.foundBy === 'binary'),
      JSON.stringify(binPkgs),
    );
    // a scratch image has no OS, and a binary needs none: no os-unknown warning
    assert.deepEqual(
      report.warnings.filter((w) => w.code === 'os-unknown'),
      [],
    );
  });
});
