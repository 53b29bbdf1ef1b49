import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openImage } from '../../src/image/index.js';
import { MEDIA } from '../../src/image/manifest.js';
import type { ProgressEvent } from '../../src/model/progress.js';
import {
  freePort,
  layoutBlob,
  layoutRef,
  pushImage,
  type RunningRegistry,
  readBlob,
  sendError,
  serveLayout,
  startRegistry,
  type TestImages,
  tempDir,
  testImages,
} from '../helpers/registry.js';
import { checkLayers, hashStream, isMoat } from './helpers.js';

const run = promisify(execFile);
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface RawIndex {
  mediaType: string;
  manifests: {
    mediaType: string;
    digest: string;
    platform: { os: string; architecture: string; variant?: string };
  }[];
}

/** The manifest as the registry stores it, fetched by skopeo (independent of moat). */
async function rawManifest(ref: string, creds?: string): Promise<Buffer> {
  const args = [
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...(creds ? ['--creds', creds] : []),
    `docker://${ref}`,
  ];
  const { stdout } = await run('skopeo', args, { encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 });
  return stdout;
}

const platformOf = (p: { os: string; architecture: string; variant?: string }) =>
  [p.os, p.architecture, p.variant].filter(Boolean).join('/');

let images: TestImages;
let tmp: { path: string; remove(): Promise<void> };
before(async () => {
  images = await testImages();
  tmp = await tempDir('moat-registry-test-');
});
after(() => tmp.remove());

