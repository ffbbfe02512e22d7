// The web dashboard in a real browser: Debian's chromium driven by playwright-core (which never
// downloads a browser). prtip serve runs on loopback; the page starts a connect scan of listeners
// on 127.0.0.1 and must show the open ports while the scan still runs, then its results; a
// screenshot is kept in .tap/artifacts/.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startServe } from '../helpers/serve.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../.tap/artifacts/', import.meta.url));

if (!fs.existsSync(CHROMIUM)) {
  if (process.env.CI) t.fail(`the browser test must run in CI, but ${CHROMIUM} is missing (npm run setup -- --tests installs it)`);
  else t.pass(`browser test skipped: no ${CHROMIUM}`);
} else {
  t.test('start a scan from the page; open ports appear live; results, host view and SQL', async (t) => {
    const { chromium } = await import('playwright-core');
    // Two listeners; the scan probes in order from the first one, so it is found at once and the
    // second one, 1500 ports later at 250 probes/s, while the page watches.
    const servers: net.Server[] = [];
    const listen = async (port: number) => {
      const s = net.createServer((c) => { c.on('error', () => {}); c.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'); });
      s.listen(port, '127.0.0.1');
      await once(s, 'listening');
      servers.push(s);
      return (s.address() as net.AddressInfo).port;
    };
    const first = await listen(0);
    let second = 0;
    for (const candidate of [first + 1500, first - 1500]) {
      try { second = await listen(candidate); break; } catch { /* taken: try the other side */ }
    }
    t.teardown(() => servers.forEach((s) => s.close()));
    t.ok(second > 0, 'second listener bound');
    const lo = Math.min(first, second);
    const srv = await startServe();
    t.teardown(async () => { await srv.stop(); });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${srv.base}/?token=${encodeURIComponent(srv.token)}`);
    await page.waitForSelector('#scan-args');
    const args = `-sT -sV -r -p ${first},${lo}-${lo + 1500},${second} --max-rate 250 127.0.0.1`;
    await page.fill('#scan-args', args);
    await page.click('#scan-start');

    // The first open port shows while the scan is running.
    await page.waitForSelector(`#open-ports tr.port-row:has-text("${first}/tcp")`, { timeout: 30_000 });
    t.equal(await page.textContent('#scan-state'), 'running', 'the port appeared while the scan ran');
    await page.waitForSelector('#progress', { timeout: 30_000 });
    t.match(await page.textContent('#progress'), /phase\s*port scan \(connect\)/);
    t.match(page.url(), /#\/scans\/[0-9a-f]+$/, 'the page opened the scan at /#/scans/ID');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-dashboard-live.png'), fullPage: true });

    // Then the whole result.
    await page.waitForFunction(() => document.querySelector('#scan-state')?.textContent === 'complete', undefined, { timeout: 60_000 });
    await page.waitForSelector(`#open-ports tr.port-row:has-text("${second}/tcp")`);
    await page.waitForFunction(() => /finished\s*complete/.test(document.querySelector('#progress')?.textContent ?? ''));
    const final = /ports\s*(\d+) open, (\d+) closed, (\d+) filtered/.exec((await page.textContent('#progress')) ?? '');
    t.ok(final, 'the final counters are shown');
    t.equal(Number(final![1]), 2, '2 open');
    t.equal(Number(final![1]) + Number(final![2]) + Number(final![3]), 1501, 'every probe accounted for');
    const rows = await page.$$eval('#open-ports tr.port-row', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    t.same(rows.map((r) => r[1]).sort(), [`${first}/tcp`, `${second}/tcp`].sort(), 'exactly the two open ports');
    await page.waitForFunction(() => [...document.querySelectorAll('#open-ports tr.port-row td:nth-child(3)')].every((td) => td.textContent === 'ssh'), undefined, { timeout: 30_000 });

    // Downloads: links that carry the token and give the format stage's files.
    await page.waitForSelector('#downloads a');
    t.same(await page.$$eval('#downloads a', (as) => as.map((a) => a.textContent)), ['-oX', '-oJ', 'CSV', '-oN']);
    const xml = await page.evaluate(async () => {
      const res = await fetch((document.querySelector('#downloads a') as HTMLAnchorElement).href);
      return { status: res.status, text: await res.text() };
    });
    t.equal(xml.status, 200);
    t.match(xml.text, new RegExp(`portid="${second}"><state state="open"`));
    // A host's ports, from the database.
    await page.click('#open-ports tr.port-row a');
    await page.waitForSelector(`#host-detail tbody tr:has-text("${second}/tcp")`);
    t.match(await page.textContent('#host-detail'), new RegExp(`${second}/tcp\\s*open`));
    // The scan list knows it; SQL runs in the page.
    t.match(await page.textContent('a.scan.sel'), /complete/);
    await page.fill('#sql-text', "select port from ports where state = 'open' order by port");
    await page.click('#sql-run');
    await page.waitForSelector('#sql-result tbody tr');
    t.same(await page.$$eval('#sql-result tbody td', (tds) => tds.map((td) => td.textContent)), [String(Math.min(first, second)), String(Math.max(first, second))]);
    await page.fill('#sql-text', 'delete from ports');
    await page.click('#sql-run');
    await page.waitForSelector('#sql-error');
    t.match(await page.textContent('#sql-error'), /only SELECT/);
    // A bad scan shows the CLI's message.
    await page.fill('#scan-args', '-sT -p 70000 127.0.0.1');
    await page.click('#scan-start');
    await page.waitForSelector('#scan-error');
    t.equal(await page.textContent('#scan-error'), 'bad port spec "70000" in -p "70000": ports are 0-65535');
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-dashboard.png'), fullPage: true });
    t.same(pageErrors, [], 'no script errors on the page');
  });

  // The host view with the deeper phases: -sV, -sC and -O (raw, so root) against loopback, where raw frames to this machine's own address cannot carry -sS.
  t.test('host view: services, script output and OS matches, as the database holds them', { skip: process.getuid?.() !== 0 && !process.env.CI ? 'needs root (-O sends raw probes)' : false }, async (t) => {
    t.equal(process.getuid?.(), 0, 'runs as root (CI does)');
    const { chromium } = await import('playwright-core');
    const title = `prtip host view ${process.pid}`;
    const web = http.createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html', Server: 'nginx/1.22.1' }); res.end(`<html><head><title>${title}</title></head><body>hi</body></html>`); });
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    t.teardown(() => web.close());
    const open = (web.address() as net.AddressInfo).port;
    // A port nothing listens on: -O needs a closed one as nmap does.
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closed = (probe.address() as net.AddressInfo).port;
    probe.close();
    const srv = await startServe();
    t.teardown(async () => { await srv.stop(); });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${srv.base}/?token=${encodeURIComponent(srv.token)}`);
    await page.waitForSelector('#scan-args');
    await page.fill('#scan-args', `-sT -sV -sC -O -p ${open},${closed} 127.0.0.1`);
    await page.click('#scan-start');
    await page.waitForFunction(() => document.querySelector('#scan-state')?.textContent === 'complete', undefined, { timeout: 120_000 });
    const id = /#\/scans\/([0-9a-f]+)$/.exec(page.url())![1]!;
    await page.click('#open-ports tr.port-row a');
    await page.waitForSelector('#host-detail #host-ports');

    // What the database holds for the host (the page must show exactly this).
    const sql = async (q: string) => (await srv.api('/api/sql', { method: 'POST', body: { sql: q } })).body.rows as unknown[][];
    const dbOs = await sql(`select name, accuracy from os_matches where scan_id = '${id}' and ip = '127.0.0.1' order by rank`);
    const dbScripts = await sql(`select script_id, output from scripts where scan_id = '${id}' and ip = '127.0.0.1' and port = ${open}`);
    t.ok(dbOs.length > 0, 'the scan stored OS matches');
    t.ok(dbScripts.some(([sid, out]) => sid === 'http-title' && String(out).includes(title)), 'the scan stored http-title with the page title');

    t.match(await page.textContent('#host-state'), /^up/, 'host state shown');
    const portRows = await page.$$eval('#host-ports tr.host-port', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    t.same(portRows.map((r) => [r[0], r[1], r[3]]), [[`${open}/tcp`, 'open', 'http']], 'the open port with its service; the closed one counted, not listed');
    t.match(await page.textContent('#host-detail'), /Not shown: 1 closed ports/);
    const shownScripts = await page.$$eval('#host-ports tr.port-scripts .script', (els) => els.map((el) => [el.querySelector('.mono')!.textContent, el.querySelector('pre')!.textContent]));
    t.same(shownScripts.map(([sid, out]) => [sid, out]).sort(), dbScripts.map(([sid, out]) => [sid, out]).sort(), 'every port script of the database, with its output');
    const shownOs = await page.$$eval('#host-os tr.os-match', (trs) => trs.map((tr) => [tr.children[0]!.textContent, tr.children[1]!.textContent]));
    t.same(shownOs, dbOs.map(([name, acc]) => [name, `${acc}%`]), 'every OS match in rank order with its accuracy');
    // The route behind it, and its 404.
    const api = await srv.api(`/api/scans/${id}/hosts/127.0.0.1`);
    t.equal(api.status, 200);
    t.equal(api.body.closed, 1);
    t.equal((await srv.api(`/api/scans/${id}/hosts/127.0.0.9`)).status, 404, 'a host the scan never saw is a 404');
    t.equal((await srv.api(`/api/scans/${id}/hosts/127.0.0.1`, { token: 'wrong' })).status, 401, 'the token is required');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-dashboard-host.png'), fullPage: true });
    t.same(pageErrors, [], 'no script errors on the page');
  });
}
