import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import { isLoopbackHost, normalizeRegistryHost, parseReference } from '../../src/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

// [input, registry, apiHost, repository, tag, digest] — normalisation as `docker pull` does it
const VALID: [string, string, string, string, string | undefined, string | undefined][] = [
  ['alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
  ['alpine:3.20', 'docker.io', 'registry-1.docker.io', 'library/alpine', '3.20', undefined],
  ['library/alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
  ['bitnami/redis:7.2', 'docker.io', 'registry-1.docker.io', 'bitnami/redis', '7.2', undefined],
  ['docker.io/alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
  [
    'index.docker.io/library/alpine:edge',
    'docker.io',
    'registry-1.docker.io',
    'library/alpine',
    'edge',
    undefined,
  ],
  [`alpine@${D}`, 'docker.io', 'registry-1.docker.io', 'library/alpine', undefined, D],
  [`alpine:3@${D}`, 'docker.io', 'registry-1.docker.io', 'library/alpine', '3', D],
  ['ghcr.io/owner/app/sub:v1.2.3', 'ghcr.io', 'ghcr.io', 'owner/app/sub', 'v1.2.3', undefined],
  ['localhost/app', 'localhost', 'localhost', 'app', 'latest', undefined],
  ['localhost:5000/team/app:1', 'localhost:5000', 'localhost:5000', 'team/app', '1', undefined],
  [
    '127.0.0.1:5000/moat-test/base',
    '127.0.0.1:5000',
    '127.0.0.1:5000',
    'moat-test/base',
    'latest',
    undefined,
  ],
  ['[::1]:5000/a/b:c', '[::1]:5000', '[::1]:5000', 'a/b', 'c', undefined],
  ['Registry.Example/app', 'Registry.Example', 'Registry.Example', 'app', 'latest', undefined],
  [
    'my-registry:443/a__b/c.d-e:T_a.g-1',
    'my-registry:443',
    'my-registry:443',
    'a__b/c.d-e',
    'T_a.g-1',
    undefined,
  ],
];

const INVALID: [string, RegExp][] = [
  ['', /empty/],
  ['Alpine', /lower case/],
  ['alpine:', /not a valid tag/],
  ['alpine:-x', /not a valid tag/],
  [`alpine:${'x'.repeat(129)}`, /not a valid tag/],
  ['alpine@sha256:abc', /not a digest/],
  [`alpine@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  [`alpine@sha256:${'A'.repeat(64)}`, /lower-case hex/],
  [`alpine@sha256:${'a'.repeat(63)}`, /64 lower-case hex/],
  ['https://ghcr.io/a/b', /URL scheme/],
  ['ghcr.io/a//b', /not a valid repository path component/],
  ['ghcr.io/a/-b', /not a valid repository path component/],
  ['exa_mple.com/a', /not a valid registry host/],
  ['a b', /whitespace/],
  [`ghcr.io/${'a/'.repeat(130)}a`, /longer than 255/],
  [':tag', /missing repository/],
];

describe('parseReference', () => {
  for (const [input, registry, apiHost, repository, tag, digest] of VALID) {
    it(`parses ${input}`, () => {
      const r = parseReference(input);
      assert.deepEqual(
        { registry: r.registry, apiHost: r.apiHost, repository: r.repository, tag: r.tag, digest: r.digest },
        { registry, apiHost, repository, tag, digest },
      );
      // the canonical name parses back to itself
      assert.equal(parseReference(r.name).name, r.name);
      assert.ok(r.name.startsWith(`${registry}/${repository}`));
    });
  }
  for (const [input, why] of INVALID) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      assert.throws(
        () => parseReference(input),
        (e) =>
          e instanceof MoatError &&
          e.code === 'BAD_REFERENCE' &&
          why.test(e.message) &&
          e.message.includes(input),
      );
    });
  }
});

describe('loopback and registry keys', () => {
  const loopback: [string, boolean][] = [
    ['localhost', true],
    ['localhost:5000', true],
    ['registry.localhost:80', true],
    ['127.0.0.1:5000', true],
    ['127.9.8.7', true],
    ['[::1]:5000', true],
    ['::1', true],
    ['128.0.0.1:5000', false],
    ['192.0.2.2:5000', false],
    ['localhost.example.com', false],
    ['127.0.0.1.nip.io', false],
    ['[::2]:5000', false],
  ];
  for (const [host, expected] of loopback) {
    it(`${host} is ${expected ? '' : 'not '}loopback`, () => assert.equal(isLoopbackHost(host), expected));
  }
  it('folds Docker Hub aliases and URL forms of config keys', () => {
    for (const k of ['https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io', 'docker.io']) {
      assert.equal(normalizeRegistryHost(k), 'docker.io');
    }
    assert.equal(normalizeRegistryHost('http://LocalHost:5000/v2/'), 'localhost:5000');
    assert.equal(normalizeRegistryHost('ghcr.io'), 'ghcr.io');
  });
});
