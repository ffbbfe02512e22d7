/** A TLS service's certificate, summarised for a service record. */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { CertSummary } from '../records/index.js';

/** "CN=a\nO=b" (Node's X509 text form) → "CN=a, O=b". */
function dn(text: string): string {
  return text.split('\n').filter(Boolean).join(', ');
}

function sans(x: X509Certificate): string[] {
  const raw = x.subjectAltName;
  if (!raw) return [];
  // "DNS:a.example, IP Address:198.18.0.2" → ["DNS:a.example", "IP:198.18.0.2"]
  return raw.split(/,\s*/).map((s) => s.replace(/^IP Address:/, 'IP:')).filter(Boolean);
}

export function summariseCert(x: X509Certificate, protocol?: string | null, cipher?: string): CertSummary {
  const key = x.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const c: CertSummary = {
    subject: dn(x.subject),
    issuer: dn(x.issuer),
    sans: sans(x),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    keyType: key.asymmetricKeyType ?? 'unknown',
    serial: x.serialNumber,
    sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    selfSigned: x.subject === x.issuer && x.checkIssued(x),
  };
  if (details.modulusLength !== undefined) c.keyBits = details.modulusLength;
  if (details.namedCurve !== undefined) c.curve = details.namedCurve;
  if (protocol) c.protocol = protocol;
  if (cipher) c.cipher = cipher;
  return c;
}

/** The peer certificate of an established TLS socket, or undefined when it sent none. */
export function peerCert(sock: TLSSocket): CertSummary | undefined {
  const x = sock.getPeerX509Certificate();
  if (!x) return undefined;
  return summariseCert(x, sock.getProtocol(), sock.getCipher()?.name);
}
