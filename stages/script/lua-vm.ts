/**
 * A Lua 5.4 state inside wasmoon's WebAssembly build, driven through the raw C API.
 *
 * wasmoon's own value bridge decodes every Lua string as UTF-8, which corrupts the binary
 * strings NSE libraries pass around (SSH packets, TLS records, DER certificates). So this
 * module talks to the C API directly: strings cross as "byte strings" (JS strings whose every
 * char code is one byte, i.e. latin1), never re-encoded. It also owns the allocator (for the
 * memory cap) and the instruction hook (for the CPU budget).
 */
import { LuaFactory } from 'wasmoon';

/** Lua status codes (lua.h). */
export const LUA_OK = 0;
export const LUA_YIELD = 1;
export const LUA_ERRMEM = 4;
export const LUA_REGISTRYINDEX = -1000000 - 1000;
const LUA_MASKCOUNT = 8;
const LUA_TNIL = 0, LUA_TBOOLEAN = 1, LUA_TNUMBER = 3, LUA_TSTRING = 4, LUA_TTABLE = 5, LUA_TTHREAD = 8;

/** A value JS hands to Lua: byte strings, numbers, booleans, nil, arrays and plain objects (tables). */
export type LuaIn = string | number | boolean | null | undefined | Buffer | LuaIn[] | { [k: string]: LuaIn } | LuaThreadRef;

/** A Lua thread (coroutine) JS holds on to: anchored in the registry until released. */
export interface LuaThreadRef {
  kind: 'thread';
  L: number;
  ref: number;
}

/** A primitive Lua calls into JS: it gets the arguments and returns values (or a promise: the caller yields). */
export type Primitive = (args: unknown[], L: number) => unknown[] | Promise<unknown[]>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Module = any;

let modulePromise: Promise<Module> | undefined;

/** One wasm instance per process: states share it (each has its own allocator budget). */
async function luaModule(): Promise<Module> {
  modulePromise ??= new LuaFactory().getLuaModule().then((lw) => lw.module);
  return modulePromise;
}

export class LuaVm {
  /** Bytes the state holds now. */
  used = 0;
  /** Highest `used` seen. */
  peak = 0;
  /** The instruction hook raises an error once Date.now() passes this (Infinity: no limit). */
  deadline = Infinity;
  /** Error text the hook raises. */
  deadlineMessage = 'time budget exceeded';
  /** Set by the hook when it stopped a thread: the message to report. */
  tripped: string | undefined;
  private hookTicks = 0;
  private readonly pointers: number[] = [];
  private readonly lenPtr: number;
  private closed = false;

  private constructor(
    readonly m: Module,
    readonly L: number,
    readonly memoryMax: number,
  ) {
    this.lenPtr = m._malloc(8);
  }

  static async create(opts: { memoryMax: number }): Promise<LuaVm> {
    const m = await luaModule();
    let vm: LuaVm | undefined;
    // Allocations before the LuaVm object exists (lua_newstate's own) count here first.
    const early = { used: 0, peak: 0, memoryMax: opts.memoryMax };
    const alloc = m.addFunction((_ud: number, ptr: number, oldSize: number, newSize: number) => {
      const self = vm ?? early;
      if (newSize === 0) {
        if (ptr) {
          self.used -= oldSize;
          m._free(ptr);
        }
        return 0;
      }
      const delta = ptr ? newSize - oldSize : newSize;
      // Refusing makes Lua collect garbage and retry, then raise "not enough memory" in the
      // thread that asked: the script that allocates without end is the one stopped.
      if (delta > 0 && self.used + delta > self.memoryMax) return 0;
      const out = m._realloc(ptr, newSize);
      if (out) {
        self.used += delta;
        if (self.used > self.peak) self.peak = self.used;
      }
      return out;
    }, 'iiiii');
    const L = m._lua_newstate(alloc, 0);
    if (!L) throw new Error('cannot create a Lua state');
    vm = new LuaVm(m, L, opts.memoryMax);
    vm.used = early.used;
    vm.peak = early.peak;
    vm.pointers.push(alloc);
    m._luaL_openlibs(L);
    const hook = m.addFunction((hL: number) => {
      if (++vm!.hookTicks < 8 && vm!.deadline === Infinity) return;
      vm!.hookTicks = 0;
      if (Date.now() > vm!.deadline) {
        // Yielding cannot be caught by the script's pcall, so a loop that swallows errors
        // still stops; where no yield is possible (inside a C call) an error is raised.
        vm!.tripped = vm!.deadlineMessage;
        if (m._lua_isyieldable(hL)) {
          m._lua_yieldk(hL, 0, 0, 0);
          return;
        }
        vm!.pushBytes(hL, vm!.deadlineMessage);
        m._lua_error(hL);
      }
    }, 'vii');
    vm.pointers.push(hook);
    // Threads created later inherit the main thread's hook (lua_newthread copies it).
    m._lua_sethook(L, hook, LUA_MASKCOUNT, 1000);
    return vm;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.m._lua_close(this.L);
    this.m._free(this.lenPtr);
    for (const p of this.pointers) this.m.removeFunction(p);
  }

