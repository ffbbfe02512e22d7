/**
 * Middleboxes that lie, for a lab (lab.ts): address ranges in the target namespace where every
 * port of every address answers SYN-ACK, next to the lab's real host and its real daemons.
 *
 *   synproxy  the kernel's own SYN proxy (nftables `synproxy`): SYN cookies answer every SYN; the
 *             handshake is then replayed to the local stack, so a port with a listener (the lab's
 *             daemons bind 0.0.0.0) works behind it and every other port is reset right after
 *             the handshake. The range is local to the target (`route add local`).
 *   tarpit    answer-all.c in mode tarpit (LaBrea's answer): SYN-ACK with window 10, no options,
 *             then nothing ever again.
 *   silent    answer-all.c in mode silent: SYN-ACK with window 65535 and MSS 1460, data and FIN
 *             acknowledged, not one byte sent.
 * The tarpit and silent ranges have no route in the target namespace (which does not forward):
 * only answer-all, on an AF_PACKET socket on the target veth, answers them.
 *
 * Every range must lie inside 198.18.0.0/15 off the veth link (checkAnyIpV4); the scanner gets a
 * route to each through the target, nothing else. IPv4 only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAnyIpV4, type Lab } from './lab.js';

export interface MiddleboxRanges {
  synproxy?: string;
  tarpit?: string;
  silent?: string;
}

export interface Middleboxes {
  /** Normalised ranges, as given. */
  ranges: MiddleboxRanges;
  /** Stops answer-all and removes the routes and nftables table (the lab's teardown would too). */
  teardown(): Promise<void>;
}

// Beside this file, or (compiled into dist/test/lab for the benches) in the source tree.
const RESPONDER_C = [new URL('./answer-all.c', import.meta.url), new URL('../../../test/lab/answer-all.c', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((f) => existsSync(f)) ?? fileURLToPath(new URL('./answer-all.c', import.meta.url));

function must(argv: string[], input?: string): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`lab middlebox: \`${argv.join(' ')}\` failed: ${r.stderr || r.error?.message}`);
}

export async function addMiddleboxes(lab: Lab, want: MiddleboxRanges): Promise<Middleboxes> {
  const ranges: MiddleboxRanges = {};
  for (const k of ['synproxy', 'tarpit', 'silent'] as const) if (want[k]) ranges[k] = checkAnyIpV4(want[k]!);
  const all = Object.values(ranges) as string[];
  must(['ip', '-n', lab.scannerNs, '-batch', '-'], all.map((r) => `route add ${r} via ${lab.targetV4} dev ${lab.scannerIf}`).join('\n') + '\n');

  if (ranges.synproxy) {
    const r = ranges.synproxy;
    must(['ip', '-n', lab.targetNs, 'route', 'add', 'local', r, 'dev', 'lo']);
    // Strict conntrack: an ACK for a connection it never saw is invalid, so synproxy gets it.
    must(['ip', 'netns', 'exec', lab.targetNs, 'sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0', 'net.ipv4.tcp_syncookies=1', 'net.ipv4.tcp_timestamps=1']);
    must(['ip', 'netns', 'exec', lab.targetNs, 'nft', '-f', '-'], [
      'table ip prtip_synproxy {',
      '  chain prerouting {',
      '    type filter hook prerouting priority raw; policy accept;',
      `    iifname "${lab.targetIf}" ip daddr ${r} tcp flags syn notrack`,
      '  }',
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      `    iifname "${lab.targetIf}" ip daddr ${r} ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm`,
      `    iifname "${lab.targetIf}" ip daddr ${r} ct state invalid drop`,
      '  }',
      '}',
    ].join('\n') + '\n');
  }

  let stopResponder: (() => void) | undefined;
  const modes = (['tarpit', 'silent'] as const).filter((m) => ranges[m]).map((m) => `${m}:${ranges[m]}`);
  if (modes.length > 0) {
    const bin = join(lab.tmpDir, 'answer-all');
    must(['cc', '-O2', '-Wall', '-o', bin, RESPONDER_C]);
    const child = lab.spawn([bin, lab.targetIf, ...modes], { ns: 'target', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lab middlebox: answer-all did not start: ${out}`)), 10_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('answering')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`lab middlebox: answer-all exited (${code}): ${out}`));
      });
    });
    child.removeAllListeners('exit');
    stopResponder = () => {
      if (child.pid !== undefined && child.exitCode === null) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    };
  }

  return {
    ranges,
    async teardown() {
      stopResponder?.();
    },
  };
}
