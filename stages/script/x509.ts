/**
 * DER X.509 certificate → the table nmap's C module gives scripts (sslcert.lua, ssl-cert.nse):
 * subject/issuer keyed by OpenSSL long names, validity as date tables, pubkey, sig_algorithm,
 * extensions with OpenSSL's printed values, pem. A small DER reader written for this; only the
 * parts of a certificate scripts read are decoded.
 */
interface Tlv {
  tag: number;
  start: number; // content start
  end: number; // content end
  raw: Buffer; // whole TLV
}

function readTlv(buf: Buffer, pos: number): Tlv {
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let off = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + i]!;
    off += n;
  }
  if (off + len > buf.length) throw new Error('truncated DER');
  return { tag, start: off, end: off + len, raw: buf.subarray(pos, off + len) };
}

function children(buf: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; ) {
    const c = readTlv(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oidText(buf: Buffer, t: Tlv): string {
  const b = buf.subarray(t.start, t.end);
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** OpenSSL's long names for the OIDs certificates carry. */
const LONG_NAMES: Record<string, string> = {
  '2.5.4.3': 'commonName', '2.5.4.4': 'surname', '2.5.4.5': 'serialNumber', '2.5.4.6': 'countryName',
  '2.5.4.7': 'localityName', '2.5.4.8': 'stateOrProvinceName', '2.5.4.9': 'streetAddress', '2.5.4.10': 'organizationName',
  '2.5.4.11': 'organizationalUnitName', '2.5.4.12': 'title', '2.5.4.13': 'description', '2.5.4.17': 'postalCode',
  '2.5.4.42': 'givenName', '2.5.4.43': 'initials', '2.5.4.46': 'dnQualifier', '2.5.4.65': 'pseudonym',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'domainComponent', '0.9.2342.19200300.100.1.1': 'userId',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionCountryName', '2.5.4.15': 'businessCategory',
  // signature algorithms
  '1.2.840.113549.1.1.1': 'rsaEncryption', '1.2.840.113549.1.1.4': 'md5WithRSAEncryption', '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption', '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption', '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption', '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1', '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256', '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512', '1.3.101.112': 'ED25519', '1.3.101.113': 'ED448', '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
  // extensions
  '2.5.29.14': 'X509v3 Subject Key Identifier', '2.5.29.15': 'X509v3 Key Usage', '2.5.29.17': 'X509v3 Subject Alternative Name',
  '2.5.29.18': 'X509v3 Issuer Alternative Name', '2.5.29.19': 'X509v3 Basic Constraints', '2.5.29.31': 'X509v3 CRL Distribution Points',
  '2.5.29.32': 'X509v3 Certificate Policies', '2.5.29.35': 'X509v3 Authority Key Identifier', '2.5.29.37': 'X509v3 Extended Key Usage',
  '1.3.6.1.5.5.7.1.1': 'Authority Information Access', '1.3.6.1.4.1.11129.2.4.2': 'CT Precertificate SCTs',
  '2.16.840.1.113730.1.1': 'Netscape Cert Type', '2.16.840.1.113730.1.13': 'Netscape Comment',
  // extended key usages
  '1.3.6.1.5.5.7.3.1': 'TLS Web Server Authentication', '1.3.6.1.5.5.7.3.2': 'TLS Web Client Authentication',
  '1.3.6.1.5.5.7.3.3': 'Code Signing', '1.3.6.1.5.5.7.3.4': 'E-mail Protection', '1.3.6.1.5.5.7.3.8': 'Time Stamping',
  '1.3.6.1.5.5.7.3.9': 'OCSP Signing',
};

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'prime256v1', '1.3.132.0.34': 'secp384r1', '1.3.132.0.35': 'secp521r1', '1.3.132.0.10': 'secp256k1',
  '1.2.840.10045.3.1.1': 'prime192v1', '1.3.132.0.33': 'secp224r1',
};

const KEY_TYPES: Record<string, string> = {
  '1.2.840.113549.1.1.1': 'rsa', '1.2.840.10045.2.1': 'ec', '1.2.840.10040.4.1': 'dsa', '1.2.840.113549.1.3.1': 'dh',
  '1.3.101.112': 'ED25519', '1.3.101.113': 'ED448', '1.2.840.113549.1.1.10': 'rsa',
};

function text(buf: Buffer, t: Tlv): string {
  const b = buf.subarray(t.start, t.end);
  if (t.tag === 0x1e) {
    // BMPString: UTF-16BE
    let s = '';
    for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b.readUInt16BE(i));
    return Buffer.from(s, 'utf8').toString('latin1');
  }
  return b.toString('latin1'); // byte string, as Lua sees it
}

type NameTable = Record<string, string>;

function nameTable(buf: Buffer, t: Tlv): NameTable {
  const out: NameTable = {};
  for (const rdn of children(buf, t)) {
    for (const atv of children(buf, rdn)) {
      const [oid, value] = children(buf, atv);
      if (!oid || !value) continue;
      const o = oidText(buf, oid);
      out[LONG_NAMES[o] ?? o] = text(buf, value);
    }
  }
  return out;
}

function timeTable(buf: Buffer, t: Tlv): Record<string, number> | string {
  const s = buf.subarray(t.start, t.end).toString('latin1');
  const m = t.tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(s) : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(s);
  if (!m) return s;
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return { year, month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]), min: Number(m[5]), sec: Number(m[6] ?? 0) };
}

