import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import {
  analyzeJavaArchive,
  fileNameCoordinates,
  JAVA_ARCHIVE_LIMITS,
  javaArchive,
  manifestCoordinates,
  parseManifest,
  parseProperties,
} from '../../src/analyzers/java-archive.js';
import { bufferAccess, readZipDirectory, readZipEntry, ZipError } from '../../src/analyzers/lang/zip.js';
import { langBinaries, runLang } from './lang-kit.js';

/** expected.tsv of make-lang-binaries.sh: archive → "groupId:artifactId@version evidence" lines */
function expectations(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(join(dir, 'expected.tsv'), 'utf8').split('\n')) {
    if (!line) continue;
    const [file, name, version, evidence] = line.split('\t');
    const list = out.get(file!) ?? [];
    list.push(`${name}@${version} ${evidence}`);
    out.set(file!, list);
  }
  return out;
}

describe('java-archive analyzer over archives packed by the JDK jar tool', () => {
  it('reports what each archive’s pom.properties, manifest or name says (expected.tsv)', async () => {
    const dir = join(await langBinaries(), 'java');
    const expected = expectations(dir);
    const archives = readdirSync(dir).filter((f) => /\.(jar|war|ear)$/.test(f));
    assert.ok(expected.size >= 10 && archives.length > expected.size);
    for (const f of archives) {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(javaArchive, `opt/app/${f}`, join(dir, f), mode);
        assert.ok(res.wanted, f);
        const got = res.packages.map((p) => `${p.name}@${p.version} ${p.extra?.evidence}`).sort();
        assert.deepEqual(got, (expected.get(f) ?? []).sort(), f);
        for (const p of res.packages) {
          assert.equal(p.type, 'maven');
          assert.equal(p.foundBy, 'installed');
          assert.equal(p.path, `opt/app/${f}`);
          if (p.extra?.evidence !== 'pom.properties')
            assert.ok(p.extra?.confidence, `${f}: ${p.name} says how sure it is`);
        }
      }
    }
  });

  it('names nested archives by their path inside the file', async () => {
    const dir = join(await langBinaries(), 'java');
    const res = await runLang(javaArchive, 'srv/suite-5.0.ear', join(dir, 'suite-5.0.ear'));
    const alpha = res.packages.find((p) => p.name === 'org.moat.fixture:alpha-lib');
    assert.equal(alpha?.extra?.archive, 'webapp-1.0.war!/WEB-INF/lib/alpha-lib-1.2.3.jar');
    const own = res.packages.find((p) => p.name === 'suite:suite');
    assert.equal(own?.extra?.archive, undefined);
  });

  it('warns, naming the archive, on corrupt, nested-corrupt, too-deep and bomb archives; the scan goes on', async () => {
    const dir = join(await langBinaries(), 'java');
    const cases: [string, RegExp][] = [
      ['cut-1.0.jar', /^unreadable zip archive: no end-of-central-directory record/],
      ['garbage-1.0.jar', /^unreadable zip archive/],
      ['webapp-1.0.war', /^WEB-INF\/lib\/broken-1\.0\.jar: unreadable zip archive/],
      ['suite-5.0.ear', /^webapp-1\.0\.war!\/WEB-INF\/lib\/broken-1\.0\.jar: unreadable/],
      ['deep-1.0.jar', /level5-1\.0\.jar: nested more than 4 archives deep/],
      ['bomb-1.0.jar', /^lib\/zeros-1\.0\.jar: compression ratio \d+:1 is over the 200:1 cap/],
    ];
    for (const [f, re] of cases) {
      const res = await runLang(javaArchive, `opt/${f}`, join(dir, f));
      assert.equal(res.warnings.length, 1, `${f}: ${res.warnings.join('; ')}`);
      assert.match(res.warnings[0]!, re, f);
    }
    for (const f of ['alpha-lib-1.2.3.jar', 'boot-app-1.0.jar', 'shaded-app-4.0.0.jar', 'app.jar']) {
      const res = await runLang(javaArchive, `opt/${f}`, join(dir, f));
      assert.deepEqual(res.warnings, [], f);
    }
  });

  it('applies the size and total caps, naming the archive and the cap', async () => {
    const dir = join(await langBinaries(), 'java');
    const war = { path: 'opt/webapp-1.0.war', size: 0, data: readFileSync(join(dir, 'webapp-1.0.war')) };
    const warnings: string[] = [];
    const pkgs = analyzeJavaArchive(war, (r) => warnings.push(r), {
      ...JAVA_ARCHIVE_LIMITS,
      maxNestedBytes: 100,
    });
    assert.deepEqual(
      pkgs.map((p) => p.name),
      ['org.moat.web:webapp'],
    );
    assert.ok(
      warnings.some((w) =>
        /^WEB-INF\/lib\/alpha-lib-1\.2\.3\.jar: \d+ bytes uncompressed, over the 100-byte cap/.test(w),
      ),
    );
    const total: string[] = [];
    analyzeJavaArchive(war, (r) => total.push(r), { ...JAVA_ARCHIVE_LIMITS, maxTotalBytes: 1500 });
    assert.ok(
      total.some((w) => /would inflate more than 1500 bytes in all/.test(w)),
      total.join('; '),
    );
    const entries: string[] = [];
    analyzeJavaArchive(war, (r) => entries.push(r), { ...JAVA_ARCHIVE_LIMITS, maxEntries: 3 });
    assert.match(entries[0]!, /^unreadable zip archive: \d+ entries, over the 3-entry cap/);
  });

  it('wants Java archives by extension', () => {
    for (const p of ['a.jar', 'x/y.WAR', 'srv/app.ear', 'var/jenkins/plugins/git.jpi', 'p/x.hpi'])
      assert.ok(javaArchive.wants(p), p);
    for (const p of ['a.jar.sha1', 'jar', 'x/y.zip', 'classes/A.class']) assert.ok(!javaArchive.wants(p), p);
  });
});