describe('registry: anonymous Distribution on loopback', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    const h = reg.host;
    await Promise.all([
      pushImage(images.oci, 'go-scratch', `${h}/moat-test/go-scratch:latest`),
      pushImage(images.fixtures, 'multiarch', `${h}/moat-test/multiarch:oci`, undefined, { all: true }),
      pushImage(images.fixtures, 'multiarch', `${h}/moat-test/multiarch:v2s2`, undefined, {
        all: true,
        format: 'v2s2',
      }),
      // skopeo 1.9 cannot read the schema 2 manifest of the fixture layout back, so convert while pushing
      pushImage(images.oci, 'base', `${h}/moat-test/base:v2s2`, undefined, { format: 'v2s2' }),
      pushImage(images.fixtures, 'base-zstd', `${h}/moat-test/base:zstd`),
    ]);
  });
  after(() => reg?.stop());

  it('pulls an OCI image by tag and by digest, verifying every layer, with progress', async () => {
    const ref = `${reg.host}/moat-test/go-scratch:latest`;
    const raw = await rawManifest(ref);
    const manifest = JSON.parse(raw.toString()) as {
      config: { digest: string };
      layers: { digest: string; size: number }[];
    };
    const events: ProgressEvent[] = [];
    const img = await openImage(ref, { onProgress: (e) => events.push(e) });
    assert.equal(img.source, 'registry');
    assert.equal(img.name, ref);
    assert.equal(img.digest, sha256(raw));
    assert.equal(img.configDigest, manifest.config.digest);
    assert.equal(img.platform, 'linux/amd64');
    assert.deepEqual(
      img.layers.map((l) => [l.digest, l.size]),
      manifest.layers.map((l) => [l.digest, l.size]),
    );
    await checkLayers(img);
    await img.close();
    const finished = events.filter((e) => e.finished);
    assert.deepEqual(
      finished.map((e) => [e.phase, e.id, e.done, e.total]),
      manifest.layers.map((l) => ['download', l.digest, l.size, l.size]),
    );
    const byDigest = await openImage(`${reg.host}/moat-test/go-scratch@${sha256(raw)}`);
    assert.equal(byDigest.digest, sha256(raw));
    assert.equal(byDigest.name, `${reg.host}/moat-test/go-scratch@${sha256(raw)}`);
    await byDigest.close();
  });

  for (const tag of ['oci', 'v2s2']) {
    it(`selects platforms from a ${tag === 'oci' ? 'OCI index' : 'Docker manifest list'}`, async () => {
      const ref = `${reg.host}/moat-test/multiarch:${tag}`;
      const raw = await rawManifest(ref);
      const index = JSON.parse(raw.toString()) as RawIndex;
      assert.equal(index.mediaType, tag === 'oci' ? MEDIA.ociIndex : MEDIA.dockerList);
      assert.equal(index.manifests.length, 3);
      for (const m of index.manifests) {
        const platform = platformOf(m.platform);
        const img = await openImage(ref, { platform });
        assert.equal(img.digest, m.digest);
        assert.equal(img.indexDigest, sha256(raw));
        assert.equal(img.mediaType, m.mediaType);
        assert.equal(img.platform, platform);
        await checkLayers(img);
        await img.close();
      }
      const dflt = await openImage(ref);
      assert.equal(dflt.platform, 'linux/amd64');
      await dflt.close();
      const available = index.manifests.map((m) => platformOf(m.platform)).join(', ');
      await assert.rejects(
        openImage(ref, { platform: 'linux/s390x' }),
        isMoat(
          'NO_MATCHING_PLATFORM',
          new RegExp(`^${ref}: no image for platform linux/s390x; available: ${available}`),
        ),
      );
    });
  }

  it('pulls Docker schema 2 and zstd images', async () => {
    const v2 = await openImage(`${reg.host}/moat-test/base:v2s2`);
    assert.equal(v2.mediaType, MEDIA.dockerManifest);
    assert.deepEqual(new Set(v2.layers.map((l) => l.mediaType)), new Set([MEDIA.dockerLayerGzip]));
    await checkLayers(v2);
    await v2.close();
    const z = await openImage(`${reg.host}/moat-test/base:zstd`);
    assert.deepEqual(new Set(z.layers.map((l) => l.mediaType)), new Set([MEDIA.ociLayerZstd]));
    assert.equal(z.configDigest, v2.configDigest);
    await checkLayers(z);
    await z.close();
  });

  it('says which of repository and tag is missing', async () => {
    await assert.rejects(
      openImage(`${reg.host}/moat-test/go-scratch:nope`),
      isMoat(
        'NOT_FOUND',
        new RegExp(`: tag nope not found in ${reg.host}/moat-test/go-scratch \\(tags: latest\\)$`),
      ),
    );
    await assert.rejects(
      openImage(`${reg.host}/moat-test/none:latest`),
      isMoat('NOT_FOUND', new RegExp(`: repository moat-test/none not found on ${reg.host}$`)),
    );
    await assert.rejects(
      openImage(`${reg.host}/moat-test/go-scratch@sha256:${'0'.repeat(64)}`),
      isMoat('NOT_FOUND', /manifest sha256:0{64} not found/),
    );
  });

  it('refuses an OCI artifact pushed to the registry', async () => {
    // push a Helm-chart-shaped artifact with the distribution API (monolithic blob uploads)
    const base = `http://${reg.host}/v2/moat-test/chart`;
    const upload = async (data: Buffer) => {
      const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
      const location = new URL(start.headers.get('location')!, base);
      location.searchParams.set('digest', sha256(data));
      const put = await fetch(location, {
        method: 'PUT',
        body: data,
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(put.status, 201);
      return { digest: sha256(data), size: data.length };
    };
    const helm = JSON.parse(
      readFileSync(join(import.meta.dirname, '../fixtures/images/helm-chart-manifest.json'), 'utf8'),
    );
    helm.config = { ...helm.config, ...(await upload(Buffer.from('{"name":"nginx","version":"1.0.0"}'))) };
    helm.layers[0] = { ...helm.layers[0], ...(await upload(Buffer.from('not really a chart'))) };
    const res = await fetch(`${base}/manifests/1.0.0`, {
      method: 'PUT',
      body: JSON.stringify(helm),
      headers: { 'content-type': MEDIA.ociManifest },
    });
    assert.equal(res.status, 201, await res.text());
    await assert.rejects(
      openImage(`${reg.host}/moat-test/chart:1.0.0`),
      isMoat(
        'UNSUPPORTED_MEDIA_TYPE',
        /not a container image \(config media type "application\/vnd\.cncf\.helm\.config\.v1\+json"\)/,
      ),
    );
  });
});

