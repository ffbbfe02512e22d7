/**
 * The privilege drop of a scan started as root: everything privileged it needs is opened first —
 * the raw handles of every engine it may start (native/src/raw-handles.cc), its output files, its
 * database — then it becomes --unprivileged-user (default nobody) with setgroups, setgid and
 * setuid, each checked, and /proc shows that no thread kept root or a capability. A drop that
 * fails ends the scan before a probe is sent. Policy lives here so `prtip scan`, the cluster
 * worker and `prtip serve` drop the same way.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadNative, type NativeEngine } from '../native/index.js';
import { effectiveProbes, type DiscoverOptions } from '../stages/discover/index.js';
import { nextHopsOf, parseZombie, scanTypeByName } from '../stages/probes/index.js';
import type { RouteOverrides } from '../stages/probes/routing.js';
import { UserInputError } from '../stages/records/index.js';
import type { Database } from '../stages/store/index.js';
import type { TargetPlan } from '../stages/targets/index.js';

export const DEFAULT_UNPRIVILEGED_USER = 'nobody';

/** --unprivileged-user: the account a scan started as root continues as. */
export interface PrivilegeOptions {
  user: string;
}

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** True when this process runs as root (the only case that drops: a non-root run is unchanged). */
export function runningAsRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** The account's uid and primary gid from the system's user database (NSS, as setuid would see it). */
export function lookupAccount(user: string): Account {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(user)) {
    throw new UserInputError(`--unprivileged-user "${user}": not a user name or number`);
  }
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!;
  } catch {
    throw new UserInputError(`--unprivileged-user "${user}": no such user on this system; name an existing unprivileged account (default nobody)`);
  }
  const [name, , uid, gid] = line.split(':');
  const account = { name: name!, uid: Number(uid), gid: Number(gid) };
  if (!Number.isInteger(account.uid) || !Number.isInteger(account.gid)) {
    throw new UserInputError(`--unprivileged-user "${user}": the user database gives no uid/gid for it`);
  }
  if (account.uid === 0 || account.gid === 0) {
    throw new UserInputError(`--unprivileged-user "${user}": that account has uid or gid 0, which keeps root; name an unprivileged account (default nobody)`);
  }
  return account;
}

/** What /proc says about one thread, or the whole process (task = undefined). */
interface Credentials {
  uid: number[];
  gid: number[];
  groups: number[];
  capEff: bigint;
  capPrm: bigint;
  capAmb: bigint;
}

function parseStatus(text: string): Credentials {
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const nums = (v: string) => v.split(/\s+/).filter(Boolean).map(Number);
  return {
    uid: nums(field('Uid')), gid: nums(field('Gid')), groups: nums(field('Groups')),
    capEff: BigInt(`0x${field('CapEff') || '0'}`), capPrm: BigInt(`0x${field('CapPrm') || '0'}`), capAmb: BigInt(`0x${field('CapAmb') || '0'}`),
  };
}

/**
 * Why the process `pid` (every thread of it: libuv's pool, V8's, DuckDB's, the native engine's) is
 * not fully `account`, or undefined when it is: real, effective, saved and filesystem ids, no
 * supplementary group but its own, no permitted, effective or ambient capability.
 */
