/**
 * Registry credentials as a user gives them, against real Distribution registries that refuse anonymous
 * pulls: basic auth (htpasswd) and Bearer token auth (the token server of registry-up.sh). Each way of
 * passing credentials must give the same result as the OCI layout of the same image.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importedCache, moat, moatJson, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import {
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImages,
  testImages,
} from '../helpers/registry.js';
import { type Report, sourceView } from './lib.js';

let images: TestImages;
let sb: Sandbox;
let reference: Report;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache() });
  reference = await moatJson<Report>(sb, ['scan', 'image', `oci:${images.oci}:base-old`, '--list-packages']);
  assert.ok(reference.findings.length > 0);
});
after(() => sb?.remove());

const IMAGE = 'moat-test/base-old:latest';

function dockerConfig(dir: string, host: string, user: string, password: string): string {
  mkdirSync(dir, { recursive: true });
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
  return dir;
}

for (const auth of ['basic', 'token'] as const) {
  describe(`${auth} auth`, () => {
    let reg: RunningRegistry;
    let ref: string;
    before(async () => {
      reg = await startRegistry({ auth });
      ref = `${reg.host}/${IMAGE}`;
      await pushImage(images.oci, 'base-old', ref, { username: reg.user!, password: reg.password! });
    });
    after(() => reg?.stop());

    // the layer cache would answer for the blobs: skip it so that every pull is authorised for real
    const scan = async (args: string[], env: Record<string, string | undefined> = {}): Promise<Report> =>
      moatJson<Report>(sb, ['scan', 'image', ref, '--list-packages', '--skip-layer-cache', ...args], { env });

    it('refuses anonymous pulls (so the cases below prove their credentials were used)', async () => {
      const r = await moat(sb, ['scan', 'image', ref]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.lines.length, 1, r.stderr);
      assert.match(r.lines[0]!, new RegExp(`${reg.host}.*anonymous`));
    });

    it('--username and --password', async () => {
      const r = await scan(['--username', reg.user!, '--password', reg.password!]);
      assert.deepEqual(sourceView(r), sourceView(reference));
    });

    it('MOAT_USERNAME and MOAT_PASSWORD', async () => {
      const r = await scan([], { MOAT_USERNAME: reg.user, MOAT_PASSWORD: reg.password });
      assert.deepEqual(sourceView(r), sourceView(reference));
    });

    it('flags win over the environment', async () => {
      const r = await scan(['--username', reg.user!, '--password', reg.password!], {
        MOAT_USERNAME: reg.user,
        MOAT_PASSWORD: 'wrong-password',
      });
      assert.deepEqual(sourceView(r), sourceView(reference));
    });

    it('a Docker config file named by DOCKER_CONFIG', async () => {
      const dir = dockerConfig(join(sb.inputs, `docker-${auth}`), reg.host, reg.user!, reg.password!);
      const r = await scan([], { DOCKER_CONFIG: dir });
      assert.deepEqual(sourceView(r), sourceView(reference));
    });

    it('the default Docker config, ~/.docker/config.json', async () => {
      const dir = dockerConfig(join(sb.home, '.docker'), reg.host, reg.user!, reg.password!);
      try {
        const r = await scan([]);
        assert.deepEqual(sourceView(r), sourceView(reference));
      } finally {
        writeFileSync(join(dir, 'config.json'), '{}');
      }
    });

    it('a user name without a password is a usage error', async () => {
      const r = await moat(sb, ['scan', 'image', ref, '--username', reg.user!]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.lines.length, 1, r.stderr);
      assert.match(r.lines[0]!, /password/);
    });
  });
}
