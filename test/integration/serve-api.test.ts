// prtip serve, started for real on loopback: every route, the token on each, bad input answered
// with the CLI's own one-line messages, live events in order, a clean stop, read-only SQL.
// Scans are connect scans of listeners this test opens on 127.0.0.1.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { runCli } from '../helpers/cli.js';
import { readEvents, startServe, type Served } from '../helpers/serve.js';

async function listeners(banners: string[]): Promise<{ ports: number[]; close(): void }> {
  const servers = await Promise.all(banners.map(async (banner) => {
    const s = net.createServer((c) => { c.on('error', () => {}); c.end(banner); });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  }));
  return { ports: servers.map((s) => (s.address() as net.AddressInfo).port), close: () => servers.forEach((s) => s.close()) };
}

let srv: Served;
t.before(async () => {
  srv = await startServe();
});
t.teardown(() => {
  if (srv.child.exitCode === null) srv.child.kill('SIGKILL');
});

t.test('every route needs the token: header or ?token=', async (t) => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/'], ['GET', '/assets/app.js'], ['GET', '/api/openapi.json'], ['GET', '/api/scans'], ['POST', '/api/scans', { args: ['127.0.0.1'] }],
    ['GET', '/api/scans/x'], ['GET', '/api/scans/x/ports'], ['GET', '/api/scans/x/services'], ['GET', '/api/scans/x/events'],
    ['DELETE', '/api/scans/x'], ['POST', '/api/sql', { sql: 'select 1' }], ['GET', '/api/scans/x/report?format=xml'], ['GET', '/no/such/route'],
  ];
  for (const [method, path, body] of routes) {
    const none = await srv.api(path, { method, body, token: null });
    t.equal(none.status, 401, `${method} ${path} without a token`);
    t.match(none.body.error, /a token is required/);
    const wrong = await srv.api(path, { method, body, token: `${srv.token}x` });
    t.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
    t.equal(wrong.body.error, 'wrong token');
  }
  const byQuery = await srv.api(`/api/scans?token=${encodeURIComponent(srv.token)}`, { token: null });
  t.equal(byQuery.status, 200, '?token= works');
  const page = await srv.api(`/?token=${encodeURIComponent(srv.token)}`, { token: null });
  t.equal(page.status, 200);
  t.match(page.body, /<script type="module" src="\/assets\/app\.js\?token=/);
  const lib = await srv.api('/assets/preact-htm.js');
  t.match(lib.body, /export\{/, 'preact+htm served from node_modules');
});

t.test('OpenAPI 3 document generated from the routes', async (t) => {
  const r = await srv.api('/api/openapi.json');
  t.equal(r.status, 200);
  t.match(r.body.openapi, /^3\./);
  for (const p of ['/api/scans', '/api/scans/{id}', '/api/scans/{id}/ports', '/api/scans/{id}/services', '/api/scans/{id}/events', '/api/scans/{id}/report', '/api/sql']) {
    t.ok(r.body.paths[p], `documents ${p}`);
  }
  t.ok(r.body.paths['/api/scans'].post.requestBody, 'POST /api/scans has its body schema');
  t.ok(r.body.paths['/api/scans/{id}'].delete, 'DELETE documented');
  t.same(Object.keys(r.body.components.securitySchemes).sort(), ['bearer', 'token']);
});

t.test('bad scan requests: 400 with the message the CLI prints', async (t) => {
  for (const args of [['-sT', '-p', '70000', '127.0.0.1'], ['-sT', '--frobnicate', '127.0.0.1'], ['-sT', '-p', '80'], ['-sR', '127.0.0.1'], ['-sT', '-p', '80', '300.1.2.3']]) {
    const r = await srv.api('/api/scans', { method: 'POST', body: { args } });
    t.equal(r.status, 400, args.join(' '));
    const cli = await runCli(['scan', ...args]);
    t.equal(cli.code, 1);
    t.equal(`prtip: ${r.body.error}\n`, cli.stderr, `same words as prtip scan ${args.join(' ')}`);
  }
  const outside = await srv.api('/api/scans', { method: 'POST', body: { args: ['-sT', '-p', '80', '198.51.100.7'] } });
  t.equal(outside.status, 400);
  t.match(outside.body.error, /^target 198\.51\.100\.7 is outside what this server may scan \(127\.0\.0\.0\/8, ::1\/128\)/);
  const partly = await srv.api('/api/scans', { method: 'POST', body: { args: ['-sT', '-p', '80', '127.0.0.1', '126.255.255.255'] } });
  t.match(partly.body.error, /^target 126\.255\.255\.255 is outside/);
  for (const [args, re] of [
    [['-oX', '/tmp/x.xml', '127.0.0.1'], /^-oN\/-oX.* cannot be used through the API/],
    [['-iL', '/etc/hosts'], /^-iL cannot be used through the API/],
    [['--db', '/tmp/other.duckdb', '127.0.0.1'], /^--db cannot be used/],
  ] as const) {
    const r = await srv.api('/api/scans', { method: 'POST', body: { args } });
    t.equal(r.status, 400);
    t.match(r.body.error, re);
  }
  for (const body of [{}, { args: 'x' }, { args: [] }, { args: [1] }, { args: ['127.0.0.1'], extra: 1 }, 'not json']) {
    const r = await srv.api('/api/scans', { method: 'POST', body });
    t.equal(r.status, 400, `body ${JSON.stringify(body)}`);
    t.type(r.body.error, 'string');
  }
  const huge = await srv.api('/api/scans', { method: 'POST', body: { args: Array(300).fill('x'.repeat(300)) } });
  t.equal(huge.status, 413, 'request bodies are bounded');
  const list = await srv.api('/api/scans');
  t.equal(list.body.total, 0, 'no refused request left a scan behind');
});

