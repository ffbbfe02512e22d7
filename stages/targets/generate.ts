/**
 * The hot loop: positions of the permuted sequence → packed probe batches.
 * Per probe: one permutation step, a division, a binary search over ranges and a few typed-array
 * writes — no objects, no bigint. Work happens only when a batch is pulled, so memory stays at a
 * batch or two whatever the size of the scan.
 */
import { ProbeBatchWriter, type ProbeBatch } from '../records/index.js';
import type { TargetPlan } from './plan.js';
import { FeistelPermutation } from './rand-feistel.js';

/** Seeds differ per family so IPv4 and IPv6 orders are unrelated even at equal sizes. */
const V6_SEED_TWEAK = 0x5bd1e995;

/**
 * The position → index map of one family. Without host groups: one permutation of the family's
 * whole index space. With them (--max-hostgroup G): positions come group by group — group g holds
 * hosts [g·G, (g+1)·G) in plan (address) order, and its G × ports probes are permuted among
 * themselves — so a group's probes are one run of positions and the next group's follow.
 */
class PositionOrder {
  private readonly groupProbes: number;
  private group = -1;
  private perm?: FeistelPermutation;
  private whole?: FeistelPermutation;

  constructor(private readonly size: number, portsPerHost: number, hostGroup: number | undefined,
    private readonly seed: number, private readonly sequential: boolean) {
    this.groupProbes = hostGroup ? hostGroup * portsPerHost : size;
    if (!hostGroup && !sequential) this.whole = new FeistelPermutation(size, seed);
  }

  /** The index of the family's position `pos` (0-based within the family). */
  at(pos: number): number {
    if (this.sequential) return pos;
    if (this.whole) return this.whole.at(pos);
    const g = Math.floor(pos / this.groupProbes);
    const base = g * this.groupProbes;
    if (g !== this.group) {
      this.group = g;
      this.perm = new FeistelPermutation(Math.min(this.groupProbes, this.size - base), (this.seed ^ Math.imul(g + 1, 0x2545f491)) >>> 0);
    }
    return base + this.perm!.at(pos - base);
  }
}

/** The host group of a position (with --max-hostgroup), as "family:group"; undefined without groups. */
export function hostGroupOf(tp: TargetPlan, pos: number): string | undefined {
  const g = tp.plan.hostGroup;
  if (!g) return undefined;
  const per = g * tp.ports.count;
  return pos < tp.probes4 ? `4:${Math.floor(pos / per)}` : `6:${Math.floor((pos - tp.probes4) / per)}`;
}

/** The batches of this shard, in position order: IPv4 positions first, then IPv6. */
export function* probeBatches(tp: TargetPlan, skip: ReadonlyArray<readonly [number, number]> = []): Generator<ProbeBatch, void, undefined> {
  const { probes4 } = tp;
  for (const [from, to] of groupSegments(tp, keptSegments(tp.shardStart, tp.shardEnd, skip))) {
    if (from < probes4) yield* v4Batches(tp, from, Math.min(to, probes4));
    if (to > probes4) yield* v6Batches(tp, Math.max(from, probes4), to);
  }
}

/** With host groups, segments cut at group boundaries: a batch never holds two groups' probes. */
function groupSegments(tp: TargetPlan, segments: Array<[number, number]>): Array<[number, number]> {
  const g = tp.plan.hostGroup;
  if (!g) return segments;
  const per = g * tp.ports.count;
  const out: Array<[number, number]> = [];
  for (const [from, to] of segments) {
    let a = from;
    while (a < to) {
      const local = a < tp.probes4 ? a : a - tp.probes4;
      const base = a < tp.probes4 ? 0 : tp.probes4;
      const familyEnd = a < tp.probes4 ? tp.probes4 : Infinity;
      const end = Math.min(to, familyEnd, base + (Math.floor(local / per) + 1) * per);
      out.push([a, end]);
      a = end;
    }
  }
  return out;
}

/** [start, end) minus the skipped ranges, in order. A batch never spans a gap. */
export function keptSegments(start: number, end: number, skip: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...skip].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  let pos = start;
  for (const [a, b] of sorted) {
    if (b <= pos) continue;
    if (a >= end) break;
    if (a > pos) out.push([pos, a]);
    pos = Math.max(pos, b);
  }
  if (pos < end) out.push([pos, end]);
  return out;
}

function* v4Batches(tp: TargetPlan, from: number, to: number): Generator<ProbeBatch, void, undefined> {
  const perm = new PositionOrder(tp.probes4, tp.ports.count, tp.plan.hostGroup, tp.plan.seed, tp.sequential);
  const table = tp.v4;
  const { ports, protos, count: portsPerHost } = tp.ports;
  const writer = new ProbeBatchWriter(4, tp.batchSize);
  for (let pos = from; pos < to; pos++) {
    const index = perm.at(pos);
    // Exact: index < 2^49, so the quotient is never within rounding distance of the next integer.
    const host = Math.floor(index / portsPerHost);
    const p = index - host * portsPerHost;
    writer.addV4(pos, table.addr(host), ports[p]!, protos[p]!);
    if (writer.full) yield writer.take()!;
  }
  const rest = writer.take();
  if (rest) yield rest;
}

function* v6Batches(tp: TargetPlan, from: number, to: number): Generator<ProbeBatch, void, undefined> {
  const base = tp.probes4;
  const perm = new PositionOrder(tp.probes6, tp.ports.count, tp.plan.hostGroup, (tp.plan.seed ^ V6_SEED_TWEAK) >>> 0, tp.sequential);
  const table = tp.v6;
  const { ports, protos, count: portsPerHost } = tp.ports;
  const writer = new ProbeBatchWriter(6, tp.batchSize);
  const addr = new Uint8Array(16);
  for (let pos = from; pos < to; pos++) {
    const index = perm.at(pos - base);
    const host = Math.floor(index / portsPerHost);
    const p = index - host * portsPerHost;
    table.writeAddr(host, addr);
    writer.addV6(pos, addr, ports[p]!, protos[p]!);
    if (writer.full) yield writer.take()!;
  }
  const rest = writer.take();
  if (rest) yield rest;
}
