/**
 * prtip -sV against nmap -sV on real Debian daemons in the namespace lab (root only).
 *
 * Both scanners run inside the lab's scanner namespace against the same daemons: nginx (80, and
 * TLS on 443), openssh, vsftpd, postfix, redis, memcached, postgresql, mariadb, dnsmasq (DNS over UDP 53
 * and TCP 53; snmpd on UDP 161 is compared by the scripts bench: nmap's -sV adds snmp-info's version, a script). For every port where nmap reports a service, the fields nmap gave (name, product,
 * version) are compared with prtip's; the agreement is fields agreeing / fields nmap reported.
 * Time is wall-clock per tool for the same ports (prtip: the TCP scan plus the UDP port fed to
 * `prtip detect`, run one after the other; nmap: one run doing -sS -sU -sV).
 *
 * Used by bench/sv-compare.mjs (prints the figures) and test/integration/detect-lab.test.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLab, type DaemonName, type Lab } from '../test/lab/lab.js';
import { createRecordPacker, newHeader, newTrailer, type PortRecord } from '../stages/records/index.js';

export const SV_DAEMONS: DaemonName[] = ['nginx', 'nginx-tls', 'sshd', 'vsftpd', 'postfix', 'redis', 'memcached', 'postgresql', 'dnsmasq', 'mariadb'];
export const SV_TCP_PORTS = [21, 22, 25, 53, 80, 443, 3306, 5432, 6379, 11211];
export const SV_UDP_PORTS = [53];

export interface ServiceRow {
  port: number;
  proto: string;
  name?: string;
  product?: string;
  version?: string;
  extrainfo?: string;
  tunnel?: string;
}

export interface SvComparison {
  nmap: ServiceRow[];
  prtip: ServiceRow[];
  /** Per port and field: what each said. */
  fields: Array<{ port: string; field: 'name' | 'product' | 'version'; nmap: string; prtip: string | undefined; agree: boolean }>;
  agreeing: number;
  reported: number;
  nmapMs: number;
  prtipMs: number;
  nmapStderr: string;
  prtipStderr: string;
  /** Service records prtip wrote (JSONL objects), for deeper checks. */
  prtipRecords: Array<Record<string, unknown>>;
  /** Each tool's -oX document. */
  nmapXml: string;
  prtipXml: string;
}

// The repository root, whether this runs from bench/ (tap) or dist/bench/ (compiled).
const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/dist\/?$/, '/');
const RUN_JS = `${ROOT}packages/oclif-cli/bin/run.js`;

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  if (!m) return undefined;
  return m[1]!.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The service rows of nmap's XML output (-oX -). */
export function parseNmapXml(xml: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const m of xml.matchAll(/<port protocol="(\w+)" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
    const state = /<state state="([^"]+)"/.exec(m[3]!)?.[1];
    const svc = /<service [^>]*>/.exec(m[3]!)?.[0];
    if (state !== 'open' || !svc) continue;
    rows.push({
      port: Number(m[2]), proto: m[1]!, name: attr(svc, 'name'), product: attr(svc, 'product'),
      version: attr(svc, 'version'), extrainfo: attr(svc, 'extrainfo'), tunnel: attr(svc, 'tunnel'),
    });
  }
  return rows;
}

function serviceName(r: ServiceRow | undefined): string | undefined {
  if (!r?.name) return undefined;
  return r.tunnel === 'ssl' ? `ssl/${r.name}` : r.name;
}

export function compareRows(nmap: ServiceRow[], prtip: ServiceRow[]): Pick<SvComparison, 'fields' | 'agreeing' | 'reported'> {
  const fields: SvComparison['fields'] = [];
  for (const n of nmap) {
    const p = prtip.find((x) => x.port === n.port && x.proto === n.proto);
    const pairs: Array<['name' | 'product' | 'version', string | undefined, string | undefined]> = [
      ['name', serviceName(n), serviceName(p)],
      ['product', n.product, p?.product],
      ['version', n.version, p?.version],
    ];
    for (const [field, nv, pv] of pairs) {
      if (nv === undefined) continue;
      fields.push({ port: `${n.port}/${n.proto}`, field, nmap: nv, prtip: pv, agree: nv === pv });
    }
  }
  return { fields, agreeing: fields.filter((f) => f.agree).length, reported: fields.length };
}

