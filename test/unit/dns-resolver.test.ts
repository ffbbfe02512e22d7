// The DNS library (stages/dns): the reply parser against hand-built and fuzzed messages, and the
// resolver against DNS servers this test runs on 127.0.0.1 (the hand-written lab responder's
// answer()): parallel lookups within the concurrency bound, timeouts and retries on the next
// server, NXDOMAIN without retries, replies from the wrong place ignored, /etc/hosts first.
// Nothing here asks the host's resolver.
import t from 'tap';
import fc from 'fast-check';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeQuery, parseReply, parseHostsFile, parseResolvConf, readName, reverseQueryName, Resolver, parseDnsServer, TYPE_PTR } from '../../stages/dns/index.js';
import { answer, type DnsTable } from '../lab/dns-responder.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-dns-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const noHosts = path.join(tmp, 'hosts-empty');
fs.writeFileSync(noHosts, '');

interface TestServer {
  port: number;
  queries: Array<{ name: string; id: number }>;
  maxOutstanding: number;
  close(): void;
}

/** A DNS server on 127.0.0.1: answers from `table` after `delayMs`, or drops as `drop` says. */
async function server(table: DnsTable, opts: { delayMs?: number; drop?: (name: string, nth: number) => boolean; onQuery?: (msg: Buffer, from: dgram.RemoteInfo) => void } = {}): Promise<TestServer> {
  const sock = dgram.createSocket('udp4');
  const seen = new Map<string, number>();
  const s: TestServer = { port: 0, queries: [], maxOutstanding: 0, close: () => sock.close() };
  let outstanding = 0;
  sock.on('message', (msg, from) => {
    const q = parseReply(msg)?.question;
    if (!q) return;
    s.queries.push({ name: q.name, id: msg.readUInt16BE(0) });
    const nth = (seen.get(q.name) ?? 0) + 1;
    seen.set(q.name, nth);
    opts.onQuery?.(msg, from);
    if (opts.drop?.(q.name, nth)) return;
    const reply = answer(msg, table);
    if (!reply) return;
    outstanding++;
    s.maxOutstanding = Math.max(s.maxOutstanding, outstanding);
    setTimeout(() => { outstanding--; sock.send(reply, from.port, from.address); }, opts.delayMs ?? 0);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  s.port = sock.address().port;
  return s;
}

const addr = (i: number) => `198.18.${(i >> 8) & 255}.${i & 255}`;

t.test('reverse names: the query names, and a PTR reply parsed back', async (t) => {
  t.equal(reverseQueryName('198.18.0.2'), '2.0.18.198.in-addr.arpa');
  t.equal(reverseQueryName('2001:2::1'), `1.0.0.0.${'0.'.repeat(20)}2.0.0.0.1.0.0.2.ip6.arpa`);
  const q = encodeQuery(0x1234, reverseQueryName('198.18.0.2'), TYPE_PTR);
  const r = parseReply(answer(q, { ptr: { '198.18.0.2': 'target.lab' } })!);
  t.match(r, { id: 0x1234, response: true, rcode: 0, question: { name: '2.0.18.198.in-addr.arpa', type: 12 }, answers: [{ type: 12, data: 'target.lab' }] });
  const nx = parseReply(answer(encodeQuery(7, reverseQueryName('198.18.0.9'), TYPE_PTR), { ptr: {} })!);
  t.match(nx, { rcode: 3, answers: [] });
});

t.test('the parser refuses pointer loops, forward pointers and overlong names, and never throws', async (t) => {
  // header + a name that points at itself
  const loop = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1]);
  t.equal(parseReply(loop), undefined, 'a pointer to itself');
  const fwd = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0, 0, 12, 0, 1]);
  t.equal(parseReply(fwd), undefined, 'a pointer forwards');
  const long = Buffer.concat([Buffer.alloc(12), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0])]);
  t.equal(readName(long, 12), undefined, 'a name over 255 bytes');
  const labels = parseReply(answer(encodeQuery(1, '2.0.18.198.in-addr.arpa', TYPE_PTR), { ptr: { '198.18.0.2': 'a\x07b.lab' } })!);
  t.equal(labels?.answers[0]?.data, 'a\\007b.lab', 'control bytes in a label come out escaped');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    parseReply(bytes);
  }), { numRuns: 3000 });
  const valid = answer(encodeQuery(9, reverseQueryName('198.18.0.2'), TYPE_PTR), { ptr: { '198.18.0.2': 'target.lab' } })!;
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(valid.length), (edits, cut) => {
    const m = Buffer.from(valid);
    for (const [i, v] of edits) m[i] = v;
    const r = parseReply(m.subarray(0, cut));
    // whatever parses is within the message: names are at most 255 bytes of text per label set
    if (r) for (const a of r.answers) t.ok(a.name.length <= 4 * 255);
  }), { numRuns: 3000 });
});

t.test('resolv.conf, /etc/hosts and --dns-servers entries', async (t) => {
  t.same(parseResolvConf('# c\nnameserver 198.18.0.53\nsearch lab\nnameserver 2001:2::53\nnameserver bogus\n'), [{ address: '198.18.0.53', port: 53 }, { address: '2001:2::53', port: 53 }]);
  t.same([...parseHostsFile('127.0.0.1 localhost vm\n198.18.0.2 first # c\n198.18.0.2 second\n2001:2:0::2 six\n')], [['127.0.0.1', 'localhost'], ['198.18.0.2', 'first'], ['2001:2::2', 'six']]);
  t.same(parseDnsServer('198.18.0.2:5353'), { address: '198.18.0.2', port: 5353 });
  t.same(parseDnsServer('[2001:2::2]:53'), { address: '2001:2::2', port: 53 });
  t.equal(parseDnsServer('host.example'), undefined);
  t.equal(parseDnsServer('198.18.0.2:70000'), undefined);
});

