/**
 * An idle-scan zombie beside a lab (lab.ts): a third namespace on the scanner's link. The target
 * namespace gets a bridge holding its veth to the scanner and a new veth (created inside the
 * target namespace, its peer moved straight into the zombie's: the host's namespace gains no
 * link) to the zombie; the target's IPv4 address moves to the bridge. Scanner, target and zombie
 * then share one segment, so probes forged with the zombie's (or the target's) address reach
 * their host as they would on a LAN. In the zombie namespace, nftables keeps inbound TCP from the
 * kernel and zombie-responder.py answers SYN/ACKs with RSTs carrying one global IP ID counter
 * (Linux's per-destination IDs make no zombie). nftables rules in the target for this lab must
 * not match on the veth's name (packets now arrive on the bridge).
 *
 *   scanner 198.18.0.1 ──veth── [bridge: target 198.18.0.2] ──veth── zombie 198.18.0.3
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

export const ZOMBIE_V4 = '198.18.0.3';
const ZOMBIE_MAC = '02:00:c6:12:00:03';
const RESPONDER = fileURLToPath(new URL('./zombie-responder.py', import.meta.url));

export interface Zombie {
  ns: string;
  address: string;
  /** Runs a command in the zombie namespace. */
  exec(argv: string[]): string;
  /** Stops the responder and deletes the namespace (idempotent). */
  teardown(): void;
}

let seq = 0;

export async function addZombie(lab: Lab, startId = 1000): Promise<Zombie> {
  const ns = `prtip-probe-zmb-${process.pid}-${seq++}`; // prtip-probe-: .ci/run checks none is left behind
  const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const inNs = (name: string, argv: string[]) => run(['ip', 'netns', 'exec', name, ...argv]);
  let gone = false;
  const teardown = () => {
    if (gone) return;
    gone = true;
    try { run(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean).forEach((pid) => { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }); } catch { /* no ns */ }
    try { run(['ip', 'netns', 'del', ns]); } catch { /* already gone */ }
  };
  process.once('exit', teardown);
  run(['ip', 'netns', 'add', ns]);
  try {
    const t = (argv: string[]) => run(['ip', '-n', lab.targetNs, ...argv]);
    t(['link', 'add', 'br-lab', 'type', 'bridge']);
    t(['link', 'add', 'vz-tgt', 'type', 'veth', 'peer', 'name', 'vz-zmb', 'address', ZOMBIE_MAC, 'netns', ns]);
    t(['link', 'set', lab.targetIf, 'master', 'br-lab']);
    t(['link', 'set', 'vz-tgt', 'master', 'br-lab']);
    t(['addr', 'del', `${lab.targetV4}/24`, 'dev', lab.targetIf]);
    t(['addr', 'add', `${lab.targetV4}/24`, 'dev', 'br-lab']);
    t(['link', 'set', 'br-lab', 'address', lab.targetMac]);
    t(['link', 'set', 'vz-tgt', 'up']);
    t(['link', 'set', 'br-lab', 'up']);
    t(['neigh', 'replace', lab.scannerV4, 'lladdr', lab.scannerMac, 'dev', 'br-lab', 'nud', 'permanent']);
    t(['neigh', 'replace', ZOMBIE_V4, 'lladdr', ZOMBIE_MAC, 'dev', 'br-lab', 'nud', 'permanent']);
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', ns, 'addr', 'add', `${ZOMBIE_V4}/24`, 'dev', 'vz-zmb']);
    run(['ip', '-n', ns, 'link', 'set', 'vz-zmb', 'up']);
    run(['ip', '-n', ns, 'neigh', 'replace', lab.scannerV4, 'lladdr', lab.scannerMac, 'dev', 'vz-zmb', 'nud', 'permanent']);
    run(['ip', '-n', ns, 'neigh', 'replace', lab.targetV4, 'lladdr', lab.targetMac, 'dev', 'vz-zmb', 'nud', 'permanent']);
    run(['ip', '-n', lab.scannerNs, 'neigh', 'replace', ZOMBIE_V4, 'lladdr', ZOMBIE_MAC, 'dev', lab.scannerIf, 'nud', 'permanent']);
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: 'table inet zombie {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    meta l4proto tcp drop\n  }\n}\n' });
  } catch (err) {
    teardown();
    throw err;
  }
  const child = lab.spawn(['ip', 'netns', 'exec', ns, '/usr/bin/python3', RESPONDER, 'vz-zmb', ZOMBIE_V4, String(startId)], { ns: 'target', stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('zombie responder did not start')), 10_000);
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`zombie responder exited (${code})`)); });
  });
  return { ns, address: ZOMBIE_V4, exec: (argv) => inNs(ns, argv), teardown };
}
