/**
 * An SSH-2 client session for the `libssh2` module scripts use (nselib/libssh2-utility.lua):
 * version exchange, curve25519-sha256 key exchange with the host key's signature verified,
 * aes128-ctr + hmac-sha2-256 packets, then the user-authentication requests nmap's binding
 * offers (the method list, password, public-key query) and session channels (exec).
 *
 * Written for prtip over node:crypto. The bytes travel through a ScriptSocket, so the scan's
 * target policy, nmap's error words and --script-trace apply as to any script socket.
 */
import { createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, timingSafeEqual, verify, type Cipher, type Decipher, type KeyObject } from 'node:crypto';
import type { ScriptSocket } from './sockets.js';

const MSG = {
  DISCONNECT: 1, IGNORE: 2, UNIMPLEMENTED: 3, DEBUG: 4, SERVICE_REQUEST: 5, SERVICE_ACCEPT: 6, EXT_INFO: 7,
  KEXINIT: 20, NEWKEYS: 21, KEX_ECDH_INIT: 30, KEX_ECDH_REPLY: 31,
  USERAUTH_REQUEST: 50, USERAUTH_FAILURE: 51, USERAUTH_SUCCESS: 52, USERAUTH_BANNER: 53, USERAUTH_PK_OK: 60,
  GLOBAL_REQUEST: 80, REQUEST_FAILURE: 82,
  CHANNEL_OPEN: 90, CHANNEL_OPEN_CONFIRMATION: 91, CHANNEL_OPEN_FAILURE: 92, CHANNEL_WINDOW_ADJUST: 93,
  CHANNEL_DATA: 94, CHANNEL_EXTENDED_DATA: 95, CHANNEL_EOF: 96, CHANNEL_CLOSE: 97, CHANNEL_REQUEST: 98,
  CHANNEL_SUCCESS: 99, CHANNEL_FAILURE: 100,
} as const;

const CLIENT_VERSION = 'SSH-2.0-prtip_NSE';
const KEX = 'curve25519-sha256,curve25519-sha256@libssh.org';
const HOSTKEYS = 'ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256';
const CIPHER = 'aes128-ctr';
const MAC = 'hmac-sha2-256';
const WINDOW = 2 * 1024 * 1024;

/** SSH wire encoding: uint32, string, mpint, name-list. */
class Writer {
  private parts: Buffer[] = [];
  byte(n: number): this { this.parts.push(Buffer.from([n])); return this; }
  bool(b: boolean): this { return this.byte(b ? 1 : 0); }
  u32(n: number): this { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); this.parts.push(b); return this; }
  string(s: Buffer | string): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    this.u32(b.length); this.parts.push(b); return this;
  }
  /** An unsigned big-endian integer as an mpint. */
  mpint(b: Buffer): this {
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    let v = b.subarray(i);
    if (v.length && v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return this.string(v);
  }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

class Reader {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  byte(): number { this.need(1); return this.b[this.pos++]!; }
  bool(): boolean { return this.byte() !== 0; }
  u32(): number { this.need(4); const n = this.b.readUInt32BE(this.pos); this.pos += 4; return n; }
  string(): Buffer { const n = this.u32(); this.need(n); const s = this.b.subarray(this.pos, this.pos + n); this.pos += n; return s; }
  text(): string { return this.string().toString('latin1'); }
  private need(n: number): void { if (this.pos + n > this.b.length) throw new SshError('malformed packet from the server'); }
}

export class SshError extends Error {}

interface Direction {
  cipher?: Cipher | Decipher;
  macKey?: Buffer;
  seq: number;
}

interface Channel {
  local: number;
  remote?: number;
  remoteWindow: number;
  remoteMax: number;
  data: Buffer[];
  stderr: Buffer[];
  eof: boolean;
  closed: boolean;
  opened?: boolean;
  openError?: string;
  requestAnswer?: boolean;
}

/** The host key blob as a KeyObject and the signature check its algorithm uses. */
function hostKeyVerifier(blob: Buffer): (sigAlgo: string, data: Buffer, sig: Buffer) => boolean {
  const r = new Reader(blob);
  const type = r.text();
  const b64u = (b: Buffer) => b.toString('base64url');
  const strip = (b: Buffer) => { let i = 0; while (i < b.length - 1 && b[i] === 0) i++; return b.subarray(i); };
  if (type === 'ssh-ed25519') {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(r.string()) }, format: 'jwk' });
    return (algo, data, sig) => algo === 'ssh-ed25519' && verify(null, data, key, sig);
  }
  if (type === 'ssh-rsa') {
    const e = strip(r.string());
    const n = strip(r.string());
    const key = createPublicKey({ key: { kty: 'RSA', e: b64u(e), n: b64u(n) }, format: 'jwk' });
    const hashes: Record<string, string> = { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256', 'ssh-rsa': 'sha1' };
    return (algo, data, sig) => hashes[algo] !== undefined && verify(hashes[algo]!, data, key, sig);
  }
  if (type === 'ecdsa-sha2-nistp256') {
    r.text();
    const q = r.string();
    if (q[0] !== 4 || q.length !== 65) throw new SshError('unsupported ECDSA point encoding');
    const key: KeyObject = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(q.subarray(1, 33)), y: b64u(q.subarray(33)) }, format: 'jwk' });
    return (algo, data, sig) => {
      if (algo !== type) return false;
      const s = new Reader(sig);
      const pad = (b: Buffer) => { const v = strip(b); return Buffer.concat([Buffer.alloc(Math.max(0, 32 - v.length)), v]); };
      const rs = Buffer.concat([pad(s.string()), pad(s.string())]);
      return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, rs);
    };
  }
  throw new SshError(`unsupported host key type ${type}`);
}