describe('registry: basic auth', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry({ auth: 'basic' });
    await pushImage(images.oci, 'go-scratch', `${reg.host}/moat-test/go-scratch:latest`, {
      username: reg.user!,
      password: reg.password!,
    });
  });
  after(() => reg?.stop());

  it('pulls with the right password and names the cause otherwise', async () => {
    const ref = `${reg.host}/moat-test/go-scratch:latest`;
    const img = await openImage(ref, { username: reg.user, password: reg.password });
    await checkLayers(img);
    await img.close();
    await assert.rejects(
      openImage(ref, { username: reg.user, password: 'wrong' }),
      isMoat(
        'UNAUTHORIZED',
        new RegExp(
          `^${ref}: registry ${reg.host} refused access to moat-test/go-scratch with the credentials of user "alice" \\(from options\\)$`,
        ),
      ),
    );
    await assert.rejects(
      openImage(ref, { dockerConfigPath: join(tmp.path, 'no-config.json') }),
      isMoat(
        'UNAUTHORIZED',
        /refused anonymous access to moat-test\/go-scratch \(.*no credentials|give --username/,
      ),
    );
  });

  it('uses credentials from the Docker config that DOCKER_CONFIG points at', async () => {
    const ref = `${reg.host}/moat-test/go-scratch:latest`;
    const dir = join(tmp.path, 'docker-config');
    await mkdir(dir, { recursive: true });
    const write = (user: string, password: string) =>
      writeFile(
        join(dir, 'config.json'),
        JSON.stringify({
          auths: { [`http://${reg.host}`]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
        }),
      );
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dir;
    try {
      await write(reg.user!, reg.password!);
      const img = await openImage(ref);
      await checkLayers(img);
      await img.close();
      await write(reg.user!, 'stale');
      await assert.rejects(
        openImage(ref),
        isMoat('UNAUTHORIZED', new RegExp(`user "alice" \\(from ${join(dir, 'config.json')}\\)`)),
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
    }
  });
});

describe('registry: Bearer token auth', () => {
  const creds = (r: RunningRegistry) => ({ username: r.user!, password: r.password! });

  it('fetches one token per scope and pulls; refuses wrong and missing credentials', async () => {
    const reg = await startRegistry({ auth: 'token' });
    try {
      await pushImage(images.oci, 'go-scratch', `${reg.host}/moat-test/go-scratch:latest`, creds(reg));
      const ref = `${reg.host}/moat-test/go-scratch:latest`;
      const log = () =>
        readFileSync(join(reg.dir, 'token.log'), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('token for'));
      const before = log().length;
      const img = await openImage(ref, creds(reg));
      await checkLayers(img);
      await img.close();
      const issued = log().slice(before);
      assert.deepEqual(issued, [
        'token for alice service=moat-registry scopes=repository:moat-test/go-scratch:pull',
      ]);
      await assert.rejects(
        openImage(ref, { username: 'alice', password: 'wrong' }),
        isMoat(
          'UNAUTHORIZED',
          /token server 127\.0\.0\.1:\d+ refused the credentials of user "alice" \(from options\)/,
        ),
      );
      await assert.rejects(
        openImage(ref, { dockerConfigPath: join(tmp.path, 'none.json') }),
        isMoat('UNAUTHORIZED', /refused anonymous access/),
      );
    } finally {
      await reg.stop();
    }
  });

  it('accepts tokens in access_token, and reports empty anonymous tokens as a refusal by the registry', async () => {
    const reg = await startRegistry({ auth: 'token', tokenField: 'access_token', tokenAnonymous: 'empty' });
    try {
      await pushImage(images.oci, 'go-scratch', `${reg.host}/moat-test/go-scratch:latest`, creds(reg));
      const ref = `${reg.host}/moat-test/go-scratch:latest`;
      const img = await openImage(ref, creds(reg));
      await checkLayers(img);
      await img.close();
      await assert.rejects(
        openImage(ref, { dockerConfigPath: join(tmp.path, 'none.json') }),
        isMoat(
          'UNAUTHORIZED',
          new RegExp(`registry ${reg.host} refused anonymous access to moat-test/go-scratch`),
        ),
      );
    } finally {
      await reg.stop();
    }
  });
});

describe('registry: plain HTTP only for loopback', () => {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  it('refuses a plain-HTTP registry on a non-loopback address unless --insecure', {
    skip: !address && 'no non-loopback IPv4 address',
  }, async () => {
    const reg = await startRegistry({ listen: address });
    try {
      await pushImage(images.oci, 'go-scratch', `${reg.host}/moat-test/go-scratch:latest`);
      const ref = `${reg.host}/moat-test/go-scratch:latest`;
      await assert.rejects(
        openImage(ref),
        isMoat(
          'INSECURE',
          new RegExp(
            `^${ref}: registry ${reg.host} does not speak HTTPS; plain HTTP is used only for loopback hosts or with --insecure$`,
          ),
        ),
      );
      const img = await openImage(ref, { insecure: true });
      await checkLayers(img);
      await img.close();
    } finally {
      await reg.stop();
    }
  });
});

describe('registry: TLS', () => {
  it('refuses an untrusted certificate, and skips verification with --insecure', async () => {
    const reg = await startRegistry({ tls: true });
    try {
      await pushImage(images.oci, 'go-scratch', `${reg.host}/moat-test/go-scratch:latest`);
      const ref = `${reg.host}/moat-test/go-scratch:latest`;
      // loopback does not downgrade to plain HTTP when the server speaks TLS with a bad certificate
      await assert.rejects(
        openImage(ref),
        isMoat(
          'NETWORK',
          new RegExp(
            `TLS certificate of registry ${reg.host} is not trusted \\(DEPTH_ZERO_SELF_SIGNED_CERT\\); use --insecure`,
          ),
        ),
      );
      const img = await openImage(ref, { insecure: true });
      await checkLayers(img);
      await img.close();
    } finally {
      await reg.stop();
    }
  });
});

describe('registry: failures', () => {
  const go = () => layoutRef(images.oci, 'go-scratch');

  it('reports a registry that is down', async () => {
    const port = await freePort();
    await assert.rejects(
      openImage(`127.0.0.1:${port}/moat-test/go-scratch`),
      isMoat(
        'NETWORK',
        new RegExp(`cannot connect to registry 127\\.0\\.0\\.1:${port}: connection refused$`),
      ),
    );
  });

  it('times out on a registry that accepts connections and never answers', async () => {
    const sockets: Socket[] = [];
    const server = createNetServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const started = Date.now();
      await assert.rejects(
        openImage(`127.0.0.1:${port}/moat-test/slow:latest`, { timeoutMs: 300 }),
        isMoat('TIMEOUT', new RegExp(`registry 127\\.0\\.0\\.1:${port} did not respond within 300 ms`)),
      );
      assert.ok(Date.now() - started < 5000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('times out on a blob download that stalls', async () => {
    const layer = layoutBlob<{ layers: { digest: string }[] }>(images.oci, go().digest).layers[0]!;
    const server = await serveLayout(images.oci, {
      intercept({ kind, reference, res }) {
        if (kind !== 'blob' || reference !== layer.digest) return false;
        const data = readBlob(images.oci, layer.digest);
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, 4096));
        return true; // and never finish
      },
    });
    try {
      const img = await openImage(`${server.host}/x/img:go-scratch`, { timeoutMs: 300 });
      await assert.rejects(
        hashStream(await img.openLayer(img.layers[0]!)),
        isMoat('TIMEOUT', /stopped sending data within 300 ms/),
      );
      await img.close();
    } finally {
      await server.close();
    }
  });

  it('fails on tampered blob bytes and on a manifest that does not match its digest', async () => {
    const manifest = layoutBlob<{ layers: { digest: string }[]; config: { digest: string } }>(
      images.oci,
      go().digest,
    );
    const layer = manifest.layers[0]!.digest;
    let tamperManifest = false;
    const server = await serveLayout(images.oci, {
      intercept({ kind, reference, res }) {
        if (kind === 'blob' && reference === layer) {
          const data = Buffer.from(readBlob(images.oci, layer));
          data[100] = data[100]! ^ 1;
          res.end(data);
          return true;
        }
        if (kind === 'manifest' && tamperManifest) {
          const doc = JSON.parse(readBlob(images.oci, go().digest).toString());
          doc.annotations = { injected: 'yes' };
          res.setHeader('docker-content-digest', go().digest);
          res.setHeader('content-type', MEDIA.ociManifest);
          res.end(JSON.stringify(doc));
          return true;
        }
        return false;
      },
    });
    try {
      const ref = `${server.host}/x/img:go-scratch`;
      const img = await openImage(ref);
      await assert.rejects(
        hashStream(await img.openLayer(img.layers[0]!)),
        isMoat(
          'DIGEST_MISMATCH',
          new RegExp(
            `^layer 0 \\(${layer}\\) of ${server.host}/x/img:go-scratch: content does not match digest ${layer}`,
          ),
        ),
      );
      await img.close();
      tamperManifest = true;
      await assert.rejects(
        openImage(ref),
        isMoat(
          'DIGEST_MISMATCH',
          new RegExp(`${ref}: manifest: content does not match digest ${go().digest}`),
        ),
      );
      await assert.rejects(openImage(`${server.host}/x/img@${go().digest}`), isMoat('DIGEST_MISMATCH'));
    } finally {
      await server.close();
    }
  });

  it('retries 503 and 429, then gives up on a persistent 500 with the registry error', async () => {
    let failures = 0;
    let mode: 'transient' | 'persistent' = 'transient';
    const server = await serveLayout(images.oci, {
      intercept({ kind, res }) {
        if (kind !== 'manifest') return false;
        if (mode === 'persistent') {
          sendError(res, 500, 'UNKNOWN', 'storage backend down');
          return true;
        }
        if (failures >= 2) return false;
        failures++;
        res.setHeader('retry-after', '0');
        sendError(res, failures === 1 ? 503 : 429, 'TOOMANYREQUESTS', 'slow down');
        return true;
      },
    });
    try {
      const img = await openImage(`${server.host}/x/img:go-scratch`);
      assert.equal(img.digest, go().digest);
      assert.equal(failures, 2);
      await img.close();
      mode = 'persistent';
      const before = server.requests.length;
      await assert.rejects(
        openImage(`${server.host}/x/img:go-scratch`),
        isMoat(
          'REGISTRY',
          new RegExp(`registry ${server.host} returned HTTP 500 \\(UNKNOWN: storage backend down\\)$`),
        ),
      );
      assert.equal(server.requests.slice(before).filter((r) => r.url.includes('/manifests/')).length, 4);
    } finally {
      await server.close();
    }
  });

  it('resumes a blob download cut by a connection reset', async () => {
    const layer = layoutBlob<{ layers: { digest: string }[] }>(images.oci, go().digest).layers[0]!.digest;
    let cut = false;
    const server = await serveLayout(images.oci, {
      intercept({ kind, reference, req, res }) {
        if (kind !== 'blob' || reference !== layer) return false;
        const data = readBlob(images.oci, layer);
        const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
        if (range) {
          const from = Number(range[1]);
          res.writeHead(206, {
            'content-range': `bytes ${from}-${data.length - 1}/${data.length}`,
            'content-length': data.length - from,
          });
          res.end(data.subarray(from));
          return true;
        }
        if (cut) return false;
        cut = true;
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, 300_000), () => setTimeout(() => req.socket.destroy(), 50));
        return true;
      },
    });
    try {
      const img = await openImage(`${server.host}/x/img:go-scratch`);
      await checkLayers(img);
      await img.close();
      const ranges = server.requests.filter((r) => r.headers.range).map((r) => r.headers.range);
      assert.equal(ranges.length, 1);
      assert.match(String(ranges[0]), /^bytes=\d+-$/);
    } finally {
      await server.close();
    }
  });

  it('follows blob redirects without sending credentials to the other origin', async () => {
    const storage = await serveLayout(images.oci);
    const auth = `Basic ${Buffer.from('alice:pw').toString('base64')}`;
    const server = await serveLayout(images.oci, {
      intercept({ kind, reference, req, res }) {
        if (req.headers.authorization !== auth) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
          res.end();
          return true;
        }
        if (kind === 'blob') {
          res.writeHead(307, { location: `http://${storage.host}/v2/storage/blobs/${reference}` });
          res.end();
          return true;
        }
        return false;
      },
    });
    try {
      const img = await openImage(`${server.host}/x/img:go-scratch`, { username: 'alice', password: 'pw' });
      await checkLayers(img);
      await img.close();
      assert.ok(
        storage.requests.some((r) => r.url.includes('/blobs/')),
        'blobs came from the storage server',
      );
      assert.ok(storage.requests.every((r) => r.headers.authorization === undefined));
    } finally {
      await server.close();
      await storage.close();
    }
  });

  it('refuses oversized manifests and stops on abort', async () => {
    const server = await serveLayout(images.oci, {
      intercept({ kind, reference, res }) {
        if (kind !== 'manifest' || reference !== 'huge') return false;
        res.setHeader('content-type', MEDIA.ociManifest);
        res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
        return true;
      },
    });
    try {
      await assert.rejects(
        openImage(`${server.host}/x/img:huge`),
        isMoat('BAD_MANIFEST', /exceeds the 4194304-byte limit/),
      );
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        openImage(`${server.host}/x/img:go-scratch`, { signal: ac.signal }),
        (e) => (e as Error).name === 'AbortError',
      );
    } finally {
      await server.close();
    }
  });
});
