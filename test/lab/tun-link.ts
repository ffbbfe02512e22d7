// A non-Ethernet link between the lab's namespaces: two tun devices (bare IP packets, no MAC, no
// ARP: the link type of WireGuard and VPN tun devices) joined by a small relay of our own
// (tun-relay.py), one tun in each namespace. The scanner reaches TUN_RANGE only through it.
//
//   scanner ns [tun-scan 198.18.5.1] ── relay ── [tun-tgt 198.18.6.7 (+ 198.18.6.0/24 AnyIP)] target ns
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './lab.js';

export const TUN_SCANNER_IF = 'tun-scan';
export const TUN_TARGET_IF = 'tun-tgt';
export const TUN_SCANNER_V4 = '198.18.5.1';
/** The range the scanner routes through the tun; the target answers for every address in it. */
export const TUN_RANGE = '198.18.6.0/24';
export const TUN_TARGET_V4 = '198.18.6.7';
export const TUN_SCANNER_V6 = '2001:2:0:5::1';
export const TUN_RANGE_V6 = '2001:2:0:6::/64';
export const TUN_TARGET_V6 = '2001:2:0:6::7';

const RELAY = fileURLToPath(new URL('./tun-relay.py', import.meta.url));

async function must(lab: Lab, argv: string[], ns: 'scanner' | 'target'): Promise<void> {
  const r = await lab.exec(argv, { ns });
  if (r.code !== 0) throw new Error(`tun-link: ${argv.join(' ')} (${ns}): ${r.stderr.trim()}`);
}

/** Builds the tun link; the relay stops with the lab's teardown. */
export async function addTunLink(lab: Lab): Promise<{ relay: ChildProcess }> {
  const relay = lab.spawn(['python3', RELAY, TUN_SCANNER_IF, TUN_TARGET_IF], { ns: 'scanner', stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tun-link: the relay did not start: ${err}`)), 10_000);
    relay.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    relay.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
    relay.once('exit', (code) => { clearTimeout(timer); reject(new Error(`tun-link: the relay exited (${code}): ${err}`)); });
  });
  await must(lab, ['ip', 'link', 'set', TUN_TARGET_IF, 'netns', lab.targetNs], 'scanner');
  await must(lab, ['ip', 'addr', 'add', `${TUN_SCANNER_V4}/32`, 'dev', TUN_SCANNER_IF], 'scanner');
  await must(lab, ['ip', '-6', 'addr', 'add', `${TUN_SCANNER_V6}/128`, 'dev', TUN_SCANNER_IF, 'nodad'], 'scanner');
  await must(lab, ['ip', 'link', 'set', TUN_SCANNER_IF, 'up'], 'scanner');
  await must(lab, ['ip', 'route', 'add', TUN_RANGE, 'dev', TUN_SCANNER_IF, 'src', TUN_SCANNER_V4], 'scanner');
  await must(lab, ['ip', '-6', 'route', 'add', TUN_RANGE_V6, 'dev', TUN_SCANNER_IF, 'src', TUN_SCANNER_V6], 'scanner');
  await must(lab, ['ip', 'addr', 'add', `${TUN_TARGET_V4}/32`, 'dev', TUN_TARGET_IF], 'target');
  await must(lab, ['ip', '-6', 'addr', 'add', `${TUN_TARGET_V6}/128`, 'dev', TUN_TARGET_IF, 'nodad'], 'target');
  await must(lab, ['ip', 'link', 'set', TUN_TARGET_IF, 'up'], 'target');
  await must(lab, ['ip', 'route', 'add', `${TUN_SCANNER_V4}/32`, 'dev', TUN_TARGET_IF], 'target');
  await must(lab, ['ip', '-6', 'route', 'add', `${TUN_SCANNER_V6}/128`, 'dev', TUN_TARGET_IF], 'target');
  // Every address of the range is the target's (AnyIP), so a sweep of it finds hosts.
  await must(lab, ['ip', 'route', 'add', 'local', TUN_RANGE, 'dev', 'lo'], 'target');
  return { relay };
}
