/**
 * The host side of the `nmap` and `openssl` modules: what Lua's `prim(op, ...)` reaches.
 * Strings arrive and leave as byte strings (one char per byte). An operation that waits
 * returns a promise; the engine yields the script until it settles.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, getCiphers, getHashes, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { LuaIn, LuaThreadRef } from './lua-vm.js';
import { ScriptSocket } from './sockets.js';
import { parseCertificate } from './x509.js';
import { bignumOp } from './bignum.js';
import { SandboxFs, SshSessions, zlibOp } from './c-modules.js';

/** Why a connection is refused, or undefined when the scan's targets include it. */
export type TargetPolicy = (ip: string, port: number, proto: string) => string | undefined;

export interface PrimitiveContext {
  scriptId: string;
  sockets: Set<ScriptSocket>;
  actionStarted: boolean;
}

export interface PrimitiveOptions {
  nselibDirs: string[];
  readDirs: string[];
  fetchDirs: string[];
  policy: TargetPolicy;
  log: (line: string) => void;
  /** --script-trace */
  trace?: boolean;
}

/** Bytes as a trace line shows them: printable ASCII as is, the rest as \xHH. */
function traceText(b: Buffer): string {
  let out = '';
  for (const c of b) out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : c === 0x5c ? '\\\\' : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

const DIGESTS: Record<string, string> = { md4: 'md4', md5: 'md5', sha1: 'sha1', sha224: 'sha224', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512', ripemd160: 'ripemd160' };

function bytes(v: unknown): Buffer {
  return Buffer.from(typeof v === 'string' ? v : String(v ?? ''), 'latin1');
}

const bin = (b: Buffer): string => b.toString('latin1');

export class NsePrimitives {
  private readonly sockets = new Map<number, ScriptSocket>();
  private nextSocket = 0;
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly libCache = new Map<string, [string, string] | [null, string]>();
  private readonly ssh = new SshSessions();
  private lfs: SandboxFs | undefined;

  constructor(
    private readonly opts: PrimitiveOptions,
    private readonly onWorker: (ctx: PrimitiveContext, co: LuaThreadRef) => void,
  ) {}

  closeSockets(ctx: PrimitiveContext): void {
    this.ssh.dropClosed(ctx.sockets);
    for (const s of ctx.sockets) {
      s.close();
      this.sockets.delete(s.id);
    }
    ctx.sockets.clear();
  }

  call(op: string, a: unknown[], ctx: PrimitiveContext | undefined): LuaIn[] | Promise<LuaIn[]> {
    switch (op) {
      case 'clock': return [Date.now() / 1000];
      case 'log': {
        this.opts.log(Buffer.from(String(a[1] ?? ''), 'latin1').toString('utf8').replace(/\n$/, ''));
        return [];
      }
      case 'action_starting':
        if (ctx) ctx.actionStarted = true;
        return [];
      case 'read_lib': return this.readLib(String(a[0]));
      case 'read_file': return this.readFile(String(a[0]));
      case 'fetchfile': return this.fetchfile(String(a[0]));
      case 'new_worker':
        if (ctx && a[0] && (a[0] as LuaThreadRef).kind === 'thread') this.onWorker(ctx, a[0] as LuaThreadRef);
        return [];
      // unref: a script stopped while asleep must not hold the process open
      case 'sleep': return new Promise((res) => setTimeout(() => res([]), Math.max(0, Number(a[0]) * 1000)).unref());
      case 'wait': {
        // optional second argument: give up after that many ms (mutexes poll for owners that ended)
        const key = String(a[0]);
        const ms = typeof a[1] === 'number' ? a[1] : undefined;
        return new Promise((res) => {
          const list = this.waiters.get(key) ?? [];
          let timer: NodeJS.Timeout | undefined;
          const wake = () => {
            if (timer) clearTimeout(timer);
            res([]);
          };
          list.push(wake);
          this.waiters.set(key, list);
          if (ms !== undefined) {
            timer = setTimeout(() => {
              const l = this.waiters.get(key);
              const i = l ? l.indexOf(wake) : -1;
              if (l && i >= 0) l.splice(i, 1);
              res([]);
            }, ms);
            timer.unref();
          }
        });
      }
      case 'notify': {
        const key = String(a[0]);
        const list = this.waiters.get(key);
        if (list) {
          const wake = a[1] === true ? list.splice(0) : list.splice(0, 1);
          if (list.length === 0) this.waiters.delete(key);
          // woken on the next turn: the signalling script runs on until it blocks, as in nmap
          for (const w of wake) setImmediate(w);
        }
        return [];
      }
      // ---- sockets ----
      case 'sock_new': {
        if (!ctx) return [null, 'sockets are only available to running scripts'];
        const s = new ScriptSocket(++this.nextSocket, String(a[0] ?? 'tcp') === 'udp' ? 'udp' : 'tcp', this.opts.policy);
        this.sockets.set(s.id, s);
        ctx.sockets.add(s);
        return [s.id];
      }
      case 'sock_connect': {
        const s = this.sockets.get(Number(a[0]));
        if (!s) return [false, 'socket is closed'];
        return s.connect(String(a[1]), Number(a[2]), String(a[3] ?? 'tcp'), Number(a[4]) || 30000).then((r) => r);
      }
      case 'sock_starttls': {
        const s = this.sockets.get(Number(a[0]));
        if (!s) return [false, 'socket is closed'];
        return s.startTls(Number(a[1]) || 30000);
      }
      case 'sock_send': {
        const s = this.sockets.get(Number(a[0]));
        if (!s) return [false, 'socket is closed'];
        if (this.opts.trace) this.trace(ctx, s, '>', bytes(a[1]));
        return s.send(bytes(a[1]));
      }
      case 'sock_sendto': {
        const s = this.sockets.get(Number(a[0]));
        if (!s) return [false, 'socket is closed'];
        return s.sendTo(String(a[1]), Number(a[2]), bytes(a[3]));
      }
      case 'sock_read': {
        const s = this.sockets.get(Number(a[0]));
        if (!s) return [null, 'socket is closed'];
        return s.read(Number(a[1]) || 30000).then((r) => {
          if (this.opts.trace) this.trace(ctx, s, '<', r.data, r.error);
          return r.data ? [bin(r.data)] : [null, r.error ?? 'ERROR'];
        });
      }
      case 'sock_close': {
        const s = this.sockets.get(Number(a[0]));
        if (s) {
          s.close();
          this.sockets.delete(s.id);
          ctx?.sockets.delete(s);
        }
        return [];
      }
      case 'sock_info': {
        const info = this.sockets.get(Number(a[0]))?.info();
        return info ? [info.localAddress, info.localPort, info.remoteAddress, info.remotePort] : [null];
      }
      case 'sock_cert': {
        const der = this.sockets.get(Number(a[0]))?.peerCertificate();
        return der ? [bin(der)] : [null];
      }
      // ---- the C modules zlib, lfs, libssh2 (c-modules.ts) ----
      case 'zlib': return zlibOp(String(a[0]), a.slice(1));
      case 'lfs': return (this.lfs ??= new SandboxFs(this.opts.readDirs)).call(String(a[0]), a.slice(1));
      case 'ssh_open': {
        if (!ctx) return [null, 'sockets are only available to running scripts'];
        const s = new ScriptSocket(++this.nextSocket, 'tcp', this.opts.policy);
        this.sockets.set(s.id, s);
        ctx.sockets.add(s);
        const onWire = this.opts.trace ? (dir: '>' | '<', data?: Buffer, error?: string) => this.trace(ctx, s, dir, data, error) : undefined;
        return this.ssh.open(s, String(a[0]), Number(a[1]), Number(a[2]) || 30000, onWire);
      }
      case 'ssh': return this.ssh.call(String(a[0]), a.slice(1));
      // ---- crypto ----
      case 'parse_cert': {
        try {
          return [parseCertificate(bytes(a[0])) as unknown as LuaIn];
        } catch (e) {
          return [null, `cannot parse certificate: ${(e as Error).message}`];
        }
      }
      case 'digest': {
        const algo = DIGESTS[String(a[0]).toLowerCase()] ?? String(a[0]).toLowerCase();
        try {
          return [bin(createHash(algo).update(bytes(a[1])).digest())];
        } catch {
          return [null, `unsupported digest "${String(a[0])}"`];
        }
      }
      case 'hmac': {
        const algo = DIGESTS[String(a[0]).toLowerCase()] ?? String(a[0]).toLowerCase();
        return [bin(createHmac(algo, bytes(a[1])).update(bytes(a[2])).digest())];
      }
      case 'rand_bytes': return [bin(randomBytes(Math.max(0, Number(a[0]) | 0)))];
      case 'bn': return bignumOp(String(a[0]), a.slice(1));
      case 'cipher': {
        const [dir, algo, key, iv, data, padding] = a;
        try {
          const name = String(algo).toLowerCase();
          const ivb = bytes(iv);
          const c = dir === 'encrypt'
            ? createCipheriv(name, bytes(key), ivb.length ? ivb : null)
            : createDecipheriv(name, bytes(key), ivb.length ? ivb : null);
          c.setAutoPadding(padding === true);
          return [bin(Buffer.concat([c.update(bytes(data)), c.final()]))];
        } catch (e) {
          return [null, `${String(algo)}: ${(e as Error).message}`];
        }
      }
      case 'ciphers': return [getCiphers()];
      case 'digests': return [getHashes()];
      default:
        return [null, `prtip does not implement nmap primitive "${op}"`];
    }
  }

  /** nmap's --script-trace line: "NSE: TCP 198.18.0.1:40000 > 198.18.0.2:80 | bytes". */
  private trace(ctx: PrimitiveContext | undefined, s: ScriptSocket, dir: '>' | '<', data?: Buffer, error?: string): void {
    const i = s.info();
    const local = i ? `${i.localAddress}:${i.localPort}` : '?';
    const remote = i ? `${i.remoteAddress}:${i.remotePort}` : '?';
    const body = data ? traceText(data) : error ?? '';
    this.opts.log(`NSE: ${ctx?.scriptId ?? '?'} ${s.proto.toUpperCase()} ${local} ${dir} ${remote} | ${body}`);
  }

  /** nselib modules: NAME.lua in the library directories (read-only). */
  private readLib(name: string): [string, string] | [null, string] {
    const hit = this.libCache.get(name);
    if (hit) return hit;
    let out: [string, string] | [null, string] = [null, `no file ${name}.lua in ${this.opts.nselibDirs.join(', ')}`];
    if (/^[A-Za-z0-9_.-]+$/.test(name)) {
      for (const dir of this.opts.nselibDirs) {
        const path = join(dir, `${name.replace(/\./g, '/')}.lua`);
        if (existsSync(path)) {
          out = [path, readFileSync(path).toString('latin1')];
          break;
        }
      }
    }
    this.libCache.set(name, out);
    return out;
  }

  private allowedPath(path: string): string | undefined {
    const abs = resolve(path);
    return this.opts.readDirs.some((d) => abs === resolve(d) || abs.startsWith(resolve(d) + sep)) ? abs : undefined;
  }

  private readFile(path: string): [string] | [null, string] {
    const abs = this.allowedPath(path);
    if (!abs) return [null, `${path}: reading outside the script data directories is not allowed`];
    try {
      return [readFileSync(abs).toString('latin1')];
    } catch (e) {
      return [null, `${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`];
    }
  }

  /** nmap.fetchfile: a data file's path in the first directory that has it. */
  private fetchfile(name: string): [string] | [null] {
    if (isAbsolute(name) || name.split(/[\\/]/).includes('..')) return [null];
    for (const dir of this.opts.fetchDirs) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) return [p];
      } catch {
        // next directory
      }
    }
    return [null];
  }
}