  // ---- values ----

  pushBytes(L: number, s: string | Buffer): void {
    const buf = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    const p = this.m._malloc(buf.length + 1);
    try {
      this.m.HEAPU8.set(buf, p);
      this.m._lua_pushlstring(L, p, buf.length);
    } finally {
      this.m._free(p);
    }
  }

  /** Lua string (or number) at idx as a byte string; undefined for other types. */
  toBytes(L: number, idx: number): string | undefined {
    const t = this.m._lua_type(L, idx);
    if (t !== LUA_TSTRING && t !== LUA_TNUMBER) return undefined;
    const p = this.m._lua_tolstring(L, idx, this.lenPtr);
    if (!p) return undefined;
    const len = this.m.HEAPU32[this.lenPtr >> 2];
    return Buffer.from(this.m.HEAPU8.subarray(p, p + len)).toString('latin1');
  }

  push(L: number, v: LuaIn): void {
    const m = this.m;
    if (v === null || v === undefined) m._lua_pushnil(L);
    else if (typeof v === 'boolean') m._lua_pushboolean(L, v ? 1 : 0);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) m._lua_pushinteger(L, BigInt(v));
      else m._lua_pushnumber(L, v);
    } else if (typeof v === 'string' || Buffer.isBuffer(v)) this.pushBytes(L, v);
    else if (Array.isArray(v)) {
      m._lua_createtable(L, v.length, 0);
      v.forEach((x, i) => {
        this.push(L, x);
        m._lua_rawseti(L, -2, BigInt(i + 1));
      });
    } else if ((v as LuaThreadRef).kind === 'thread' && typeof (v as LuaThreadRef).ref === 'number') {
      m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt((v as LuaThreadRef).ref));
    } else {
      const entries = Object.entries(v as Record<string, LuaIn>);
      m._lua_createtable(L, 0, entries.length);
      for (const [k, x] of entries) {
        if (x === undefined) continue;
        // "1", "2"… are array slots (script-args' bare words), other keys strings
        if (/^[1-9]\d{0,8}$/.test(k)) m._lua_pushinteger(L, BigInt(k));
        else this.pushBytes(L, k);
        this.push(L, x);
        m._lua_rawset(L, -3);
      }
    }
  }

  /** A value read from the stack: strings as byte strings, threads anchored, tables not read. */
  read(L: number, idx: number): unknown {
    const m = this.m;
    switch (m._lua_type(L, idx)) {
      case LUA_TNIL: return undefined;
      case LUA_TBOOLEAN: return m._lua_toboolean(L, idx) !== 0;
      case LUA_TNUMBER: return m._lua_tonumberx(L, idx, 0);
      case LUA_TSTRING: return this.toBytes(L, idx);
      case LUA_TTHREAD: {
        const tL = m._lua_tothread(L, idx);
        m._lua_pushvalue(L, idx);
        const ref = m._luaL_ref(L, LUA_REGISTRYINDEX);
        return { kind: 'thread', L: tL, ref } satisfies LuaThreadRef;
      }
      case LUA_TTABLE: return { kind: 'table' };
      default: return undefined;
    }
  }

  // ---- code ----

  /** Registers `fn` as a global C function `name` (it gets its arguments, returns values or yields). */
  setPrimitive(name: string, fn: (L: number) => number): void {
    const p = this.m.addFunction(fn, 'ii');
    this.pointers.push(p);
    this.m._lua_pushcclosure(this.L, p, 0);
    this.setGlobal(this.L, name);
  }

  setGlobal(L: number, name: string): void {
    const p = this.cString(name);
    try {
      this.m._lua_setglobal(L, p);
    } finally {
      this.m._free(p);
    }
  }

  getGlobal(L: number, name: string): number {
    const p = this.cString(name);
    try {
      return this.m._lua_getglobal(L, p);
    } finally {
      this.m._free(p);
    }
  }

  private cString(s: string): number {
    const buf = Buffer.from(`${s}\0`, 'utf8');
    const p = this.m._malloc(buf.length);
    this.m.HEAPU8.set(buf, p);
    return p;
  }

  /** Loads text source (binary chunks refused: mode "t") and runs it on the main thread. */
  runMain(source: string, chunkName: string): void {
    const status = this.load(this.L, source, chunkName);
    if (status !== LUA_OK) throw new Error(this.popError(this.L));
    const rc = this.m._lua_pcallk(this.L, 0, 0, 0, 0, 0);
    if (rc !== LUA_OK) throw new Error(this.popError(this.L));
  }

  load(L: number, source: string, chunkName: string): number {
    const src = Buffer.from(source, 'utf8');
    const p = this.m._malloc(src.length + 1);
    const name = this.cString(chunkName);
    const mode = this.cString('t');
    try {
      this.m.HEAPU8.set(src, p);
      return this.m._luaL_loadbufferx(L, p, src.length, name, mode);
    } finally {
      this.m._free(p);
      this.m._free(name);
      this.m._free(mode);
    }
  }

  popError(L: number): string {
    const msg = this.toBytes(L, -1) ?? 'error object is not a string';
    this.m._lua_settop(L, -2);
    return Buffer.from(msg, 'latin1').toString('utf8');
  }

  // ---- threads ----

  /** A new thread, anchored in the registry; the caller pushes a function onto it and resumes. */
  newThread(): LuaThreadRef {
    const tL = this.m._lua_newthread(this.L);
    const ref = this.m._luaL_ref(this.L, LUA_REGISTRYINDEX);
    return { kind: 'thread', L: tL, ref };
  }

  release(t: LuaThreadRef): void {
    if (this.closed) return;
    this.m._luaL_unref(this.L, LUA_REGISTRYINDEX, t.ref);
  }

  /** Pushes the value of global `name` (a function) onto thread L. */
  pushGlobal(L: number, name: string): number {
    return this.getGlobal(L, name);
  }

  resume(L: number, nargs: number): { status: number; nres: number } {
    this.m.HEAP32[this.lenPtr >> 2] = 0;
    const status = this.m._lua_resume(L, 0, nargs, this.lenPtr);
    return { status, nres: this.m.HEAP32[this.lenPtr >> 2] };
  }

  top(L: number): number {
    return this.m._lua_gettop(L);
  }

  setTop(L: number, n: number): void {
    this.m._lua_settop(L, n);
  }

  yield(L: number, nresults: number): number {
    return this.m._lua_yieldk(L, nresults, 0, 0);
  }

  /** The traceback-free message of a failed thread (its error object on top). */
  errorOf(L: number): string {
    const msg = this.toBytes(L, -1);
    return msg === undefined ? 'error object is not a string' : Buffer.from(msg, 'latin1').toString('utf8');
  }
}
