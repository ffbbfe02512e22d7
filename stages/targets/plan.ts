/** Options → a TargetPlan: every spec parsed, resolved, merged, excluded, counted and checked. */
import { createHash, randomBytes } from 'node:crypto';
import { UserInputError, type ScanPlan } from '../records/index.js';
import { loadServicesTable } from '../datafiles/index.js';
import { ListReader } from './input-files.js';
import { IPV6_MAX, parseIPv6 } from './ipv6.js';
import { selectPorts, type PortList } from './ports.js';
import { V4Ranges, type V4Table } from './ranges-v4.js';
import { V6Ranges, type V6Table } from './ranges-v6.js';
import { resolveNames } from './resolve.js';
import { expandV4Octets, parseTargetSpec, splitSpecs, type SpecContext, type SpecToken, type TargetSpec } from './target-spec.js';
import type { TargetsOptions } from './options.js';

/** Most separate address ranges per family: bounds planning memory (16 bytes per IPv4 range). */
export const MAX_INTERVALS = 1 << 20;
/** Largest index space (hosts × ports): the send stage's retry bitmap and double-exact indices rely on it. */
export const MAX_PROBES = 2 ** 48;
/**
 * Probes per batch: JS cost is per batch, so bigger amortizes better. Peak memory stays flat
 * whatever the scan size: the encoder recycles each batch's columns once packed
 * (RecordWriter / recycleProbeBatch in stages/records; see bench/targets.mjs).
 */
export const DEFAULT_BATCH_SIZE = 8192;
const MAX_BATCH_SIZE = 1 << 20;
/** Raw (unmerged) ranges gathered before a merge pass, so duplicates in a long list cost little memory. */
const COMPACT_AT = 2 * MAX_INTERVALS;

/** Everything generation needs; the header's `plan` is part of it. */
export interface TargetPlan {
  readonly plan: ScanPlan;
  readonly v4: V4Table;
  readonly v6: V6Table;
  readonly ports: PortList;
  /** Index space sizes: IPv4 positions are [0, probes4), IPv6 ones [probes4, probes4 + probes6). */
  readonly probes4: number;
  readonly probes6: number;
  /** This shard's slice of positions in the permuted sequence: [shardStart, shardEnd). */
  readonly shardStart: number;
  readonly shardEnd: number;
  readonly sequential: boolean;
  readonly batchSize: number;
}

export async function planTargets(opts: TargetsOptions): Promise<TargetPlan> {
  const seed = checkSeed(opts.seed);
  const shard = checkShard(opts.shard);
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new UserInputError(`batch size ${String(batchSize)}: expected a whole number 1-${MAX_BATCH_SIZE}`);
  }
  if (opts.family !== undefined && opts.family !== 4 && opts.family !== 6) {
    throw new UserInputError(`address family ${String(opts.family)}: expected 4 or 6`);
  }
  const family = opts.family;
  const ports = selectPorts(opts, () => loadServicesTable(opts.datadir));

  const reader = new ListReader(opts.stdin);
  const targetTokens = await gatherTokens(opts.specs, opts.inputFiles ?? [], '-iL', reader);
  const excludeTokens = await gatherTokens(opts.exclude ?? [], opts.excludeFiles ?? [], '--excludefile', reader);
  if (targetTokens.length === 0) {
    throw new UserInputError('no targets given: name hosts or networks (198.18.0.0/24, host.example) or use -iL FILE');
  }
  const targetSpecs = targetTokens.map((t) => parseTargetSpec(t.text, ctx('target', t, family)));
  const excludeSpecs = excludeTokens.map((t) => parseTargetSpec(t.text, ctx('exclude', t, family)));
  const resolveFamily = family ?? 4;
  const names = [...targetSpecs, ...excludeSpecs].flatMap((s) => (s.kind === 'host' ? [s.name] : []));
  const addresses = names.length > 0 ? await resolveNames(names, resolveFamily, opts.dnsServers) : new Map<string, string>();

  const targets = collect(targetSpecs, addresses, resolveFamily, 'targets');
  const excluded = collect(excludeSpecs, addresses, resolveFamily, 'exclusions');
  targets.v4.subtract(excluded.v4);
  targets.v6.subtract(excluded.v6);

  const hosts4 = targets.v4.hosts();
  const hosts6Big = targets.v6.hosts();
  if (hosts4 === 0 && hosts6Big === 0n) {
    throw new UserInputError(
      `no targets left after exclusions: the --exclude/--excludefile list covers every one of the ${targetTokens.length} target spec(s)`,
    );
  }
  checkSize(hosts4, hosts6Big, ports.count, targetSpecs);
  for (const [fam, set] of [['IPv4', targets.v4], ['IPv6', targets.v6]] as const) {
    if (set.length > MAX_INTERVALS) throw fragmented(fam, set.length);
  }
  const hosts6 = Number(hosts6Big);
  const probes4 = hosts4 * ports.count;
  const probes6 = hosts6 * ports.count;
  const probes = probes4 + probes6;
  const total = BigInt(probes);
  const shardStart = Number((total * BigInt(shard.index - 1)) / BigInt(shard.count));
  const shardEnd = Number((total * BigInt(shard.index)) / BigInt(shard.count));
  const v4 = targets.v4.compile();
  const v6 = targets.v6.compile();
  const sequential = opts.sequential ?? false;
  const hostGroup = opts.hostGroup;
  if (hostGroup !== undefined && (!Number.isSafeInteger(hostGroup) || hostGroup < 1)) {
    throw new UserInputError(`host group size ${String(hostGroup)}: expected a whole number of hosts, at least 1`);
  }
  const plan: ScanPlan = {
    hosts: hosts4 + hosts6,
    portsPerHost: ports.count,
    probes,
    shardProbes: shardEnd - shardStart,
    ports: ports.lists,
    seed,
    shard,
    fingerprint: planFingerprint(v4, v6, ports, shard, sequential, hostGroup),
    ...(hostGroup ? { hostGroup } : {}),
  };
  const typed = typedNames(targetSpecs, addresses);
  if (typed) plan.names = typed;
  return {
    plan,
    v4,
    v6,
    ports,
    probes4,
    probes6,
    shardStart,
    shardEnd,
    sequential,
    batchSize,
  };
}

