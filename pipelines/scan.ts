/**
 * `prtip scan`: the stages of a scan composed in one process (targets → discover → send → store → format). Records pass between stages as
 * objects (no encoding); each stage is an async generator, so backpressure runs end to end.
 */
import type { AnyRecord } from '../stages/records/index.js';
import { formatRecords, type FormatOptions } from '../stages/format/index.js';
import { mergeRecords } from '../stages/merge/index.js';
import { sendRecords, type SendOptions } from '../stages/send/index.js';
import { Resolver } from '../stages/dns/index.js';
import type { DetectOptions } from '../stages/detect/index.js';
import { discoverRecords, type DiscoverOptions } from '../stages/discover/index.js';
import type { OsStageOptions } from '../stages/os/index.js';
import { DEFAULT_OS_PARALLEL } from '../stages/os/defaults.js';
import type { StoreOptions } from '../stages/store/index.js';
import { planTargets, targetRecords, type TargetPlan, type TargetsOptions } from '../stages/targets/index.js';
import type { ScriptOptions } from '../stages/script/index.js';
import { middleboxRecords, type MiddleboxOptions } from '../stages/middlebox/index.js';
import type { ListOptions } from '../stages/list/index.js';
import type { TraceOptions } from '../stages/trace/index.js';
import { loadUdpPayloads } from '../stages/datafiles/index.js';
import {
  checkCanDrop, dropPrivileges, handOverDatabase, lookupAccount, openDatabaseForDrop, reserveRawHandles, runningAsRoot, survivesDrop, type Account, type PrivilegeOptions,
} from './privilege.js';

export interface ScanPipelineOptions {
  targets: TargetsOptions;
  /** The targets already planned (prtip serve checks them against --allow-targets first). */
  plan?: TargetPlan;
  /** Host discovery before the port scan (absent: -Pn, every host up); with its pingOnly (-sn) there is no port scan. */
  discover?: DiscoverOptions;
  send: SendOptions;
  /** -sL: list the targets (with names) instead of scanning them; send, detect, os and script do not run. */
  list?: ListOptions;
  format: FormatOptions;
  /** -sV: service detection after send. */
  detect?: Partial<DetectOptions>;
  /** -sC/--script: NSE scripts after detection. */
  script?: Partial<ScriptOptions> & Pick<ScriptOptions, 'scripts'>;
  /** -O: OS detection after detect. */
  os?: OsStageOptions;
  /** --traceroute: hop paths after OS detection (before scripts, as nmap). */
  trace?: TraceOptions;
  /** --db: append to a DuckDB database as records arrive (before formatting). */
  store?: StoreOptions;
  /**
   * --resume: what the interrupted run already stored. The outputs get these too, merged with
   * the new records (stages/merge: batches probed twice appear once), so -oX & co. show the
   * whole scan. They do not go to the store, which has them.
   */
  prior?: AnyRecord[];
  /** SYN proxies, tarpits, answer-everything balancers: on unless false (stages/middlebox). */
  middlebox?: MiddleboxOptions | false;
  /** Sees every record between send and format (e.g. -v's live "Discovered open port" lines). */
  observe?: (rec: AnyRecord) => void;
  /**
   * --unprivileged-user: started as root, the scan opens its raw handles, outputs and database,
   * then continues as this user (pipelines/privilege.ts). Absent, or not root: nothing changes.
   */
  privilege?: PrivilegeOptions;
  /** Called once the privileges are dropped (tests, -d). */
  onDropped?: (account: Account) => void;
}

/** Status records (live counters for displays) end here: the outputs are the scan's results. */
async function* observed(source: AsyncIterable<AnyRecord>, observe?: (rec: AnyRecord) => void) {
  for await (const rec of source) {
    observe?.(rec);
    if (rec.type !== 'status') yield rec;
  }
}

/** The scan's records after every stage ran; pull them (or drain) to drive the scan. */
export function scanRecords(opts: ScanPipelineOptions): AsyncGenerator<AnyRecord, void, undefined> {
  return opts.privilege && runningAsRoot() ? droppingPrivileges(opts, opts.privilege) : composedStages(opts);
}

/**
 * A scan started as root: the plan, the raw handles of every engine it may start and the database
 * are opened first; then the header is pulled through every stage (each stage's set-up runs, format
 * opens its output files); then the process becomes the unprivileged user, before the first probe
 * batch is pulled — so no probe is sent and no reply read as root.
 */