function jsonObjects(text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface ToolRun {
  rows: ServiceRow[];
  ms: number;
  stderr: string;
  /** prtip only: the service records it wrote (JSONL objects). */
  records: Array<Record<string, unknown>>;
  /** The -oX document the tool wrote (nmap: TCP and UDP; prtip: the TCP scan). */
  xml: string;
}

/** nmap -sS -sU -sV on the lab ports, in the scanner namespace. */
export async function runNmapSv(lab: Lab, extraArgs: string[] = []): Promise<ToolRun> {
  const t0 = Date.now();
  const nm = await lab.exec(['nmap', '-n', '-Pn', '-sS', '-sU', '-sV', '-p', `T:${SV_TCP_PORTS.join(',')},U:${SV_UDP_PORTS.join(',')}`,
    '--max-retries', '1', ...extraArgs, '-oX', '-', lab.targetV4], { timeoutMs: 300_000 });
  const xml = nm.stdout.toString();
  return { rows: parseNmapXml(xml), ms: Date.now() - t0, stderr: nm.stderr, records: [], xml };
}

/** prtip scan -sT -sV on the TCP ports, then the UDP port records through prtip detect. */
export async function runPrtipSv(lab: Lab, extraArgs: string[] = []): Promise<ToolRun> {
  const ip = lab.targetV4;
  const node = process.execPath;
  // The UDP port, as a port record fed to `prtip detect` (prtip has no UDP scan yet).
  const pack = createRecordPacker();
  const udpRecords = SV_UDP_PORTS.map((port): PortRecord => ({
    type: 'port', ip, port, proto: 'udp', state: 'open|filtered', reason: 'no-response', ttl: null, rtt: null, time: Date.now(),
  }));
  const udpInput = Buffer.concat([pack(newHeader(['sv-compare'])), ...udpRecords.map((r) => pack(r)), pack(newTrailer())]);
  const t0 = Date.now();
  const xmlFile = `${lab.tmpDir}/prtip-sv.xml`;
  const tcp = await lab.exec([node, RUN_JS, 'scan', '-sT', '-sV', '-Pn', '-p', SV_TCP_PORTS.join(','), ...extraArgs, '-oD', '-', '-oX', xmlFile, ip], { timeoutMs: 300_000 });
  const udp = await lab.exec(['bash', '-o', 'pipefail', '-c', `${node} ${RUN_JS} detect ${extraArgs.join(' ')} | ${node} ${RUN_JS} format -oD -`], {
    input: udpInput, timeoutMs: 300_000,
  });
  const ms = Date.now() - t0;
  const records = [...jsonObjects(tcp.stdout.toString()), ...jsonObjects(udp.stdout.toString())].filter((r) => r['type'] === 'service');
  const rows: ServiceRow[] = records.map((r) => ({
    port: r['port'] as number, proto: r['proto'] as string, name: r['name'] as string,
    product: r['product'] as string | undefined, version: r['version'] as string | undefined,
    extrainfo: r['extrainfo'] as string | undefined, tunnel: r['tunnel'] as string | undefined,
  }));
  let xml = '';
  try {
    xml = readFileSync(xmlFile, 'utf8');
  } catch {
    /* the scan failed: its stderr says why */
  }
  return { rows, ms, stderr: tcp.stderr + udp.stderr, records, xml };
}

export function combine(nmap: ToolRun, prtip: ToolRun): SvComparison {
  return {
    nmap: nmap.rows, prtip: prtip.rows, ...compareRows(nmap.rows, prtip.rows), nmapMs: nmap.ms, prtipMs: prtip.ms,
    nmapStderr: nmap.stderr, prtipStderr: prtip.stderr, prtipRecords: prtip.records, nmapXml: nmap.xml, prtipXml: prtip.xml,
  };
}

export async function compareOnLab(lab: Lab, opts: { nmapArgs?: string[]; prtipArgs?: string[] } = {}): Promise<SvComparison> {
  const nmap = await runNmapSv(lab, opts.nmapArgs);
  const prtip = await runPrtipSv(lab, opts.prtipArgs);
  return combine(nmap, prtip);
}

export function report(c: SvComparison): string {
  const lines = ['port       field    nmap                                     prtip'];
  for (const f of c.fields) {
    lines.push(`${f.agree ? ' ' : '✗'} ${f.port.padEnd(9)} ${f.field.padEnd(8)} ${f.nmap.padEnd(40)} ${f.prtip ?? '(none)'}`);
  }
  lines.push('');
  lines.push(`agreement: ${c.agreeing}/${c.reported} fields nmap reported (${((100 * c.agreeing) / Math.max(1, c.reported)).toFixed(1)}%)`);
  lines.push(`time: nmap ${(c.nmapMs / 1000).toFixed(2)} s, prtip ${(c.prtipMs / 1000).toFixed(2)} s, prtip/nmap = ${(c.prtipMs / c.nmapMs).toFixed(3)}`);
  return lines.join('\n');
}

/** Builds the lab, compares, tears down. */
export async function runSvCompare(): Promise<SvComparison> {
  const lab = await createLab({ daemons: SV_DAEMONS, tcpListeners: [], startTimeoutMs: 60_000 });
  try {
    return await compareOnLab(lab);
  } finally {
    await lab.teardown();
  }
}
