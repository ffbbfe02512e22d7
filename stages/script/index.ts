/**
 * stages/script: Nmap's NSE scripts (-sC, --script), run unmodified in prtip's Lua sandbox.
 *
 * Consumes what earlier stages found (host, port and service records), passes every record
 * through, and emits `script` records: prerule scripts when the stream starts, hostrule and
 * portrule scripts per host once the input is complete (services known), postrule scripts
 * last. Scripts and their libraries are read at run time from the installed Nmap
 * (DATADIR/scripts, DATADIR/nselib); nothing of Nmap's is copied into prtip.
 */
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServicesTable, resolveDatadir } from '../datafiles/index.js';
import {
  extendTrailer,
  isTrailer,
  stageStream,
  UserInputError,
  type AnyRecord,
  type EndTrailer,
  type HostRecord,
  type PortRecord,
  type ScanHeader,
  type ScriptElement,
  type ScriptRecord,
  type ServiceRecord,
} from '../records/index.js';
import { NseEngine, type ScriptOutcome, type StructuredNode } from './engine.js';
import type { LuaIn } from './lua-vm.js';
import { parseScriptArgs, readScriptDb, selectScripts, type SelectedScript } from './selection.js';

export { NseEngine } from './engine.js';
export { selectScripts, readScriptDb, parseScriptArgs } from './selection.js';
export { scriptHelp } from './script-help.js';

export interface ScriptOptions {
  /** --script value; -sC is "default". */
  scripts: string;
  /** --script-args text. */
  scriptArgs?: string;
  /** --script-args-file: a file of more arguments (one or more lines, same syntax). */
  scriptArgsFile?: string;
  datadir?: string;
  /** Wall time per script per target (ms). */
  scriptTimeoutMs: number;
  /** CPU time a script may run without blocking on the network (ms). */
  cpuSliceMs: number;
  /** Bytes the Lua state may use. */
  memoryMax: number;
  /** Script instances running at once. */
  maxParallel: number;
  verbosity: number;
  debugging: number;
  /** --script-trace: every byte scripts send and receive, through onLog. */
  trace?: boolean;
  timing: number;
  args?: string[];
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
  /** Where script log lines (stdnse.debug, print) go; default: onWarning. */
  onLog?: (line: string) => void;
}

export const SCRIPT_DEFAULTS: Omit<ScriptOptions, 'scripts'> = {
  scriptTimeoutMs: 10 * 60_000,
  cpuSliceMs: 5_000,
  memoryMax: 512 * 2 ** 20,
  maxParallel: 32,
  verbosity: 0,
  debugging: 0,
  timing: 3,
};

interface HostFacts {
  ip: string;
  host?: HostRecord;
  ports: Map<string, PortRecord>;
  services: Map<string, ServiceRecord>;
}

interface Loaded {
  sel: SelectedScript;
  rules: Set<string>;
  dependencies: string[];
  level: number;
}

const key = (port: number, proto: string) => `${port}/${proto}`;

/** Script arguments from --script-args and --script-args-file, as one table. */
export function scriptArguments(opts: Pick<ScriptOptions, 'scriptArgs' | 'scriptArgsFile'>): Record<string, unknown> {
  const parts: string[] = [];
  if (opts.scriptArgsFile) {
    try {
      parts.push(readFileSync(opts.scriptArgsFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join(','));
    } catch (e) {
      throw new UserInputError(`cannot read --script-args-file "${opts.scriptArgsFile}": ${(e as Error).message}`);
    }
  }
  if (opts.scriptArgs) parts.push(opts.scriptArgs);
  return parseScriptArgs(parts.filter(Boolean).join(','));
}

function elements(node: StructuredNode | undefined): ScriptElement[] | undefined {
  if (!node?.t) return undefined;
  const conv = (n: StructuredNode): ScriptElement => {
    const e: ScriptElement = {};
    if (n.k !== undefined) e.key = n.k;
    if (n.t) e.table = n.t.map(conv);
    else e.value = n.v ?? '';
    return e;
  };
  return node.t.map(conv);
}

/** nmap's "Host is up" facts scripts read as host.times (microseconds → seconds). */
function hostTimes(ports: PortRecord[]): LuaIn {
  const rtts = ports.map((p) => p.rtt).filter((r): r is number => r !== null);
  const srtt = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length / 1000 : 0;
  return { srtt, rttvar: srtt / 2, timeout: Math.max(0.1, srtt * 4) };
}

function binIp(ip: string): string {
  if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number)).toString('latin1');
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(words.flatMap((w) => { const n = parseInt(w || '0', 16); return [n >> 8, n & 255]; })).toString('latin1');
}

