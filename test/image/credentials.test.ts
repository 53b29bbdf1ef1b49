import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseChallenges } from '../../src/image/registry/auth.js';
import { findCredentials } from '../../src/image/registry/credentials.js';
import { type LogLevel, setLogSink } from '../../src/log.js';
import { tempDir } from '../helpers/registry.js';

describe('parseChallenges', () => {
  const cases: [string | string[], { scheme: string; params: Record<string, string> }[]][] = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/alpine:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    // two challenges in one header; commas inside quotes; escapes; unquoted token values; odd spacing
    [
      'Basic realm="a, b", Bearer realm="http://127.0.0.1:5001/token" , service=moat-registry,scope="repository:x:pull,push" ,error="insufficient_scope"',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        {
          scheme: 'bearer',
          params: {
            realm: 'http://127.0.0.1:5001/token',
            service: 'moat-registry',
            scope: 'repository:x:pull,push',
            error: 'insufficient_scope',
          },
        },
      ],
    ],
    ['BEARER Realm = "q\\"uote\\\\d"', [{ scheme: 'bearer', params: { realm: 'q"uote\\d' } }]],
    [
      ['Basic realm="r1"', 'Bearer realm="r2"'],
      [
        { scheme: 'basic', params: { realm: 'r1' } },
        { scheme: 'bearer', params: { realm: 'r2' } },
      ],
    ],
    ['Negotiate', [{ scheme: 'negotiate', params: {} }]],
    ['', []],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${JSON.stringify(header).slice(0, 60)}`, () =>
      assert.deepEqual(parseChallenges(header), expected));
  }
});

describe('findCredentials from a Docker config', () => {
  let dir: { path: string; remove(): Promise<void> };
  const warnings: string[] = [];
  before(async () => {
    dir = await tempDir();
    setLogSink((level: LogLevel, msg: string) => {
      if (level === 'warn') warnings.push(msg);
    });
  });
  after(async () => {
    setLogSink(undefined);
    await dir.remove();
  });

  async function config(name: string, doc: unknown): Promise<string> {
    const path = join(dir.path, name);
    await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return path;
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('reads auths entries: base64 auth, username/password, keys with scheme and path', async () => {
    const path = await config('auths.json', {
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass:with:colons') },
        'http://127.0.0.1:5000': { username: 'alice', password: 'pw1' },
        'ghcr.io/v2/': { auth: b64('bob:pw2') },
        'empty.example': {},
      },
    });
    const find = (r: string) => findCredentials(r, { dockerConfigPath: path });
    assert.deepEqual(await find('docker.io'), {
      username: 'hubuser',
      password: 'hub:pass:with:colons',
      source: path,
    });
    assert.deepEqual(await find('127.0.0.1:5000'), { username: 'alice', password: 'pw1', source: path });
    assert.deepEqual(await find('ghcr.io'), { username: 'bob', password: 'pw2', source: path });
    assert.equal(await find('empty.example'), undefined);
    assert.equal(await find('quay.io'), undefined);
  });

  it('prefers explicit options and honours DOCKER_CONFIG', async () => {
    const sub = join(dir.path, 'dockercfg');
    await mkdir(sub, { recursive: true });
    await writeFile(
      join(sub, 'config.json'),
      JSON.stringify({ auths: { 'localhost:5000': { auth: b64('cfg:pw') } } }),
    );
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = sub;
    try {
      assert.deepEqual(await findCredentials('localhost:5000', {}), {
        username: 'cfg',
        password: 'pw',
        source: join(sub, 'config.json'),
      });
      assert.deepEqual(await findCredentials('localhost:5000', { username: 'opt', password: 'x' }), {
        username: 'opt',
        password: 'x',
        source: 'options',
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
    }
  });

  it('runs credential helpers (credHelpers before auths, credsStore last)', async () => {
    const bin = join(dir.path, 'bin');
    await mkdir(bin, { recursive: true });
    // a real helper speaking the protocol: server URL on stdin, JSON on stdout
    const helper = join(bin, 'docker-credential-moattest');
    await writeFile(
      helper,
      `#!/bin/sh
[ "$1" = get ] || exit 1
read server
case "$server" in
  https://index.docker.io/v1/) echo '{"ServerURL":"hub","Username":"hub-helper","Secret":"s1"}' ;;
  127.0.0.1:5000) echo '{"ServerURL":"127.0.0.1:5000","Username":"local-helper","Secret":"s2"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    );
    await chmod(helper, 0o755);
    const path = await config('helpers.json', {
      auths: { '127.0.0.1:5000': { auth: b64('from-auths:pw') }, 'other.example': { auth: b64('o:p') } },
      credHelpers: {
        '127.0.0.1:5000': 'moattest',
        'registry-1.docker.io': 'moattest',
        'broken.example': 'nonexistent',
      },
      credsStore: 'moattest',
    });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    warnings.length = 0;
    try {
      const find = (r: string) => findCredentials(r, { dockerConfigPath: path });
      assert.deepEqual(await find('127.0.0.1:5000'), {
        username: 'local-helper',
        password: 's2',
        source: 'docker-credential-moattest',
      });
      assert.deepEqual(await find('docker.io'), {
        username: 'hub-helper',
        password: 's1',
        source: 'docker-credential-moattest',
      });
      assert.deepEqual(await find('other.example'), { username: 'o', password: 'p', source: path });
      // credsStore is asked for the rest; "not found" is a normal answer, without a warning
      assert.equal(await find('quay.io'), undefined);
      assert.deepEqual(warnings, []);
      // a helper that is not installed means anonymous, with a warning
      assert.equal(await find('broken.example'), undefined);
      assert.deepEqual(warnings, ['credential helper failed to run']);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('treats a missing config as anonymous and a broken one as anonymous with a warning', async () => {
    warnings.length = 0;
    assert.equal(
      await findCredentials('docker.io', { dockerConfigPath: join(dir.path, 'nope.json') }),
      undefined,
    );
    assert.deepEqual(warnings, []);
    const broken = await config('broken.json', '{"auths": ');
    assert.equal(await findCredentials('docker.io', { dockerConfigPath: broken }), undefined);
    assert.deepEqual(warnings, ['ignoring unreadable Docker config']);
  });
});