t.test('500 names in parallel, at most `concurrency` in flight, every answer right', async (t) => {
  const table: DnsTable = { ptr: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [addr(i), `h${i}.lab`])) };
  const s = await server(table, { delayMs: 20 });
  t.teardown(s.close);
  const r = new Resolver({ servers: [`127.0.0.1:${s.port}`], concurrency: 32, hostsFile: noHosts });
  t.teardown(() => r.close());
  const names = await r.reverse(Array.from({ length: 520 }, (_, i) => addr(i)));
  t.equal(names.size, 500);
  for (let i = 0; i < 500; i++) if (names.get(addr(i)) !== `h${i}.lab`) t.fail(`${addr(i)} → ${names.get(addr(i))}`);
  t.equal(names.has(addr(510)), false, 'NXDOMAIN gives no name');
  t.equal(s.queries.length, 520, 'one query per address: NXDOMAIN is not retried');
  t.ok(s.maxOutstanding <= 32, `at most 32 lookups in flight (saw ${s.maxOutstanding})`);
  t.ok(s.maxOutstanding > 1, 'lookups overlap');
  t.match(r.counters, { queries: 520, names: 500, timeouts: 0 });
});

t.test('a lost query times out and is retried at the next server', async (t) => {
  const table: DnsTable = { ptr: { '198.18.0.2': 'two.lab', '198.18.0.3': 'three.lab' } };
  const silent = await server(table, { drop: () => true });
  const good = await server(table);
  t.teardown(() => { silent.close(); good.close(); });
  const r = new Resolver({ servers: [`127.0.0.1:${silent.port}`, `127.0.0.1:${good.port}`], timeoutMs: 100, retries: 2, hostsFile: noHosts });
  t.teardown(() => r.close());
  const names = await r.reverse(['198.18.0.2', '198.18.0.3']);
  t.same(Object.fromEntries(names), { '198.18.0.2': 'two.lab', '198.18.0.3': 'three.lab' });
  t.equal(good.queries.length, 2, 'each name answered by the good server once');
  // Each lookup starts at a random server; one that started at the silent one timed out there first.
  t.equal(r.counters.timeouts, silent.queries.length);
  const lossy = await server(table, { drop: (_name, nth) => nth < 3 });
  t.teardown(lossy.close);
  const r2 = new Resolver({ servers: [`127.0.0.1:${lossy.port}`], timeoutMs: 100, retries: 2, hostsFile: noHosts });
  t.teardown(() => r2.close());
  t.equal((await r2.reverse(['198.18.0.2'])).get('198.18.0.2'), 'two.lab', 'answered on the third attempt');
  t.equal(lossy.queries.length, 3);
  const r3 = new Resolver({ servers: [`127.0.0.1:${lossy.port}`], timeoutMs: 100, retries: 1, hostsFile: noHosts });
  t.teardown(() => r3.close());
  t.equal((await r3.reverse(['198.18.0.3'])).size, 0, 'two attempts are not enough: no name, no hang');
});

t.test('a reply from another port, or for another question, is ignored', async (t) => {
  const forger = dgram.createSocket('udp4');
  await new Promise<void>((r) => forger.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => forger.close());
  const s = await server({ ptr: { '198.18.0.2': 'real.lab' } }, {
    delayMs: 50,
    onQuery: (msg, from) => {
      // the same id and question, answered first, from a port that was not asked
      const fake = answer(msg, { ptr: { '198.18.0.2': 'forged.lab' } })!;
      forger.send(fake, from.port, from.address);
    },
  });
  t.teardown(s.close);
  const r = new Resolver({ servers: [`127.0.0.1:${s.port}`], hostsFile: noHosts });
  t.teardown(() => r.close());
  t.equal((await r.reverse(['198.18.0.2'])).get('198.18.0.2'), 'real.lab');
});

t.test('/etc/hosts answers first: no query for an address it names', async (t) => {
  const hosts = path.join(tmp, 'hosts');
  fs.writeFileSync(hosts, '198.18.0.7 seven.hosts\n');
  const s = await server({ ptr: { '198.18.0.7': 'seven.dns', '198.18.0.8': 'eight.dns' } });
  t.teardown(s.close);
  const r = new Resolver({ servers: [`127.0.0.1:${s.port}`], hostsFile: hosts });
  t.teardown(() => r.close());
  t.same(Object.fromEntries(await r.reverse(['198.18.0.7', '198.18.0.8'])), { '198.18.0.7': 'seven.hosts', '198.18.0.8': 'eight.dns' });
  t.same(s.queries.map((q) => q.name), ['8.0.18.198.in-addr.arpa']);
});

t.test('forward lookups (A) at the given servers', async (t) => {
  const s = await server({ a: { 'target.lab': '198.18.0.2' } });
  t.teardown(s.close);
  const r = new Resolver({ servers: [`127.0.0.1:${s.port}`], hostsFile: noHosts });
  t.teardown(() => r.close());
  t.same(Object.fromEntries(await r.forward(['target.lab', 'nothing.lab'], 4)), { 'target.lab': '198.18.0.2' });
});

t.test('--system-dns: the system resolver (getnameinfo), loopback only here', async (t) => {
  const r = new Resolver({ system: true, hostsFile: noHosts });
  t.teardown(() => r.close());
  t.same(await r.serverList(), [], 'no servers of its own');
  t.equal((await r.reverse(['127.0.0.1'])).get('127.0.0.1'), 'localhost', "the system's /etc/hosts, through getnameinfo");
  t.equal(r.counters.queries, 0, 'prtip sent no DNS question itself');
});
