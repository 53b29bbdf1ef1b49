/**
 * Bad language inputs through the built CLI (issue 3, "Bad input"): a malformed lockfile, a corrupt jar,
 * a truncated Go binary, a zip bomb nested in a war and archives nested deeper than the cap each give a
 * warning naming the file and the reason, and the scan goes on (the good files of the same project are
 * still read, exit code 0).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { moat, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';

/** Writes zip archives with Python's zipfile (an implementation independent of moat's reader). */
function python(script: string, cwd: string): void {
  execFileSync('/usr/bin/python3', ['-c', script], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
}

let sb: Sandbox;
let project: string;
let result: { components?: { purl?: string }[] };
let stderr: string;

before(async () => {
  requireBuild();
  sb = await sandbox();
  project = join(sb.inputs, 'project');
  for (const d of ['web', 'libs', 'bin', 'py']) mkdirSync(join(project, d), { recursive: true });
  // good inputs: a pinned requirements file and a jar with pom.properties
  writeFileSync(join(project, 'py', 'requirements.txt'), 'jinja2==2.10\nrequests==2.19.0\n');
  python(
    `import zipfile
def jar(path, group, artifact, version, extra=()):
    z = zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED)
    z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')
    z.writestr(f'META-INF/maven/{group}/{artifact}/pom.properties', f'groupId={group}\\nartifactId={artifact}\\nversion={version}\\n')
    for name, data, method in extra: z.writestr(zipfile.ZipInfo(name), data, method)
    z.close()
jar('libs/good-lib-1.4.2.jar', 'org.example', 'good-lib', '1.4.2')
# a jar of 200 MB of zeros, nested (deflated to a few hundred KB) in a war: inflating it is the bomb
jar('big.jar', 'org.example', 'big', '1.0', [('filler.bin', b'\\0' * 200_000_000, zipfile.ZIP_STORED)])
jar('web/bomb-1.0.war', 'org.example', 'bomb-web', '1.0', [('WEB-INF/lib/big.jar', open('big.jar', 'rb').read(), zipfile.ZIP_DEFLATED)])
# archives nested six deep
inner = 'level6.jar'
jar(inner, 'org.example', 'level6', '6.0')
for level in range(5, 0, -1):
    outer = f'level{level}.jar'
    jar(outer, 'org.example', f'level{level}', f'{level}.0', [(f'lib/{inner}', open(inner, 'rb').read(), zipfile.ZIP_DEFLATED)])
    inner = outer
import shutil; shutil.move(inner, 'libs/deep-1.0.jar')
import os; os.remove('big.jar')
[os.remove(f) for f in os.listdir('.') if f.startswith('level')]
`,
    project,
  );
  // bad inputs
  writeFileSync(
    join(project, 'web', 'package-lock.json'),
    '{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": ',
  );
  writeFileSync(
    join(project, 'libs', 'broken-2.0.jar'),
    Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(4000, 7)]),
  );
  // the Go toolchain's own binary, cut in half: build info present, the rest missing
  const go = realpathSync(execFileSync('/bin/sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim());
  const whole = readFileSync(go);
  writeFileSync(join(project, 'bin', 'tool'), whole.subarray(0, whole.length >> 1));
  chmodSync(join(project, 'bin', 'tool'), 0o755);

  const out = join(sb.out, 'report.json');
  // an inventory needs no vulnerability database
  const r = await moat(sb, ['sbom', 'fs', '--format', 'cyclonedx', '-o', out, project]);
  assert.equal(r.code, 0, r.stderr);
  stderr = r.stderr;
  result = JSON.parse(readFileSync(out, 'utf8'));
});
after(() => sb?.remove());

describe('bad language inputs: a warning naming the file and the reason, and the scan goes on', () => {
  it('reads the good files of the same project', () => {
    const purls = new Set((result.components ?? []).map((c) => c.purl));
    for (const p of [
      'pkg:pypi/jinja2@2.10',
      'pkg:pypi/requests@2.19.0',
      'pkg:maven/org.example/good-lib@1.4.2',
    ]) {
      assert.ok(purls.has(p), `${p} in ${[...purls].join(' ')}`);
    }
  });

  const cases: [string, RegExp][] = [
    ['web/package-lock.json', /invalid JSON|Unexpected end/i],
    ['libs/broken-2.0.jar', /zip|central directory/i],
    ['bin/tool', /ELF|past the end|truncated/i],
    ['web/bomb-1.0.war', /limit|cap|larger than|too (big|large)|ratio/i],
    ['libs/deep-1.0.jar', /nest|depth|deep/i],
  ];
  for (const [file, reason] of cases) {
    it(`${file}: one warning line naming it and why`, () => {
      const lines = stderr.split('\n').filter((l) => l.includes(file));
      assert.ok(lines.length >= 1, `no warning for ${file} in:\n${stderr}`);
      assert.ok(
        lines.some((l) => /^moat: warning: /.test(l) && reason.test(l)),
        `a "moat: warning:" line for ${file} giving the reason (${reason}):\n${lines.join('\n')}`,
      );
      assert.ok(!/\n\s+at /.test(stderr), 'no stack trace');
    });
  }
});
