// prtip serve started as root runs many scans, so it cannot open each one's raw handles before a
// drop: with --unprivileged-user it drops once, at start-up, after opening its database and its
// port and before reading a request. Its scans then run as nobody: connect scans work, raw scan
// types are refused. Without the flag a root server keeps root (its raw scans: web-dashboard test).
import fs from 'node:fs';
import t from 'tap';
import { startServe } from '../helpers/serve.js';

if (process.geteuid?.() !== 0) {
  t.pass('prtip serve drops root only when started as root: skipped (not root)');
} else {
  const served = await startServe(['--unprivileged-user', 'nobody']);
  t.teardown(() => served.stop());

  t.test('without --unprivileged-user a root server keeps root, and says so', async (t) => {
    const root = await startServe();
    t.teardown(() => root.stop());
    t.match(fs.readFileSync(`/proc/${root.child.pid}/status`, 'utf8'), /^Uid:\s+0\s+0\s+0\s+0$/m);
    t.match(root.stderr(), /prtip serve: running as root: API scans may send raw packets/);
    const raw = await root.api('/api/scans', { method: 'POST', body: { args: ['-sA', '-p', '80', '127.0.0.9'] } });
    t.equal(raw.status, 201, 'a raw scan type is accepted');
  });

  t.test('the server runs as nobody without capabilities, on every thread', async (t) => {
    const pid = served.child.pid!;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      t.match(text, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, `thread ${tid}: uid nobody`);
      t.match(text, /^Gid:\s+65534\s+65534\s+65534\s+65534$/m, `thread ${tid}: gid nogroup`);
      t.match(text, /^CapEff:\s+0+$/m, `thread ${tid}: no effective capability`);
      t.match(text, /^CapPrm:\s+0+$/m, `thread ${tid}: no permitted capability`);
    }
    t.match(served.stderr(), /prtip serve: running as nobody \(uid 65534\)/);
  });

  t.test('a raw scan type is refused as for any user without root; a connect scan runs and is stored', async (t) => {
    const raw = await served.api('/api/scans', { method: 'POST', body: { args: ['-sA', '-p', '80', '127.0.0.1'] } });
    t.equal(raw.status, 400);
    t.match(raw.body.error, /-sA \(TCP ACK scan\) needs root or CAP_NET_RAW/);
    const ok = await served.api('/api/scans', { method: 'POST', body: { args: ['-sT', '-p', '1', '127.0.0.1'] } });
    t.equal(ok.status, 201, JSON.stringify(ok.body));
    const id = ok.body.id as string;
    let state = 'running';
    for (let i = 0; i < 200 && state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await served.api(`/api/scans/${id}`)).body.state;
    }
    t.equal(state, 'complete', 'the scan finished after the drop');
    const rows = await served.api('/api/sql', { method: 'POST', body: { sql: `select port, state from ports where scan_id = '${id}'` } });
    t.same(rows.body.rows, [[1, 'closed']], 'and its port row is in the database written after the drop');
  });
}
