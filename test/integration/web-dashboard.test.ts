// The web dashboard in a real browser: Debian's chromium driven by playwright-core (which never
// downloads a browser). prtip serve runs on loopback; the page starts a connect scan of listeners
// on 127.0.0.1 and must show the open ports while the scan still runs, then its results; a
// screenshot is kept in .tap/artifacts/.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
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
}
