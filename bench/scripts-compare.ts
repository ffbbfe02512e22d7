/**
 * prtip -sV -sC against nmap -sV -sC on the lab's real Debian daemons (root only).
 *
 * Both scanners run in the lab's scanner namespace against the same ports, writing XML. For
 * every script result nmap reports (per port, and per host), prtip's output text for the same
 * script and port is compared after removing what depends on the moment of the run (clock
 * readings, uptimes, connection counters). Time is wall-clock per tool for the whole scan.
 *
 * Used by bench/scripts.mjs (prints figures) and test/integration/script-lab.test.ts.
 */
import { fileURLToPath } from 'node:url';
import type { DaemonName, Lab } from '../test/lab/lab.js';

// the repository root, whether this runs compiled (dist/bench) or from source (tap)
const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/dist\/?$/, '/');
const RUN_JS = `${ROOT}packages/oclif-cli/bin/run.js`;

export const SC_DAEMONS: DaemonName[] = ['nginx', 'nginx-tls', 'sshd', 'vsftpd', 'postfix', 'redis', 'memcached', 'postgresql', 'dnsmasq', 'mariadb', 'snmpd'];
export const SC_TCP_PORTS = [21, 22, 25, 53, 80, 443, 3306, 5432, 6379, 11211];
/** UDP ports scanned beside them (nmap runs the snmp scripts with -sU): snmpd. */
export const SC_UDP_PORTS = [161];

/** -sT on TCP alone; with UDP ports, -sS -sU (a connect scan does not combine with -sU in prtip). */
function scanArgs(tcp: number[], udp: number[]): string[] {
  if (udp.length === 0) return ['-sT', '-p', tcp.join(',')];
  return ['-sS', '-sU', '-p', [...tcp.map((p) => `T:${p}`), ...udp.map((p) => `U:${p}`)].join(',')];
}

export interface ScriptResult {
  /** "80/tcp" or "host". */
  where: string;
  id: string;
  output: string;
}

export interface ScriptRun {
  results: ScriptResult[];
  ms: number;
  stderr: string;
  xml: string;
}

const unescape = (s: string) => s
  .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
  .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Every <script id output> of an Nmap-format XML document, with where it was attached. */
export function parseScriptXml(xml: string): ScriptResult[] {
  const out: ScriptResult[] = [];
  for (const port of xml.matchAll(/<port protocol="(\w+)" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
    for (const s of port[3]!.matchAll(/<script id="([^"]+)" output="([^"]*)"/g)) {
      out.push({ where: `${port[2]}/${port[1]}`, id: s[1]!, output: unescape(s[2]!) });
    }
  }
  for (const hs of xml.matchAll(/<hostscript>([\s\S]*?)<\/hostscript>/g)) {
    for (const s of hs[1]!.matchAll(/<script id="([^"]+)" output="([^"]*)"/g)) out.push({ where: 'host', id: s[1]!, output: unescape(s[2]!) });
  }
  return out;
}

/** Output with the values that change from run to run (and between two tools run a second apart) masked. */
export function normalizeOutput(id: string, text: string): string {
  let t = text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z)?/g, '<time>')
    .replace(/-?\d+(?:h\d+m)?\d*s from scanner time/g, '<skew> from scanner time')
    .replace(/Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g, 'Date: <http date>')
    .replace(/\r/g, '');
  if (id === 'mysql-info') {
    t = t.replace(/(Thread ID|Salt): [^\n]*/g, '$1: <varies>')
      // the order of a Lua table's keys: nmap's hash seed changes every run
      .replace(/(Some Capabilities: )([^\n]*)/, (_, k: string, v: string) => k + v.split(', ').sort().join(', '));
  }
  if (id === 'snmp-info') t = t.replace(/snmpEngineTime: [^\n]*/g, 'snmpEngineTime: <varies>');
  if (id === 'snmp-sysdescr') t = t.replace(/System uptime: [^\n]*/g, 'System uptime: <varies>');
  if (id === 'snmp-interfaces') t = t.replace(/Traffic stats: [^\n]*/g, 'Traffic stats: <varies>');
  if (id === 'clock-skew') t = t.replace(/-?\d+(?:h\d+m)?\d*m?s/g, '<skew>');
  if (id === 'redis-info') t = t.replace(/(Uptime|Used CPU \(\w+\)|Connected clients|Connected slaves|Used memory|Last saved|Client connections|Memory use|Peak memory)[^\n]*/g, '$1: <varies>');
  if (id === 'memcached-info') t = t.replace(/(Uptime|Server time|Authentication|Current connections|Total connections|Used CPU \(\w+\)|Bytes used|Bytes read|Bytes written|Threads|Get hits|Process ID)[^\n]*/g, '$1: <varies>');
  return t;
}