/** What makes two plans probe the same (address, port) at the same permutation position. */
function planFingerprint(v4: V4Table, v6: V6Table, ports: PortList, shard: { index: number; count: number }, sequential: boolean, hostGroup?: number): string {
  const h = createHash('sha256');
  const bytes = (a: ArrayBufferView) => h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  h.update(`prtip-plan-1 v4 ${v4.starts.length} `);
  bytes(v4.starts);
  bytes(v4.cum);
  h.update(` v6 ${v6.words.length} `);
  bytes(v6.words);
  bytes(v6.cum);
  h.update(` ports ${ports.count} `);
  bytes(ports.ports);
  bytes(ports.protos);
  h.update(` shard ${shard.index}/${shard.count} ${sequential ? 'sequential' : 'permuted'}`);
  // Host groups change the order: a plan without them keeps the fingerprint it always had.
  if (hostGroup) h.update(` hostgroup ${hostGroup}`);
  return h.digest('hex').slice(0, 32);
}

/** Address → the hostname the user typed for it (the first name, when several resolve alike). */
function typedNames(specs: TargetSpec[], addresses: Map<string, string>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let any = false;
  for (const s of specs) {
    if (s.kind !== 'host' || s.prefix !== undefined) continue; // host/24 names one address of many
    const ip = addresses.get(s.name);
    if (ip === undefined || Object.prototype.hasOwnProperty.call(out, ip)) continue;
    out[ip] = s.name;
    any = true;
  }
  return any ? out : undefined;
}

function ctx(role: SpecContext['role'], token: SpecToken, family: 4 | 6 | undefined): SpecContext {
  const c: SpecContext = { role };
  if (family !== undefined) c.family = family;
  if (token.where !== undefined) c.where = token.where;
  return c;
}

async function gatherTokens(specs: string[], files: string[], flag: string, reader: ListReader): Promise<SpecToken[]> {
  const tokens = specs.flatMap((s) => splitSpecs(s));
  for (const file of files) {
    const text = await reader.read(file, flag);
    // A loop, not push(...spread): an -iL file of a million lines would overflow the call stack.
    for (const tok of splitSpecs(text, { comments: true, source: file === '-' ? 'stdin' : file })) tokens.push(tok);
  }
  return tokens;
}

