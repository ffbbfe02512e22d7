/**
 * The host side of three C modules nmap links into NSE, written for prtip:
 *  - `zlib` (lzlib's API, over node:zlib): inflate/deflate streams, compress/decompress, checksums;
 *  - `lfs` (LuaFileSystem, read-only): attributes, symlinkattributes, dir — only inside the
 *    script, nselib and data directories; everything that writes or changes directory is refused;
 *  - `libssh2` (nmap's binding): SSH sessions over script sockets (ssh-session.ts).
 * Lua's wrappers live in prelude-cmodules.ts; this file answers their `prim` calls.
 */
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { resolve, sep } from 'node:path';
import zlib from 'node:zlib';
import type { LuaIn } from './lua-vm.js';
import { SshError, SshSession } from './ssh-session.js';
import type { ScriptSocket } from './sockets.js';

const bin = (b: Buffer): string => b.toString('latin1');
const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : String(v ?? ''), 'latin1');

/** zlib window bits as lzlib reads them: 8–15 zlib, +16 gzip, +32 either, negative raw deflate. */
function inflateBuffer(data: Buffer, windowBits: number | undefined): Buffer {
  // flush what the stream has even when it is truncated, as a streaming inflater would
  const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  const wb = windowBits ?? 47;
  if (wb < 0) return zlib.inflateRawSync(data, { ...opts, windowBits: -wb });
  if (wb > 31) return zlib.unzipSync(data, opts);
  if (wb > 15) return zlib.gunzipSync(data, { ...opts, windowBits: wb - 16 });
  return zlib.inflateSync(data, { ...opts, windowBits: wb });
}

function deflateBuffer(data: Buffer, level: number | undefined, windowBits: number | undefined, memLevel: number | undefined, strategy: number | undefined): Buffer {
  const wb = windowBits ?? 15;
  const opts: zlib.ZlibOptions = { level: level ?? -1, memLevel: memLevel ?? 8, strategy: strategy ?? 0 };
  if (wb < 0) return zlib.deflateRawSync(data, { ...opts, windowBits: -wb });
  if (wb > 15) return zlib.gzipSync(data, { ...opts, windowBits: wb - 16 });
  return zlib.deflateSync(data, { ...opts, windowBits: wb });
}

