/**
 * stages/middlebox: tells SYN-ACKs from services apart from SYN-ACKs from something that answers
 * every port of every address (a SYN proxy, a LaBrea-style tarpit, an answer-everything load
 * balancer). It sits after send: port records in, the same records out, open TCP ports carrying
 * `confidence` and, where judged, `proxied` and `check` (stages/records/types.ts).
 *
 * Policy (see README "Middleboxes"):
 *  1. Watch each host's answers: a host becomes suspect when ≥ `suspectShare` of its answers are
 *     SYN-ACKs and it has at least `suspectOpen` of them (fewer, but never under 4, when the plan
 *     probes fewer ports per host), when an IPv4 network or broadcast address (x.x.x.0, x.x.x.255) answers SYN-ACK,
 *     or when its SYN-ACKs carry a fingerprint (TTL, window, options) already judged proxied on
 *     other hosts (by a 3:1 majority of at least two). Suspicion alone marks nothing.
 *  2. Check a suspect host: full kernel handshakes to its open ports (up to `checksPerHost`, the
 *     first 4 suspect hosts per fingerprint, and `checksTotal` per scan) with a short bounded read (handshake-check.ts). Ports that send a
 *     byte are services (confidence 10); the host is judged proxied when more checked ports stayed
 *     silent (or reset, or never connected) than spoke. Past the budgets, a suspect host takes the
 *     verdict its fingerprint got on other hosts.
 *  3. Marking while records stream: an undecided host's open records are held (at most
 *     `suspectOpen` per host before the host is either cleared or suspect, and `holdRecords` in all)
 *     and leave as soon as the host is cleared (a closed answer among enough answers, or all its
 *     planned ports answered) or judged. Held records never leave unmarked-but-late silently: past
 *     the global bound the oldest undecided hosts are let go without a judgement and counted
 *     (`middlebox.unjudged`). Progress records wait behind held port records (ProgressGate), so
 *     --resume never skips a batch whose ports were not written.
 * Memory: one small summary per host still being probed (dropped when its planned ports are all
 * answered), the held records, and a bounded fingerprint table.
 */
import {
  extendTrailer,
  isTrailer,
  ProgressGate,
  type AnyRecord,
  type EndTrailer,
  type HandshakeCheck,
  type HostRecord,
  type MiddleboxNote,
  type PortRecord,
  type ProgressRecord,
  type ScanHeader,
} from '../records/index.js';
import { setMaxListeners } from 'node:events';
import { handshakeCheck, type HandshakeChecker } from './handshake-check.js';

export { handshakeCheck, CHECK_DEFAULTS, type HandshakeChecker, type CheckTimes } from './handshake-check.js';

export interface MiddleboxOptions {
  /** SYN-ACKs a host must give (with the share below) to be suspect. Default 8. */
  suspectOpen?: number;
  /** Share of a host's answers (open + closed) that are SYN-ACKs to be suspect. Default 0.9. */
  suspectShare?: number;
  /** Full-handshake checks per suspect host. Default 8. */
  checksPerHost?: number;
  /** Checks per scan. Default 128 (at most 64 at once, each at most connect + 1.5 s). */
  checksTotal?: number;
  /** Checks in flight at once. Default 64. */
  concurrency?: number;
  /** Open records held in all, waiting for their host's judgement. Default 20000. */
  holdRecords?: number;
  /** Undecided hosts watched at once. Default 200000. */
  maxHosts?: number;
  /**
   * A watched host with held records and no new answer for this long is judged on what it gave
   * (ms, default 3000): its records and the progress behind them (the --resume checkpoint) do not
   * wait for the scan's end when its other ports are in another shard, filtered or far away in the
   * permutation.
   */
  quietMs?: number;
  /** The check (default: a kernel connect and a bounded read, handshake-check.ts). */
  check?: HandshakeChecker;
  /** The command line of this stage, appended to the header's args. */
  args?: string[];
  signal?: AbortSignal;
}

type Phase = 'watch' | 'checking' | 'clear' | 'real' | 'proxied' | 'unknown';