export interface ScriptComparison {
  /** One row per script result nmap reported. */
  rows: Array<{ where: string; id: string; nmap: string; prtip?: string; equal: boolean }>;
  /** Results prtip gave that nmap did not. */
  extra: ScriptResult[];
  nmapMs: number;
  prtipMs: number;
  nmapStderr: string;
  prtipStderr: string;
  prtipXml: string;
}

/** -sC, or --script SPEC. */
const selection = (spec?: string) => (spec ? ['--script', spec] : ['-sC']);

export async function runNmapScripts(lab: Lab, ports: number[] = SC_TCP_PORTS, spec?: string, udp: number[] = SC_UDP_PORTS): Promise<ScriptRun> {
  const t0 = Date.now();
  const r = await lab.exec(['nmap', '-n', '-Pn', ...scanArgs(ports, udp), '-sV', ...selection(spec), '-oX', '-', lab.targetV4], { timeoutMs: 600_000 });
  const xml = r.stdout.toString();
  return { results: parseScriptXml(xml), ms: Date.now() - t0, stderr: r.stderr, xml };
}

export async function runPrtipScripts(lab: Lab, ports: number[] = SC_TCP_PORTS, extraArgs: string[] = [], spec?: string, udp: number[] = SC_UDP_PORTS): Promise<ScriptRun> {
  const t0 = Date.now();
  const r = await lab.exec([process.execPath, RUN_JS, 'scan', '-n', ...scanArgs(ports, udp), '-sV', ...selection(spec), '-Pn', ...extraArgs, '-oX', '-', lab.targetV4], { timeoutMs: 600_000 });
  const xml = r.stdout.toString();
  return { results: parseScriptXml(xml), ms: Date.now() - t0, stderr: r.stderr, xml };
}

export async function compareScripts(lab: Lab, ports: number[] = SC_TCP_PORTS): Promise<ScriptComparison> {
  const prtip = await runPrtipScripts(lab, ports);
  const nmap = await runNmapScripts(lab, ports);
  return combineScripts(nmap, prtip);
}

export function combineScripts(nmap: ScriptRun, prtip: ScriptRun): ScriptComparison {
  const key = (r: ScriptResult) => `${r.where} ${r.id}`;
  const mine = new Map(prtip.results.map((r) => [key(r), r]));
  const theirs = new Set(nmap.results.map(key));
  const rows = nmap.results.map((n) => {
    const p = mine.get(key(n));
    return {
      where: n.where, id: n.id, nmap: n.output, prtip: p?.output,
      equal: p !== undefined && normalizeOutput(n.id, p.output) === normalizeOutput(n.id, n.output),
    };
  });
  return {
    rows, extra: prtip.results.filter((r) => !theirs.has(key(r))),
    nmapMs: nmap.ms, prtipMs: prtip.ms, nmapStderr: nmap.stderr, prtipStderr: prtip.stderr, prtipXml: prtip.xml,
  };
}

export function scriptReport(c: ScriptComparison): string {
  const lines = ['where      script                  match'];
  for (const r of c.rows) {
    lines.push(`${r.where.padEnd(10)} ${r.id.padEnd(23)} ${r.equal ? 'yes' : r.prtip === undefined ? 'MISSING' : 'DIFFERS'}`);
    if (!r.equal) {
      lines.push(`  nmap : ${JSON.stringify(r.nmap).slice(0, 400)}`);
      lines.push(`  prtip: ${JSON.stringify(r.prtip ?? null).slice(0, 400)}`);
    }
  }
  for (const e of c.extra) lines.push(`${e.where.padEnd(10)} ${e.id.padEnd(23)} prtip only: ${JSON.stringify(e.output).slice(0, 200)}`);
  const eq = c.rows.filter((r) => r.equal).length;
  lines.push(`matched ${eq}/${c.rows.length} of nmap's script results`);
  lines.push(`time: prtip ${(c.prtipMs / 1000).toFixed(2)} s, nmap ${(c.nmapMs / 1000).toFixed(2)} s, ratio ${(c.prtipMs / c.nmapMs).toFixed(2)}`);
  return lines.join('\n');
}
