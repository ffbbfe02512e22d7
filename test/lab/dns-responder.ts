/**
 * A small authoritative DNS responder for lab tests, written here: answers PTR, A and AAAA
 * questions over UDP from a table given on the command line, NXDOMAIN for everything else, and
 * prints every question it gets (one JSON line: {"name", "type", "from"}) so a test can check what
 * was asked. Self-contained (only node: imports): `startDnsResponder` transpiles this file and
 * runs it inside a lab namespace, so prtip talks to it over the lab's links.
 *
 *   node dns-responder.mjs BIND_ADDRESS PORT '{"ptr": {"198.18.0.2": "target.lab"}, "a": {"target.lab": "198.18.0.2"}}' [DELAY_MS]
 */
import dgram from 'node:dgram';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export interface DnsTable {
  /** Address → name its PTR record gives. */
  ptr?: Record<string, string>;
  /** Name → IPv4 address. */
  a?: Record<string, string>;
}

export interface DnsQuestionSeen {
  name: string;
  type: number;
  from: string;
}

/** The question's name and type, and where it ends; undefined for anything malformed or compressed. */
function question(msg: Buffer): { name: string; type: number; end: number } | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let p = 12;
  while (p < msg.length && msg[p] !== 0) {
    const len = msg[p]!;
    if (len > 63 || p + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(p + 1, p + 1 + len).toString('latin1'));
    p += 1 + len;
  }
  if (p + 5 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(p + 1), end: p + 5 };
}

function encodeName(name: string): Buffer {
  return Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function ptrNameOf(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** The reply to one query datagram, from the table. */
export function answer(msg: Buffer, table: DnsTable): Buffer | undefined {
  const q = question(msg);
  if (!q) return undefined;
  const ptr = new Map(Object.entries(table.ptr ?? {}).map(([ip, name]) => [ptrNameOf(ip), name]));
  const a = new Map(Object.entries(table.a ?? {}).map(([name, ip]) => [name.toLowerCase(), ip]));
  let rdata: Buffer | undefined;
  if (q.type === 12 && ptr.has(q.name)) rdata = encodeName(ptr.get(q.name)!);
  if (q.type === 1 && a.has(q.name)) rdata = Buffer.from(a.get(q.name)!.split('.').map(Number));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  // QR, AA, RD copied, RA; NXDOMAIN when the name is unknown (NOERROR/no data for an unknown type of a known name).
  const known = ptr.has(q.name) || a.has(q.name);
  header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdata ? 1 : 0, 6);
  const parts = [header, msg.subarray(12, q.end)];
  if (rdata) {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  return Buffer.concat(parts);
}

export function main(argv: string[]): void {
  const [bind, port, tableJson, delay] = argv;
  const table = JSON.parse(tableJson!) as DnsTable;
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, from) => {
    const q = question(msg);
    if (q) process.stdout.write(`${JSON.stringify({ name: q.name, type: q.type, from: from.address })}\n`);
    const reply = answer(msg, table);
    if (!reply) return;
    const send = () => sock.send(reply, from.port, from.address);
    if (delay && Number(delay) > 0) setTimeout(send, Number(delay));
    else send();
  });
  sock.bind(Number(port), bind, () => process.stdout.write('listening\n'));
}

export interface DnsResponder {
  /** Every question asked so far. */
  seen: DnsQuestionSeen[];
  stop(): void;
}

/** What startDnsResponder needs of a lab (Lab satisfies it). */
export interface DnsLabLike {
  tmpDir: string;
  spawn(argv: string[], opts?: { ns?: 'scanner' | 'target'; stdio?: import('node:child_process').StdioOptions }): ChildProcess;
}

/** Runs this responder in a lab namespace, bound to `address`:`port`; resolves once it listens. */
export async function startDnsResponder(lab: DnsLabLike, opts: { ns?: 'scanner' | 'target'; address: string; port?: number; table: DnsTable; delayMs?: number }): Promise<DnsResponder> {
  const ts = (await import('typescript')).default;
  const here = fileURLToPath(import.meta.url);
  const src = readFileSync(here.replace(/\.js$/, '.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(lab.tmpDir, 'dns-responder', 'dns-responder.mjs');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${js}\nif (process.argv[2] === '--serve') main(process.argv.slice(3));\n`);
  const child = lab.spawn(['node', file, '--serve', opts.address, String(opts.port ?? 53), JSON.stringify(opts.table), String(opts.delayMs ?? 0)], { ns: opts.ns ?? 'target', stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: DnsQuestionSeen[] = [];
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dns responder did not start: ${err}`)), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'listening') { clearTimeout(timer); resolve(); return; }
      try { seen.push(JSON.parse(line) as DnsQuestionSeen); } catch { /* not a question line */ }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`dns responder exited ${code}: ${err}`)); });
  });
  return { seen, stop: () => { if (child.pid) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } } };
}