/** A user's private key from its file text: the signing key, the SSH algorithm and the public key blob. */
export function userKey(text: string, passphrase: string): { key: KeyObject; algo: string; blob: Buffer } {
  let key: KeyObject;
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (m) {
    const raw = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
    const magic = 'openssh-key-v1\0';
    if (raw.subarray(0, magic.length).toString('latin1') !== magic) throw new SshError('not an OpenSSH private key');
    const r = new Reader(raw.subarray(magic.length));
    const cipher = r.text();
    r.text(); r.string();
    if (cipher !== 'none') throw new SshError('encrypted OpenSSH private keys are not supported by prtip (convert it to PEM: ssh-keygen -p -m PEM)');
    if (r.u32() !== 1) throw new SshError('OpenSSH key files with several keys are not supported');
    r.string();
    const p = new Reader(r.string());
    if (p.u32() !== p.u32()) throw new SshError('corrupt OpenSSH private key (check bytes differ)');
    const type = p.text();
    if (type !== 'ssh-ed25519') throw new SshError(`OpenSSH-format ${type} keys are not supported by prtip (use PEM: ssh-keygen -p -m PEM)`);
    const pub = p.string();
    const priv = p.string();
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: priv.subarray(0, 32).toString('base64url'), x: pub.toString('base64url') }, format: 'jwk' });
  } else {
    key = createPrivateKey({ key: text, format: 'pem', passphrase: passphrase || undefined });
  }
  const jwk = key.export({ format: 'jwk' });
  const b = (s?: string) => Buffer.from(s ?? '', 'base64url');
  if (key.asymmetricKeyType === 'ed25519') return { key, algo: 'ssh-ed25519', blob: new Writer().string('ssh-ed25519').string(b(jwk.x)).done() };
  if (key.asymmetricKeyType === 'rsa') return { key, algo: 'rsa-sha2-256', blob: new Writer().string('ssh-rsa').mpint(b(jwk.e)).mpint(b(jwk.n)).done() };
  if (key.asymmetricKeyType === 'ec' && jwk.crv === 'P-256') {
    return { key, algo: 'ecdsa-sha2-nistp256', blob: new Writer().string('ecdsa-sha2-nistp256').string('nistp256').string(Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)])).done() };
  }
  throw new SshError(`unsupported private key type ${key.asymmetricKeyType ?? '?'}`);
}

function pickAlgorithm(client: string, server: string, what: string): string {
  const offered = new Set(server.split(','));
  const hit = client.split(',').find((a) => offered.has(a));
  if (!hit) throw new SshError(`no common ${what} algorithm (server offers ${server})`);
  return hit;
}