describe('Java metadata files', () => {
  it('reads .properties the way java.util.Properties does', () => {
    const p = parseProperties(
      [
        '# comment',
        '! also a comment',
        'groupId=org.example',
        '  artifactId : my-lib',
        'version 1.0.0',
        'long = first \\',
        '       second',
        'escaped\\:key=a\\tb\\u0041',
        'empty=',
      ].join('\r\n'),
    );
    assert.deepEqual(Object.fromEntries(p), {
      groupId: 'org.example',
      artifactId: 'my-lib',
      version: '1.0.0',
      long: 'first second',
      'escaped:key': 'a\tbA',
      empty: '',
    });
  });

  it('reads the main section of a manifest, with continuation lines, names case-insensitive', () => {
    const m = parseManifest(
      'Manifest-Version: 1.0\r\nBundle-SymbolicName: com.example.very.long.na\r\n me;singleton:=true\r\nimplementation-VERSION: 2.1\r\n\r\nName: other/\r\nImplementation-Version: 9\r\n',
    );
    assert.equal(m.get('bundle-symbolicname'), 'com.example.very.long.name;singleton:=true');
    assert.equal(m.get('implementation-version'), '2.1');
    assert.equal(m.size, 3);
  });

  it('splits file names at the last -<digit>', () => {
    const cases: [string, [string, string] | undefined][] = [
      ['spring-core-5.3.4-SNAPSHOT.jar', ['spring-core', '5.3.4-SNAPSHOT']],
      ['log4j-1.2-api-2.17.1.jar', ['log4j-1.2-api', '2.17.1']],
      ['guava-31.1-jre.jar', ['guava', '31.1-jre']],
      ['netty-codec-http2-4.1.86.Final.jar', ['netty-codec-http2', '4.1.86.Final']],
      ['app.jar', undefined],
      ['app-latest.war', undefined],
    ];
    for (const [f, want] of cases) {
      const got = fileNameCoordinates(f);
      assert.deepEqual(got && [got.artifactId, got.version], want, f);
    }
  });

  it('takes the groupId from a manifest by the documented order', () => {
    const m = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
    const cases: [Record<string, string>, string, string | undefined][] = [
      [
        { 'Implementation-Version': '1.0', 'Implementation-Vendor-Id': 'org.acme' },
        'widget-1.0.jar',
        'org.acme:widget@1.0',
      ],
      [
        { 'Bundle-Version': '2.13.0', 'Bundle-SymbolicName': 'com.fasterxml.jackson.core.jackson-databind' },
        'jackson-databind-2.13.0.jar',
        'com.fasterxml.jackson.core:jackson-databind@2.13.0',
      ],
      [
        { 'Bundle-Version': '3.12.0', 'Bundle-SymbolicName': 'org.apache.commons.lang3' },
        'commons-lang3-3.12.0.jar',
        'org.apache.commons:commons-lang3@3.12.0',
      ],
      [
        {
          'Implementation-Version': '4.0',
          'Automatic-Module-Name': 'io.acme.tool',
          'Implementation-Title': 'tool',
        },
        'renamed.jar',
        'io.acme:tool@4.0',
      ],
      // a vendor that is a company name is no groupId; old artifacts use the artifactId
      [
        { 'Implementation-Version': '1.2.17', 'Implementation-Vendor': 'Apache Software Foundation' },
        'log4j-1.2.17.jar',
        'log4j:log4j@1.2.17',
      ],
      [{ 'Implementation-Title': 'no version' }, 'x-1.0.jar', undefined],
    ];
    for (const [attrs, file, want] of cases) {
      const c = manifestCoordinates(m(attrs), file);
      assert.equal(c && `${c.groupId}:${c.artifactId}@${c.version}`, want, file);
    }
  });
});