const hexColons = (b: Buffer): string => [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':');

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16).toUpperCase());
    return words.join(':');
  }
  return `<invalid>`;
}

/** GeneralNames as OpenSSL prints them: "DNS:a, IP Address:1.2.3.4, email:x". */
function generalNames(buf: Buffer, seq: Tlv): string {
  return children(buf, seq).map((g) => {
    const v = buf.subarray(g.start, g.end);
    switch (g.tag) {
      case 0x81: return `email:${v.toString('latin1')}`;
      case 0x82: return `DNS:${v.toString('latin1')}`;
      case 0x86: return `URI:${v.toString('latin1')}`;
      case 0x87: return `IP Address:${ipText(v)}`;
      case 0xa4: return `DirName:${Object.entries(nameTable(buf, readTlv(buf, g.start))).map(([k, x]) => `${k}=${x}`).join('/')}`;
      default: return 'othername:<unsupported>';
    }
  }).join(', ');
}

const KEY_USAGE = ['Digital Signature', 'Non Repudiation', 'Key Encipherment', 'Data Encipherment', 'Key Agreement',
  'Certificate Sign', 'CRL Sign', 'Encipher Only', 'Decipher Only'];

function extensionValue(oid: string, buf: Buffer, value: Tlv): string {
  const inner = readTlv(buf, value.start);
  switch (oid) {
    case '2.5.29.17':
    case '2.5.29.18':
      return generalNames(buf, inner);
    case '2.5.29.19': {
      const parts = children(buf, inner);
      let ca = false;
      let pathlen: number | undefined;
      for (const p of parts) {
        if (p.tag === 0x01) ca = buf[p.start] !== 0;
        if (p.tag === 0x02) pathlen = buf.subarray(p.start, p.end).reduce((a, x) => a * 256 + x, 0);
      }
      return `CA:${ca ? 'TRUE' : 'FALSE'}${pathlen !== undefined ? `, pathlen:${pathlen}` : ''}`;
    }
    case '2.5.29.14':
      return hexColons(buf.subarray(inner.start, inner.end));
    case '2.5.29.35': {
      const keyid = children(buf, inner).find((c) => c.tag === 0x80);
      return keyid ? hexColons(buf.subarray(keyid.start, keyid.end)) : '';
    }
    case '2.5.29.15': {
      const b = buf.subarray(inner.start + 1, inner.end);
      const names: string[] = [];
      KEY_USAGE.forEach((n, i) => {
        const byte = b[i >> 3] ?? 0;
        if (byte & (0x80 >> (i & 7))) names.push(n);
      });
      return names.join(', ');
    }
    case '2.5.29.37':
      return children(buf, inner).map((o) => { const t = oidText(buf, o); return LONG_NAMES[t] ?? t; }).join(', ');
    default:
      return hexColons(buf.subarray(value.start, value.end));
  }
}