export class SshSession {
  private inBuf = Buffer.alloc(0);
  private readonly out: Direction = { seq: 0 };
  private readonly inn: Direction = { seq: 0 };
  private serverVersion = '';
  private sessionId: Buffer | undefined;
  private hostKey: Buffer | undefined;
  private authenticated = false;
  private userauthReady = false;
  private readonly channels = new Map<number, Channel>();
  private nextChannel = 0;
  timeoutMs = 30_000;
  closed = false;

  /** --script-trace: every byte on the wire (ciphertext once keys are in use), as for script sockets. */
  constructor(readonly sock: ScriptSocket, private readonly onWire?: (dir: '>' | '<', data?: Buffer, error?: string) => void) {}

  get isAuthenticated(): boolean { return this.authenticated; }

  /** Version exchange and key exchange; on return, packets are encrypted both ways. */
  async handshake(): Promise<void> {
    await this.sendRaw(Buffer.from(`${CLIENT_VERSION}\r\n`, 'latin1'));
    // The server may send lines before its version line (RFC 4253 4.2).
    for (;;) {
      const line = await this.readLine();
      if (line.startsWith('SSH-')) { this.serverVersion = line; break; }
    }
    if (!/^SSH-(2\.0|1\.99)-/.test(this.serverVersion)) throw new SshError(`the server speaks ${this.serverVersion}, not SSH-2`);
    const cookie = randomBytes(16);
    const myKexinit = new Writer().byte(MSG.KEXINIT).raw(cookie)
      .string(KEX).string(HOSTKEYS).string(CIPHER).string(CIPHER).string(MAC).string(MAC)
      .string('none').string('none').string('').string('').bool(false).u32(0).done();
    await this.sendPacket(myKexinit);
    const theirKexinit = await this.expect(MSG.KEXINIT);
    const r = new Reader(theirKexinit.subarray(17));
    const [kex, hostkeys, c2s, s2c, mac1, mac2, comp1, comp2] = Array.from({ length: 8 }, () => r.text());
    pickAlgorithm(KEX, kex!, 'key exchange');
    pickAlgorithm(HOSTKEYS, hostkeys!, 'host key');
    pickAlgorithm(CIPHER, c2s!, 'cipher'); pickAlgorithm(CIPHER, s2c!, 'cipher');
    pickAlgorithm(MAC, mac1!, 'MAC'); pickAlgorithm(MAC, mac2!, 'MAC');
    pickAlgorithm('none', comp1!, 'compression'); pickAlgorithm('none', comp2!, 'compression');
    if (r.bool()) throw new SshError('the server guessed a first key-exchange packet, which prtip does not handle');

    const eph = generateKeyPairSync('x25519');
    const qc = Buffer.from(eph.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    await this.sendPacket(new Writer().byte(MSG.KEX_ECDH_INIT).string(qc).done());
    const reply = new Reader((await this.expect(MSG.KEX_ECDH_REPLY)).subarray(1));
    const ks = reply.string();
    const qs = reply.string();
    const sigBlob = reply.string();
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: qs.toString('base64url') }, format: 'jwk' });
    const secret = diffieHellman({ privateKey: eph.privateKey, publicKey: peer });
    const K = new Writer().mpint(secret).done();
    const H = createHash('sha256').update(new Writer()
      .string(CLIENT_VERSION).string(this.serverVersion).string(myKexinit).string(theirKexinit)
      .string(ks).string(qc).string(qs).raw(K).done()).digest();
    const sr = new Reader(sigBlob);
    const sigAlgo = sr.text();
    if (!hostKeyVerifier(ks)(sigAlgo, H, sr.string())) throw new SshError('the host key signature of the key exchange does not verify');
    this.hostKey = ks;
    this.sessionId ??= H;
    await this.sendPacket(Buffer.from([MSG.NEWKEYS]));
    await this.expect(MSG.NEWKEYS);
    const derive = (letter: string, len: number) => createHash('sha256').update(K).update(H).update(letter).update(this.sessionId!).digest().subarray(0, len);
    this.out.cipher = createCipheriv('aes-128-ctr', derive('C', 16), derive('A', 16));
    this.inn.cipher = createCipheriv('aes-128-ctr', derive('D', 16), derive('B', 16));
    this.out.macKey = derive('E', 32);
    this.inn.macKey = derive('F', 32);
  }

  /** libssh2_hostkey_hash: "AA:BB:…" of the host key blob. */
  hostkeyHash(algo: 'md5' | 'sha1'): string | undefined {
    if (!this.hostKey) return undefined;
    return createHash(algo).update(this.hostKey).digest('hex').toUpperCase().match(/../g)!.join(':');
  }

  private async userauthService(): Promise<void> {
    if (this.userauthReady) return;
    await this.sendPacket(new Writer().byte(MSG.SERVICE_REQUEST).string('ssh-userauth').done());
    await this.expect(MSG.SERVICE_ACCEPT);
    this.userauthReady = true;
  }

  /** The server's answer to a user-authentication request: success, or failure with the methods that can continue. */
  private async authAnswer(extra: number[] = []): Promise<{ ok: true } | { ok: false; methods: string; code: number }> {
    for (;;) {
      const p = await this.nextPacket();
      if (p[0] === MSG.USERAUTH_BANNER) continue;
      if (p[0] === MSG.USERAUTH_SUCCESS) { this.authenticated = true; return { ok: true }; }
      if (p[0] === MSG.USERAUTH_FAILURE) return { ok: false, methods: new Reader(p.subarray(1)).text(), code: MSG.USERAUTH_FAILURE };
      if (extra.includes(p[0]!)) return { ok: false, methods: '', code: p[0]! };
      throw new SshError(`unexpected message ${p[0]} during authentication`);
    }
  }

  /** The "none" method: the list of methods the server accepts for this user, or null when "none" itself succeeded. */
  async userauthList(user: string): Promise<string | null> {
    await this.userauthService();
    await this.sendPacket(new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string('none').done());
    const a = await this.authAnswer();
    return a.ok ? null : a.methods;
  }

  async userauthPassword(user: string, password: string): Promise<boolean> {
    await this.userauthService();
    await this.sendPacket(new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string('password').bool(false).string(password).done());
    return (await this.authAnswer()).ok;
  }

  /** A public-key query without signature: would the server accept this key for this user? */
  async publickeyCanauth(user: string, blob: Buffer): Promise<boolean> {
    await this.userauthService();
    const algo = new Reader(blob).text();
    await this.sendPacket(new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string('publickey')
      .bool(false).string(algo).string(blob).done());
    const a = await this.authAnswer([MSG.USERAUTH_PK_OK]);
    return !a.ok && a.code === MSG.USERAUTH_PK_OK;
  }

  /** Public-key login: the key (PEM, or OpenSSH's unencrypted format) signs the session. */
  async userauthPublickey(user: string, keyText: string, passphrase: string): Promise<boolean> {
    const { key, algo, blob } = userKey(keyText, passphrase);
    await this.userauthService();
    const signed = new Writer().string(this.sessionId!).byte(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection')
      .string('publickey').bool(true).string(algo).string(blob).done();
    const sig = sign(algo === 'ssh-ed25519' ? null : algo === 'ecdsa-sha2-nistp256' ? 'sha256' : 'sha256', signed.subarray(0), algo === 'ecdsa-sha2-nistp256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
    let sigBlob: Buffer = sig;
    if (algo === 'ecdsa-sha2-nistp256') sigBlob = new Writer().mpint(sig.subarray(0, 32)).mpint(sig.subarray(32)).done();
    await this.sendPacket(new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string('publickey')
      .bool(true).string(algo).string(blob).string(new Writer().string(algo).string(sigBlob).done()).done());
    return (await this.authAnswer()).ok;
  }

  // ---- channels ----

  async openChannel(): Promise<number> {
    if (!this.authenticated) throw new SshError('the session is not authenticated');
    const ch: Channel = { local: this.nextChannel++, remoteWindow: 0, remoteMax: 0, data: [], stderr: [], eof: false, closed: false };
    this.channels.set(ch.local, ch);
    await this.sendPacket(new Writer().byte(MSG.CHANNEL_OPEN).string('session').u32(ch.local).u32(WINDOW).u32(32768).done());
    while (ch.opened === undefined) await this.pump();
    if (!ch.opened) throw new SshError(`channel open refused: ${ch.openError ?? ''}`);
    return ch.local;
  }

  async exec(id: number, command: string): Promise<boolean> {
    const ch = this.channel(id);
    ch.requestAnswer = undefined;
    await this.sendPacket(new Writer().byte(MSG.CHANNEL_REQUEST).u32(ch.remote!).string('exec').bool(true).string(command).done());
    while (ch.requestAnswer === undefined && !ch.closed) await this.pump();
    return ch.requestAnswer === true;
  }

  async write(id: number, data: Buffer): Promise<void> {
    const ch = this.channel(id);
    let off = 0;
    while (off < data.length) {
      while (ch.remoteWindow === 0 && !ch.closed) await this.pump();
      if (ch.closed) throw new SshError('channel closed');
      const n = Math.min(data.length - off, ch.remoteWindow, ch.remoteMax || 32768);
      await this.sendPacket(new Writer().byte(MSG.CHANNEL_DATA).u32(ch.remote!).string(data.subarray(off, off + n)).done());
      ch.remoteWindow -= n;
      off += n;
    }
  }

  async sendEof(id: number): Promise<void> {
    const ch = this.channel(id);
    await this.sendPacket(new Writer().byte(MSG.CHANNEL_EOF).u32(ch.remote!).done());
  }

  /** Data received on the channel (stdout, or stderr), waiting for some unless it ended; null at its end. */
  async read(id: number, stderr = false): Promise<Buffer | null> {
    const ch = this.channel(id);
    const q = stderr ? ch.stderr : ch.data;
    while (q.length === 0 && !ch.eof && !ch.closed) await this.pump();
    if (q.length === 0) return null;
    return Buffer.concat(q.splice(0));
  }

  eof(id: number): boolean {
    const ch = this.channel(id);
    return (ch.eof || ch.closed) && ch.data.length === 0;
  }

  async closeChannel(id: number): Promise<void> {
    const ch = this.channel(id);
    if (!ch.closed && ch.remote !== undefined) await this.sendPacket(new Writer().byte(MSG.CHANNEL_CLOSE).u32(ch.remote).done());
    this.channels.delete(id);
  }

  private channel(id: number): Channel {
    const ch = this.channels.get(id);
    if (!ch || ch.remote === undefined) throw new SshError('no such channel');
    return ch;
  }

  /** Reads one packet and applies it to the channels. */
  private async pump(): Promise<void> {
    const p = await this.nextPacket();
    const r = new Reader(p.subarray(1));
    const type = p[0]!;
    if (type === MSG.GLOBAL_REQUEST) {
      r.text();
      if (r.bool()) await this.sendPacket(Buffer.from([MSG.REQUEST_FAILURE]));
      return;
    }
    if (type < MSG.CHANNEL_OPEN_CONFIRMATION || type > MSG.CHANNEL_FAILURE) return;
    const ch = this.channels.get(r.u32());
    if (!ch) return;
    switch (type) {
      case MSG.CHANNEL_OPEN_CONFIRMATION: ch.remote = r.u32(); ch.remoteWindow = r.u32(); ch.remoteMax = r.u32(); ch.opened = true; break;
      case MSG.CHANNEL_OPEN_FAILURE: r.u32(); ch.openError = r.text(); ch.opened = false; break;
      case MSG.CHANNEL_WINDOW_ADJUST: ch.remoteWindow += r.u32(); break;
      case MSG.CHANNEL_DATA: case MSG.CHANNEL_EXTENDED_DATA: {
        if (type === MSG.CHANNEL_EXTENDED_DATA) r.u32();
        const d = Buffer.from(r.string());
        // stderr merges into the data stream, first in first out, as nmap's channel_read
        // returns it (ssh-run shows the remote shell's warnings with the output)
        ch.data.push(d);
        // keep the server's window open: give back what we consumed
        await this.sendPacket(new Writer().byte(MSG.CHANNEL_WINDOW_ADJUST).u32(ch.remote!).u32(d.length).done());
        break;
      }
      case MSG.CHANNEL_EOF: ch.eof = true; break;
      case MSG.CHANNEL_CLOSE:
        if (!ch.closed && ch.remote !== undefined) await this.sendPacket(new Writer().byte(MSG.CHANNEL_CLOSE).u32(ch.remote).done());
        ch.closed = true;
        break;
      case MSG.CHANNEL_REQUEST: {
        r.text();
        if (r.bool()) await this.sendPacket(new Writer().byte(MSG.CHANNEL_FAILURE).u32(ch.remote!).done());
        break;
      }
      case MSG.CHANNEL_SUCCESS: ch.requestAnswer = true; break;
      case MSG.CHANNEL_FAILURE: ch.requestAnswer = false; break;
    }
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.sendPacket(new Writer().byte(MSG.DISCONNECT).u32(11).string('Normal Shutdown').string('').done());
    } catch {
      // the peer may be gone already
    }
    this.sock.close();
  }

  // ---- packets ----

  private async sendRaw(b: Buffer): Promise<void> {
    this.onWire?.('>', b);
    const [ok, err] = await this.sock.send(b);
    if (!ok) throw new SshError(err);
  }

  private async fill(): Promise<void> {
    const r = await this.sock.read(this.timeoutMs);
    this.onWire?.('<', r.data, r.error);
    if (!r.data) throw new SshError(r.error === 'EOF' ? 'the server closed the connection' : r.error ?? 'read failed');
    this.inBuf = Buffer.concat([this.inBuf, r.data]);
  }

  private async readLine(): Promise<string> {
    for (;;) {
      const i = this.inBuf.indexOf(0x0a);
      if (i >= 0) {
        const line = this.inBuf.subarray(0, i).toString('latin1').replace(/\r$/, '');
        this.inBuf = this.inBuf.subarray(i + 1);
        return line;
      }
      if (this.inBuf.length > 8192) throw new SshError('no SSH version line from the server');
      await this.fill();
    }
  }

  async sendPacket(payload: Buffer): Promise<void> {
    const block = this.out.cipher ? 16 : 8;
    let pad = block - ((payload.length + 5) % block);
    if (pad < 4) pad += block;
    const packet = new Writer().u32(payload.length + pad + 1).byte(pad).raw(payload).raw(randomBytes(pad)).done();
    let wire = packet;
    if (this.out.cipher && this.out.macKey) {
      const mac = createHmac('sha256', this.out.macKey).update(new Writer().u32(this.out.seq).done()).update(packet).digest();
      wire = Buffer.concat([this.out.cipher.update(packet), mac]);
    }
    this.out.seq = (this.out.seq + 1) >>> 0;
    await this.sendRaw(wire);
  }

  /** The next payload that is not transport noise (ignore, debug, ext-info). */
  private async nextPacket(): Promise<Buffer> {
    for (;;) {
      const p = await this.readPacket();
      const t = p[0];
      if (t === MSG.IGNORE || t === MSG.DEBUG || t === MSG.EXT_INFO || t === MSG.UNIMPLEMENTED) continue;
      if (t === MSG.DISCONNECT) {
        const r = new Reader(p.subarray(1));
        r.u32();
        throw new SshError(`the server disconnected: ${r.text()}`);
      }
      return p;
    }
  }

  private async expect(type: number): Promise<Buffer> {
    const p = await this.nextPacket();
    if (p[0] !== type) throw new SshError(`expected message ${type}, got ${p[0]}`);
    return p;
  }

  private async readPacket(): Promise<Buffer> {
    const dec = this.inn.cipher;
    const block = dec ? 16 : 8;
    let head: Buffer | undefined;
    while (this.inBuf.length < block) await this.fill();
    head = this.inBuf.subarray(0, block);
    if (dec) head = dec.update(head);
    const len = head.readUInt32BE(0);
    if (len < 5 || len > 256 * 1024) throw new SshError(`bad packet length ${len} from the server`);
    const macLen = this.inn.macKey ? 32 : 0;
    const total = 4 + len + macLen;
    while (this.inBuf.length < total) await this.fill();
    const restEnc = this.inBuf.subarray(block, 4 + len);
    const rest = dec ? dec.update(restEnc) : restEnc;
    const packet = Buffer.concat([head, rest]);
    if (this.inn.macKey) {
      const want = createHmac('sha256', this.inn.macKey).update(new Writer().u32(this.inn.seq).done()).update(packet).digest();
      if (!timingSafeEqual(want, this.inBuf.subarray(4 + len, total))) throw new SshError('packet MAC does not verify');
    }
    this.inBuf = this.inBuf.subarray(total);
    this.inn.seq = (this.inn.seq + 1) >>> 0;
    const padLen = packet[4]!;
    return packet.subarray(5, 4 + len - padLen);
  }
}