/** A zip built in memory: stored or deflated entries, optionally with bytes before it or zip64 records. */
function makeZip(
  files: { name: string; data: Buffer; deflate?: boolean }[],
  opts: { prefix?: Buffer; zip64?: boolean } = {},
) {
  const prefix = opts.prefix ?? Buffer.alloc(0);
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const body = f.deflate ? deflateRawSync(f.data) : f.data;
    const name = Buffer.from(f.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(f.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(f.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const extra = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(f.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(f.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 20);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : f.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    locals.push(lh, name, body);
    central.push(ch, name, extra);
    offset += lh.length + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(files.length), 24);
    rec.writeBigUInt64LE(BigInt(files.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(prefix.length + offset + cd.length), 8);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([prefix, ...locals, cd, ...tail, eocd]);
}

describe('zip reader', () => {
  const pom = Buffer.from('groupId=org.z\nartifactId=z\nversion=1\n');
  const files = [
    { name: 'META-INF/maven/org.z/z/pom.properties', data: pom, deflate: true },
    { name: 'README', data: Buffer.from('stored') },
  ];

  it('reads stored and deflated entries, with zip64 records and a prepended launch script', () => {
    for (const opts of [{}, { zip64: true }, { prefix: Buffer.from('#!/bin/sh\nexec java -jar "$0"\n') }]) {
      const ra = bufferAccess(makeZip(files, opts));
      const entries = readZipDirectory(ra, 10);
      assert.deepEqual(
        entries.map((e) => [e.name, readZipEntry(ra, e, 1024).toString()]),
        [
          [files[0]!.name, pom.toString()],
          ['README', 'stored'],
        ],
        JSON.stringify(opts),
      );
    }
  });

  it('refuses entries that lie about their size, and corrupt deflate data', () => {
    const zip = makeZip([{ name: 'a', data: Buffer.alloc(5000), deflate: true }]);
    const ra = bufferAccess(zip);
    const [e] = readZipDirectory(ra, 10);
    assert.throws(
      () => readZipEntry(ra, { ...e!, size: 100 }, 1 << 20),
      /inflates past its declared 100 bytes/,
    );
    assert.throws(() => readZipEntry(ra, e!, 1000), /over the 1000-byte cap/);
    const bad = Buffer.from(zip);
    bad.fill(0xff, 30 + 1, 30 + 6);
    assert.throws(() => readZipEntry(bufferAccess(bad), e!, 1 << 20), ZipError);
  });

  it('a pom.properties without a version is a warning, the rest is read', () => {
    const zip = makeZip([
      { name: 'META-INF/maven/org.z/z/pom.properties', data: Buffer.from('groupId=org.z\nartifactId=z\n') },
      {
        name: 'META-INF/maven/org.y/y/pom.properties',
        data: Buffer.from('groupId=org.y\nartifactId=y\nversion=2\n'),
      },
    ]);
    const warnings: string[] = [];
    const pkgs = analyzeJavaArchive({ path: 'x/lib.jar', size: zip.length, data: zip }, (r) =>
      warnings.push(r),
    );
    assert.deepEqual(
      pkgs.map((p) => `${p.name}@${p.version}`),
      ['org.y:y@2'],
    );
    assert.match(warnings[0]!, /org\.z\/z\/pom\.properties lacks a usable groupId, artifactId or version/);
  });
});