export function notDroppedReason(account: Pick<Account, 'uid' | 'gid'>, pid: number | 'self' = 'self'): string | undefined {
  const dir = `/proc/${pid}/task`;
  for (const tid of fs.readdirSync(dir)) {
    let text: string;
    try {
      text = fs.readFileSync(`${dir}/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const c = parseStatus(text);
    if (c.uid.length !== 4 || c.uid.some((u) => u !== account.uid)) return `thread ${tid} has uids ${c.uid.join(' ')}`;
    if (c.gid.length !== 4 || c.gid.some((g) => g !== account.gid)) return `thread ${tid} has gids ${c.gid.join(' ')}`;
    if (c.groups.some((g) => g !== account.gid)) return `thread ${tid} keeps supplementary groups ${c.groups.join(' ')}`;
    if (c.capEff !== 0n || c.capPrm !== 0n || c.capAmb !== 0n) return `thread ${tid} keeps capabilities (CapEff ${c.capEff.toString(16)}, CapPrm ${c.capPrm.toString(16)})`;
  }
  return undefined;
}

/**
 * Refuses, before anything is opened, a root that could not drop (a container without CAP_SETUID
 * or CAP_SETGID): the same line dropPrivileges would give, but before outputs are touched.
 */
export function checkCanDrop(account: Account): void {
  const eff = parseStatus(fs.readFileSync('/proc/self/status', 'utf8')).capEff;
  const missing = [[6n, 'CAP_SETGID'], [7n, 'CAP_SETUID']].filter(([bit]) => ((eff >> (bit as bigint)) & 1n) === 0n).map(([, n]) => n);
  if (missing.length > 0) {
    throw new UserInputError(`cannot drop root privileges to "${account.name}": this root lacks ${missing.join(' and ')}; nothing was sent (give root CAP_SETUID and CAP_SETGID, or run prtip as an ordinary user with -sT)`);
  }
}

/**
 * Becomes the account: supplementary groups first (only its primary group), then the gid, then
 * the uid (after which neither could change). glibc applies each to every thread of the process.
 * Every step is checked; any failure is one line, and the caller stops before sending anything.
 */
export function dropPrivileges(account: Account): void {
  const step = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      throw new UserInputError(`cannot drop root privileges to "${account.name}": ${what} failed (${(err as Error).message}); nothing was sent (give root CAP_SETUID and CAP_SETGID, or run prtip as an ordinary user with -sT)`);
    }
  };
  step(`setgroups([${account.gid}])`, () => process.setgroups!([account.gid]));
  step(`setgid(${account.gid})`, () => process.setgid!(account.gid));
  step(`setuid(${account.uid})`, () => process.setuid!(account.uid));
  // setuid(0) must now fail: otherwise the saved uid kept root and the drop can be undone.
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // expected
  }
  const why = regained ? 'setuid(0) still succeeds' : notDroppedReason(account);
  if (why) throw new UserInputError(`cannot drop root privileges to "${account.name}": ${why}; nothing was sent`);
}

/** The parts of a scan that open raw handles (pipelines/scan.ts hands them over). */
export interface RawNeeds {
  plan: TargetPlan;
  discover?: Pick<DiscoverOptions, 'probes' | 'privileged' | 'arp' | 'assumeUp' | 'pingOnly'>;
  scanTypes: string[];
  idleZombie?: string;
  /** -O: hosts OS-scanned at once (each with its own exchange). */
  osParallel?: number;
  trace?: boolean;
  route: RouteOverrides;
}

/** Up to 64 addresses spread over the family's targets: the interfaces they route through. */
function sampleAddresses(plan: TargetPlan, family: 4 | 6): string[] {
  const table = family === 4 ? plan.v4 : plan.v6;
  const n = Math.min(64, table.hosts);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = Math.floor((i * table.hosts) / n);
    if (family === 4) {
      const a = plan.v4.addr(h);
      out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`);
    } else {
      const b = new Uint8Array(16);
      plan.v6.writeAddr(h, b);
      const words: string[] = [];
      for (let w = 0; w < 16; w += 2) words.push(((b[w]! << 8) | b[w + 1]!).toString(16));
      out.push(words.join(':'));
    }
  }
  return out;
}

async function interfacesOf(targets: string[], route: RouteOverrides): Promise<string[]> {
  if (targets.length === 0) return [];
  const hops = await nextHopsOf(targets, route);
  const names = new Set<string>();
  for (const h of hops.values()) if (!h.local) names.add(h.ifname);
  if (route.iface) names.add(route.iface);
  return [...names];
}

