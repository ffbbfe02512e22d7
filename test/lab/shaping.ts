/**
 * Path shaping for timing tests and benches, on top of a lab (lab.ts): a tbf rate limit on the
 * target's egress (its answers: the bottleneck a rate-limited path puts on a scan) and nftables
 * drops of everything to chosen addresses (hosts that answer nothing among hosts that answer).
 */
import type { Lab } from './lab.js';

/** Limits the target's outbound rate with tbf (e.g. '5mbit'); queue of `latencyMs`. Returns the bits per second. */
export async function shapeTarget(lab: Lab, rate: string, latencyMs = 50): Promise<number> {
  const r = await lab.exec(['tc', 'qdisc', 'replace', 'dev', lab.targetIf, 'root', 'tbf', 'rate', rate, 'burst', '4kb', 'latency', `${latencyMs}ms`], { ns: 'target' });
  if (r.code !== 0) throw new Error(`tc tbf ${rate}: ${r.stderr}`);
  return rateBits(rate);
}

export async function unshapeTarget(lab: Lab): Promise<void> {
  await lab.exec(['tc', 'qdisc', 'del', 'dev', lab.targetIf, 'root'], { ns: 'target' });
}

/** tc's rate syntax (kbit, mbit, gbit; bare: bits) in bits per second. */
export function rateBits(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/i.exec(rate);
  if (!m) throw new Error(`rate ${rate}: use Nkbit, Nmbit or Ngbit`);
  return Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1);
}

/** Seconds the shaped path needs to carry `frames` frames of `frameBytes` (Ethernet header included, as tbf counts). */
export function capacitySeconds(bitsPerSecond: number, frames: number, frameBytes: number): number {
  return (frames * frameBytes * 8) / bitsPerSecond;
}

/** Drops every packet the target namespace receives for these addresses (a host that answers nothing). */
export async function blackhole(lab: Lab, addrs: string[]): Promise<void> {
  const rules = [
    'table ip prtip_blackhole {',
    '  chain pre { type filter hook prerouting priority -300; policy accept;',
    ...addrs.map((a) => `    ip daddr ${a} drop`),
    '  }',
    '}',
  ].join('\n');
  const r = await lab.exec(['nft', '-f', '-'], { ns: 'target', input: rules });
  if (r.code !== 0) throw new Error(`nft blackhole: ${r.stderr}`);
}

/**
 * Polices what the target namespace receives for one address to `pps` packets per second (an
 * nftables limit: beyond it, packets are dropped) — one host behind a tight limit while the
 * others' path stays free.
 */
export async function limitHost(lab: Lab, addr: string, pps: number, burst = 10): Promise<void> {
  const rules = [
    'table ip prtip_hostlimit {',
    '  chain pre { type filter hook prerouting priority -300; policy accept;',
    `    ip daddr ${addr} limit rate over ${pps}/second burst ${burst} packets drop`,
    '  }',
    '}',
  ].join('\n');
  const r = await lab.exec(['nft', '-f', '-'], { ns: 'target', input: rules });
  if (r.code !== 0) throw new Error(`nft host limit: ${r.stderr}`);
}
