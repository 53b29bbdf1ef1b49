import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import {
  generateCa,
  generateWebhookCertificates,
  issueServerCertificate,
  serviceDnsNames,
} from '../../src/admission/certs.js';
import { namedBits, oid, time, unsignedInteger } from '../../src/admission/der.js';

/** A real TLS handshake: the client trusts only `ca` and asks for `servername`. */
async function handshake(server: { cert: string; key: string }, ca: string, servername: string) {
  const srv = createServer({ cert: server.cert, key: server.key }, (s) => s.end('ok'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<{ authorized: boolean; error?: string; peerSan?: string }>((resolve) => {
      const sock = connect(
        { host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ca, servername },
        () => {
          resolve({ authorized: sock.authorized, peerSan: sock.getPeerCertificate().subjectaltname });
          sock.destroy();
        },
      );
      sock.on('error', (e) =>
        resolve({ authorized: false, error: (e as NodeJS.ErrnoException).code ?? e.message }),
      );
    });
  } finally {
    srv.close();
  }
}

describe('DER encoder', () => {
  test('INTEGER is minimal and never negative', () => {
    assert.deepEqual(unsignedInteger(Buffer.from([0, 0, 5])), Buffer.from([2, 1, 5]));
    assert.deepEqual(unsignedInteger(Buffer.from([0x80])), Buffer.from([2, 2, 0, 0x80]));
    assert.deepEqual(unsignedInteger(Buffer.from([0])), Buffer.from([2, 1, 0]));
  });
  test('OID with multi-byte arcs (X.690 8.19)', () => {
    // 1.2.840.113549 is the RSADSI arc: 06 06 2A 86 48 86 F7 0D
    assert.deepEqual(oid('1.2.840.113549'), Buffer.from([6, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]));
  });
  test('named bits drop trailing zero bits (KeyUsage keyCertSign|cRLSign)', () => {
    assert.deepEqual(namedBits([5, 6]), Buffer.from([3, 2, 1, 0x06]));
    assert.deepEqual(namedBits([0]), Buffer.from([3, 2, 7, 0x80]));
  });
  test('UTCTime before 2050, GeneralizedTime after', () => {
    assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1', 2), '491231235959Z');
    assert.equal(time(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
  });
});

describe('webhook certificates', () => {
  const certs = generateWebhookCertificates('moat-admission', 'moat-system');
  const ca = new X509Certificate(certs.ca.cert);
  const leaf = new X509Certificate(certs.server.cert);

  test('the Service DNS names are the SANs', () => {
    const names = serviceDnsNames('moat-admission', 'moat-system');
    assert.deepEqual(names, [
      'moat-admission',
      'moat-admission.moat-system',
      'moat-admission.moat-system.svc',
      'moat-admission.moat-system.svc.cluster.local',
    ]);
    assert.equal(leaf.subjectAltName, names.map((n) => `DNS:${n}`).join(', '));
    for (const n of names) assert.equal(leaf.checkHost(n), n);
    assert.equal(leaf.checkHost('other.moat-system.svc'), undefined);
  });

  test('IP addresses become iPAddress SANs that TLS clients check (IPv4, IPv6 in any spelling)', () => {
    const own = generateCa('ip test');
    const x = new X509Certificate(
      issueServerCertificate(own, ['audit.example', '10.1.2.3', '::1', 'fd00::1:2']).cert,
    );
    assert.equal(x.checkHost('audit.example'), 'audit.example');
    assert.equal(x.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(x.checkIP('0:0:0:0:0:0:0:1'), '0:0:0:0:0:0:0:1');
    assert.ok(x.checkIP('fd00:0::1:2'), 'fd00::1:2 in another spelling');
    assert.equal(x.checkIP('10.1.2.4'), undefined);
    assert.equal(x.checkHost('10.1.2.3'), undefined, 'an IP is not a DNS name');
  });

  test('the CA signed the server certificate; only the CA is a CA', () => {
    assert.ok(ca.ca);
    assert.ok(!leaf.ca);
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(ca.verify(ca.publicKey));
    assert.ok(!leaf.verify(new X509Certificate(generateCa().cert).publicKey));
    assert.equal(leaf.issuer, ca.subject);
    assert.deepEqual(leaf.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1']);
  });

  test('validity: from an hour ago to the requested number of days', () => {
    const now = new Date('2030-06-01T00:00:00Z');
    const c = generateWebhookCertificates('svc', 'ns', { now, days: 30 });
    const x = new X509Certificate(c.server.cert);
    assert.equal(new Date(x.validFrom).toISOString(), '2030-05-31T23:00:00.000Z');
    assert.equal(new Date(x.validTo).toISOString(), '2030-07-01T00:00:00.000Z');
    assert.equal(c.notAfter.toISOString(), '2030-07-01T00:00:00.000Z');
  });

  test('serial numbers are positive and distinct', () => {
    const a = new X509Certificate(generateCa().cert).serialNumber;
    const b = new X509Certificate(generateCa().cert).serialNumber;
    assert.notEqual(a, b);
    assert.ok(Number.parseInt(a.slice(0, 2), 16) < 0x80);
  });

  test('TLS handshake verifies against the CA for every SAN', async () => {
    for (const name of certs.dnsNames) {
      const r = await handshake(certs.server, certs.ca.cert, name);
      assert.equal(r.authorized, true, `${name}: ${r.error}`);
    }
  });

  test('TLS handshake fails for another name or another CA', async () => {
    const wrongName = await handshake(certs.server, certs.ca.cert, 'moat-admission.other.svc');
    assert.equal(wrongName.authorized, false);
    assert.equal(wrongName.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
    const other = generateCa();
    const wrongCa = await handshake(certs.server, other.cert, 'moat-admission.moat-system.svc');
    assert.equal(wrongCa.authorized, false);
    assert.match(wrongCa.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT_SIGNATURE_FAILURE/);
  });

  test('a server certificate issued by a CA object verifies too', async () => {
    const authority = generateCa('test CA');
    const server = issueServerCertificate(authority, ['webhook.example.svc']);
    const r = await handshake(server, authority.cert, 'webhook.example.svc');
    assert.equal(r.authorized, true, r.error);
  });

  const go = spawnSync('go', ['version']).status === 0;
  test("Go's crypto/x509 (the API server's client) verifies it for the Service name", {
    skip: !go && 'go not installed',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-certs-go-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), certs.ca.cert);
      writeFileSync(join(dir, 'leaf.pem'), certs.server.cert);
      const verify = (name: string) =>
        spawnSync(
          'go',
          [
            'run',
            join(import.meta.dirname, 'x509-verify.go'),
            join(dir, 'ca.pem'),
            join(dir, 'leaf.pem'),
            name,
          ],
          {
            encoding: 'utf8',
          },
        );
      const ok = verify('moat-admission.moat-system.svc');
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout.trim(), 'ok');
      const wrong = verify('moat-admission.other.svc');
      assert.equal(wrong.status, 1);
      assert.match(wrong.stdout, /certificate is valid for .*moat-admission\.moat-system\.svc/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const openssl = spawnSync('openssl', ['version']).status === 0;
  test('openssl verifies the chain for TLS server use', { skip: !openssl && 'openssl not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-certs-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), certs.ca.cert);
      writeFileSync(join(dir, 'leaf.pem'), certs.server.cert);
      const r = spawnSync(
        'openssl',
        [
          'verify',
          '-x509_strict',
          '-purpose',
          'sslserver',
          '-CAfile',
          join(dir, 'ca.pem'),
          join(dir, 'leaf.pem'),
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /leaf\.pem: OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
