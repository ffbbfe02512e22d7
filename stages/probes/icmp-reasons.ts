/** nmap's reason names for ICMP errors (IPv4 type 3 codes, type 11; ICMPv6 type 1 codes, type 3). */
const ICMP4_UNREACH: Record<number, string> = {
  0: 'net-unreach', 1: 'host-unreach', 2: 'proto-unreach', 3: 'port-unreach', 4: 'needfrag', 5: 'srcroute-fail',
  6: 'net-unknown', 7: 'host-unknown', 8: 'host-isolated', 9: 'net-prohibited', 10: 'host-prohibited',
  11: 'net-tos-unreach', 12: 'host-tos-unreach', 13: 'admin-prohibited', 14: 'host-precedence-violation', 15: 'precedence-cutoff',
};
const ICMP6_UNREACH: Record<number, string> = {
  0: 'net-unreach', 1: 'admin-prohibited', 2: 'beyond-scope', 3: 'host-unreach', 4: 'port-unreach', 5: 'admin-prohibited', 6: 'reject-route',
};

export function icmpReason(family: 4 | 6, type: number, code: number): string {
  if (family === 4) return type === 11 ? 'time-exceeded' : ICMP4_UNREACH[code] ?? 'unreach';
  return type === 3 ? 'time-exceeded' : ICMP6_UNREACH[code] ?? 'unreach';
}

/** ICMP port unreachable (IPv4 3/3, ICMPv6 1/4). */
export function isPortUnreachable(family: 4 | 6, type: number, code: number): boolean {
  return family === 4 ? type === 3 && code === 3 : type === 1 && code === 4;
}
