// The script command and the scan flags, through the built CLI: script flags without scripts
// are refused, a bad --script fails before anything is sent, --script-help describes, and
// `prtip script` in a pipe runs http-title against a real HTTP server on loopback.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/cli.js';
import { createRecordPacker, newHeader, newTrailer, RecordDecoder, type AnyRecord } from '../../stages/records/index.js';

t.test('script flags without -sC/--script are refused, not ignored', async (t) => {
  const r = await runCli(['scan', '-sT', '--script-args', 'a=1', '-p', '80', '127.0.0.1']);
  t.equal(r.code, 1);
  t.match(r.stderr, '--script-args set how scripts run: add -sC or --script SPEC');
});

t.test('an unknown script is reported before the scan starts', async (t) => {
  const r = await runCli(['scan', '-sT', '--script', 'no-such-script-x', '-p', '80', '127.0.0.1']);
  t.equal(r.code, 1);
  t.match(r.stderr, /--script "no-such-script-x": not a script, category, file or directory/);
  t.notMatch(r.stdout, /scan report/);
});

t.test('--script-help describes the selected scripts', async (t) => {
  const r = await runCli(['script', '--script-help', 'ssl-cert']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\nssl-cert\nCategories: default discovery safe\nhttps:\/\/nmap\.org\/nsedoc\/scripts\/ssl-cert\.html\n  Retrieves a server's SSL certificate/);
});

t.test('prtip script in a pipe: http-title against a loopback server', async (t) => {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end('<html><head><title>Loopback - title</title></head><body>x</body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const pack = createRecordPacker();
  const input = Buffer.concat([
    pack(newHeader(['test'])),
    pack({ type: 'port', ip: '127.0.0.1', port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.1, time: Date.now() }),
    pack({ type: 'service', ip: '127.0.0.1', port, proto: 'tcp', name: 'http', method: 'probed', conf: 10 }),
    pack(newTrailer()),
  ]);
  const r = await runCli(['script', '--script', 'http-title'], { input, timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const recs: AnyRecord[] = new RecordDecoder('test').decode(r.stdoutBytes).records;
  t.same(recs.map((x) => x.type), ['scan', 'port', 'service', 'script', 'end'], 'every record passed through, the script result before the trailer');
  const s = recs.find((x) => x.type === 'script');
  t.same(s, {
    type: 'script', id: 'http-title', scope: 'port', ip: '127.0.0.1', port, proto: 'tcp', output: 'Loopback - title',
    elements: [{ key: 'title', value: 'Loopback - title' }],
  });
  t.ok(requests.includes('GET /'), `the server saw GET / (got ${requests.join(', ')})`);
});
