/**
 * A lab for host discovery (on top of lab.ts): the target namespace answers for some of
 * 198.19.0.0/16 and not the rest, so a sweep meets live, dead and filtered space.
 *
 *   198.19.0.0/24  live: every address answers everything (kernel: echo, timestamp, RST/SYN-ACK, port unreachable)
 *   198.19.1.0/24  dead: no route in the target namespace (silence)
 *   198.19.2.0/24  filtered: nftables drops everything to it (silence)
 *   198.19.3.0/24  TCP only: nftables drops ICMP to it (found by -PS/-PA, not -PE/-PP)
 *   198.19.4.0/24  UDP-ish: nftables drops ICMP echo/timestamp and TCP (found only by -PU: port unreachable)
 *   sparseHosts    a few /32s elsewhere in the /16 (the rest of it is empty space)
 *
 * Routes and rules are added with `ip`/`nft` inside the lab's target namespace only.
 */
import { createLab, type Lab, type LabOptions } from './lab.js';

export interface DiscoveryLab extends Lab {
  live: string;
  dead: string;
  filtered: string;
  tcpOnly: string;
  udpOnly: string;
  /** Live single hosts in otherwise empty /24s. */
  sparseHosts: string[];
}

export const DISCOVERY_SPARSE_HOSTS = ['198.19.17.5', '198.19.99.200', '198.19.200.77', '198.19.255.1'];

export async function createDiscoveryLab(opts: LabOptions = {}): Promise<DiscoveryLab> {
  const lab = await createLab({ ...opts, anyIpV4: '198.19.0.0/16' });
  const tgt = (argv: string[], input?: string) => lab.exec(argv, { ns: 'target', ...(input !== undefined ? { input } : {}) });
  const must = async (argv: string[], input?: string) => {
    const r = await tgt(argv, input);
    if (r.code !== 0) throw new Error(`discovery lab: ${argv.join(' ')}: ${r.stderr}`);
  };
  await must(['ip', 'route', 'del', 'local', '198.19.0.0/16', 'dev', 'lo', 'table', 'local']);
  for (const net of ['198.19.0.0/24', '198.19.2.0/24', '198.19.3.0/24', '198.19.4.0/24', ...DISCOVERY_SPARSE_HOSTS.map((h) => `${h}/32`)]) {
    await must(['ip', 'route', 'add', 'local', net, 'dev', 'lo']);
  }
  await must(['sysctl', '-q', '-w', 'net.ipv4.icmp_ratelimit=0']);
  await must(['nft', '-f', '-'], [
    'table inet prtip_discovery {',
    '  chain input {',
    '    type filter hook input priority -10; policy accept;',
    '    ip daddr 198.19.2.0/24 drop',
    '    ip daddr 198.19.3.0/24 ip protocol icmp drop',
    '    ip daddr 198.19.4.0/24 ip protocol { icmp, tcp } drop',
    '  }',
    '}',
  ].join('\n') + '\n');
  return Object.assign(lab, {
    live: '198.19.0.0/24', dead: '198.19.1.0/24', filtered: '198.19.2.0/24', tcpOnly: '198.19.3.0/24', udpOnly: '198.19.4.0/24',
    sparseHosts: DISCOVERY_SPARSE_HOSTS,
  });
}