t.test('a scan: events in order (status and ports before end), then its results, paged', async (t) => {
  const l = await listeners(['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', '']);
  t.teardown(l.close);
  const args = ['-sT', '-sV', '-r', '-p', `1-500,${l.ports.join(',')}`, '--max-rate', '250', '127.0.0.1'];
  const started = await srv.api('/api/scans', { method: 'POST', body: { args } });
  t.equal(started.status, 201, JSON.stringify(started.body));
  const id = started.body.id as string;
  t.match(id, /^[0-9a-f]+$/);
  const events = await readEvents(`${srv.base}/api/scans/${id}/events?token=${encodeURIComponent(srv.token)}`, {}, (e) => e.event === 'end');
  const kinds = events.map((e) => e.event);
  t.equal(kinds.at(-1), 'end', 'the stream ends with end');
  t.equal(kinds.filter((k) => k === 'end').length, 1);
  t.ok(kinds.indexOf('status') >= 0 && kinds.indexOf('status') < kinds.indexOf('end'), 'status before end');
  const portEvents = events.filter((e) => e.event === 'port');
  t.same(portEvents.map((e) => e.data.port).sort(), [...l.ports].sort(), 'one port event per open port');
  t.ok(portEvents.every((e) => e.data.state === 'open' && e.data.ip === '127.0.0.1'));
  const ids = events.map((e) => Number(e.id));
  t.same(ids, [...ids].sort((a, b) => a - b), 'event ids increase');
  const status = events.find((e) => e.event === 'status')!.data;
  t.equal(status.total, 500 + l.ports.length, 'status total is the plan');
  t.equal(status.phase, 'port scan');
  const svc = events.find((e) => e.event === 'service' && e.data.port === l.ports[0]);
  t.equal(svc?.data.name, 'ssh', 'service event for the SSH banner');
  t.ok(kinds.indexOf('service') < kinds.indexOf('end'));
  t.equal(events.at(-1)!.data.state, 'complete');

  const one = await srv.api(`/api/scans/${id}`);
  t.equal(one.status, 200);
  t.equal(one.body.state, 'complete');
  t.same(one.body.args, args);
  t.equal(one.body.counters.send.open, 2);
  t.equal(one.body.counters.send.closed + one.body.counters.send.open + one.body.counters.send.filtered, 502, 'every probe decided');
  t.equal(one.body.plan.probes, 502);

  const seen: Array<{ port: number; state: string }> = [];
  let total = -1;
  for (let offset = 0; ; offset += 200) {
    const page = await srv.api(`/api/scans/${id}/ports?limit=200&offset=${offset}`);
    t.equal(page.status, 200);
    total = page.body.total;
    seen.push(...page.body.items);
    if (page.body.items.length < 200) break;
  }
  t.equal(total, 502);
  t.equal(seen.length, 502, 'pages cover every port once');
  t.equal(new Set(seen.map((p) => p.port)).size, 502);
  t.same(seen.filter((p) => p.state === 'open').map((p) => p.port).sort(), [...l.ports].sort());
  const services = await srv.api(`/api/scans/${id}/services?limit=10`);
  t.equal(services.body.total, 2);
  t.equal(services.body.items.find((s: { port: number }) => s.port === l.ports[0]).name, 'ssh');
  const openOnly = await srv.api(`/api/scans/${id}/ports?state=open`);
  t.equal(openOnly.body.total, 2, '?state=open');
  t.same(openOnly.body.items.map((p: { port: number }) => p.port).sort(), [...l.ports].sort());
  t.equal((await srv.api(`/api/scans/${id}/ports?state=bogus`)).status, 400);
  const badPage = await srv.api(`/api/scans/${id}/ports?limit=5000`);
  t.equal(badPage.status, 400);

  const list = await srv.api('/api/scans');
  t.equal(list.body.items[0].id, id);
  t.equal(list.body.items[0].state, 'complete');

  // Downloads: the format stage's own outputs, from the stored rows.
  const xml = await fetch(`${srv.base}/api/scans/${id}/report?format=xml`, { headers: { authorization: `Bearer ${srv.token}` } });
  t.equal(xml.status, 200);
  t.match(xml.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="prtip-${id}\\.xml"`));
  const xmlText = await xml.text();
  for (const p of l.ports) t.match(xmlText, new RegExp(`<port protocol="tcp" portid="${p}"><state state="open"`), `XML has open port ${p}`);
  t.match(xmlText, /<service name="ssh"/);
  const { spawnSync } = await import('node:child_process');
  if (fs.existsSync('/usr/share/nmap/nmap.dtd')) {
    const v = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', '-'], { input: xmlText, encoding: 'utf8' });
    t.equal(v.status, 0, `valid against nmap.dtd: ${v.stderr}`);
  }
  const csv = await srv.api(`/api/scans/${id}/report?format=csv`);
  t.equal(csv.status, 200);
  t.equal((csv.body as string).trim().split(/\r?\n/).length, 503, 'CSV: a header and one row per port');
  const normal = await srv.api(`/api/scans/${id}/report?format=normal`);
  t.match(normal.body, new RegExp(`^${l.ports[0]}/tcp\\s+open\\s+ssh`, 'm'));
  t.equal((await srv.api(`/api/scans/${id}/report?format=pdf`)).status, 400);
  t.equal((await srv.api(`/api/scans/nope/report?format=xml`)).status, 404);

  // Last-Event-ID: only what came after it.
  const mid = events[Math.floor(events.length / 2)]!;
  const replay = await readEvents(`${srv.base}/api/scans/${id}/events`, { authorization: `Bearer ${srv.token}`, 'last-event-id': mid.id }, (e) => e.event === 'end');
  t.same(replay.map((e) => e.id), events.filter((e) => Number(e.id) > Number(mid.id)).map((e) => e.id));

  for (const path of [`/api/scans/nope`, `/api/scans/nope/ports`, `/api/scans/nope/services`, `/api/scans/nope/events`]) {
    const r = await srv.api(path);
    t.equal(r.status, 404, path);
    t.match(r.body.error, /no scan nope/);
  }
});

t.test('DELETE stops a running scan cleanly; 409 once stopped, 404 for none', async (t) => {
  const started = await srv.api('/api/scans', { method: 'POST', body: { args: ['-sT', '-p', '1-20000', '--max-rate', '200', '127.0.0.1'] } });
  t.equal(started.status, 201);
  const id = started.body.id;
  // Wait for the first status event: the scan is under way.
  await readEvents(`${srv.base}/api/scans/${id}/events?token=${encodeURIComponent(srv.token)}`, {}, (e) => e.event === 'status');
  const running = await srv.api(`/api/scans/${id}`);
  t.equal(running.body.state, 'running');
  const early = await srv.api(`/api/scans/${id}/report?format=xml`);
  t.equal(early.status, 409, 'no report while running');
  const del = await srv.api(`/api/scans/${id}`, { method: 'DELETE' });
  t.equal(del.status, 200);
  t.equal(del.body.state, 'interrupted');
  t.ok(del.body.counters.send.sent < 20000, 'stopped before the end');
  const stored = await srv.api('/api/sql', { method: 'POST', body: { sql: `select status, counters from scans where scan_id = '${id}'` } });
  t.equal(stored.body.rows[0][0], 'interrupted', 'the trailer reached the database');
  t.ok(JSON.parse(stored.body.rows[0][1]).send, 'with its counters');
  const again = await srv.api(`/api/scans/${id}`, { method: 'DELETE' });
  t.equal(again.status, 409);
  const none = await srv.api('/api/scans/nope', { method: 'DELETE' });
  t.equal(none.status, 404);
});

t.test('POST /api/sql: one bounded, read-only SELECT', async (t) => {
  const ok = await srv.api('/api/sql', { method: 'POST', body: { sql: "select count(*)::INTEGER as n from ports where state = 'open'" } });
  t.equal(ok.status, 200);
  t.same(ok.body.columns, ['n']);
  t.equal(ok.body.rows[0][0], 2, 'the two open ports of the earlier scan');
  const big = await srv.api('/api/sql', { method: 'POST', body: { sql: 'select * from range(25000)' } });
  t.equal(big.body.rows.length, 10000);
  t.equal(big.body.truncated, true);
  for (const [sql, re] of [
    ['delete from ports', /only SELECT/],
    ["copy ports to '/tmp/prtip-leak.csv'", /only SELECT|file system operations are disabled/],
    ["attach '/tmp/other.duckdb' as o", /only SELECT/],
    ["select * from read_text('/etc/hostname')", /file system operations are disabled|Permission/],
    ['select 1; select 2', /one statement per request, got 2/],
    ['set enable_external_access = true', /only SELECT/],
    ['selec 1', /^SQL error: /],
  ] as const) {
    const r = await srv.api('/api/sql', { method: 'POST', body: { sql } });
    t.equal(r.status, 400, sql);
    t.match(r.body.error, re, sql);
  }
  const after = await srv.api('/api/sql', { method: 'POST', body: { sql: 'select count(*)::INTEGER from ports' } });
  t.ok(after.body.rows[0][0] > 0, 'nothing was deleted');
  const long = await srv.api('/api/sql', { method: 'POST', body: { sql: `select ${'1+'.repeat(9000)}1` } });
  t.equal(long.status, 400, 'SQL text is bounded');
});

t.test('SIGTERM stops the server cleanly', async (t) => {
  const code = await srv.stop();
  t.equal(code, 0, 'prtip serve exits 0');
  t.match(srv.stderr(), /prtip serve: stopping/);
});
