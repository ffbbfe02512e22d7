/**
 * Bounded memory for every output (root: runs in the lab's scanner namespace).
 *
 *   npm run bench -- memory [--rate PPS] [--hosts N] [--json]
 *
 * For each output format (-oN, -oX, -oG, -oJ, -oC, and -oA), the peak RSS of
 * `prtip scan -sS -p 80 198.19.0.0/16 -oF FILE` (65,536 hosts, each with a report) and of a
 * many-ports plan (N hosts × all 65,535 ports, default 16) beside the same scan of a /24 on one
 * port, as ratios (goal ≤ 1.3×). Also the time from the closing "prtip done" line on stdout to
 * the process's exit (goal < 50 ms), and the format stage alone: port records per second
 * through -oN and -oX (goal ≥ 500k/s), in this process with no network.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labSkipReason, type Lab } from '../test/lab/lab.js';
import { formatRecords, type OutputFormatName } from '../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord } from '../stages/records/index.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const RATE = Number(arg('--rate') ?? 100_000);
const HOSTS = Number(arg('--hosts') ?? 16);
const json = process.argv.includes('--json');
const results: Record<string, unknown> = {};
const log = (m: string) => { if (!json) process.stdout.write(`${m}\n`); };

/** Runs prtip in the lab; peak RSS (MiB) and the time from "prtip done" on stdout to exit (ms). */
function measure(lab: Lab, args: string[]): Promise<{ rssMiB: number; exitMs: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('ip', ['netns', 'exec', lab.scannerNs, '/usr/bin/time', '-f', 'maxrss %M', process.execPath, PRTIP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let doneAt: number | undefined;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (doneAt === undefined && /^prtip done: /m.test(out)) doneAt = performance.now();
      if (out.length > 1 << 16) out = out.slice(-4096);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // prtip's own exit: /usr/bin/time reports after it, so take the exit from the child's end of stdout.
    let stdoutEnd: number | undefined;
    child.stdout.on('end', () => (stdoutEnd = performance.now()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`prtip ${args.join(' ')} exited ${code}: ${err.slice(-400)}`));
      const m = /maxrss (\d+)/.exec(err);
      resolve({ rssMiB: Number(m?.[1] ?? NaN) / 1024, exitMs: (stdoutEnd ?? performance.now()) - (doneAt ?? NaN), seconds: (performance.now() - t0) / 1000 });
    });
  });
}

const FORMATS: Array<[string, string]> = [['-oN', 'out.nmap'], ['-oX', 'out.xml'], ['-oG', 'out.gnmap'], ['-oJ', 'out.json'], ['-oC', 'out.csv'], ['-oA', 'base']];

async function outputs(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [80] });
  try {
    const rows: unknown[] = [];
    for (const [flag, file] of FORMATS) {
      const out = join(lab.tmpDir, file);
      // stdout gets -oN too (prtip scan always prints the normal report), as a user would see it.
      const small = await measure(lab, ['scan', '-sS', '-p', '80', '--rate', String(RATE), flag, out, '198.19.0.0/24']);
      const sweep = await measure(lab, ['scan', '-sS', '-p', '80', '--rate', String(RATE), flag, out, '198.19.0.0/16']);
      const allPorts = await measure(lab, ['scan', '-sS', '-p-', '-T4', '--rate', String(RATE), flag, out, `198.19.0.0/${32 - Math.log2(HOSTS)}`]);
      rows.push({ flag, smallMiB: small.rssMiB, sweepMiB: sweep.rssMiB, allPortsMiB: allPorts.rssMiB, sweepRatio: sweep.rssMiB / small.rssMiB,
        allPortsRatio: allPorts.rssMiB / small.rssMiB, exitMs: [small.exitMs, sweep.exitMs, allPorts.exitMs] });
      log(`${flag}: peak RSS /24×1 ${small.rssMiB.toFixed(1)} MiB; /16×1 ${sweep.rssMiB.toFixed(1)} MiB (${(sweep.rssMiB / small.rssMiB).toFixed(2)}×, ${sweep.seconds.toFixed(1)} s); ` +
        `${HOSTS}×65535 ${allPorts.rssMiB.toFixed(1)} MiB (${(allPorts.rssMiB / small.rssMiB).toFixed(2)}×, ${allPorts.seconds.toFixed(1)} s); ` +
        `"prtip done" → exit ${small.exitMs.toFixed(0)} / ${sweep.exitMs.toFixed(0)} / ${allPorts.exitMs.toFixed(0)} ms`);
    }
    results.outputs = rows;
  } finally {
    await lab.teardown();
  }
}

/** The format stage alone: port records/s through one output to a sink that discards. */
async function writerSpeed(): Promise<void> {
  const N = 1_000_000;
  const rows: unknown[] = [];
  for (const format of ['normal', 'xml', 'grepable', 'json', 'csv'] as OutputFormatName[]) {
    const sink = new PassThrough();
    sink.resume();
    const stage = formatRecords({ outputs: [{ format, path: '-' }], view: { openOnly: false, reason: false, serviceName: () => undefined }, stdout: sink });
    async function* src(): AsyncGenerator<AnyRecord> {
      yield newHeader(['bench']);
      // 1M port records over 4096 hosts, interleaved as a permuted scan delivers them.
      for (let i = 0; i < N; i++) {
        const h = i % 4096;
        yield { type: 'port', ip: `198.19.${h >> 8}.${h & 255}`, port: 1 + Math.floor(i / 4096), proto: 'tcp', state: i % 97 === 0 ? 'open' : 'closed', reason: 'reset', ttl: 64, rtt: 0.2, time: 0 };
      }
      yield newTrailer(false);
    }
    const t0 = performance.now();
    for await (const _ of stage(src())) { /* drain */ }
    const s = (performance.now() - t0) / 1000;
    rows.push({ format, recordsPerSecond: N / s });
    log(`writer ${format}: ${(N / s / 1000).toFixed(0)}k port records/s (1M records, 4096 hosts, spilled past 20k)`);
  }
  results.writers = rows;
}

const reason = labSkipReason();
await writerSpeed();
if (reason) log(`bench/memory: lab part skipped: ${reason}`);
else await outputs();
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