export interface CertTable {
  subject: NameTable;
  issuer: NameTable;
  validity: { notBefore: Record<string, number> | string; notAfter: Record<string, number> | string };
  pubkey: Record<string, unknown>;
  sig_algorithm: string;
  extensions?: Array<{ name: string; value: string; critical?: boolean }>;
  pem: string;
}

export function parseCertificate(der: Buffer): CertTable {
  const cert = readTlv(der, 0);
  const [tbs, sigAlg] = children(der, cert);
  if (!tbs || !sigAlg) throw new Error('not a certificate');
  let fields = children(der, tbs);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1); // version
  const [, , issuer, validity, subject, spki, ...rest] = fields;
  if (!issuer || !validity || !subject || !spki) throw new Error('incomplete certificate');
  const [nb, na] = children(der, validity);
  const sigOid = oidText(der, children(der, sigAlg)[0]!);

  const [algSeq, bits] = children(der, spki);
  const algParts = children(der, algSeq!);
  const keyOid = oidText(der, algParts[0]!);
  const pubkey: Record<string, unknown> = { type: KEY_TYPES[keyOid] ?? keyOid };
  const keyBytes = der.subarray(bits!.start + 1, bits!.end);
  if (pubkey.type === 'rsa') {
    const rsa = readTlv(keyBytes, 0);
    const [mod, exp] = children(keyBytes, rsa);
    let m = keyBytes.subarray(mod!.start, mod!.end);
    while (m.length > 1 && m[0] === 0) m = m.subarray(1);
    pubkey.bits = m.length * 8 - Math.clz32(m[0]!) + 24;
    pubkey.__modulus = m.toString('hex');
    pubkey.__exponent = keyBytes.subarray(exp!.start, exp!.end).toString('hex');
  } else if (pubkey.type === 'ec') {
    const curveOid = algParts[1] && algParts[1].tag === 0x06 ? oidText(der, algParts[1]) : '';
    const curve = CURVES[curveOid] ?? curveOid;
    pubkey.ecdhparams = { curve_params: { ec_curve_type: 'namedcurve', curve } };
    pubkey.bits = { prime256v1: 256, secp384r1: 384, secp521r1: 521, secp256k1: 256, prime192v1: 192, secp224r1: 224 }[curve] ?? (keyBytes.length - 1) * 4;
  } else if (pubkey.type === 'ED25519') pubkey.bits = 256;
  else if (pubkey.type === 'ED448') pubkey.bits = 456;

  const out: CertTable = {
    subject: nameTable(der, subject),
    issuer: nameTable(der, issuer),
    validity: { notBefore: timeTable(der, nb!), notAfter: timeTable(der, na!) },
    pubkey,
    sig_algorithm: LONG_NAMES[sigOid] ?? sigOid,
    pem: `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
  };
  const extsWrap = rest.find((r) => r.tag === 0xa3);
  if (extsWrap) {
    const exts = children(der, readTlv(der, extsWrap.start));
    out.extensions = exts.map((e) => {
      const parts = children(der, e);
      const oid = oidText(der, parts[0]!);
      const critical = parts.length === 3 && der[parts[1]!.start] !== 0;
      const value = parts[parts.length - 1]!;
      const ext: { name: string; value: string; critical?: boolean } = { name: LONG_NAMES[oid] ?? oid, value: extensionValue(oid, der, value) };
      if (critical) ext.critical = true;
      return ext;
    });
  }
  return out;
}