export function scriptRecords(options: Partial<ScriptOptions> & Pick<ScriptOptions, 'scripts'>) {
  const opts: ScriptOptions = { ...SCRIPT_DEFAULTS, ...options };
  const datadir = resolveDatadir(opts.datadir);
  const scriptDir = join(datadir, 'scripts');
  // Selection and arguments are checked before any record flows: a bad --script fails fast.
  const selected = selectScripts(opts.scripts, scriptDir, readScriptDb(scriptDir));
  if (selected.length === 0) throw new UserInputError(`--script "${opts.scripts}" selects no script`);
  const args = scriptArguments(opts);
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`${m}\n`));
  const log = opts.onLog ?? warn;

  return async function* script(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const stageStart = Date.now();
    const hosts = new Map<string, HostFacts>();
    const counters = { scripts: selected.length, ran: 0, output: 0, errors: 0, stopped: 0, refused: 0, unloadable: 0 };
    const factsOf = (ip: string): HostFacts => {
      let h = hosts.get(ip);
      if (!h) {
        h = { ip, ports: new Map(), services: new Map() };
        hosts.set(ip, h);
      }
      return h;
    };
    const engine = await NseEngine.create({
      nselibDirs: [join(datadir, 'nselib')],
      readDirs: [datadir, join(datadir, 'nselib'), scriptDir],
      fetchDirs: [datadir, join(datadir, 'nselib', 'data'), join(datadir, 'scripts')],
      memoryMax: opts.memoryMax,
      scriptTimeoutMs: opts.scriptTimeoutMs,
      cpuSliceMs: opts.cpuSliceMs,
      verbosity: opts.verbosity,
      debugging: opts.debugging,
      trace: opts.trace === true,
      timing: opts.timing,
      args: args as LuaIn,
      // Scripts may reach only what this scan targets: a host it saw, on a port it probed.
      policy: (ip, port, proto) => {
        const h = hosts.get(ip);
        if (h && h.ports.has(key(port, proto))) return undefined;
        counters.refused++;
        const why = `connect to ${ip.includes(':') ? `[${ip}]` : ip}:${port}/${proto} refused: not a target of this scan`;
        warn(`NSE: ${why}`);
        return why;
      },
      log,
    });
    let trailer: EndTrailer | undefined;
    try {
      // Compile every selected script once — a tick at a time, so the scan upstream runs
      // meanwhile (its records keep flowing; port scripts wait for this only when they start).
      const sources = selected.map((sel) => {
        try {
          return readFileSync(sel.path, 'utf8');
        } catch (e) {
          throw new UserInputError(`cannot read script ${sel.path}: ${(e as Error).message}`);
        }
      });
      const anyPrerule = sources.some((src) => /\bprerule\s*=/.test(src));
      const phase = (what: string) => { if (opts.debugging > 1) log(`NSE: ${what} at +${((Date.now() - stageStart) / 1000).toFixed(2)} s (process +${process.uptime().toFixed(2)} s)`); };
      const loaded = new Map<string, Loaded>();
      let levels: number[] = [];
      const ready = (async () => {
        for (const [i, sel] of selected.entries()) {
          await new Promise<void>((r) => setImmediate(r));
          const def = engine.define(sel.id, sel.path, sources[i]!, sel.byName);
          if ('error' in def) {
            counters.unloadable++;
            warn(`NSE: ${sel.id} cannot run: ${def.error}`);
            continue;
          }
          loaded.set(sel.id, { sel, rules: new Set(def.rules), dependencies: def.dependencies, level: 0 });
        }
        phase(`${loaded.size} scripts loaded`);
        // Runlevels: a script runs after the selected scripts it depends on.
        const levelOf = (id: string, seen = new Set<string>()): number => {
          const l = loaded.get(id);
          if (!l || seen.has(id)) return 0;
          seen.add(id);
          return l.dependencies.reduce((m, d) => (loaded.has(d) ? Math.max(m, levelOf(d, seen) + 1) : m), 0);
        };
        for (const l of loaded.values()) l.level = levelOf(l.sel.id);
        levels = [...new Set([...loaded.values()].map((l) => l.level))].sort((a, b) => a - b);
      })();

      const outcome = (id: string, scope: ScriptRecord['scope'], out: ScriptOutcome, target?: { ip: string; port?: number; proto?: string }, startedAt?: number): ScriptRecord | undefined => {
        const where = target ? `${target.ip}${target.port !== undefined ? `:${target.port}/${target.proto}` : ''}` : scope;
        if (out.kind === 'skipped') return undefined;
        if (opts.debugging > 1 && startedAt !== undefined) log(`NSE: Finished ${id} against ${where} (${((Date.now() - startedAt) / 1000).toFixed(2)} s).`);
        counters.ran++;
        let output: string | undefined;
        let elems: ScriptElement[] | undefined;
        if (out.kind === 'stopped') {
          counters.stopped++;
          warn(`NSE: ${id} against ${where} ${out.message}; the scan goes on`);
          return undefined;
        }
        if (out.kind === 'error') {
          if (out.quiet) {
            if (opts.debugging > 0) log(`NSE: ${id} against ${where} ended: ${out.message}`);
            return undefined;
          }
          counters.errors++;
          if (opts.debugging > 0) log(`NSE: ${id} against ${where} threw an error!\n${out.message}`);
          // nmap's words for a failed script, shown as its output
          output = 'ERROR: Script execution failed (use -d to debug)';
        } else {
          output = out.output;
          elems = elements(out.structured);
        }
        if (output === undefined || (output === '' && !elems)) return undefined;
        counters.output++;
        const rec: ScriptRecord = { type: 'script', id, scope, output };
        if (target) {
          rec.ip = target.ip;
          if (target.port !== undefined) {
            rec.port = target.port;
            rec.proto = target.proto as ScriptRecord['proto'];
          }
        }
        if (elems) rec.elements = elems;
        return rec;
      };

      /** Runs tasks with at most maxParallel at once; results come back in task order. */
      const pool = async <T>(tasks: Array<() => Promise<T>>): Promise<T[]> => {
        const results: T[] = new Array(tasks.length);
        let next = 0;
        const worker = async () => {
          while (next < tasks.length && !opts.signal?.aborted) {
            const i = next++;
            results[i] = await tasks[i]!();
          }
        };
        await Promise.all(Array.from({ length: Math.min(opts.maxParallel, tasks.length) }, worker));
        return results.filter((r) => r !== undefined);
      };

      const runPhase = async (rule: 'prerule' | 'postrule'): Promise<ScriptRecord[]> => {
        await ready;
        const out: ScriptRecord[] = [];
        for (const level of levels) {
          const tasks = [...loaded.values()].filter((l) => l.level === level && l.rules.has(rule))
            .map((l) => async () => outcome(l.sel.id, rule, await engine.run(l.sel.id, l.sel.forced ? `forced:${rule}` : rule)));
          for (const r of await pool(tasks)) if (r) out.push(r);
        }
        return out;
      };

      // Host tables as scripts see them (rebuilt when a port's service arrives).
      const services = loadServicesTable(opts.datadir);
      const describeHost = (h: HostFacts): LuaIn => {
        const ports = [...h.ports.values()].sort((a, b) => (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : a.port - b.port));
        return {
          ip: h.ip,
          name: h.host?.hostname ?? '',
          targetname: h.host?.hostname,
          bin_ip: binIp(h.ip),
          reason: h.host?.reason ?? '',
          times: hostTimes(ports),
          ports: ports.map((p) => {
            const svc = h.services.get(key(p.port, p.proto));
            const name = svc?.name ?? services.serviceName(p.port, p.proto) ?? 'unknown';
            return {
              number: p.port, protocol: p.proto, state: p.state, reason: p.reason, reason_ttl: p.ttl ?? 0, service: name,
              version: {
                name, name_confidence: svc?.conf ?? 3, product: svc?.product, version: svc?.version, extrainfo: svc?.extrainfo,
                hostname: svc?.hostname, ostype: svc?.ostype, devicetype: svc?.devicetype,
                service_tunnel: svc?.tunnel === 'ssl' ? 'ssl' : 'none', service_dtype: svc ? (svc.method === 'probed' ? 'probed' : 'table') : 'table',
                cpe: svc?.cpe ?? [],
                // -sV's fingerprint of a service it answered for but did not identify (fingerprint-strings reads it).
                service_fp: svc?.servicefp,
              },
            };
          }),
        };
      };

      // At most maxParallel script instances at once, whoever starts them.
      let running = 0;
      const slotWaiters: Array<() => void> = [];
      const withSlot = async <T>(fn: () => Promise<T>): Promise<T> => {
        while (running >= opts.maxParallel) await new Promise<void>((r) => slotWaiters.push(r));
        running++;
        try {
          return await fn();
        } finally {
          running--;
          slotWaiters.shift()?.();
        }
      };
      const finished: ScriptRecord[] = [];
      let wake: (() => void) | undefined;
      const settle = (r: ScriptRecord | undefined) => {
        if (r) finished.push(r);
        const w = wake;
        wake = undefined;
        w?.();
      };
      const inFlight = new Set<Promise<void>>();
      const track = (p: Promise<void>) => {
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      };
      /** Per host: each port chain's progress, so host scripts of runlevel L wait for levels below L. */
      const portLevels = new Map<string, Array<(level: number) => Promise<void>>>();
      const portScripts = (h: HostFacts, p: PortRecord) => {
        const target = { ip: h.ip, port: p.port, proto: p.proto };
        const reached = new Map<number, () => void>();
        const reachedP = new Map<number, Promise<void>>();
        const passed = (level: number): Promise<void> => {
          let pr = reachedP.get(level);
          if (!pr) {
            pr = new Promise<void>((r) => reached.set(level, r));
            reachedP.set(level, pr);
          }
          return pr;
        };
        const list = portLevels.get(h.ip) ?? [];
        list.push(passed);
        portLevels.set(h.ip, list);
        return (async () => {
          await ready;
          // runlevels in order on this port; scripts of one level at once
          try {
            for (const level of levels) {
              const runs = [...loaded.values()].filter((l) => l.level === level && l.rules.has('portrule')).map((l) => withSlot(async () => {
                const t0 = Date.now();
                settle(outcome(l.sel.id, 'port', await engine.run(l.sel.id, l.sel.forced ? 'forced:portrule' : 'portrule', target), target, t0));
              }));
              await Promise.all(runs);
              passed(level);
              reached.get(level)?.();
            }
          } finally {
            for (const level of levels) {
              passed(level);
              reached.get(level)?.();
            }
          }
        })();
      };
      const started = new Set<string>();
      const portWanted = (p: PortRecord) => p.state === 'open' || p.state === 'open|filtered' || p.state === 'unfiltered';
      function* drainFinished(): Generator<ScriptRecord> {
        while (finished.length > 0) yield finished.shift()!;
      }

      for await (const rec of source) {
        if (rec.type === 'scan') {
          const header = rec as ScanHeader;
          yield { ...header, args: [...header.args, ...(opts.args ?? [])] };
          if (anyPrerule) for (const r of await runPhase('prerule')) yield r;
          continue;
        }
        if (isTrailer(rec)) {
          trailer = rec;
          break;
        }
        yield rec;
        if (rec.type === 'port') {
          const p = rec as PortRecord;
          factsOf(p.ip).ports.set(key(p.port, p.proto), p);
        } else if (rec.type === 'service') {
          const s = rec as ServiceRecord;
          const h = factsOf(s.ip);
          h.services.set(key(s.port, s.proto), s);
          // A port's service is final once -sV reported it: its port scripts need not wait
          // for the rest of the scan (host scripts do).
          const p = h.ports.get(key(s.port, s.proto));
          if (p && portWanted(p) && !started.has(`${s.ip} ${key(s.port, s.proto)}`) && !opts.signal?.aborted) {
            started.add(`${s.ip} ${key(s.port, s.proto)}`);
            phase(`${s.ip}:${key(s.port, s.proto)} service ${s.name}: its port scripts start`);
            engine.setHost(describeHost(h));
            track(portScripts(h, p));
          }
        } else if (rec.type === 'host') {
          const h = rec as HostRecord;
          factsOf(h.ip).host = h;
        }
        yield* drainFinished();
      }

      phase('input complete');
      await ready;
      // Host scripts, and port scripts of ports no service record started, now that all is known.
      const upHosts = [...hosts.values()].filter((h) => (h.host ? h.host.state === 'up' : [...h.ports.values()].some((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered')));
      if (upHosts.some((h) => h.ip.includes(':')) && upHosts.every((h) => h.ip.includes(':'))) engine.setAddressFamily('inet6');
      for (const h of upHosts) {
        engine.setHost(describeHost(h));
        for (const p of h.ports.values()) {
          if (!portWanted(p) || started.has(`${h.ip} ${key(p.port, p.proto)}`) || opts.signal?.aborted) continue;
          started.add(`${h.ip} ${key(p.port, p.proto)}`);
          track(portScripts(h, p));
        }
        track((async () => {
          for (const level of levels) {
            // dependencies: what this host's port scripts of lower runlevels found (host.registry)
            await Promise.all((portLevels.get(h.ip) ?? []).flatMap((passed) => levels.filter((l) => l < level).map((l) => passed(l))));
            await Promise.all([...loaded.values()].filter((l) => l.level === level && l.rules.has('hostrule')).map((l) => withSlot(async () => {
              const t0 = Date.now();
              settle(outcome(l.sel.id, 'host', await engine.run(l.sel.id, l.sel.forced ? 'forced:hostrule' : 'hostrule', { ip: h.ip }), { ip: h.ip }, t0));
            })));
          }
        })());
      }
      while (inFlight.size > 0 || finished.length > 0) {
        yield* drainFinished();
        if (inFlight.size === 0) break;
        await Promise.race([new Promise<void>((r) => (wake = r)), ...inFlight]);
      }
      yield* drainFinished();
      phase('host and port scripts done');
      for (const r of await runPhase('postrule')) yield r;
    } finally {
      engine.close();
    }
    yield extendTrailer(trailer, 'script', { ...counters, hosts: hosts.size, memoryPeak: 0 }, opts.signal?.aborted === true || trailer === undefined);
  };
}

export function createScriptStage(opts: Partial<ScriptOptions> & Pick<ScriptOptions, 'scripts'>): Duplex {
  return stageStream(scriptRecords(opts));
}
