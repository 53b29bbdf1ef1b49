/**
 * Bad input, one test per case, through the built CLI: every case must end with exit code 2, exactly
 * one line on stderr that names the image or input and the cause (no stack trace unless --debug), an
 * empty stdout, no report file, and nothing written outside MOAT_CACHE_DIR (HOME, TMPDIR, the working
 * directory, the inputs and the output's folder are snapshotted before and after).
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { copyFileSync, existsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  guarded,
  importedCache,
  type MoatRun,
  moat,
  requireBuild,
  type Sandbox,
  sandbox,
  snapshot,
  snapshotDiff,
} from '../helpers/cli.js';
import { type HostileLayoutKind, hostileLayout, hostileRegistry } from '../helpers/hostile.js';
import {
  freePort,
  type LayoutServer,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImages,
  testImages,
} from '../helpers/registry.js';

let images: TestImages;
let template: string;
let anon: RunningRegistry;
let basic: RunningRegistry;

before(async () => {
  requireBuild();
  images = await testImages();
  template = await importedCache();
  [anon, basic] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
  await Promise.all([
    pushImage(images.oci, 'go-scratch', `${anon.host}/moat-test/go-scratch:latest`),
    pushImage(images.oci, 'go-scratch', `${basic.host}/moat-test/go-scratch:latest`, {
      username: basic.user!,
      password: basic.password!,
    }),
  ]);
});
after(async () => {
  await Promise.all([anon?.stop(), basic?.stop()]);
});

interface Outcome {
  run: MoatRun;
  sb: Sandbox;
}

/**
 * Runs `moat scan image REF ...args --output <out>/report.json` in a fresh sandbox (after `prepare`
 * builds the input in it) and checks the common contract; returns the run for case-specific checks.
 */
async function rejects(
  prepare: (sb: Sandbox) => { ref: string; names: string } | Promise<{ ref: string; names: string }>,
  cause: RegExp,
  args: string[] = [],
  opts: { debug?: boolean } = {},
): Promise<Outcome> {
  const sb = await sandbox({ cacheFrom: template });
  try {
    const { ref, names } = await prepare(sb);
    const report = join(sb.out, 'report.json');
    const before = snapshot(guarded(sb));
    const run = await moat(sb, ['scan', 'image', ref, ...args, '--output', report], { timeoutMs: 60_000 });
    assert.equal(run.code, 2, `exit code; stderr: ${run.stderr}`);
    assert.equal(run.stdout, '', 'stdout');
    assert.ok(!existsSync(report), 'no report is written for a failed scan');
    const line = run.lines[0] ?? '';
    if (opts.debug) {
      assert.ok(run.lines.length >= 1, 'an error line');
    } else {
      assert.equal(run.lines.length, 1, `exactly one line on stderr, got:\n${run.stderr}`);
      assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace without --debug');
    }
    const errorLine = opts.debug ? (run.lines.find((l) => l.startsWith('moat: ')) ?? line) : line;
    assert.match(errorLine, /^moat: /);
    assert.ok(errorLine.includes(names), `the line names ${names}: ${errorLine}`);
    assert.match(errorLine, cause);
    assert.deepEqual(snapshotDiff(before, snapshot(guarded(sb))), [], 'written outside the cache dir');
    return { run, sb };
  } finally {
    sb.remove();
  }
}

const layout =
  (kind: HostileLayoutKind) =>
  (sb: Sandbox): { ref: string; names: string } => {
    const l = hostileLayout(join(sb.inputs, kind), kind);
    return { ref: l.ref, names: l.dir };
  };