interface Held {
  rec: PortRecord;
  ticket: number;
  /** Set once the port's own check is done. */
  check?: HandshakeCheck;
  checking?: Promise<void>;
}

interface HostWatch {
  ip: string;
  phase: Phase;
  open: number;
  closed: number;
  decided: number;
  held: Held[];
  fingerprint?: string;
  why?: string;
  checked: number;
  spoke: number;
  /** Whether checks may be started for this host (set when it becomes suspect). */
  mayCheck?: boolean;
  /** Settles when the host's first judgement is made. */
  judged?: Promise<void>;
  /** When its latest port record came (Date.now()). */
  lastAt?: number;
}

/** "ttl 64, window 10, no options" — the part of a SYN-ACK a middlebox stamps on every port. */
export function fingerprintOf(r: PortRecord): string {
  if (r.ttl === null) return 'connect';
  const opts = r.tcpOptions === undefined ? '' : r.tcpOptions === '' ? ', no options' : `, options ${r.tcpOptions}`;
  return `ttl ${r.ttl}${r.window !== undefined ? `, window ${r.window}` : ''}${opts}`;
}

/**
 * Fewer SYN-ACKs than this never make a host suspect by their share: a web server scanned on
 * -p 80,443 answers both, and a -sS scan should not open full connections to it for that.
 */
const MIN_SUSPECT_OPEN = 4;

const isSynAckOpen = (r: PortRecord) => r.proto === 'tcp' && r.state === 'open' && r.reason === 'syn-ack';

/** IPv4 x.x.x.0 or x.x.x.255: where, in a routed /24 or larger, no host can be. */
function networkOrBroadcast(ip: string): boolean {
  if (ip.includes(':')) return false;
  const last = ip.slice(ip.lastIndexOf('.') + 1);
  return last === '0' || last === '255';
}

/**
 * What a fingerprint's judged hosts say about another host with it: proxied or real when at least
 * two hosts were judged so and they outnumber the others three to one (a SYN proxy in front of a
 * few real services gets a "real" verdict on a host now and then).
 */
function fingerprintVerdict(fp: { proxied: number; real: number } | undefined): 'proxied' | 'real' | 'unknown' {
  if (!fp) return 'unknown';
  if (fp.proxied >= 2 && fp.proxied >= 3 * fp.real) return 'proxied';
  if (fp.real >= 2 && fp.real >= 3 * fp.proxied) return 'real';
  return 'unknown';
}

/** Suspect hosts per SYN-ACK fingerprint that get full-handshake checks. */
const HOSTS_PER_FINGERPRINT = 4;

/** The key fingerprints are judged by; none for the connect scan, which sees no TTL, window or options. */
function fingerprintKey(fp: string | undefined): string | undefined {
  return fp === undefined || fp === 'connect' ? undefined : fp;
}

/** A small bounded semaphore for checks in flight. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
        return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Everything the stage decides, apart from the stream plumbing (middleboxRecords below). */
export class MiddleboxWatch {
  readonly counters = { suspects: 0, checks: 0, spoke: 0, silent: 0, proxiedHosts: 0, proxiedPorts: 0, unjudged: 0 };
  portsPerHost: number | undefined;
  private readonly hosts = new Map<string, HostWatch>();
  private readonly notes = new Map<string, MiddleboxNote>();
  private readonly fingerprints = new Map<string, { proxied: number; real: number }>();
  /** Hosts given checks, per fingerprint. */
  private readonly checkedHosts = new Map<string, number>();
  private readonly gate = new ProgressGate();
  private readonly ready: AnyRecord[] = [];
  private wake: (() => void) | undefined;
  private heldCount = 0;
  private checksLeft: number;
  private readonly slots: Slots;
  private readonly check: HandshakeChecker;
  private readonly o: Required<Omit<MiddleboxOptions, 'check' | 'args' | 'signal'>>;
  private readonly pending = new Set<Promise<void>>();
  /** Watched (undecided) hosts holding records, oldest first: what the memory bound lets go first. */
  private readonly holding = new Set<HostWatch>();
  /** One listener on the caller's signal; the checks (many at once) listen to this one. */
  private readonly abort = new AbortController();

