/**
 * NseEngine: one Lua state running NSE scripts as coroutines, with Node's event loop doing
 * the waiting. A script's blocking call (connect, receive, sleep, condvar wait) yields its base
 * thread to this runner, which resumes it when the operation settles — many scripts against
 * many targets share one process without threads.
 *
 * Limits, each ending only the script that crosses it:
 *  - wall time per script per target (--script-timeout): its sockets are closed and it is
 *    never resumed again;
 *  - CPU time of one run between two blocking calls (a script looping forever), enforced by
 *    the instruction hook;
 *  - memory of the state (a script allocating without end gets Lua's "not enough memory").
 */
import { LUA_ERRMEM, LUA_OK, LUA_YIELD, LuaVm, type LuaIn, type LuaThreadRef } from './lua-vm.js';
import { PRELUDE } from './prelude.js';
import { LPEG_LUA } from './lpeg.js';
import { NsePrimitives, type PrimitiveContext, type TargetPolicy } from './primitives.js';

const YIELD = '\0NSE_YIELD';
const TRACE = process.env['PRTIP_NSE_TRACE'] === '1';

export interface NseEngineOptions {
  /** Directories searched for nselib modules, in order. */
  nselibDirs: string[];
  /** Directories scripts may read files from (nselib/data, --datadir). */
  readDirs: string[];
  /** nmap.fetchfile's search path (datadir first). */
  fetchDirs: string[];
  /** Bytes the Lua state may hold. */
  memoryMax: number;
  /** Wall time of one script against one target (ms). */
  scriptTimeoutMs: number;
  /** CPU time a script may run without blocking (ms). */
  cpuSliceMs: number;
  verbosity: number;
  debugging: number;
  /** --script-trace: log every byte scripts send and receive. */
  trace?: boolean;
  /** Nmap's -T level, for nmap.timing_level(). */
  timing: number;
  /** --script-args, parsed. */
  args: LuaIn;
  /** Which addresses and ports scripts may connect to. */
  policy: TargetPolicy;
  /** Where nmap.log_write and engine warnings go. */
  log: (line: string) => void;
}

export type ScriptOutcome =
  | { kind: 'skipped' }
  | { kind: 'ok'; output?: string; structured?: StructuredNode }
  | { kind: 'error'; message: string; quiet: boolean }
  | { kind: 'stopped'; message: string };

/** Structured output as the Lua side encodes it: a value, or a table of keyed/unkeyed items. */
export interface StructuredNode {
  k?: string;
  v?: string;
  t?: StructuredNode[];
}

interface Instance extends PrimitiveContext {
  deadline: number;
  stopped?: string;
  threads: Set<LuaThreadRef>;
  describe: string;
}

export class NseEngine {
  private readonly pending = new Map<number, Promise<LuaIn[]>>();
  private nextOp = 0;
  private current: Instance | undefined;
  private readonly prims: NsePrimitives;

  private constructor(
    private readonly vm: LuaVm,
    private readonly opts: NseEngineOptions,
  ) {
    this.prims = new NsePrimitives(opts, (ctx, co) => this.startWorker(ctx as Instance, co));
  }

  static async create(opts: NseEngineOptions): Promise<NseEngine> {
    const vm = await LuaVm.create({ memoryMax: opts.memoryMax });
    const engine = new NseEngine(vm, opts);
    vm.setPrimitive('__prim', (L) => engine.dispatch(L));
    try {
      vm.pushBytes(vm.L, Buffer.from(LPEG_LUA, 'utf8'));
      vm.setGlobal(vm.L, '__lpeg_src');
      vm.runMain(PRELUDE, '=prtip-prelude');
      engine.callMain('__configure', [
        { verbosity: opts.verbosity, debugging: opts.debugging, timing: opts.timing, intensity: 7, af: 'inet' },
        opts.args,
      ]);
    } catch (e) {
      vm.close();
      throw e;
    }
    return engine;
  }

  get memoryUsed(): number {
    return this.vm.used;
  }

  setAddressFamily(af: 'inet' | 'inet6'): void {
    this.callMain('__configure', [{ af }, this.opts.args]);
  }

  /** Compiles a script once; its rules and dependencies, or why it cannot run. */
  define(id: string, path: string, source: string, byName = false): { rules: string[]; dependencies: string[] } | { error: string } {
    const out = this.callMain('__define', [id, path, Buffer.from(source, 'utf8'), byName], 2);
    if (typeof out[0] !== 'string') return { error: String(out[1] ?? 'cannot load script') };
    return {
      rules: out[0] ? out[0].split(',') : [],
      dependencies: typeof out[1] === 'string' && out[1] ? out[1].split(',') : [],
    };
  }

