// The traceroute's pure parts: nmap's choice of the trace probe (pingprobe_score), the distance
// guess from a reply TTL, and the -oN / -oX layouts (shared hops, runs of timeouts, names).
import t from 'tap';
import { chooseTraceProbe, distanceFromTtl } from '../../stages/trace/index.js';
import { normalTraceLines, xmlTrace } from '../../stages/format/out-trace.js';
import type { PortRecord, TraceRecord } from '../../stages/records/index.js';

const port = (p: number, proto: 'tcp' | 'udp', state: PortRecord['state'], reason: string): PortRecord =>
  ({ type: 'port', ip: '198.18.22.2', port: p, proto, state, reason, ttl: 61, rtt: 0.5, time: 0 });

t.test('the trace probe: nmap\'s preference among answered probes', async (t) => {
  const syn = (ports: PortRecord[]) => chooseTraceProbe(ports, true)?.port;
  t.equal(syn([port(80, 'tcp', 'open', 'syn-ack'), port(1, 'tcp', 'closed', 'reset')]), 1, 'a RST-answered SYN beats a SYN to an open port');
  t.equal(syn([port(25, 'tcp', 'closed', 'reset'), port(1000, 'tcp', 'closed', 'reset')]), 1000, 'often-spoofed ports score lower');
  t.equal(syn([port(80, 'tcp', 'open', 'syn-ack'), port(443, 'tcp', 'open', 'syn-ack')]), 80, 'ties: the lowest port');
  t.equal(syn([port(80, 'tcp', 'filtered', 'no-response'), port(81, 'tcp', 'filtered', 'admin-prohibited')]), undefined, 'no answer from the host: no trace');
  t.equal(chooseTraceProbe([port(80, 'tcp', 'unfiltered', 'reset')], false)?.port, 80, 'an ACK scan\'s RST');
  const udp = chooseTraceProbe([port(53, 'udp', 'open', 'udp-response'), port(9, 'udp', 'closed', 'port-unreach'), port(7, 'udp', 'open|filtered', 'no-response')], true, (p) => (p === 53 ? 3 : 0));
  t.match(udp, { port: 9, proto: 'udp' }, 'a UDP port with three payloads scores below one without');
});

t.test('distance guess from the reply TTL', async (t) => {
  t.equal(distanceFromTtl(62), 3);
  t.equal(distanceFromTtl(64), 1);
  t.equal(distanceFromTtl(126), 3);
  t.equal(distanceFromTtl(250), 6);
  t.equal(distanceFromTtl(null), undefined);
  t.equal(distanceFromTtl(1), 30, 'a TTL near 0 is far: capped at 30');
});

t.test('-oN: shared hops, timeouts, names, and a directly connected host', async (t) => {
  const tr: TraceRecord = {
    type: 'trace', ip: '198.18.23.9', port: 80, proto: 'tcp', sharedWith: { ip: '198.18.22.2', ttl: 2 },
    hops: [{ ttl: 1, ip: '198.18.20.2', rtt: 0.1 }, { ttl: 2, ip: '198.18.21.2', rtt: 0.2 }, { ttl: 3 }, { ttl: 4 }, { ttl: 5 }, { ttl: 6, ip: '198.18.23.9', rtt: 12.345, host: 'nine.lab' }],
  };
  t.same(normalTraceLines(tr, (s) => s), [
    '',
    'TRACEROUTE (using port 80/tcp)',
    'HOP RTT      ADDRESS',
    '-   Hops 1-2 are the same as for 198.18.22.2',
    '3   ... 5',
    '6   12.35 ms nine.lab (198.18.23.9)',
  ]);
  const one: TraceRecord = { type: 'trace', ip: '198.18.20.2', hops: [{ ttl: 1, ip: '198.18.20.2', rtt: 0.04 }] };
  t.same(normalTraceLines(one, (s) => s), ['', 'TRACEROUTE', 'HOP RTT     ADDRESS', '1   0.04 ms 198.18.20.2']);
  t.same(normalTraceLines({ ...one, sharedWith: { ip: '198.18.22.2', ttl: 1 }, hops: [{ ttl: 1, ip: 'x', rtt: 1 }, { ttl: 2, ip: 'y', rtt: null }] }, (s) => s).slice(3),
    ['-   Hop 1 is the same as for 198.18.22.2', '2   --  y']);
});

t.test('-oX: timed-out hops left out, host when named, rtt "--" when unknown', async (t) => {
  const tr: TraceRecord = { type: 'trace', ip: '198.18.22.2', port: 9, proto: 'udp', hops: [{ ttl: 1, ip: '198.18.20.2', rtt: 0.1 }, { ttl: 2 }, { ttl: 3, ip: '198.18.22.2', rtt: null, host: 'a&b.lab' }] };
  t.equal(xmlTrace(tr), '<trace port="9" proto="udp">\n<hop ttl="1" ipaddr="198.18.20.2" rtt="0.10"/>\n<hop ttl="3" ipaddr="198.18.22.2" rtt="--" host="a&amp;b.lab"/>\n</trace>');
  t.equal(xmlTrace({ type: 'trace', ip: 'x', hops: [] }), '<trace>\n</trace>');
});