  constructor(private readonly opts: MiddleboxOptions = {}) {
    this.o = {
      suspectOpen: opts.suspectOpen ?? 8,
      suspectShare: opts.suspectShare ?? 0.9,
      checksPerHost: opts.checksPerHost ?? 8,
      checksTotal: opts.checksTotal ?? 128,
      concurrency: opts.concurrency ?? 64,
      holdRecords: opts.holdRecords ?? 20_000,
      maxHosts: opts.maxHosts ?? 200_000,
      quietMs: opts.quietMs ?? 3000,
    };
    this.checksLeft = this.o.checksTotal;
    this.slots = new Slots(this.o.concurrency);
    this.check = opts.check ?? handshakeCheck();
    setMaxListeners(0, this.abort.signal);
    if (opts.signal?.aborted) this.abort.abort();
    else opts.signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
  }

  /**
   * Whether records can become ready without new input: a check still running, or a watched host
   * holding records that the quiet timer may judge. When not, the stage waits on its input alone
   * (racing it against whenReady() made three promises per record, a tenth of a /16 sweep's CPU).
   */
  mayReleaseLater(): boolean {
    return this.pending.size > 0 || this.holding.size > 0;
  }

  /** Records ready to go on, in order. */
  take(): AnyRecord[] {
    return this.ready.splice(0);
  }

  /** Settles when take() has something (or at once if it has). */
  whenReady(): Promise<void> {
    if (this.ready.length > 0) return Promise.resolve();
    return new Promise((r) => (this.wake = r));
  }

