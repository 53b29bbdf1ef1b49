import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { osRelease } from '../../src/analyzers/os-release.js';
import type { OsHint } from '../../src/analyzers/types.js';
import {
  type EolRelease,
  eolStatus,
  eolTable,
  findRelease,
  osvEcosystem,
  resolveOs,
} from '../../src/scan/os.js';
import { FIXTURES, runAnalyzer } from '../analyzers/helpers.js';

const OS_FIXTURES = join(FIXTURES, 'os-release');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const DAY = 86_400_000;
const day = (iso: string, delta = 0) => new Date(Date.parse(`${iso}T12:00:00Z`) + delta * DAY);

/** What the table says about a release on a day (the expectation the tests derive from the data). */
function expectedEol(r: EolRelease, now: Date) {
  const today = now.toISOString().slice(0, 10);
  const end = r.lts ?? r.eol;
  return {
    ended: today > end,
    date: r.eol,
    ...(r.lts ? { ltsDate: r.lts, inLts: today > r.eol && today <= r.lts } : {}),
  };
}

describe('resolveOs over os-release fixtures', () => {
  const cases = readdirSync(OS_FIXTURES).filter((d) => statSync(join(OS_FIXTURES, d)).isDirectory());
  it('has the distributions the scanner supports', () => assert.ok(cases.length >= 15));
  const now = day('2025-06-15');
  for (const c of cases) {
    it(c, async () => {
      const dir = join(OS_FIXTURES, c);
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')).os;
      const files = walk(dir)
        .map((abs) => ({ path: relative(dir, abs), abs }))
        .filter((f) => f.path !== 'expected.json');
      const res = await runAnalyzer(osRelease, files);
      assert.deepEqual(res.warnings, []);
      const hints = res.outputs.map((o) => o.os).filter((h): h is OsHint => h !== undefined);
      assert.equal(hints.length, res.wanted.length, 'every identification file gives a hint');
      // the choice must not depend on the order the files were met in
      for (const order of [hints, [...hints].reverse()]) {
        const os = resolveOs(order, now);
        assert.ok(os);
        const { eol, ...rest } = os;
        assert.deepEqual(rest, expected);
        const r = findRelease(os);
        assert.deepEqual(eol, r ? expectedEol(r, now) : { ended: false, unknown: true });
      }
    });
  }
  it('returns undefined without hints', () => assert.equal(resolveOs([]), undefined));
});

describe('end-of-life table (data/eol.json)', () => {
  const table = eolTable();
  const ISO = /^\d{4}-\d{2}-\d{2}$/;

  it('is well-formed: valid dates in order, unique releases, a source per distribution', () => {
    for (const [family, dist] of Object.entries(table.distributions)) {
      assert.ok(dist.source.length > 10, family);
      const seen = new Set<string>();
      for (const r of dist.releases) {
        assert.ok(!seen.has(r.release), `${family} ${r.release} twice`);
        seen.add(r.release);
        for (const d of [r.released, r.eol, r.lts, r.extended]) {
          if (d === undefined) continue;
          assert.match(d, ISO);
          assert.equal(
            new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10),
            d,
            `${family} ${r.release} ${d}`,
          );
        }
        if (r.released) assert.ok(r.released < r.eol, `${family} ${r.release}`);
        if (r.lts) assert.ok(r.eol <= r.lts, `${family} ${r.release}`);
        if (r.extended) assert.ok((r.lts ?? r.eol) <= r.extended, `${family} ${r.release}`);
      }
    }
  });

  it('covers the releases of the last ten years of the main distributions', () => {
    for (const [family, release] of [
      ['debian', '9'],
      ['debian', '13'],
      ['ubuntu', '16.04'],
      ['ubuntu', '24.04'],
      ['alpine', '3.5'],
      ['alpine', '3.22'],
      ['rhel', '7'],
      ['rhel', '10'],
      ['rocky', '9'],
      ['almalinux', '9'],
      ['sles', '15.6'],
      ['amzn', '2023'],
    ] as const) {
      assert.ok(
        table.distributions[family]?.releases.some((r) => r.release === release),
        `${family} ${release}`,
      );
    }
  });

  it('reports regular support, LTS and end around every date in the table', () => {
    for (const [family, dist] of Object.entries(table.distributions)) {
      for (const r of dist.releases) {
        const os = {
          family,
          name: family === 'centos-stream' ? 'CentOS Stream' : family,
          version: r.release,
        };
        if (family === 'centos-stream') os.family = 'centos';
        const onEol = eolStatus(os, day(r.eol));
        assert.equal(onEol.ended, false, `${family} ${r.release} is supported on its last day`);
        assert.equal(onEol.date, r.eol);
        const after = eolStatus(os, day(r.eol, 1));
        assert.deepEqual(after, expectedEol(r, day(r.eol, 1)));
        if (r.lts) {
          assert.equal(after.ended, r.lts === r.eol, `${family} ${r.release}`);
          assert.equal(after.inLts, r.lts > r.eol);
          assert.equal(eolStatus(os, day(r.lts, 1)).ended, true);
          assert.equal(eolStatus(os, day(r.lts, 1)).inLts, false);
        } else {
          assert.equal(after.ended, true, `${family} ${r.release}`);
        }
      }
    }
  });

  it('looks releases up by version prefix and by Debian codename', () => {
    const deb12 = table.distributions.debian!.releases.find((r) => r.release === '12')!;
    assert.equal(findRelease({ family: 'debian', name: 'Debian', version: '12.7' }), deb12);
    assert.equal(findRelease({ family: 'debian', name: 'Debian', version: '', codename: 'Bookworm' }), deb12);
    const alpine = table.distributions.alpine!.releases.find((r) => r.release === '3.20')!;
    assert.equal(findRelease({ family: 'alpine', name: 'Alpine', version: '3.20.3' }), alpine);
    const stream8 = table.distributions['centos-stream']!.releases.find((r) => r.release === '8')!;
    assert.equal(findRelease({ family: 'centos', name: 'CentOS Stream 8', version: '8' }), stream8);
    assert.notEqual(findRelease({ family: 'centos', name: 'CentOS Linux 8', version: '8' }), stream8);
  });

  it('marks unknown releases and rolling distributions', () => {
    assert.deepEqual(eolStatus({ family: 'debian', name: 'Debian', version: '99' }), {
      ended: false,
      unknown: true,
    });
    assert.deepEqual(eolStatus({ family: 'nosuchos', name: 'x', version: '1' }), {
      ended: false,
      unknown: true,
    });
    assert.deepEqual(eolStatus({ family: 'wolfi', name: 'Wolfi', version: '20230201' }), { ended: false });
  });
});