  /** Tells scripts about a target host (its ports, services, names). */
  setHost(desc: LuaIn): void {
    this.callMain('__host', [desc]);
  }

  /** Runs a script's rule, then (when it matches) its action, against a host/port (or none). */
  async run(id: string, rule: string, target?: { ip: string; port?: number; proto?: string }): Promise<ScriptOutcome> {
    const describe = target ? `${target.ip}${target.port !== undefined ? `:${target.port}` : ''}` : rule;
    const inst: Instance = {
      scriptId: id,
      deadline: Date.now() + this.opts.scriptTimeoutMs,
      threads: new Set(),
      sockets: new Set(),
      describe,
      actionStarted: false,
    };
    const t = this.vm.newThread();
    inst.threads.add(t);
    this.vm.pushGlobal(t.L, '__run');
    for (const a of [id, rule, target?.ip, target?.port, target?.proto] as LuaIn[]) this.vm.push(t.L, a);
    try {
      const res = await this.drive(inst, t, 5);
      if (res.kind !== 'done') return res.kind === 'stopped' ? { kind: 'stopped', message: res.message } : { kind: 'error', message: res.message, quiet: false };
      const [status, text, json] = res.values;
      if (status === undefined) return { kind: 'skipped' };
      if (status === 'quiet') return { kind: 'error', message: String(text ?? ''), quiet: true };
      if (status === 'error') {
        const message = utf8(String(text ?? ''));
        // the action's own xpcall sees these first: they are the engine's stops, not script bugs
        if (/^not enough memory/.test(message)) return { kind: 'stopped', message: `stopped: out of memory (limit ${Math.round(this.opts.memoryMax / 2 ** 20)} MB)` };
        if (message.includes('stopped: ')) return { kind: 'stopped', message: message.slice(message.indexOf('stopped: ')).split('\n')[0]! };
        return { kind: 'error', message, quiet: false };
      }
      const out: ScriptOutcome = { kind: 'ok' };
      if (typeof text === 'string') out.output = utf8(text);
      if (typeof json === 'string') out.structured = JSON.parse(utf8(json)) as StructuredNode;
      return out;
    } finally {
      this.finish(inst);
    }
  }

  close(): void {
    this.vm.close();
  }

  // ---- driving threads ----

  /**
   * Resumes a thread until it returns, fails or is stopped. `nargs` values are already on its
   * stack. Blocking calls are awaited here, bounded by the instance's deadline.
   */
  private async drive(inst: Instance, t: LuaThreadRef, nargs: number): Promise<
    { kind: 'done'; values: unknown[] } | { kind: 'error'; message: string } | { kind: 'stopped'; message: string }
  > {
    let n = nargs;
    for (;;) {
      if (inst.stopped) return { kind: 'stopped', message: inst.stopped };
      if (this.vm.isClosed) return { kind: 'stopped', message: 'stopped: the engine closed' };
      this.current = inst;
      const now = Date.now();
      const sliceEnd = now + this.opts.cpuSliceMs;
      this.vm.deadline = Math.min(inst.deadline, sliceEnd);
      this.vm.deadlineMessage = inst.deadline <= sliceEnd
        ? `stopped: exceeded --script-timeout (${fmtMs(this.opts.scriptTimeoutMs)})`
        : `stopped: ran ${fmtMs(this.opts.cpuSliceMs)} of CPU without waiting on the network (endless loop?)`;
      this.vm.tripped = undefined;
      // scripts' nested coroutines find their script through this
      this.vm.push(this.vm.L, t);
      this.vm.setGlobal(this.vm.L, '__running');
      const { status, nres } = this.vm.resume(t.L, n);
      this.vm.deadline = Infinity;
      this.current = undefined;
      if (this.vm.tripped && (status === LUA_YIELD || status !== LUA_OK)) {
        this.vm.setTop(t.L, 0);
        inst.stopped = this.vm.tripped;
        return { kind: 'stopped', message: inst.stopped };
      }
      if (status === LUA_OK) {
        const values: unknown[] = [];
        const base = this.vm.top(t.L) - nres;
        for (let i = 1; i <= nres; i++) values.push(this.vm.read(t.L, base + i));
        this.vm.setTop(t.L, 0);
        return { kind: 'done', values };
      }
      if (status !== LUA_YIELD) {
        const message = this.vm.errorOf(t.L);
        this.vm.setTop(t.L, 0);
        if (status === LUA_ERRMEM || /not enough memory/.test(message)) {
          return { kind: 'stopped', message: `stopped: out of memory (limit ${Math.round(this.opts.memoryMax / 2 ** 20)} MB)` };
        }
        if (message.includes('stopped: ')) return { kind: 'stopped', message: message.slice(message.indexOf('stopped: ')) };
        return { kind: 'error', message };
      }
      const top = this.vm.top(t.L);
      const first = this.vm.read(t.L, top - nres + 1);
      const opId = this.vm.read(t.L, top - nres + 2);
      this.vm.setTop(t.L, 0);
      if (first !== YIELD || typeof opId !== 'number') {
        return { kind: 'error', message: 'script yielded unexpectedly and cannot be resumed' };
      }
      const op = this.pending.get(opId);
      this.pending.delete(opId);
      if (!op) return { kind: 'error', message: 'internal: unknown operation' };
      const results = await this.untilDeadline(inst, op);
      if (results === undefined) {
        inst.stopped = `stopped: exceeded --script-timeout (${fmtMs(this.opts.scriptTimeoutMs)})`;
        return { kind: 'stopped', message: inst.stopped };
      }
      for (const v of results) this.vm.push(t.L, v);
      n = results.length;
    }
  }

