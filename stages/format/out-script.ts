/**
 * NSE script results in the outputs: collected beside the host reports, rendered as nmap does —
 * normal output's "| id: …" / "|_…" lines under their port or under "Host script results:",
 * XML's <script id output> with <elem>/<table> for structured output. Grepable output leaves
 * them out, as nmap's does.
 */
import type { ScriptElement, ScriptRecord } from '../records/index.js';
import { xmlAttr, xmlText } from './xml-text.js';

const byId = (a: ScriptRecord, b: ScriptRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Script records by where they belong: a port, a host, before or after the scan. */
export class ScriptResults {
  private readonly ports = new Map<string, ScriptRecord[]>();
  private readonly hosts = new Map<string, ScriptRecord[]>();
  readonly pre: ScriptRecord[] = [];
  readonly post: ScriptRecord[] = [];

  /** Keeps a script record; false for other records. */
  add(rec: { type: string }): boolean {
    if (rec.type !== 'script') return false;
    const s = rec as ScriptRecord;
    if (s.scope === 'prerule') this.pre.push(s);
    else if (s.scope === 'postrule') this.post.push(s);
    else if (s.ip !== undefined && s.port !== undefined) push(this.ports, `${s.ip} ${s.port}/${s.proto}`, s);
    else if (s.ip !== undefined) push(this.hosts, s.ip, s);
    return true;
  }

  port(ip: string, port: number, proto: string): ScriptRecord[] {
    return [...(this.ports.get(`${ip} ${port}/${proto}`) ?? [])].sort(byId);
  }

  host(ip: string): ScriptRecord[] {
    return [...(this.hosts.get(ip) ?? [])].sort(byId);
  }
}

function push(m: Map<string, ScriptRecord[]>, k: string, v: ScriptRecord): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** nmap's normal-output block for one script: "|_id: text" or "| id: …" lines ending in "|_…". */
export function normalScriptLines(rec: ScriptRecord): string[] {
  const text = `${rec.id}: ${rec.output.replace(/\n+$/, '')}`;
  const lines = text.split('\n');
  return lines.map((l, i) => `${i === lines.length - 1 ? '|_' : '| '}${l}`);
}

export function normalScripts(recs: ScriptRecord[]): string[] {
  return recs.flatMap(normalScriptLines);
}

function xmlElems(items: ScriptElement[]): string {
  return items.map((e) => {
    const key = e.key !== undefined ? ` key="${xmlAttr(e.key)}"` : '';
    if (e.table) return `<table${key}>\n${xmlElems(e.table)}</table>\n`;
    return `<elem${key}>${xmlText(e.value ?? '')}</elem>\n`;
  }).join('');
}

/** <script id output> with the structured output nested inside (nmap.dtd's script/table/elem). */
export function xmlScript(rec: ScriptRecord): string {
  const head = `<script id="${xmlAttr(rec.id)}" output="${xmlAttr(rec.output)}"`;
  return rec.elements && rec.elements.length > 0 ? `${head}>${xmlElems(rec.elements)}</script>` : `${head}/>`;
}

export function xmlScripts(recs: ScriptRecord[]): string {
  return recs.map(xmlScript).join('');
}

/** A script result as JSON output shows it. */
export function jsonScript(rec: ScriptRecord): { id: string; output: string; elements?: ScriptElement[] } {
  return rec.elements ? { id: rec.id, output: rec.output, elements: rec.elements } : { id: rec.id, output: rec.output };
}
