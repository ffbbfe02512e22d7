/**
 * The targets stage: the first stage of every scan. Expands nmap-style target and port specs
 * into a header (with the plan), probe batches in seeded permutation order, and a trailer.
 */
import { Readable } from 'node:stream';
import { newHeader, newTrailer, type AnyRecord, type HostGroupEnd } from '../records/index.js';
import { hostGroupOf, probeBatches } from './generate.js';
import { planTargets, type TargetPlan } from './plan.js';
import type { TargetsOptions } from './options.js';

export type { TargetsOptions } from './options.js';
export { planTargets, DEFAULT_BATCH_SIZE, MAX_INTERVALS, MAX_PROBES, type TargetPlan } from './plan.js';
export { parsePortSpec, selectPorts, DEFAULT_TOP_PORTS, FAST_TOP_PORTS, type PortList, type PortSelection } from './ports.js';
export { parseTargetSpec, splitSpecs, type SpecContext, type SpecToken, type TargetSpec } from './target-spec.js';
export { FeistelPermutation, feistelSelfTest } from './rand-feistel.js';
export { probeBatches, keptSegments, hostGroupOf } from './generate.js';

/**
 * The stage's records as an async generator (pipelines compose these): header, batches, trailer.
 * Planning errors (UserInputError) are thrown before the first record. A `plan` already made by
 * planTargets(opts) may be passed to skip planning again.
 */
export async function* targetRecords(opts: TargetsOptions, planned?: TargetPlan): AsyncGenerator<AnyRecord, void, undefined> {
  const tp = planned ?? (await planTargets(opts));
  yield newHeader(opts.args, { plan: tp.plan });
  let emitted = 0;
  let interrupted = false;
  // --max-hostgroup: after each group's last batch, its end (batches never span two groups).
  let group: string | undefined;
  const groupEnd = (g: string): HostGroupEnd => {
    const [fam, k] = g.split(':').map(Number) as [number, number];
    const familyHosts = fam === 4 ? tp.probes4 / tp.ports.count : tp.probes6 / tp.ports.count;
    return { type: 'hostgroup', group: g, hosts: Math.min(tp.plan.hostGroup!, familyHosts - k * tp.plan.hostGroup!) };
  };
  for (const batch of probeBatches(tp, opts.skip)) {
    // Checked before each batch: after Ctrl-C no new probe goes out, but the trailer still does.
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
    const g = hostGroupOf(tp, batch.start);
    if (group !== undefined && g !== group) yield groupEnd(group);
    group = g;
    emitted += batch.count;
    yield batch;
  }
  if (group !== undefined && !interrupted) yield groupEnd(group);
  if (!interrupted && opts.signal?.aborted) interrupted = emitted < tp.plan.shardProbes;
  const trailer = newTrailer(interrupted);
  trailer.counters = { targets: { hosts: tp.plan.hosts, probes: emitted } };
  yield trailer;
}

/**
 * The stage as an object-mode Readable. Batches are generated as the consumer reads
 * (backpressure: nothing is made ahead beyond the highWaterMark); a planning error becomes the
 * stream's 'error' before any record.
 */
export function createTargetsStage(opts: TargetsOptions): Readable {
  return Readable.from(targetRecords(opts), { objectMode: true, highWaterMark: 4 });
}