function adler32(start: number, data: Buffer): number {
  let a = start & 0xffff;
  let b = (start >>> 16) & 0xffff;
  for (const c of data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function crc32(start: number, data: Buffer): number {
  let c = ~start >>> 0;
  for (const x of data) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

export function zlibOp(op: string, a: unknown[]): LuaIn[] {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  try {
    switch (op) {
      case 'inflate': return [bin(inflateBuffer(bytes(a[0]), num(a[1])))];
      case 'deflate': return [bin(deflateBuffer(bytes(a[0]), num(a[1]), num(a[2]), num(a[3]), num(a[4])))];
      case 'adler32': return [adler32(num(a[0]) ?? 1, bytes(a[1]))];
      case 'crc32': return [crc32(num(a[0]) ?? 0, bytes(a[1]))];
      default: return [null, `zlib: unknown operation ${op}`];
    }
  } catch (e) {
    // zlib's own words ("incorrect header check", "invalid stored block lengths"), as lzlib reports them
    return [null, (e as Error).message];
  }
}

// ---------------------------------------------------------------- lfs

const MODE: Array<[number, string]> = [
  [0o140000, 'socket'], [0o120000, 'link'], [0o100000, 'file'], [0o060000, 'block device'],
  [0o040000, 'directory'], [0o020000, 'char device'], [0o010000, 'named pipe'],
];

function permissions(mode: number): string {
  const rwx = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : '-';
  return s;
}

function attributesOf(st: Stats, target?: string): Record<string, LuaIn> {
  const mode = MODE.find(([m]) => (st.mode & 0o170000) === m)?.[1] ?? 'other';
  const t: Record<string, LuaIn> = {
    dev: st.dev, ino: st.ino, mode, nlink: st.nlink, uid: st.uid, gid: st.gid, rdev: st.rdev,
    access: Math.floor(st.atimeMs / 1000), modification: Math.floor(st.mtimeMs / 1000), change: Math.floor(st.ctimeMs / 1000),
    size: st.size, permissions: permissions(st.mode), blocks: st.blocks, blksize: st.blksize,
  };
  if (target !== undefined) t['target'] = target;
  return t;
}

/** LuaFileSystem over the allowed directories, read-only. */
export class SandboxFs {
  private readonly roots: string[];

  constructor(dirs: string[]) {
    this.roots = [...new Set(dirs.map((d) => { try { return realpathSync(d); } catch { return resolve(d); } }))];
  }

  /** The path when it lies inside an allowed directory (symlinks resolved), else why not. */
  private inside(path: string, followLast: boolean): { abs: string } | { error: string } {
    const abs = resolve(path);
    let real: string;
    try {
      // the final link itself is looked at (not followed) by symlinkattributes
      real = followLast ? realpathSync(abs) : resolve(realpathSync(resolve(abs, '..')), abs.split(sep).pop() ?? '');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { error: code === 'ENOENT' ? `cannot obtain information from file '${path}': No such file or directory` : (e as Error).message };
    }
    if (!this.roots.some((r) => real === r || real.startsWith(r + sep))) {
      return { error: `${path}: outside the script data directories (prtip's read-only sandbox)` };
    }
    return { abs: real };
  }

  call(op: string, a: unknown[]): LuaIn[] {
    const path = String(a[0] ?? '');
    switch (op) {
      case 'attributes': case 'symlinkattributes': {
        const link = op === 'symlinkattributes';
        const p = this.inside(path, !link);
        if ('error' in p) return [null, p.error, 2];
        try {
          const st = link ? lstatSync(p.abs) : statSync(p.abs);
          let target: string | undefined;
          if (link && st.isSymbolicLink()) {
            const t = this.inside(path, true);
            target = 'abs' in t ? t.abs : undefined;
          }
          return [attributesOf(st, target)];
        } catch (e) {
          return [null, `cannot obtain information from file '${path}': ${(e as Error).message}`, 2];
        }
      }
      case 'dir': {
        const p = this.inside(path, true);
        if ('error' in p) return [null, `cannot open ${path}: ${p.error}`];
        try {
          return [['.', '..', ...readdirSync(p.abs)]];
        } catch (e) {
          return [null, `cannot open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'Not a directory' : (e as Error).message}`];
        }
      }
      default:
        return [null, `lfs: unknown operation ${op}`];
    }
  }
}

// ---------------------------------------------------------------- libssh2

/** libssh2 sessions of running scripts, by id. */
export class SshSessions {
  private readonly sessions = new Map<number, SshSession>();
  private next = 0;

  /** Connects the socket (policy-checked), then runs the SSH handshake: [id] or [null, error]. */
  async open(sock: ScriptSocket, ip: string, port: number, timeoutMs: number, onWire?: (dir: '>' | '<', data?: Buffer, error?: string) => void): Promise<LuaIn[]> {
    const [ok, err] = await sock.connect(ip, port, 'tcp', timeoutMs);
    if (!ok) return [null, err];
    const s = new SshSession(sock, onWire);
    s.timeoutMs = timeoutMs;
    try {
      await s.handshake();
    } catch (e) {
      sock.close();
      return [null, 'Unable to complete libssh2 handshake.', (e as Error).message];
    }
    const id = ++this.next;
    this.sessions.set(id, s);
    return [id];
  }

  /** Forgets the sessions whose socket the engine closed (their script ended). */
  dropClosed(closed: Set<ScriptSocket>): void {
    for (const [id, s] of this.sessions) if (closed.has(s.sock)) this.sessions.delete(id);
  }

  async call(op: string, a: unknown[]): Promise<LuaIn[]> {
    const s = this.sessions.get(Number(a[0]));
    if (!s) return [null, `${op}: the SSH session is closed`];
    try {
      switch (op) {
        case 'hostkey_hash': {
          const h = s.hostkeyHash(a[1] === 'md5' ? 'md5' : 'sha1');
          return h ? [h] : [null, 'could not get hostkey hash'];
        }
        case 'set_timeout': s.timeoutMs = Math.max(1, Number(a[1]) || 0); return [true];
        case 'userauth_list': {
          const m = await s.userauthList(String(a[1] ?? ''));
          return m === null ? ['none_auth'] : [m.split(',').filter(Boolean)];
        }
        case 'userauth_password': return [await s.userauthPassword(String(a[1] ?? ''), String(a[2] ?? ''))];
        case 'userauth_publickey': return [await s.userauthPublickey(String(a[1] ?? ''), bytes(a[2]).toString('latin1'), String(a[3] ?? ''))];
        case 'publickey_canauth': return [await s.publickeyCanauth(String(a[1] ?? ''), bytes(a[2]))];
        case 'open_channel': return [await s.openChannel()];
        case 'channel_exec': return [await s.exec(Number(a[1]), String(a[2] ?? ''))];
        case 'channel_write': await s.write(Number(a[1]), bytes(a[2])); return [true];
        case 'channel_send_eof': await s.sendEof(Number(a[1])); return [true];
        case 'channel_read': case 'channel_read_stderr': {
          const d = await s.read(Number(a[1]), op === 'channel_read_stderr');
          return d ? [bin(d)] : [null];
        }
        case 'channel_eof': return [s.eof(Number(a[1]))];
        case 'channel_close': await s.closeChannel(Number(a[1])); return [true];
        case 'session_close':
          this.sessions.delete(Number(a[0]));
          await s.disconnect();
          return [true];
        default: return [null, `libssh2: unknown operation ${op}`];
      }
    } catch (e) {
      return [null, e instanceof SshError ? e.message : `${op}: ${(e as Error).message}`];
    }
  }
}