async function* droppingPrivileges(opts: ScanPipelineOptions, privilege: PrivilegeOptions): AsyncGenerator<AnyRecord, void, undefined> {
  const account = lookupAccount(privilege.user);
  checkCanDrop(account);
  const plan = opts.plan ?? (await planTargets(opts.targets));
  let store = opts.store;
  let ownDb: Awaited<ReturnType<typeof openDatabaseForDrop>> | undefined;
  if (store?.db && !survivesDrop(store.db)) {
    throw new Error('a scan that drops privileges needs its database opened with openScanDatabase (pipelines/privilege.ts)');
  }
  if (store && !store.db) store = { ...store, db: (ownDb = await openDatabaseForDrop(store.path)) };
  try {
    if (!opts.list) {
      const scanTypes = [opts.send.scanType, ...(opts.send.moreScanTypes ?? [])];
      // UDP payloads are read when the first UDP engine starts: read them now, as the other data
      // files (a --datadir may be readable by root only). Cached per directory.
      if (scanTypes.includes('udp') || (opts.discover?.probes.udp.length ?? 0) > 0) loadUdpPayloads(opts.send.datadir);
      await reserveRawHandles({
        plan, discover: opts.discover, scanTypes, idleZombie: opts.send.idleZombie,
        osParallel: opts.os ? Math.max(1, Math.min(opts.os.parallel ?? DEFAULT_OS_PARALLEL, plan.plan.hosts)) : undefined, trace: opts.trace !== undefined,
        route: { iface: opts.send.iface, source: opts.send.sourceAddress },
      });
    }
    // Checked (and given) now, so a directory the account cannot reach is refused before any output opens.
    if (store?.db) handOverDatabase(store.db, account);
    const records = composedStages({ ...opts, plan, store });
    try {
      const first = await records.next();
      if (store?.db) handOverDatabase(store.db, account); // what DuckDB created in it meanwhile
      dropPrivileges(account);
      opts.onDropped?.(account);
      if (first.done) return;
      yield first.value;
      yield* records;
    } finally {
      await records.return();
    }
  } finally {
    ownDb?.close();
  }
}

function composedStages(opts: ScanPipelineOptions): AsyncGenerator<AnyRecord, void, undefined> {
  const planned = targetRecords(opts.targets, opts.plan);
  const live = opts.discover && !opts.list ? discoverRecords(opts.discover)(planned) : planned;
  const scanned = opts.list ? lazily(planned, async () => (await import('../stages/list/index.js')).listRecords(opts.list!)) : opts.discover?.pingOnly ? live : sendRecords(opts.send)(live);
  // Open ports are vetted before anything probes them further (detect would talk to a tarpit too).
  const sent = opts.middlebox === false || opts.list || opts.discover?.pingOnly ? scanned : middleboxRecords({ signal: opts.send.signal, ...opts.middlebox })(scanned);
  const detected = opts.detect && !opts.list ? lazily(sent, async () => (await import('../stages/detect/index.js')).detectRecords(opts.detect!)) : sent;
  const osed = opts.os && !opts.list ? lazily(detected, async () => (await import('../stages/os/index.js')).osRecords(opts.os!)) : detected;
  const traced = opts.trace && !opts.list ? lazily(osed, async () => (await import('../stages/trace/index.js')).traceRecords(opts.trace!)) : osed;
  const found = opts.script && !opts.list ? lazily(traced, async () => (await import('../stages/script/index.js')).scriptRecords(opts.script!)) : traced;
  // A resumed scan rebuilds the host rows its killed run never wrote, as send would have: -Pn, -R.
  const store = opts.store?.resumeScanId
    ? { ...opts.store, rebuiltHosts: { assumeUp: opts.send.assumeUp, hostname: opts.send.reverseDns ? reverseOne(opts.send.dns) : undefined } }
    : opts.store;
  const stored = store ? storedLazily(store, found) : found;
  const seen = observed(stored, opts.observe);
  const forOutputs = opts.prior ? mergeRecords()(afterHeader(seen, opts.prior)) : seen;
  return formatRecords(opts.format)(forOutputs);
}

type Stage = (source: AsyncIterable<AnyRecord>) => AsyncGenerator<AnyRecord, void, undefined>;

/**
 * A stage whose module loads when the scan reaches it: -sV, -O, --traceroute, -sC and -sL each
 * bring code (the Lua VM alone is a quarter of a second) that a plain port scan never runs, and
 * start-up is part of every scan's wall time.
 */
async function* lazily(source: AsyncIterable<AnyRecord>, load: () => Promise<Stage>): AsyncGenerator<AnyRecord, void, undefined> {
  yield* (await load())(source);
}

/** One address's reverse name at a time (the resume path rebuilds few hosts). */
function reverseOne(dns: ScanPipelineOptions['send']['dns']) {
  return async (ip: string): Promise<string | undefined> => {
    const r = new Resolver(dns);
    try {
      return (await r.reverse([ip])).get(ip);
    } finally {
      r.close();
    }
  };
}

/** The store stage, loaded only when asked for (DuckDB's module is the heaviest part of start-up). */
async function* storedLazily(opts: StoreOptions, source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
  const { storeRecords } = await import('../stages/store/index.js');
  yield* storeRecords(opts)(source);
}

/** The stream with `extra` records inserted right after its header. */
async function* afterHeader(source: AsyncIterable<AnyRecord>, extra: AnyRecord[]): AsyncGenerator<AnyRecord, void, undefined> {
  let inserted = false;
  for await (const rec of source) {
    yield rec;
    if (!inserted && rec.type === 'scan') {
      inserted = true;
      yield* extra;
    }
  }
}

export async function runScan(opts: ScanPipelineOptions): Promise<void> {
  for await (const _ of scanRecords(opts)) {
    // pulling drives the pipeline; format has written the outputs
  }
}