describe('OSV ecosystems', () => {
  it('maps each family to the OSV ecosystem string', () => {
    const table: [string, string, string | undefined, string | undefined][] = [
      ['debian', '12', undefined, 'Debian:12'],
      ['debian', '10.13', undefined, 'Debian:10'],
      ['debian', '', 'sid', undefined],
      ['ubuntu', '22.04', undefined, 'Ubuntu:22.04:LTS'],
      ['ubuntu', '24.10', undefined, 'Ubuntu:24.10'],
      ['ubuntu', '30.04', undefined, 'Ubuntu:30.04:LTS'],
      ['ubuntu', '31.04', undefined, 'Ubuntu:31.04'],
      ['alpine', '3.20.3', undefined, 'Alpine:v3.20'],
      ['alpine', '3.21.0_alpha20240807', undefined, 'Alpine:v3.21'],
      ['rhel', '8.10', undefined, 'Red Hat:enterprise_linux:8'],
      ['rocky', '8.9', undefined, 'Rocky Linux:8'],
      ['almalinux', '10.0', undefined, 'AlmaLinux:10'],
      ['sles', '15.6', undefined, 'SUSE:Linux Enterprise Server 15 SP6'],
      ['sles', '15', undefined, 'SUSE:Linux Enterprise Server 15'],
      ['sled', '15.5', undefined, 'SUSE:Linux Enterprise Desktop 15 SP5'],
      ['opensuse-leap', '15.5', undefined, 'openSUSE:Leap 15.5'],
      ['opensuse-tumbleweed', '20240801', undefined, 'openSUSE:Tumbleweed'],
      ['mariner', '2.0', undefined, 'Azure Linux:2'],
      ['azurelinux', '3.0', undefined, 'Azure Linux:3'],
      ['mariner', '1.0', undefined, undefined],
      ['photon', '5.0', undefined, 'Photon OS:5.0'],
      ['mageia', '9', undefined, 'Mageia:9'],
      ['openeuler', '24.03', 'LTS-SP1', 'openEuler:24.03-LTS-SP1'],
      ['openeuler', '23.09', undefined, 'openEuler:23.09'],
      ['wolfi', '20230201', undefined, 'Wolfi'],
      ['chainguard', '20230214', undefined, 'Chainguard'],
      ['amzn', '2023', undefined, undefined],
      ['centos', '7', undefined, undefined],
      ['fedora', '40', undefined, undefined],
      ['ol', '9.4', undefined, undefined],
    ];
    for (const [family, version, codename, want] of table) {
      const os = codename ? { family, name: family, version, codename } : { family, name: family, version };
      assert.equal(osvEcosystem(os), want, `${family} ${version}`);
    }
  });
});