/** How many raw handles of each kind the scan can hold at once, on which interfaces. */
export async function rawHandleNeeds(n: RawNeeds): Promise<Array<{ ifname: string; kind: 'engine' | 'exchange'; count: number }>> {
  const families = ([4, 6] as const).filter((f) => (f === 4 ? n.plan.v4.hosts : n.plan.v6.hosts) > 0);
  // One engine per (session, family): a ping lane is a session, so is each raw scan type.
  let sessions = n.scanTypes.filter((t) => t !== 'idle' && scanTypeByName(t)?.privileged).length;
  if (n.discover?.pingOnly) sessions = 0;
  const d = n.discover;
  if (d && d.privileged && !d.assumeUp) {
    const p = effectiveProbes(d);
    sessions += [p.echo || p.timestamp || p.mask, p.syn.length > 0, p.ack.length > 0, p.udp.length > 0, p.sctp.length > 0, p.ipProto.length > 0].filter(Boolean).length;
  }
  const exchanges = (n.osParallel ?? 0) + (n.trace ? 1 : 0);
  const out = new Map<string, { ifname: string; kind: 'engine' | 'exchange'; count: number }>();
  const add = (ifname: string, kind: 'engine' | 'exchange', count: number) => {
    if (count <= 0) return;
    const key = `${ifname} ${kind}`;
    const have = out.get(key);
    if (have) have.count += count;
    else out.set(key, { ifname, kind, count });
  };
  if (sessions > 0 || exchanges > 0) {
    for (const family of families) {
      for (const ifname of await interfacesOf(sampleAddresses(n.plan, family), n.route)) {
        add(ifname, 'engine', sessions);
        // OS detection and traceroute exchange frames of both families.
        add(ifname, 'exchange', exchanges);
      }
    }
  }
  if (n.idleZombie) {
    for (const ifname of await interfacesOf([parseZombie(n.idleZombie).host], n.route)) add(ifname, 'exchange', 1);
  }
  return [...out.values()];
}

/** Opens the handles (as root) that the scan's engines will take after the drop. */
export async function reserveRawHandles(n: RawNeeds, native: () => NativeEngine = loadNative): Promise<void> {
  const needs = await rawHandleNeeds(n);
  if (needs.length === 0) return;
  const engine = native();
  for (const { ifname, kind, count } of needs) {
    // Reserved handles are kept across scans of one process: top up to the need, not beyond.
    try {
      engine.reserveRawHandles(ifname, kind, count);
    } catch (err) {
      throw new UserInputError(`before dropping root privileges: ${(err as Error).message}`);
    }
  }
}

/**
 * DuckDB creates DB.wal beside its database and deletes it at each checkpoint, which needs write
 * access to the database's directory — gone after the drop when root owns it. So a database of a
 * scan that drops is opened through a hard link in a private directory (handed to the
 * unprivileged account at the drop): the WAL and spill files live there, and every commit is
 * checkpointed into the database at once (checkpoint_threshold 0), so the WAL never holds a commit
 * the database lacks for longer than that commit takes. A hard link, because DuckDB resolves
 * symlinks; so the directory is on the database's filesystem: in the temp directory when that is
 * the same filesystem (`prtip-db-INODE-XXXXXX`), else beside the database (`.NAME.prtip-XXXXXX`).
 * The database file keeps its owner and mode. A WAL beside the database, or in a private directory a
 * killed run left, is moved to where DuckDB replays it, and such leftovers are removed.
 */
const PRIVATE_DIRS = new WeakMap<Database, string>();

/** Private directories earlier runs left for this database (killed, or emptied after the drop). */
function leftoverDirs(real: string, ino: number | undefined): string[] {
  const list = (dir: string, match: (n: string) => boolean) => {
    try {
      return fs.readdirSync(dir).filter(match).map((n) => path.join(dir, n));
    } catch {
      return [];
    }
  };
  const beside = `.${path.basename(real)}.prtip-`;
  // In the temp directory: only those whose hard link is this database (a new one's name says "new").
  const holdsThis = (dir: string) => {
    try {
      return ino !== undefined && fs.statSync(path.join(dir, path.basename(real))).ino === ino;
    } catch {
      return false;
    }
  };
  return [
    ...list(path.dirname(real), (n) => n.startsWith(beside) && n.length === beside.length + 6),
    ...list(os.tmpdir(), (n) => n.startsWith('prtip-db-')).filter(holdsThis),
  ];
}

/** Removes the directory, or (after the drop, in a root-owned parent) everything in it: the next open removes the rest. */
function removeDir(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    try {
      for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    } catch {
      // not ours to clean (the drop took the access): the next open as root does
    }
  }
}