describe('hostile image layouts', () => {
  const cases: [HostileLayoutKind, string, RegExp, string[]?][] = [
    ['corrupt-gzip', 'corrupt gzip data in a layer', /corrupt gzip/],
    ['truncated-tar', 'a truncated tar in a layer', /truncated/],
    ['manifest-digest', 'a manifest whose bytes do not match its digest', /does not match digest/],
    ['blob-digest', 'a layer blob whose bytes do not match its digest (same size)', /does not match digest/],
    ['blob-size', 'a layer blob longer than its descriptor says', /size/],
    ['unknown-layer-media-type', 'an unknown layer media type', /unsupported media type/],
    ['unknown-manifest-media-type', 'an unknown manifest media type', /unsupported manifest media type/],
    ['schema1', 'a Docker schema-1 manifest', /schema 1/],
    ['path-traversal', 'a tar entry climbing out with ../', /escapes the image root/],
    ['absolute-path', 'a tar entry with an absolute path', /absolute path/],
    ['symlink-loop', 'a symlink loop at etc/os-release', /symbolic links.*etc\/os-release/],
    ['big-layer', 'a layer with a file over --max-layer-size', /cap/, ['--max-layer-size', '1MiB']],
    ['big-layer-many', 'a layer decompressing over --max-layer-size', /cap/, ['--max-layer-size', '1MiB']],
  ];
  for (const [kind, title, cause, args] of cases) {
    it(title, async () => {
      await rejects(layout(kind), cause, args);
    });
  }

  it('the escaping and absolute tar entries were not written anywhere', async () => {
    for (const kind of ['path-traversal', 'absolute-path'] as const) {
      const { sb } = await rejects(layout(kind), /path|root/);
      assert.ok(!existsSync(join(sb.root, '..', 'moat-escape')));
      assert.ok(!existsSync(join(sb.root, 'moat-escape')));
    }
    assert.ok(!existsSync('/tmp/moat-absolute'));
  });

  it('with --debug the error line comes with details, and the same exit code', async () => {
    const { run } = await rejects(layout('corrupt-gzip'), /corrupt gzip/, ['--debug'], { debug: true });
    assert.ok(run.lines.length >= 1);
  });

  it('the layer cap also holds when the layer is below it compressed but not decompressed', async () => {
    // the 'big-layer-many' blob itself is tiny: the cap is on decompressed bytes
    await rejects(
      (sb) => {
        const l = hostileLayout(join(sb.inputs, 'many'), 'big-layer-many');
        const blob = join(l.dir, 'blobs', ...l.layerDigests[0]!.split(':'));
        assert.ok(statSync(blob).size < 1 << 20);
        return { ref: l.ref, names: l.dir };
      },
      /cap/,
      ['--max-layer-size', '1MiB'],
    );
  });
});

describe('broken local inputs', () => {
  it('an OCI layout path that does not exist', async () => {
    await rejects(
      (sb) => ({ ref: `oci:${sb.inputs}/nope:base`, names: `${sb.inputs}/nope` }),
      /no OCI layout/,
    );
  });

  it('a docker-archive path that does not exist', async () => {
    await rejects(
      (sb) => ({ ref: `docker-archive:${sb.inputs}/nope.tar`, names: `${sb.inputs}/nope.tar` }),
      /no such/,
    );
  });

  it('a dir: path that does not exist', async () => {
    await rejects(
      (sb) => ({ ref: `dir:${sb.inputs}/nope`, names: `${sb.inputs}/nope` }),
      /no such directory/,
    );
  });

  it('a dir: path that is a file', async () => {
    await rejects((sb) => {
      writeFileSync(join(sb.inputs, 'file'), 'x');
      return { ref: `dir:${sb.inputs}/file`, names: `${sb.inputs}/file` };
    }, /not a directory/);
  });

  it('a truncated docker-archive', async () => {
    await rejects((sb) => {
      const file = join(sb.inputs, 'go-scratch.tar');
      copyFileSync(join(images.archives, 'go-scratch.tar'), file);
      truncateSync(file, Math.floor(statSync(file).size / 2));
      return { ref: `docker-archive:${file}`, names: file };
    }, /truncated tar archive/);
  });

  it('a docker-archive that is not a tar file', async () => {
    await rejects((sb) => {
      const file = join(sb.inputs, 'notes.tar');
      writeFileSync(file, 'these are not the layers you are looking for\n'.repeat(40));
      return { ref: `docker-archive:${file}`, names: file };
    }, /not a tar archive/);
  });
});

describe('malformed references', () => {
  for (const ref of [
    'Registry.Example:5000/UPPER/case:tag',
    'has space/in:it',
    '127.0.0.1:5000/repo:bad:tag',
    '127.0.0.1:5000/repo@sha256:abc',
    '127.0.0.1:5000/repo:',
  ]) {
    it(JSON.stringify(ref), async () => {
      await rejects(() => ({ ref, names: ref }), /invalid image reference/);
    });
  }
});