  private async untilDeadline(inst: Instance, op: Promise<LuaIn[]>): Promise<LuaIn[] | undefined> {
    const left = inst.deadline - Date.now();
    if (left <= 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), left);
    });
    try {
      return await Promise.race([op, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** stdnse.new_thread: a worker runs beside its script, sharing its deadline and sockets. */
  private startWorker(inst: Instance, co: LuaThreadRef): void {
    inst.threads.add(co);
    // Started on the next turn: the creating thread is still running inside its resume.
    void new Promise<void>((r) => setImmediate(r)).then(() => this.drive(inst, co, 0)).then((res) => {
      if (res.kind === 'error' && this.opts.debugging > 0) this.opts.log(`NSE: ${inst.scriptId} worker against ${inst.describe} failed: ${res.message}`);
    });
  }

  private finish(inst: Instance): void {
    inst.stopped ??= 'finished';
    this.prims.closeSockets(inst);
    for (const t of inst.threads) {
      if (!this.vm.isClosed) this.callMain('__finished', [t]);
      this.vm.release(t);
    }
    inst.threads.clear();
  }

  // ---- primitives ----

  /** The one C function Lua calls into: `__prim(op, ...)`. Never throws into Lua. */
  private dispatch(L: number): number {
    const vm = this.vm;
    const top = vm.top(L);
    const op = vm.toBytes(L, 1) ?? '';
    const args: unknown[] = [];
    for (let i = 2; i <= top; i++) args.push(vm.read(L, i));
    let result: LuaIn[] | Promise<LuaIn[]>;
    if (TRACE && op !== 'clock' && op !== 'log') process.stderr.write(`prim ${op} ${args.map((a) => (typeof a === 'string' ? JSON.stringify(a.slice(0, 40)) : String(a))).join(' ')}\n`);
    try {
      result = this.prims.call(op, args, this.current);
    } catch (e) {
      result = [null, (e as Error).message];
    }
    if (result instanceof Promise) {
      const id = ++this.nextOp;
      this.pending.set(id, result.catch((e: Error) => [null, e.message]));
      vm.push(L, YIELD);
      vm.push(L, id);
      return 2;
    }
    for (const v of result) vm.push(L, v);
    return result.length;
  }

  /** Calls a global function on the main thread (no yields), returning `nres` results. */
  private callMain(name: string, args: LuaIn[], nres = 0): unknown[] {
    const t = this.vm.newThread();
    try {
      this.vm.pushGlobal(t.L, name);
      for (const a of args) this.vm.push(t.L, a);
      const { status, nres: got } = this.vm.resume(t.L, args.length);
      if (status !== LUA_OK) throw new Error(`${name}: ${this.vm.errorOf(t.L)}`);
      const out: unknown[] = [];
      const base = this.vm.top(t.L) - got;
      for (let i = 1; i <= Math.min(nres, got); i++) out.push(this.vm.read(t.L, base + i));
      return out;
    } finally {
      this.vm.release(t);
    }
  }
}

function utf8(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
