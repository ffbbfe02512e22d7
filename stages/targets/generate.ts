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

/** The batches of this shard, in position order: IPv4 positions first, then IPv6. */
export function* probeBatches(tp: TargetPlan, skip: ReadonlyArray<readonly [number, number]> = []): Generator<ProbeBatch, void, undefined> {
  const { probes4 } = tp;
  for (const [from, to] of keptSegments(tp.shardStart, tp.shardEnd, skip)) {
    if (from < probes4) yield* v4Batches(tp, from, Math.min(to, probes4));
    if (to > probes4) yield* v6Batches(tp, Math.max(from, probes4), to);
  }
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
  const perm = tp.sequential ? undefined : new FeistelPermutation(tp.probes4, tp.plan.seed);
  const table = tp.v4;
  const { ports, protos, count: portsPerHost } = tp.ports;
  const writer = new ProbeBatchWriter(4, tp.batchSize);
  for (let pos = from; pos < to; pos++) {
    const index = perm ? perm.at(pos) : pos;
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
  const perm = tp.sequential ? undefined : new FeistelPermutation(tp.probes6, (tp.plan.seed ^ V6_SEED_TWEAK) >>> 0);
  const table = tp.v6;
  const { ports, protos, count: portsPerHost } = tp.ports;
  const writer = new ProbeBatchWriter(6, tp.batchSize);
  const addr = new Uint8Array(16);
  for (let pos = from; pos < to; pos++) {
    const index = perm ? perm.at(pos - base) : pos - base;
    const host = Math.floor(index / portsPerHost);
    const p = index - host * portsPerHost;
    table.writeAddr(host, addr);
    writer.addV6(pos, addr, ports[p]!, protos[p]!);
    if (writer.full) yield writer.take()!;
  }
  const rest = writer.take();
  if (rest) yield rest;
}