/** Adds every spec's addresses to interval sets, merging as it goes so memory tracks distinct ranges. */
function collect(specs: TargetSpec[], addresses: Map<string, string>, resolveFamily: 4 | 6, what: string): { v4: V4Ranges; v6: V6Ranges } {
  const v4 = new V4Ranges();
  const v6 = new V6Ranges();
  const compact = (set: V4Ranges | V6Ranges, fam: string): void => {
    if (set.length < COMPACT_AT) return;
    set.normalize();
    if (set.length > MAX_INTERVALS) throw fragmented(fam, set.length, what);
  };
  for (const spec of specs) {
    switch (spec.kind) {
      case 'v4-block':
        v4.add(spec.start, spec.end);
        break;
      case 'v4-octets':
        if (spec.intervals > MAX_INTERVALS) {
          throw new UserInputError(
            `target "${spec.text}" expands to ${spec.intervals.toLocaleString('en-US')} separate address ranges ` +
              `(limit ${MAX_INTERVALS.toLocaleString('en-US')}); use fewer octet lists, or CIDR blocks`,
          );
        }
        expandV4Octets(spec.octets, (s, e) => {
          v4.add(s, e);
          compact(v4, 'IPv4');
        });
        break;
      case 'v6-block':
        v6.add(spec.start, spec.end);
        break;
      case 'host': {
        const address = addresses.get(spec.name)!;
        if (resolveFamily === 4) {
          const [start, end] = v4Block(address, spec.prefix);
          v4.add(start, end);
        } else {
          const value = parseIPv6(address);
          if (typeof value === 'string') throw new UserInputError(`"${spec.name}" resolved to "${address}", not an IPv6 address`);
          const span = (1n << BigInt(128 - (spec.prefix ?? 128))) - 1n;
          const start = value & (IPV6_MAX ^ span);
          v6.add(start, start | span);
        }
        break;
      }
    }
    compact(v4, 'IPv4');
    compact(v6, 'IPv6');
  }
  v4.normalize();
  v6.normalize();
  return { v4, v6 };
}

function v4Block(address: string, prefix: number | undefined): [number, number] {
  const addr = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const span = prefix === undefined ? 0 : 2 ** (32 - prefix) - 1;
  const start = addr - (addr % (span + 1));
  return [start, start + span];
}

function fragmented(fam: string, count: number, what = 'targets'): UserInputError {
  return new UserInputError(
    `${fam} ${what} are too fragmented: ${count.toLocaleString('en-US')} separate address ranges ` +
      `(limit ${MAX_INTERVALS.toLocaleString('en-US')}); merge them into CIDR blocks or wider ranges`,
  );
}

function log2Text(n: bigint): string {
  return `2^${Math.log2(Number(n)).toFixed(1).replace(/\.0$/, '')}`;
}

/** Refuses index spaces over 2^48, saying how big it was and what to narrow. */
function checkSize(hosts4: number, hosts6: bigint, portsPerHost: number, specs: TargetSpec[]): void {
  const hosts = BigInt(hosts4) + hosts6;
  const probes = hosts * BigInt(portsPerHost);
  if (probes <= BigInt(MAX_PROBES)) return;
  let biggest: { text: string; size: bigint } | undefined;
  for (const s of specs) {
    const size = s.kind === 'v6-block' ? s.end - s.start + 1n : s.kind === 'v4-block' ? BigInt(s.end - s.start + 1) : 0n;
    if (!biggest || size > biggest.size) biggest = { text: s.text, size };
  }
  const hostsText = hosts < 1n << 53n ? hosts.toLocaleString('en-US') : log2Text(hosts);
  let advice = 'narrow the targets (longer prefixes, fewer ranges) or the ports (-p)';
  if (biggest && biggest.size * BigInt(portsPerHost) > BigInt(MAX_PROBES)) {
    const v6 = biggest.text.includes(':');
    advice =
      `"${biggest.text}" alone has ${log2Text(biggest.size)} addresses; ` +
      (v6 ? 'scan a much longer IPv6 prefix (e.g. /112 or /120) or list known hosts with -iL' : 'use a longer prefix or fewer ports');
  }
  throw new UserInputError(
    `too many probes: ${hostsText} hosts × ${portsPerHost} ports = ${log2Text(probes)} ` +
      `(limit 2^48 = ${MAX_PROBES.toLocaleString('en-US')}); ${advice}`,
  );
}

function checkSeed(seed: number | undefined): number {
  if (seed === undefined) return randomBytes(4).readUInt32BE(0);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UserInputError(`--seed "${String(seed)}": expected a whole number 0-4294967295`);
  }
  return seed;
}

function checkShard(shard: { index: number; count: number } | undefined): { index: number; count: number } {
  if (shard === undefined) return { index: 1, count: 1 };
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new UserInputError(`--shard "${String(index)}/${String(count)}": expected I/N with 1 ≤ I ≤ N (e.g. 1/4)`);
  }
  return { index, count };
}
