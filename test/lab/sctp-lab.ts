/**
 * SCTP in the lab: this kernel has no SCTP, so a userspace endpoint (sctp-responder.py, raw
 * sockets for IPv4 and IPv6) answers in the target namespace as a stack would: INIT-ACK from the
 * listening ports, ABORT from the others. The kernel still sends protocol unreachable (ICMPv6:
 * unrecognized next header) for 132 when a probe finds the raw sockets' queue full, which would
 * contradict the endpoint: nftables drops those on their way out.
 */
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

const RESPONDER = fileURLToPath(new URL('./sctp-responder.py', import.meta.url));

/** Starts the responder for these listening ports; resolves once its sockets are open. */
export async function sctpResponder(lab: Lab, listening: number[]): Promise<void> {
  const rules = [
    'table inet sctp_lab {', '  chain output {', '    type filter hook output priority 0; policy accept;',
    '    icmp type destination-unreachable icmp code prot-unreachable drop', '    icmpv6 type parameter-problem icmpv6 code 1 drop', '  }', '}', '',
  ].join('\n');
  const nft = await lab.exec(['nft', '-f', '-'], { ns: 'target', input: rules });
  if (nft.code !== 0) throw new Error(`nft: ${nft.stderr}`);
  const child = lab.spawn(['/usr/bin/python3', RESPONDER, listening.join(',')], { ns: 'target', stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('SCTP responder did not start')), 10_000);
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`SCTP responder exited (${code})`)); });
  });
}

/** CRC32c, bit by bit (RFC 9260 appendix A), to check SCTP checksums on captured packets. */
export function crc32c(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The SCTP packet's checksum field (least significant byte first) is its CRC32c. */
export function sctpChecksumOk(sctp: Uint8Array): boolean {
  const copy = Buffer.from(sctp);
  copy.fill(0, 8, 12);
  return Buffer.from(sctp).readUInt32LE(8) === crc32c(copy);
}
