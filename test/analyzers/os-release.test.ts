import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { osHintOf, osRelease, parseOsRelease } from '../../src/analyzers/os-release.js';

describe('os-release parsing', () => {
  it('handles quoting, escapes, comments and blank lines', () => {
    const f = parseOsRelease(
      [
        '# comment',
        'NAME="Some \\"Quoted\\" Linux"',
        "ID='some'",
        'VERSION_ID=1.2',
        '',
        'PRETTY_NAME="a \\$b \\\\ c"',
        'not a line',
        'EMPTY=',
      ].join('\r\n'),
    );
    assert.deepEqual(f, {
      NAME: 'Some "Quoted" Linux',
      ID: 'some',
      VERSION_ID: '1.2',
      PRETTY_NAME: 'a $b \\ c',
      EMPTY: '',
    });
  });

  it('prefers os-release over release files and specific files over generic ones', () => {
    const order = [
      'etc/os-release',
      'usr/lib/os-release',
      'etc/oracle-release',
      'etc/redhat-release',
      'etc/debian_version',
    ];
    const text: Record<string, string> = {
      'etc/os-release': 'ID=ol\nVERSION_ID=8.9\n',
      'usr/lib/os-release': 'ID=ol\nVERSION_ID=8.9\n',
      'etc/oracle-release': 'Oracle Linux Server release 8.9\n',
      'etc/redhat-release': 'Red Hat Enterprise Linux release 8.9 (Ootpa)\n',
      'etc/debian_version': '12.5\n',
    };
    const prios = order.map((p) => osHintOf(p, text[p]!)!.priority);
    assert.deepEqual(
      [...prios].sort((a, b) => a - b),
      prios,
    );
    assert.equal(new Set(prios).size, prios.length);
  });

  it('reads release-file versions and names', () => {
    const table: [string, string, string, string][] = [
      ['etc/redhat-release', 'Red Hat Enterprise Linux Server release 7.9 (Maipo)', 'rhel', '7.9'],
      ['etc/centos-release', 'CentOS Stream release 9', 'centos', '9'],
      ['etc/system-release', 'Amazon Linux AMI release 2018.03', 'amzn', '2018.03'],
      ['etc/fedora-release', 'Fedora release 39 (Thirty Nine)', 'fedora', '39'],
      ['etc/photon-release', 'VMware Photon OS 5.0\nPHOTON_BUILD_NUMBER=dde71ec57', 'photon', '5.0'],
      [
        'etc/mariner-release',
        'CBL-Mariner 2.0.20240123\nDISTRIB_CODENAME="Mariner"',
        'mariner',
        '2.0.20240123',
      ],
      ['etc/alpine-release', '3.21.0_alpha20240807', 'alpine', '3.21.0_alpha20240807'],
      ['etc/debian_version', '12.5', 'debian', '12.5'],
      [
        'etc/SuSE-release',
        'openSUSE 42.3 (x86_64)\nVERSION = 42.3\nCODENAME = Malachite',
        'opensuse-leap',
        '42.3',
      ],
    ];
    for (const [path, text, family, version] of table) {
      const h = osHintOf(path, text);
      assert.ok(h, path);
      assert.equal(h.os.family, family, path);
      assert.equal(h.os.version, version, path);
      assert.equal(h.os.source, path);
    }
  });

  it('warns and returns nothing for files without an identity', () => {
    for (const [path, text] of [
      ['etc/os-release', 'NAME=foo\n'],
      ['etc/redhat-release', 'something else entirely'],
      ['etc/alpine-release', ''],
      ['etc/debian_version', '\x00\x01 binary'],
    ]) {
      const warnings: string[] = [];
      const out = osRelease.analyze(
        { path: path!, size: text!.length, data: Buffer.from(text!) },
        {
          warn: (w) => warnings.push(w),
        },
      );
      assert.deepEqual(out, {}, path);
      assert.equal(warnings.length, 1);
    }
  });

  it('wants only the identification files', () => {
    assert.ok(osRelease.wants('etc/os-release'));
    assert.ok(osRelease.wants('usr/lib/os-release'));
    assert.ok(osRelease.wants('etc/debian_version'));
    assert.equal(osRelease.wants('etc/os-release.d/x'), false);
    assert.equal(osRelease.wants('usr/etc/os-release'), false);
    assert.equal(osRelease.wants('etc/hostname'), false);
  });
});