export async function openDatabaseForDrop(file: string): Promise<Database> {
  const { openDatabase } = await import('../stages/store/index.js');
  const real = path.resolve(file);
  const name = path.basename(real);
  const parent = path.dirname(real);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) {
    throw new UserInputError(`cannot open DuckDB database "${file}": there is no directory ${parent}`);
  }
  const existing = fs.existsSync(real) ? fs.statSync(real) : undefined;
  for (const old of leftoverDirs(real, existing?.ino)) {
    const link = path.join(old, name);
    const wal = `${link}.wal`;
    const same = fs.existsSync(link) && existing !== undefined && fs.statSync(link).ino === existing.ino;
    // A killed run's last commit, not yet checkpointed: DuckDB replays it from beside the database.
    if ((same || old.startsWith(path.dirname(real))) && fs.existsSync(wal) && !fs.existsSync(`${real}.wal`)) fs.copyFileSync(wal, `${real}.wal`);
    removeDir(old);
  }
  const sameFs = fs.statSync(os.tmpdir()).dev === fs.statSync(path.dirname(real)).dev;
  const dir = sameFs
    ? fs.mkdtempSync(path.join(os.tmpdir(), `prtip-db-${existing?.ino ?? 'new'}-`))
    : fs.mkdtempSync(path.join(path.dirname(real), `.${name}.prtip-`));
  const link = path.join(dir, name);
  const leftWal = fs.existsSync(`${real}.wal`);
  let db: Database;
  try {
    fs.mkdirSync(path.join(dir, 'tmp'));
    if (existing) fs.linkSync(real, link);
    if (leftWal) fs.copyFileSync(`${real}.wal`, `${link}.wal`);
    db = await openDatabase(link, { config: { checkpoint_threshold: '0b', temp_directory: path.join(dir, 'tmp') } });
    if (!existing) fs.linkSync(link, real);
  } catch (err) {
    removeDir(dir);
    throw err;
  }
  // Replayed (and checkpointed) into the database: the old WAL must not be replayed twice.
  if (leftWal) fs.rmSync(`${real}.wal`, { force: true });
  const close = db.close.bind(db);
  const ready: Database = {
    ...db,
    close() {
      close();
      removeDir(dir);
    },
  };
  PRIVATE_DIRS.set(ready, dir);
  return ready;
}

/** True when the database was opened by openDatabaseForDrop (its WAL survives the drop). */
export function survivesDrop(db: Database): boolean {
  return PRIVATE_DIRS.has(db);
}

/** Gives the database's private directory (and what is in it) to the account, just before the drop. */
export function handOverDatabase(db: Database, account: Account): void {
  const dir = PRIVATE_DIRS.get(db);
  if (!dir) throw new Error('handOverDatabase: the database was not opened with openDatabaseForDrop');
  // The account must reach the directory: every ancestor searchable by others.
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) {
      throw new UserInputError(`cannot give the database's WAL directory to "${account.name}": ${d} is closed to other users; put --db elsewhere, or set TMPDIR to a directory on the database's filesystem that ${account.name} can reach`);
    }
    if (d === path.dirname(d)) break;
  }
  fs.chownSync(dir, account.uid, account.gid);
  // Not the hard link: that is the database file itself, which stays the user's.
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.lstatSync(p).nlink === 1 || name.endsWith('.wal') || name === 'tmp') fs.lchownSync(p, account.uid, account.gid);
  }
  for (const name of fs.readdirSync(path.join(dir, 'tmp'))) fs.lchownSync(path.join(dir, 'tmp', name), account.uid, account.gid);
}

/**
 * The database a scan writes: through openDatabaseForDrop when this process is root and will
 * drop (a privilege option is given), else as always. Callers (prtip scan, prtip serve) open it
 * before the scan starts so a bad path fails first.
 */
export async function openScanDatabase(file: string, privilege: PrivilegeOptions | undefined): Promise<Database> {
  if (privilege && runningAsRoot()) {
    checkCanDrop(lookupAccount(privilege.user)); // refused before the file is created
    return openDatabaseForDrop(file);
  }
  const { openDatabase } = await import('../stages/store/index.js');
  return openDatabase(file);
}