  private push(rec: AnyRecord): void {
    this.ready.push(rec);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Any record that is not a port record: progress waits behind held ports, the rest goes on. */
  pass(rec: AnyRecord): void {
    if (rec.type === 'progress') {
      this.gate.hold(rec as ProgressRecord);
      for (const p of this.gate.release()) this.push(p);
    } else this.push(rec);
  }

  /** Called once a host is judged (clear, real, proxied, unknown). */
  onJudged?: (ip: string) => void;

  /** Whether the host already has its verdict (a record of it arriving late can go on at once). */
  isJudged(ip: string): boolean {
    const h = this.hosts.get(ip);
    return h !== undefined && h.phase !== 'watch' && h.phase !== 'checking';
  }

  /** A host record: with its judgement's note when the host was judged proxied. */
  host(rec: HostRecord): void {
    const note = this.notes.get(rec.ip);
    this.push(note ? { ...rec, middlebox: note } : rec);
  }

  /** Takes a port record; returns a promise when the caller should wait (a host holds too much). */
  port(rec: PortRecord): Promise<void> | undefined {
    let h = this.hosts.get(rec.ip);
    if (!h) {
      // Only TCP answers say anything about SYN-ACKs; other protocols count once a host is watched.
      if (rec.proto !== 'tcp') return void this.push(rec);
      h = { ip: rec.ip, phase: 'watch', open: 0, closed: 0, decided: 0, held: [], checked: 0, spoke: 0 };
      this.hosts.set(rec.ip, h);
      if (this.hosts.size > this.o.maxHosts) this.evictHosts();
    }
    h.decided++;
    h.lastAt = Date.now();
    let wait: Promise<void> | undefined;
    if (isSynAckOpen(rec)) {
      h.open++;
      h.fingerprint ??= fingerprintOf(rec);
      wait = this.open(h, rec);
    } else {
      if (rec.proto === 'tcp' && rec.state === 'closed') h.closed++;
      this.push(rec);
      if (h.phase === 'watch') this.consider(h);
    }
    this.maybeDone(h);
    if (this.heldCount > this.o.holdRecords) this.evictHeld();
    return wait;
  }

  private open(h: HostWatch, rec: PortRecord): Promise<void> | undefined {
    switch (h.phase) {
      case 'clear':
        this.push({ ...rec, confidence: 10 });
        return undefined;
      case 'watch':
        this.hold(h, rec);
        this.consider(h);
        return undefined;
      default: {
        // checking or judged: check this port too while the budgets last, else take the verdict.
        const held = this.hold(h, rec);
        if (this.canCheck(h)) this.startCheck(h, held);
        if (h.phase !== 'checking') this.releaseSettled(h);
        return h.held.length > 4 * this.o.suspectOpen ? (h.judged ?? held.checking) : undefined;
      }
    }
  }

  private hold(h: HostWatch, rec: PortRecord): Held {
    const held: Held = { rec, ticket: this.gate.begin() };
    h.held.push(held);
    this.heldCount++;
    if (h.phase === 'watch') this.holding.add(h);
    return held;
  }

  /** A watched host: clear it, keep watching, or suspect it and start its checks. */
  private consider(h: HostWatch, final = false): void {
    const answers = h.open + h.closed;
    const n = Math.min(this.o.suspectOpen, this.portsPerHost ?? this.o.suspectOpen);
    const fp = fingerprintKey(h.fingerprint) ? this.fingerprints.get(h.fingerprint!) : undefined;
    let why: string | undefined;
    if (h.open >= Math.max(MIN_SUSPECT_OPEN, n) && h.open >= this.o.suspectShare * answers) {
      why = `${Math.round((100 * h.open) / answers)}% of ${answers} answers SYN-ACK`;
    } else if (h.open > 0 && networkOrBroadcast(h.ip)) {
      why = 'SYN-ACK from a network/broadcast address';
    } else if (h.open > 0 && fingerprintVerdict(fp) === 'proxied') {
      why = `SYN-ACK fingerprint of ${fp!.proxied} hosts judged proxied`;
    }
    if (why) {
      this.holding.delete(h);
      return this.suspect(h, why);
    }
    if (answers >= n || final || this.complete(h)) {
      this.holding.delete(h);
      h.phase = 'clear';
      this.release(h, () => ({ confidence: 10 }));
    }
  }

  private complete(h: HostWatch): boolean {
    return this.portsPerHost !== undefined && h.decided >= this.portsPerHost;
  }

  private canCheck(h: HostWatch): boolean {
    return h.mayCheck === true && this.checksLeft > 0 && h.checked + h.held.filter((x) => x.checking && !x.check).length < this.o.checksPerHost && !this.opts.signal?.aborted;
  }

  private suspect(h: HostWatch, why: string): void {
    this.counters.suspects++;
    h.phase = 'checking';
    h.why = why;
    // A few hosts per fingerprint get checked; the others take the verdict those get, so the
    // budget reaches every kind of middlebox in the scan, not only the first one met.
    const key = fingerprintKey(h.fingerprint);
    const given = key === undefined ? 0 : this.checkedHosts.get(key) ?? 0;
    h.mayCheck = given < HOSTS_PER_FINGERPRINT;
    if (key !== undefined && h.mayCheck && (this.checkedHosts.has(key) || this.checkedHosts.size < 1000)) this.checkedHosts.set(key, given + 1);
    const started: Promise<void>[] = [];
    for (const held of h.held) {
      if (!this.canCheck(h)) break;
      started.push(this.startCheck(h, held));
    }
    // No check left for this host: the checks still running on others may judge its fingerprint.
    const waitFor = started.length > 0 ? started : [...this.pending];
    const judged = Promise.all(waitFor).then(() => this.judge(h));
    h.judged = judged;
    this.track(judged);
  }

  private startCheck(h: HostWatch, held: Held): Promise<void> {
    this.checksLeft--;
    this.counters.checks++;
    held.checking = this.slots
      .run(() => this.check(held.rec.ip, held.rec.port, this.abort.signal))
      .catch((): HandshakeCheck => 'timeout')
      .then((c) => {
        held.check = c;
        h.checked++;
        if (c === 'data') {
          h.spoke++;
          this.counters.spoke++;
        } else this.counters.silent++;
        if (h.phase !== 'checking') this.releaseSettled(h);
      });
    this.track(held.checking);
    return held.checking;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** The first judgement of a suspect host, once the checks started with it are done. */
  private judge(h: HostWatch): void {
    const silent = h.checked - h.spoke;
    let phase: Phase;
    if (h.checked > 0) phase = silent > h.spoke ? 'proxied' : 'real';
    else {
      const fp = fingerprintKey(h.fingerprint) ? this.fingerprints.get(h.fingerprint!) : undefined;
      phase = fingerprintVerdict(fp);
      if (phase === 'proxied') h.why = `${h.why}; no check left, fingerprint of ${fp!.proxied} hosts judged proxied`;
    }
    h.phase = phase;
    if (fingerprintKey(h.fingerprint) && h.fingerprint && h.checked > 0 && (this.fingerprints.size < 1000 || this.fingerprints.has(h.fingerprint))) {
      const fp = this.fingerprints.get(h.fingerprint) ?? { proxied: 0, real: 0 };
      if (phase === 'proxied') fp.proxied++;
      else fp.real++;
      this.fingerprints.set(h.fingerprint, fp);
    }
    if (phase === 'proxied') this.counters.proxiedHosts++;
    this.releaseSettled(h);
    this.maybeDone(h);
  }

  /** The marks of a judged host's port: its own check first, else the host's verdict. */
  private marks(h: HostWatch, check: HandshakeCheck | undefined): Partial<PortRecord> {
    if (check === 'data') return { confidence: 10, proxied: false, check };
    if (check) return h.phase === 'proxied' ? { confidence: 1, proxied: true, check } : { confidence: 7, proxied: false, check };
    switch (h.phase) {
      case 'proxied': return { confidence: 3, proxied: true };
      case 'real': return { confidence: 7, proxied: false };
      default: return { confidence: 5 };
    }
  }

  /** Releases the held records of a judged host whose own checks (if any) are done. */
  private releaseSettled(h: HostWatch): void {
    const keep: Held[] = [];
    for (const held of h.held) {
      if (held.checking && !held.check) keep.push(held);
      else this.emitHeld(held, this.marks(h, held.check));
    }
    h.held = keep;
    this.releaseProgress();
    this.noteOf(h);
    this.judged(h);
  }

  private release(h: HostWatch, marks: () => Partial<PortRecord>): void {
    for (const held of h.held) this.emitHeld(held, marks());
    h.held = [];
    this.releaseProgress();
    this.judged(h);
  }

  /** Tells the stage a host has its verdict (it may let the host's record go, with its note). */
  private judged(h: HostWatch): void {
    if (h.phase !== 'watch' && h.phase !== 'checking') this.onJudged?.(h.ip);
  }

  private emitHeld(held: Held, marks: Partial<PortRecord>): void {
    if (marks.proxied) this.counters.proxiedPorts++;
    this.push({ ...held.rec, ...marks });
    this.gate.finish(held.ticket);
    this.heldCount--;
  }

  private releaseProgress(): void {
    for (const p of this.gate.release()) this.push(p);
  }

  private noteOf(h: HostWatch): void {
    if (h.phase !== 'proxied') return;
    if (!this.notes.has(h.ip) && this.notes.size >= this.o.maxHosts) return;
    this.notes.set(h.ip, {
      verdict: 'proxied', open: h.open, closed: h.closed, checked: h.checked, spoke: h.spoke,
      ...(h.fingerprint ? { fingerprint: h.fingerprint } : {}), why: h.why ?? '',
    });
  }

  /** A host whose planned ports all answered, and whose checks are done, needs no summary any more. */
  private maybeDone(h: HostWatch): void {
    if (h.phase === 'watch' && this.complete(h)) this.consider(h);
    if (h.phase === 'watch' || h.phase === 'checking' || h.held.length > 0 || !this.complete(h)) return;
    this.noteOf(h);
    this.hosts.delete(h.ip);
  }

  /** Past the held-records bound: the oldest undecided hosts go on without a judgement. */
  private evictHeld(): void {
    for (const h of this.holding) {
      if (this.heldCount <= this.o.holdRecords) return;
      this.counters.unjudged += h.held.length;
      this.release(h, () => ({}));
      this.holding.delete(h);
      this.hosts.delete(h.ip);
    }
  }

  /** Past the hosts bound: the oldest hosts not being checked are forgotten (undecided ones unjudged). */
  private evictHosts(): void {
    for (const h of this.hosts.values()) {
      if (this.hosts.size <= this.o.maxHosts) return;
      if (h.phase === 'checking') continue;
      if (h.phase === 'watch') {
        this.counters.unjudged += h.held.length;
        this.release(h, () => ({}));
        this.holding.delete(h);
      } else {
        this.releaseSettled(h);
        if (h.held.length > 0) continue;
      }
      this.hosts.delete(h.ip);
    }
  }

  /** End of the port records (host records or the trailer came): judge everything still open. */
  /** Judges the watched hosts that went quiet (see quietMs) on what they gave. */
  expireQuiet(now = Date.now()): void {
    for (const h of [...this.holding]) {
      if (h.phase === 'watch' && h.held.length > 0 && now - (h.lastAt ?? now) >= this.o.quietMs) this.consider(h, true);
    }
  }

  async settle(): Promise<void> {
    for (const h of this.hosts.values()) if (h.phase === 'watch') this.consider(h, true);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    for (const h of [...this.hosts.values()]) {
      if (h.phase === 'watch') {
        h.phase = 'clear';
        this.release(h, () => ({ confidence: 10 }));
      } else this.releaseSettled(h);
    }
    this.hosts.clear();
  }
}

/**
 * The stage: every record passes; open TCP ports get their marks, host records of proxied hosts a
 * `middlebox` note, the trailer `middlebox` counters. Records leave as soon as they are decided,
 * also while the input is quiet (a check finishing releases its host's ports at once).
 */
export function middleboxRecords(opts: MiddleboxOptions = {}) {
  return async function* middlebox(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const watch = new MiddleboxWatch(opts);
    const input = source[Symbol.asyncIterator]();
    let trailer: EndTrailer | undefined;
    let settled = false;
    /** The header says discovery ran upstream (stages/discover): host records come before their ports. */
    let discovered = false;
    /**
     * After discovery (host records before their ports, when the scan probes TCP): an up host's
     * record waits until the host is judged, then goes on with its note if proxied; hosts never
     * judged (no TCP answer) at the end. At most one record per up host.
     */
    const upHosts = new Map<string, HostRecord>();
    watch.onJudged = (ip) => {
      const held = upHosts.get(ip);
      if (!held) return;
      upHosts.delete(ip);
      watch.host(held);
    };
    let next = input.next();
    const quiet = setInterval(() => watch.expireQuiet(), 250);
    quiet.unref();
    try {
    for (;;) {
      const got = watch.mayReleaseLater() ? await Promise.race([next, watch.whenReady().then(() => undefined)]) : await next;
      yield* watch.take();
      if (got === undefined) continue;
      if (got.done) break;
      const rec = got.value;
      if (rec.type === 'scan') {
        const header = rec as ScanHeader;
        watch.portsPerHost = header.plan?.portsPerHost;
        discovered = header.hostDiscovery !== undefined && (header.plan?.ports?.tcp?.length ?? 1) > 0;
        watch.pass(opts.args ? { ...header, args: [...header.args, ...opts.args] } : header);
      } else if (isTrailer(rec)) {
        trailer = rec;
        next = input.next();
        break;
      } else if (rec.type === 'port') {
        const wait = watch.port(rec as PortRecord);
        if (wait) await wait;
      } else if (rec.type === 'host' && discovered && (rec as HostRecord).state === 'up') {
        const h = rec as HostRecord;
        if (watch.isJudged(h.ip)) watch.host(h);
        else upHosts.set(h.ip, { ...upHosts.get(h.ip), ...h });
      } else if (rec.type === 'host') {
        if (!settled) {
          settled = true;
          await watch.settle();
        }
        watch.host(rec as HostRecord);
      } else watch.pass(rec);
      yield* watch.take();
      next = input.next();
    }
    } finally {
      clearInterval(quiet);
    }
    await watch.settle();
    for (const h of upHosts.values()) watch.host(h);
    yield* watch.take();
    // Anything after the trailer is the next stage's to complain about: pass it on.
    for (let r = await next; !r.done; r = await input.next()) yield r.value;
    yield extendTrailer(trailer, 'middlebox', { ...watch.counters }, trailer === undefined);
  };
}
