// Nothing hidden: a cut or garbage-ended stream passes on every valid record and fails, and so
// does its consumer; unbounded inputs do not overflow the stack; interrupted scans exit 130; a
// usage error prints one line and leaves output files alone; control bytes are escaped.
// Loopback only (connect scans of 127.0.0.x).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { jsonLines, PRTIP_BIN, runCli } from '../helpers/cli.js';
import { decodeRecords, type AnyRecord, type PortRecord } from '../../stages/records/index.js';
import { openDatabase } from '../../stages/store/index.js';
import { textTable } from '../../packages/oclif-cli/lib/simple-command.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-honest-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every record decodable from bytes, and the error after them (if any). */
async function decodeAll(bytes: Buffer): Promise<{ records: AnyRecord[]; error?: Error }> {
  const records: AnyRecord[] = [];
  try {
    for await (const r of decodeRecords((async function* () { yield bytes; })(), 'x')) records.push(r);
    return { records };
  } catch (error) {
    return { records, error: error as Error };
  }
}

/** A pipe of two prtip commands; both exit codes. */
function pipe2(a: string[], b: string[], input?: Buffer): Promise<{ codeA: number | null; codeB: number | null; out: string; errA: string; errB: string }> {
  return new Promise((resolve) => {
    const pa = spawn(process.execPath, [PRTIP_BIN, ...a], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const pb = spawn(process.execPath, [PRTIP_BIN, ...b], { stdio: ['pipe', 'pipe', 'pipe'] });
    pa.stdout.pipe(pb.stdin);
    if (input) pa.stdin!.end(input);
    let out = '';
    let errA = '';
    let errB = '';
    pb.stdout.on('data', (c: Buffer) => (out += c.toString()));
    pa.stderr.on('data', (c: Buffer) => (errA += c.toString()));
    pb.stderr.on('data', (c: Buffer) => (errB += c.toString()));
    let codeA: number | null | undefined;
    let codeB: number | null | undefined;
    const done = () => { if (codeA !== undefined && codeB !== undefined) resolve({ codeA, codeB, out, errA, errB }); };
    pa.on('close', (c) => { codeA = c; done(); });
    pb.on('close', (c) => { codeB = c; done(); });
  });
}

const portKeys = (recs: Array<Record<string, unknown>> | AnyRecord[]) =>
  new Set(recs.filter((r) => r.type === 'port').map((r) => `${String((r as PortRecord).ip)}:${String((r as PortRecord).port)}`));

t.test('merge of a cut shard: every valid record merged and passed on; merge and its consumer fail', async (t) => {
  const shard = async (i: number) => {
    const file = path.join(dir, `s${i}.rec`);
    const bytes = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const pa = spawn(process.execPath, [PRTIP_BIN, 'targets', '127.0.0.1-3', '-p', '20000-21999', '--seed', '7', '--shard', `${i}/2`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pb = spawn(process.execPath, [PRTIP_BIN, 'send', '-sT'], { stdio: ['pipe', 'pipe', 'inherit'] });
      pa.stdout.pipe(pb.stdin);
      pb.stdout.on('data', (c: Buffer) => chunks.push(c));
      pb.on('close', () => resolve(Buffer.concat(chunks)));
    });
    fs.writeFileSync(file, bytes);
    return { file, bytes };
  };
  const s1 = await shard(1);
  const s2 = await shard(2);
  const cut = s2.bytes.subarray(0, Math.floor(s2.bytes.length / 2));
  const s2cut = path.join(dir, 's2cut.rec');
  fs.writeFileSync(s2cut, cut);
  const whole1 = await decodeAll(s1.bytes);
  const part2 = await decodeAll(cut);
  t.ok(part2.error, 'the cut shard really is cut');
  const want = new Set([...portKeys(whole1.records), ...portKeys(part2.records)]);
  t.ok(want.size > portKeys(whole1.records).size, 'the cut half holds port records of its own');

  const r = await pipe2(['merge', s1.file, s2cut], ['format', '-oD', '-']);
  t.equal(r.codeA, 1, `merge fails: ${r.errA.trim()}`);
  t.match(r.errA, /s2cut\.rec: stream ended inside a record/);
  t.equal(r.codeB, 1, `its consumer fails too: ${r.errB.trim()}`);
  t.match(r.errB, /stdin: the record stream ended without its trailer/);
  const got = jsonLines(r.out);
  t.same([...portKeys(got)].sort(), [...want].sort(), 'every valid port record before the bad byte was merged and passed on');
  t.notOk(got.some((x) => x.type === 'end'), 'no trailer: downstream cannot take it for a finished scan');

  // Garbage after a whole stream: send and format refuse it (they stop reading at the trailer).
  const targets = await runCli(['targets', '127.0.0.1', '-p', '20000-20009']);
  const garbage = Buffer.concat([targets.stdoutBytes, Buffer.from('garbage!')]);
  const sent = await pipe2(['format', '-oD', '-'], ['format', '-oD', '-'], garbage);
  t.equal(sent.codeA, 1, `format: trailing garbage is an error (${sent.errA.trim()})`);
  t.match(sent.errA, /not a prtip record stream at byte|after the stream's trailer/);
  const s = await runCli(['send', '-sT'], { input: garbage });
  t.equal(s.code, 1, `send: trailing garbage is an error (${s.stderr.trim()})`);
  t.match(s.stderr, /after the stream's trailer/);
  const sv = await runCli(['detect'], { input: Buffer.concat([s1.bytes, Buffer.from([0xc1, 0xc1])]) });
  t.equal(sv.code, 1, `detect: trailing garbage is an error (${sv.stderr.trim()})`);
  const empty = await runCli(['format', '-oD', '-'], { input: Buffer.alloc(0) });
  t.equal(empty.code, 1);
  t.match(empty.stderr, /no records at all/);
});

t.test('hundreds of thousands of rows, a million lines: no "Maximum call stack size exceeded"', async (t) => {
  // Sizes well past where a spread overflowed (~125k arguments).
  const rows = Array.from({ length: 300_000 }, (_, i) => [`198.18.${(i >> 8) & 255}.${i & 255}`, i % 65536, 'open']);
  const text = textTable(['ip', 'port', 'state'], rows);
  t.match(text, /\(300000 rows\)\n$/, 'prtip sql\'s table of 300k rows');

  const db = await openDatabase(path.join(dir, 'big.duckdb'));
  await db.conn.run(`INSERT INTO ports (scan_id, ip, port, proto, state, reason, ttl, rtt_ms, time) SELECT 's', '198.18.' || (i // 256 % 256) || '.' || (i % 256), i % 65536, 'tcp', 'open', 'syn-ack', 64, 0.1, now() FROM range(200000) t(i)`);
  db.close();
  const sql = await runCli(['sql', path.join(dir, 'big.duckdb'), 'select ip, port, state from ports'], { timeoutMs: 120_000 });
  t.equal(sql.code, 0, sql.stderr.slice(0, 300));
  t.match(sql.stdout, /\(200000 rows\)\n$/);

  const list = path.join(dir, 'million.txt');
  fs.writeFileSync(list, Array.from({ length: 1_000_000 }, (_, i) => `198.18.${(i >> 8) & 255}.${i & 255}`).join('\n'));
  const ex = path.join(dir, 'exclude.txt');
  fs.writeFileSync(ex, Array.from({ length: 200_000 }, (_, i) => `198.18.${(i >> 8) & 255}.${i & 255}`).join('\n'));
  const tg = await runCli(['targets', '-iL', list, '--excludefile', ex, '--exclude', '198.18.0.0/16', '198.19.0.1', '-p', '80'], { timeoutMs: 120_000 });
  t.equal(tg.code, 0, `-iL of 1M lines, --excludefile of 200k (${tg.stderr.slice(0, 300)})`);
});

t.test('usage errors: one line, nothing on stdout, existing output files untouched', async (t) => {
  const keep = path.join(dir, 'keep.xml');
  fs.writeFileSync(keep, 'precious');
  const r = await runCli(['scan', '-sT', '-p', '70000', '-oX', keep, '127.0.0.1']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '', 'no report on stdout');
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${r.stderr}`);
  t.equal(fs.readFileSync(keep, 'utf8'), 'precious', '-oX file left alone');

  const esc = await runCli(['scan', '-sT', '-p', '\x1b[31m\x07', '127.0.0.1']);
  t.equal(esc.code, 1);
  t.notMatch(esc.stderr, /[\x1b\x07]/, 'no raw ESC/BEL reaches the terminal');
  t.match(esc.stderr, /\\x1b\[31m\\x07/, 'they are shown escaped');

  for (const flag of ['-sR', '--send-ip']) {
    const u = await runCli(['scan', flag, '127.0.0.1']);
    t.equal(u.code, 1);
    t.notMatch(u.stderr, /prtip help\b/, `${flag}: no pointer to a command that does not exist`);
    t.match(u.stderr, /prtip scan --help/);
  }
  const zero = await runCli(['scan', '-sT', '--max-rtt-timeout', '0', '-p', '80', '127.0.0.1']);
  t.equal(zero.code, 1, '--max-rtt-timeout 0 is refused, not clamped');
  t.match(zero.stderr, /--max-rtt-timeout "0"/);
  const help = await runCli(['scan', '--help']);
  t.match(help.stdout, /DEFAULTS: -p the top 1000 TCP ports/);
  t.match(help.stdout, /256 connects in flight, 1s per attempt, 1 retry/);
  const diff = await runCli(['db', 'diff', path.join(dir, 'big.duckdb'), '@0', '@1']);
  t.equal(diff.code, 1);
  t.match(diff.stderr, /no scan @0: @1 is the newest scan/);
});

t.test('SIGINT: the scan flushes, writes its trailer and exits 130', async (t) => {
  const child = spawn(process.execPath, [PRTIP_BIN, 'scan', '-sT', '--max-rate', '100', '-p', '20000-22000', '-oD', '-', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sent = false;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    // Interrupted once the scan is under way (its first port records are out).
    if (!sent && (out.match(/"type":"port"/g) ?? []).length >= 5) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.ok(sent, 'interrupted mid-scan');
  t.equal(code, 130, err);
  const recs = jsonLines(out);
  t.match(recs.at(-1), { type: 'end', interrupted: true });
  t.ok(recs.filter((r) => r.type === 'port').length < 2001, 'a partial scan');
});
