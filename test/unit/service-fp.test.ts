// nmap's service fingerprint (-oX servicefp, -oN's "unrecognized despite returning data" block).
// Expected texts are written by hand from what nmap 7.93 printed for the same bytes
// (test/integration/servicefp-loopback.test.ts compares with a live nmap in the same run).
import t from 'tap';
import { escapeFpData, serviceFingerprint } from '../../stages/detect/index.js';
import { wrapServiceFingerprint } from '../../stages/format/out-normal.js';
import { PassThrough } from 'node:stream';
import { formatRecords, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';

const bytes = (...b: number[]) => String.fromCharCode(...b);

t.test('escaping: pattern metacharacters, controls, spaces, high bytes as nmap writes them', async (t) => {
  t.equal(escapeFpData('ZQ~odd "q" \\b\\ 1.5\r\n'), 'ZQ~odd\\x20\\"q\\"\\x20\\\\b\\\\\\x201\\.5\\r\\n');
  t.equal(escapeFpData(bytes(0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 9, 10, 13, 0x25, 0x3b)), '\\0\\x01\\x02\\x7f\\x80\\xfe\\xff\\t\\n\\r%;');
  t.equal(escapeFpData('[^?)|]"(+.\\$*'), '\\[\\^\\?\\)\\|\\]\\"\\(\\+\\.\\\\\\$\\*');
  t.equal(escapeFpData("{}~;:_=@!'-,/<>#&%`"), "{}~;:_=@!'-,/<>#&%`", 'other printable characters stay as they are');
  t.equal(escapeFpData(bytes(0, 0x31, 0x32, 0, 0x61, 0x5c, 0x30)), '\\x0012\\0a\\\\0', 'NUL before a digit is \\x00');
  t.equal(escapeFpData(bytes(0x0b, 0x0c, 0x1b)), '\\x0b\\x0c\\x1b', 'no \\v \\f \\e names');
});

const base = { port: 47123, proto: 'tcp' as const, intensity: 7, version: 'prtip-9.9', time: Date.UTC(2026, 11, 1, 12, 0, 0) };

t.test('header, one entry per answering probe in order, closing semicolon', async (t) => {
  const fp = serviceFingerprint({ ...base, responses: [{ probe: 'NULL', data: 'hi\r\n' }, { probe: 'GenericLines', data: '' }, { probe: 'GetRequest', data: 'x' }] });
  const d = new Date(base.time);
  t.equal(fp, `SF-Port47123-TCP:V=prtip-9.9%I=7%D=${d.getMonth() + 1}/${d.getDate()}%Time=6B0EB6C0%P=${fp!.match(/%P=([^%]+)/)![1]}` +
    '%r(NULL,4,"hi\\r\\n")%r(GetRequest,1,"x");');
  t.match(fp, /%P=[a-z0-9_]+-[a-z]+-[a-z]+/, 'a platform triple');
});

t.test('UDP and TLS headers', async (t) => {
  t.match(serviceFingerprint({ ...base, proto: 'udp', port: 161, responses: [{ probe: 'SNMPv1public', data: 'a' }] }), /^SF-Port161-UDP:V=prtip-9\.9%I=7%D=/);
  t.match(serviceFingerprint({ ...base, tunnel: 'ssl', responses: [{ probe: 'NULL', data: 'a' }] }), /^SF-Port47123-TCP:V=prtip-9\.9%T=SSL%I=7%D=/);
});

t.test('nothing answered: no fingerprint', async (t) => {
  t.equal(serviceFingerprint({ ...base, responses: [] }), undefined);
  t.equal(serviceFingerprint({ ...base, responses: [{ probe: 'NULL', data: '' }] }), undefined);
});

t.test('bounds: 900 bytes of a response shown with its whole length; no entry once past 2200 characters', async (t) => {
  const big = 'a'.repeat(1465);
  const fp = serviceFingerprint({ ...base, responses: [{ probe: 'NULL', data: big }, { probe: 'GetRequest', data: '.'.repeat(1400) }, { probe: 'Help', data: 'c' }] })!;
  t.match(fp, /%r\(NULL,5B9,"a{900}"\)%r\(GetRequest,578,"(\\\.){900}"\);$/);
  t.notMatch(fp, /Help/, 'over 2200 characters after two entries: the third is left out');
  // Just under the limit: one more entry still goes in, whatever its size.
  const pad = 'd'.repeat(900);
  const many = serviceFingerprint({ ...base, responses: Array.from({ length: 4 }, (_, i) => ({ probe: `P${i}`, data: pad })) })!;
  t.equal((many.match(/%r\(/g) ?? []).length, 3, 'entries while the text is at most 2200 characters long');
  // The limit counts the text as wrapped for -oN ("\nSF:" per 71 characters after the first 74):
  // 2,055 characters are 2,055 + 4 × 28 = 2,167 wrapped (one more entry), 2,100 are 2,100 + 4 × 29 = 2,216 (none).
  // Two full entries, then one of k bytes (16 ≤ k < 256: two hex digits, so the length grows with k).
  const three = (k: number) => [{ probe: 'A', data: 'y'.repeat(900) }, { probe: 'B', data: 'y'.repeat(900) }, { probe: 'D', data: 'y'.repeat(k) }];
  const at100 = serviceFingerprint({ ...base, responses: three(100) })!.length - 1; // without the closing ';'
  const upTo = (n: number) => {
    const k = 100 + n - at100;
    t.ok(k >= 16 && k < 256);
    return serviceFingerprint({ ...base, responses: [...three(k), { probe: 'C', data: 'z' }] })!;
  };
  t.match(upTo(2055), /%r\(C,1,"z"\);$/);
  t.notMatch(upTo(2100), /%r\(C,/);
});

t.test('-oN layout: 74 columns, SF: continuation lines', async (t) => {
  const fp = 'A'.repeat(74) + 'B'.repeat(71) + 'C'.repeat(5);
  t.same(wrapServiceFingerprint(fp), ['A'.repeat(74), `SF:${'B'.repeat(71)}`, 'SF:CCCCC']);
});

async function render(format: OutputFormatName, records: unknown[]): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const stage = formatRecords({ outputs: [{ format, path: '-' }], view: { openOnly: false, reason: false, verbose: 0, serviceName: () => undefined }, stdout });
  const header = { ...newHeader(['prtip scan']), startTime: 0 };
  async function* src() {
    yield header;
    yield* records as AnyRecord[];
    yield { ...newTrailer(), endTime: 1000 };
  }
  for await (const _ of stage(src() as AsyncIterable<AnyRecord>)) { /* drain */ }
  return out;
}

t.test('-oN and -oX carry the fingerprint of unrecognized services, not of identified ones', async (t) => {
  const fp1 = `SF-Port1-TCP:V=x%I=7%D=1/1%Time=0%P=p%r(NULL,1,"a")${'%r(GetRequest,1,"b")'.repeat(5)};`;
  const recs = [
    { type: 'port', ip: '127.0.0.1', port: 1, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: 1, time: 0 },
    { type: 'port', ip: '127.0.0.1', port: 2, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: 1, time: 0 },
    { type: 'service', ip: '127.0.0.1', port: 1, proto: 'tcp', name: 'unknown', method: 'table', conf: 3, servicefp: fp1 },
    { type: 'service', ip: '127.0.0.1', port: 2, proto: 'tcp', name: 'http', product: 'x', method: 'probed', conf: 10 },
  ];
  const normal = await render('normal', recs);
  t.match(normal, `1 service unrecognized despite returning data. If you know the service/version, please submit the following fingerprint at https://nmap.org/cgi-bin/submit.cgi?new-service :\n${wrapServiceFingerprint(fp1).join('\n')}\n`);
  t.notMatch(normal, 'NEXT SERVICE FINGERPRINT', 'one service: no separator');
  const xml = await render('xml', recs);
  t.match(xml, `<service name="unknown" servicefp="SF-Port1-TCP:V=x%I=7%D=1/1%Time=0%P=p%r(NULL,1,&quot;a&quot;)`);
  t.equal((xml.match(/servicefp=/g) ?? []).length, 1);
  const two = await render('normal', [...recs.slice(0, 3), { ...recs[2], port: 2, servicefp: fp1.replace('Port1', 'Port2') }]);
  t.match(two, '2 services unrecognized despite returning data. If you know the service/version, please submit the following fingerprints at');
  t.equal((two.match(/^==============NEXT SERVICE FINGERPRINT \(SUBMIT INDIVIDUALLY\)==============$/gm) ?? []).length, 2);
});