describe('registry errors', () => {
  it('404: the repository does not exist', async () => {
    const ref = `${anon.host}/moat-test/no-such-repo:latest`;
    await rejects(() => ({ ref, names: ref }), /repository moat-test\/no-such-repo not found/);
  });

  it('404: the tag does not exist', async () => {
    const ref = `${anon.host}/moat-test/go-scratch:no-such-tag`;
    await rejects(() => ({ ref, names: ref }), /tag no-such-tag not found/);
  });

  it('404: the digest does not exist', async () => {
    const ref = `${anon.host}/moat-test/go-scratch@sha256:${'0'.repeat(64)}`;
    await rejects(() => ({ ref, names: ref }), /not found/);
  });

  it('401: a wrong password', async () => {
    const ref = `${basic.host}/moat-test/go-scratch:latest`;
    await rejects(() => ({ ref, names: ref }), /refused access.*credentials/, [
      '--username',
      basic.user!,
      '--password',
      'not-the-password',
    ]);
  });

  it('401: no credentials for a private registry', async () => {
    const ref = `${basic.host}/moat-test/go-scratch:latest`;
    await rejects(() => ({ ref, names: ref }), /refused anonymous access/);
  });

  it('--username without --password, for scan image and sbom image alike', async () => {
    const ref = `${basic.host}/moat-test/go-scratch:latest`;
    await rejects(() => ({ ref, names: '--username' }), /need both --username and --password/, [
      '--username',
      basic.user!,
    ]);
    const sb = await sandbox({ cacheFrom: template });
    try {
      const run = await moat(sb, ['sbom', 'image', ref, '--password', 'x'], { timeoutMs: 60_000 });
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.lines.length, 1, run.stderr);
      assert.match(run.lines[0] ?? '', /^moat: .*need both --username and --password/);
    } finally {
      sb.remove();
    }
  });

  const servers: LayoutServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  const hostile = async (kind: Parameters<typeof hostileRegistry>[1]) => {
    const s = await hostileRegistry(images.oci, kind);
    servers.push(s);
    return `${s.host}/moat-test/go-scratch:go-scratch`;
  };

  it('500 from the registry', async () => {
    const ref = await hostile('error-500');
    await rejects(() => ({ ref, names: ref }), /HTTP 500/);
  });

  for (const kind of ['stall-manifest', 'stall-blob'] as const) {
    it(`a stalled registry (${kind}) times out with --timeout 2s`, async () => {
      const ref = await hostile(kind);
      const { run } = await rejects(() => ({ ref, names: ref }), /time|abort/i, ['--timeout', '2s']);
      assert.ok(run.ms < 20_000, `gave up after ${Math.round(run.ms)} ms`);
    });
  }

  it('a registry that is down', async () => {
    const ref = `127.0.0.1:${await freePort()}/moat-test/go-scratch:latest`;
    await rejects(() => ({ ref, names: ref }), /cannot connect|connection refused/);
  });

  // a name that is not loopback by its spelling but resolves to this machine: the refusal must come from
  // the name (moat does not resolve it to decide), and the traffic stays on loopback
  const loopbackName = async (): Promise<string | undefined> => {
    const name = hostname();
    if (!name || name === 'localhost' || name.endsWith('.localhost')) return undefined;
    try {
      const addrs = await lookup(name, { all: true });
      return addrs.length > 0 && addrs.every((a) => a.address.startsWith('127.')) ? name : undefined;
    } catch {
      return undefined;
    }
  };

  it('plain HTTP to a host that is not loopback by name, without --insecure', async (t) => {
    const name = await loopbackName();
    if (!name) {
      t.skip('the machine name does not resolve to a loopback address only');
      return;
    }
    const port = anon.host.split(':').at(-1);
    const ref = `${name}:${port}/moat-test/go-scratch:latest`;
    await rejects(() => ({ ref, names: ref }), /does not speak HTTPS.*--insecure/);
    // the same registry with --insecure: the refusal was about the scheme only
    const sb = await sandbox({ cacheFrom: template });
    try {
      const ok = await moat(sb, ['scan', 'image', ref, '--insecure', '--format', 'json']);
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      sb.remove();
    }
  });
});
