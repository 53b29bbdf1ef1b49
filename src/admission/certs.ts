import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP, SocketAddress } from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';

/**
 * The webhook's TLS material: a private CA (whose certificate becomes the ValidatingWebhookConfiguration's
 * caBundle) and a server certificate for the Service's DNS names, signed by it. ECDSA P-256 with SHA-256:
 * what Go's crypto/tls (the API server's client) and Node both verify, and fast to generate. The X.509
 * encoding is written here (der.ts) rather than taken from a dependency.
 */

export interface PemPair {
  /** certificate, PEM */
  cert: string;
  /** private key, PKCS #8 PEM */
  key: string;
}

export interface CertificateAuthority extends PemPair {
  readonly subject: Buffer;
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
}

export interface WebhookCertificates {
  ca: PemPair;
  server: PemPair;
  dnsNames: string[];
  notAfter: Date;
}

export interface CertOptions {
  /** validity in days (default 3650: a rotation is a re-install, see docs/admission.md) */
  days?: number;
  now?: Date;
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// KeyUsage bits (RFC 5280 §4.2.1.3)
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;
const DAY_MS = 86_400_000;

/** The names the API server may use for a Service: it calls `<svc>.<ns>.svc`; the others cover clients in the cluster. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

function name(commonName: string): Buffer {
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return sequence(rdn(OID.organization, 'moat'), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

function serial(): Buffer {
  // 16 random bytes, positive and without a leading zero byte, as RFC 5280 §4.1.2.2 and Go expect
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x40;
  return unsignedInteger(b);
}

function newKey(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

function certificate(opts: {
  subject: Buffer;
  issuer: Buffer;
  spki: Buffer;
  extensions: Buffer[];
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
}): string {
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    serial(),
    algorithm,
    opts.issuer,
    sequence(time(opts.notBefore), time(opts.notAfter)),
    opts.subject,
    opts.spki,
    explicit(3, sequence(...opts.extensions)),
  );
  const signature = sign('sha256', tbs, opts.signer); // DER ECDSA-Sig-Value
  return pem('CERTIFICATE', sequence(tbs, algorithm, bitString(signature)));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function keyId(spki: Buffer): Buffer {
  // RFC 5280 §4.2.1.2 allows any unique value; a hash of the whole SubjectPublicKeyInfo is one
  return createHash('sha1').update(spki).digest();
}

function validity(opts: CertOptions): { notBefore: Date; notAfter: Date } {
  const now = opts.now ?? new Date();
  // an hour of slack for clocks that are behind ours
  return {
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter: new Date(now.getTime() + (opts.days ?? 3650) * DAY_MS),
  };
}

/** A self-signed CA that may sign end-entity certificates only (pathLen 0). */
export function generateCa(commonName = 'moat admission CA', opts: CertOptions = {}): CertificateAuthority {
  const { privateKey, spki } = newKey();
  const subject = name(commonName);
  const id = keyId(spki);
  const cert = certificate({
    subject,
    issuer: subject,
    spki,
    signer: privateKey,
    ...validity(opts),
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      extension(OID.keyUsage, true, namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN])),
      extension(OID.subjectKeyId, false, octetString(id)),
    ],
  });
  return {
    cert,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    subject,
    keyId: id,
    privateKey,
  };
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address. */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // SocketAddress normalises every IPv6 spelling; expand :: to eight groups
  const norm = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  const [head = '', tail = ''] = norm.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = norm.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = norm.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(Number.parseInt(groups[i] ?? '0', 16), i * 2);
  return out;
}

/**
 * An end-entity certificate for `commonName`, signed by `ca`: not a CA, digitalSignature, the given
 * extended key usage, and a subjectAltName when given.
 */
function issueLeaf(
  ca: CertificateAuthority,
  commonName: string,
  usage: string,
  san: Buffer | undefined,
  opts: CertOptions,
): PemPair {
  const { privateKey, spki } = newKey();
  const cert = certificate({
    subject: name(commonName),
    issuer: ca.subject,
    spki,
    signer: ca.privateKey,
    ...validity(opts),
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, namedBits([DIGITAL_SIGNATURE])),
      extension(OID.extKeyUsage, false, sequence(oid(usage))),
      ...(san ? [extension(OID.subjectAltName, false, san)] : []),
      extension(OID.subjectKeyId, false, octetString(keyId(spki))),
      extension(OID.authorityKeyId, false, sequence(implicitPrimitive(0, ca.keyId))),
    ],
  });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A TLS server certificate for `dnsNames` (the first is also the subject's CN), signed by `ca`. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  /** DNS names or IP addresses */
  dnsNames: readonly string[],
  opts: CertOptions = {},
): PemPair {
  if (dnsNames.length === 0) throw new Error('a server certificate needs at least one DNS name');
  // names that are IP addresses become iPAddress entries (a client checks an IP URL against those only)
  const san = sequence(
    ...dnsNames.map((n) =>
      isIP(n) ? implicitPrimitive(7, ipBytes(n)) : implicitPrimitive(2, Buffer.from(n, 'ascii')),
    ),
  );
  return issueLeaf(ca, dnsNames[0] as string, OID.serverAuth, san, opts);
}

/**
 * A TLS client certificate for `commonName` (its subject CN, which a server may check), signed by `ca`:
 * how the API server authenticates to a webhook with `client-certificate-data` in its kubeconfig.
 * extKeyUsage clientAuth is required: OpenSSL rejects a client certificate marked for serverAuth only.
 */
export function issueClientCertificate(
  ca: CertificateAuthority,
  commonName: string,
  opts: CertOptions = {},
): PemPair {
  return issueLeaf(ca, commonName, OID.clientAuth, undefined, opts);
}

/** A fresh CA and a server certificate for the webhook Service `<service>.<namespace>`. */
export function generateWebhookCertificates(
  service: string,
  namespace: string,
  opts: CertOptions = {},
): WebhookCertificates {
  const ca = generateCa(`moat admission CA (${service}.${namespace})`, opts);
  const dnsNames = serviceDnsNames(service, namespace);
  const server = issueServerCertificate(ca, dnsNames, opts);
  return { ca: { cert: ca.cert, key: ca.key }, server, dnsNames, notAfter: validity(opts).notAfter };
}
