/**
 * More scanner namespaces on one lab: each its own vantage point, joined to the lab's target
 * namespace by its own veth pair (198.18.1K.0/24, K = 1…), with a route to the lab's AnyIP range
 * through it and, like the lab's own scanner, no default route and no other link. For tests of
 * several scanners at once (prtip cluster workers). Namespaces are named after the lab's scanner
 * (`prtip-scan-…-wK`), so the CI's leftover check sees them; teardown() deletes them, and with
 * them their veths. Filtered ports of the lab apply to these links too.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Lab } from './lab.js';
import { parsePcap, type CapturedPacket } from './pcap.js';

export interface ExtraScanner {
  ns: string;
  /** This scanner's address on its link (its probes' source). */
  address: string;
  /** Starts a process in this namespace (own process group); teardown kills it if still running. */
  spawn(argv: string[], opts?: { stdio?: StdioOptions }): ChildProcess;
}

export interface ExtraScanners {
  scanners: ExtraScanner[];
  /** tcpdump on every interface of the target namespace (all scanners' links); stop() parses it. */
  capture(filter: string): Promise<{ stop(): Promise<CapturedPacket[]> }>;
  teardown(): Promise<void>;
}

function ip(args: string[], input?: string): void {
  const r = spawnSync('ip', args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`lab: ip ${args.join(' ')} failed: ${r.stderr}`);
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, sig); } catch { /* gone */ }
}

export async function addScanners(lab: Lab, count: number, filteredTcpPorts: number[] = []): Promise<ExtraScanners> {
  if (!lab.anyIpV4) throw new Error('addScanners: the lab needs an anyIpV4 range to route to');
  const procs = new Set<ChildProcess>();
  const namespaces: string[] = [];
  const scanners: ExtraScanner[] = [];
  const teardown = async () => {
    for (const p of procs) killGroup(p, 'SIGKILL');
    for (const ns of namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    for (let k = 1; k <= count; k++) {
      const ns = `${lab.scannerNs}-w${k}`;
      const [sIf, tIf] = [`vs${k}`, `vt${k}`];
      const [sMac, tMac] = [`02:00:c6:12:${(0x10 + k).toString(16)}:01`, `02:00:c6:12:${(0x10 + k).toString(16)}:02`];
      const [sIp, tIp] = [`198.18.${10 + k}.1`, `198.18.${10 + k}.2`];
      ip(['netns', 'add', ns]);
      namespaces.push(ns);
      ip(['-n', ns, '-batch', '-'], [
        `link add ${sIf} address ${sMac} type veth peer name ${tIf} address ${tMac} netns ${lab.targetNs}`,
        'link set lo up',
        `addr add ${sIp}/24 dev ${sIf}`,
        `link set ${sIf} up`,
        `neigh replace ${tIp} lladdr ${tMac} nud permanent dev ${sIf}`,
        `route add ${lab.anyIpV4} via ${tIp} dev ${sIf}`,
      ].join('\n') + '\n');
      ip(['-n', lab.targetNs, '-batch', '-'], [
        `addr add ${tIp}/24 dev ${tIf}`,
        `link set ${tIf} up`,
        `neigh replace ${sIp} lladdr ${sMac} nud permanent dev ${tIf}`,
      ].join('\n') + '\n');
      if (filteredTcpPorts.length > 0) {
        const r = spawnSync('ip', ['netns', 'exec', lab.targetNs, 'nft', 'add', 'rule', 'inet', 'prtip_lab', 'input', 'iifname', tIf, 'tcp', 'dport', `{ ${filteredTcpPorts.join(', ')} }`, 'counter', 'drop'], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`lab: nft rule for ${tIf} failed: ${r.stderr}`);
      }
      scanners.push({
        ns,
        address: sIp,
        spawn(argv, opts = {}) {
          const child = spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true, stdio: opts.stdio ?? 'ignore' });
          procs.add(child);
          child.once('exit', () => procs.delete(child));
          return child;
        },
      });
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  let seq = 0;
  return {
    scanners,
    teardown,
    async capture(filter) {
      const file = path.join(lab.tmpDir, `extra-capture-${++seq}.pcap`);
      const child = spawn('ip', ['netns', 'exec', lab.targetNs, 'tcpdump', '-i', 'any', '-n', '-U', '--immediate-mode', '-Z', 'root', '-w', file, filter], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.add(child);
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`lab: tcpdump did not start: ${err}`)), 10_000);
        child.stderr!.on('data', (c: Buffer) => {
          err += c.toString();
          if (err.includes('listening on')) { clearTimeout(timer); resolve(); }
        });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`lab: tcpdump exited ${code}: ${err}`)); });
      });
      return {
        async stop() {
          await new Promise((r) => setTimeout(r, 200));
          const gone = new Promise((r) => child.once('exit', r));
          killGroup(child, 'SIGINT');
          await gone;
          procs.delete(child);
          return parsePcap(fs.readFileSync(file));
        },
      };
    },
  };
}
