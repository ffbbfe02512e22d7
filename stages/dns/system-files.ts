/**
 * The system's resolver files: nameservers from resolv.conf (inside `ip netns exec NS`, the
 * namespace's /etc/netns/NS/resolv.conf is bind-mounted there) and address → first name from
 * /etc/hosts (nmap answers reverse lookups from it before asking DNS).
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';

export interface DnsServer {
  address: string;
  port: number;
}

export async function readResolvConf(path = '/etc/resolv.conf'): Promise<DnsServer[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return parseResolvConf(text);
}

export function parseResolvConf(text: string): DnsServer[] {
  const out: DnsServer[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // A link-local address with a zone (fe80::1%eth0) keeps its zone for the socket.
    if (m && net.isIP(m[1]!.split('%')[0]!)) out.push({ address: m[1]!, port: 53 });
  }
  return out;
}

export async function readHostsFile(path = '/etc/hosts'): Promise<Map<string, string>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return parseHostsFile(text);
}

export function parseHostsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const [addr, name] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!addr || !name || !net.isIP(addr)) continue;
    const key = net.isIPv6(addr) ? new net.SocketAddress({ address: addr, family: 'ipv6' }).address : addr;
    if (!out.has(key)) out.set(key, name);
  }
  return out;
}
