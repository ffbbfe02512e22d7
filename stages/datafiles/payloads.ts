/**
 * UDP payloads per port, as nmap's UDP scan sends them: from the installed nmap-payloads (Nmap ≤
 * 7.93, Debian's), else from the `Probe UDP` entries of nmap-service-probes (Nmap ≥ 7.94 dropped
 * nmap-payloads; their `ports` lines say where each goes, `no-payload` ones are skipped). Read at
 * run time from the user's data directory; nothing of Nmap's is copied here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserInputError } from '../records/index.js';
import { resolveDatadir } from './datadir.js';

export const PAYLOADS_FILE = 'nmap-payloads';
export const SERVICE_PROBES_FILE = 'nmap-service-probes';

export interface UdpPayloads {
  /** Where they came from (a path), or "none". */
  source: string;
  /** Port → its payloads, each one datagram, in file order. */
  byPort: Map<number, Buffer[]>;
}

/** C escapes as nmap's files write them: \\n \\r \\t \\0 \\xHH \\\\ \\" and any other \\c as c. */
export function unescapeC(s: string, where: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (s[i] !== '\\') {
      if (c > 0xff) out.push(...Buffer.from(s[i]!, 'utf8'));
      else out.push(c);
      continue;
    }
    const e = s[++i];
    if (e === undefined) throw new UserInputError(`${where}: a backslash ends the string`);
    if (e === 'x') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new UserInputError(`${where}: bad escape \\x${hex}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '0': 0, a: 7, b: 8, f: 12, v: 11 };
      out.push(simple[e] ?? e.charCodeAt(0));
    }
  }
  return Buffer.from(out);
}

/** Port lists: 53,69,100-200. */
function portsOf(list: string, where: string): number[] {
  const ports: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UserInputError(`${where}: bad port list "${list}"`);
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > 65535 || hi > 65535 || lo > hi) throw new UserInputError(`${where}: bad port range "${part}"`);
    for (let p = lo; p <= hi; p++) ports.push(p);
  }
  return ports;
}

/**
 * nmap-payloads: `udp PORTS "string" ["string" …] [source PORT]`, strings concatenated across
 * lines, `#` comments outside strings. Every line is read; anything else is an error naming its line.
 */
export function parseNmapPayloads(text: string, source = PAYLOADS_FILE): Map<number, Buffer[]> {
  const byPort = new Map<number, Buffer[]>();
  // Tokens: quoted strings, words; comments dropped. Line numbers kept for messages.
  const tokens: Array<{ t: string; quoted: boolean; line: number }> = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const l = lines[ln]!;
    for (let i = 0; i < l.length; ) {
      const c = l[i]!;
      if (c === '#') break;
      if (/\s/.test(c)) { i++; continue; }
      if (c === '"') {
        let j = i + 1;
        while (j < l.length && l[j] !== '"') j += l[j] === '\\' ? 2 : 1;
        if (j >= l.length) throw new UserInputError(`${source} line ${ln + 1}: unterminated string`);
        tokens.push({ t: l.slice(i + 1, j), quoted: true, line: ln + 1 });
        i = j + 1;
        continue;
      }
      let j = i;
      while (j < l.length && !/[\s"#]/.test(l[j]!)) j++;
      tokens.push({ t: l.slice(i, j), quoted: false, line: ln + 1 });
      i = j;
    }
  }
  for (let k = 0; k < tokens.length; ) {
    const tok = tokens[k]!;
    const where = `${source} line ${tok.line}`;
    if (tok.quoted || tok.t !== 'udp') throw new UserInputError(`${where}: expected "udp PORTS", got ${tok.quoted ? 'a string' : `"${tok.t}"`}`);
    const list = tokens[k + 1];
    if (!list || list.quoted) throw new UserInputError(`${where}: "udp" needs a port list`);
    const ports = portsOf(list.t, where);
    k += 2;
    const parts: Buffer[] = [];
    while (k < tokens.length && tokens[k]!.quoted) parts.push(unescapeC(tokens[k++]!.t, `${source} line ${tokens[k - 1]!.line}`));
    if (k < tokens.length && tokens[k]!.t === 'source') {
      // nmap documents the keyword and does not honour it; neither do we, but it must parse.
      const p = tokens[k + 1];
      if (!p || p.quoted || !/^\d+$/.test(p.t)) throw new UserInputError(`${where}: "source" needs a port number`);
      k += 2;
    }
    const payload = Buffer.concat(parts);
    for (const port of ports) {
      const list2 = byPort.get(port) ?? [];
      list2.push(payload);
      byPort.set(port, list2);
    }
  }
  return byPort;
}

/** The `Probe UDP name q|…|` entries of nmap-service-probes with their `ports`, as payloads per port. */
export function udpPayloadsFromServiceProbes(text: string, source = SERVICE_PROBES_FILE): Map<number, Buffer[]> {
  const byPort = new Map<number, Buffer[]>();
  let current: { payload: Buffer } | undefined;
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const l = lines[ln]!.trim();
    if (l.startsWith('Probe ')) {
      current = undefined;
      const m = /^Probe (TCP|UDP) (\S+) q(.)/.exec(l);
      if (!m) throw new UserInputError(`${source} line ${ln + 1}: bad Probe line`);
      if (m[1] !== 'UDP') continue;
      const d = m[3]!;
      const body = l.slice(m[0].length);
      const end = body.indexOf(d);
      if (end < 0) throw new UserInputError(`${source} line ${ln + 1}: the probe string has no closing ${d}`);
      if (/\bno-payload\b/.test(body.slice(end + 1))) continue;
      current = { payload: unescapeC(body.slice(0, end), `${source} line ${ln + 1}`) };
    } else if (current && l.startsWith('ports ')) {
      for (const port of portsOf(l.slice(6).trim(), `${source} line ${ln + 1}`)) {
        const list = byPort.get(port) ?? [];
        list.push(current.payload);
        byPort.set(port, list);
      }
    }
  }
  return byPort;
}

const cache = new Map<string, UdpPayloads>();

/** The UDP payloads of the data directory: nmap-payloads, else nmap-service-probes' UDP probes, else none. */
export function loadUdpPayloads(datadir?: string): UdpPayloads {
  const dir = resolveDatadir(datadir);
  const hit = cache.get(dir);
  if (hit) return hit;
  let result: UdpPayloads = { source: 'none', byPort: new Map() };
  const payloads = path.join(dir, PAYLOADS_FILE);
  const probes = path.join(dir, SERVICE_PROBES_FILE);
  if (fs.existsSync(payloads)) result = { source: payloads, byPort: parseNmapPayloads(fs.readFileSync(payloads, 'latin1'), payloads) };
  else if (fs.existsSync(probes)) result = { source: probes, byPort: udpPayloadsFromServiceProbes(fs.readFileSync(probes, 'latin1'), probes) };
  cache.set(dir, result);
  return result;
}
