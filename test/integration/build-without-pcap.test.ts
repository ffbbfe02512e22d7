// A build on a machine without libpcap-dev: in a private mount namespace (the machine itself is
// never changed; others build at the same time) libpcap's headers are hidden, and `npm run
// build:native` runs for real in a copy of the package. It must finish (exit 0) with one line
// saying what is missing, leave no engine behind, and the copy's prtip must still run -sT, -sV,
// -oX and --db on loopback while raw scan types are refused with one line naming libpcap-dev.
// (build:ts needs no native code: the copy gets this checkout's compiled dist/ rather than a
// second minute-long tsc run.)
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const reason = process.getuid?.() !== 0 ? 'needs root (mount namespaces)' : !fs.existsSync('/usr/include/pcap/pcap.h') ? 'libpcap-dev is not installed' : undefined;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, env: { ...process.env, ...opts.env }, timeout: 120_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

if (reason) {
  if (process.env.CI) t.fail(`build-without-pcap must run in CI, but: ${reason}`);
  else t.pass(`build-without-pcap skipped: ${reason}`);
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-nopcap-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const copy = path.join(tmp, 'prtip');
  fs.mkdirSync(path.join(copy, 'native'), { recursive: true });
  fs.mkdirSync(path.join(copy, 'packages', 'oclif-cli'), { recursive: true });
  for (const f of ['package.json', 'oclif.manifest.json']) if (fs.existsSync(path.join(root, f))) fs.copyFileSync(path.join(root, f), path.join(copy, f));
  for (const f of ['build.mjs', 'preflight.mjs', 'binding.gyp']) fs.copyFileSync(path.join(root, 'native', f), path.join(copy, 'native', f));
  fs.cpSync(path.join(root, 'native', 'src'), path.join(copy, 'native', 'src'), { recursive: true });
  fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
  fs.cpSync(path.join(root, 'packages', 'oclif-cli', 'bin'), path.join(copy, 'packages', 'oclif-cli', 'bin'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  // A stale engine from an earlier build must not survive a build that cannot make one.
  fs.mkdirSync(path.join(copy, 'native', 'build', 'Release'), { recursive: true });
  fs.writeFileSync(path.join(copy, 'native', 'build', 'Release', 'prtip_native.node'), 'stale');
  fs.mkdirSync(path.join(tmp, 'empty'));
  const prtip = path.join(copy, 'packages', 'oclif-cli', 'bin', 'run.js');

  t.test('npm run build:native without pcap.h finishes, says so in one line, builds no engine', async (t) => {
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-ec',
      `mount --bind ${tmp}/empty /usr/include/pcap; test ! -e /usr/include/pcap/pcap.h; cd ${copy}; exec npm run --silent build:native`], { encoding: 'utf8', timeout: 120_000 });
    t.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], /^prtip build: libpcap headers not found \(pcap\/pcap\.h\): building WITHOUT the native engine .*: install libpcap-dev .*and run npm run build$/);
    t.notOk(fs.existsSync(path.join(copy, 'native', 'build', 'Release', 'prtip_native.node')), 'no engine left in place');
    const strict = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-ec',
      `mount --bind ${tmp}/empty /usr/include/pcap; cd ${copy}; exec npm run --silent build:native`], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PRTIP_REQUIRE_NATIVE: '1' } });
    t.equal(strict.status, 1, 'PRTIP_REQUIRE_NATIVE=1 (npm run setup) makes it an error');
    t.match(strict.stderr, /^prtip build: libpcap headers not found \(pcap\/pcap\.h\): install libpcap-dev/);
  });

  t.test('that prtip: -sT -sV -oX --db work on loopback; raw scan types are refused in one line', async (t) => {
    const srv = net.createServer((s) => s.on('error', () => {}).end('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    t.teardown(() => srv.close());
    const port = (srv.address() as net.AddressInfo).port;
    const xml = path.join(tmp, 'scan.xml');
    const db = path.join(tmp, 'scan.duckdb');
    const scan = await run(process.execPath, [prtip, 'scan', '-sT', '-sV', '-Pn', '-p', String(port), '-oX', xml, '--db', db, '127.0.0.1']);
    t.equal(scan.code, 0, scan.stderr);
    t.match(fs.readFileSync(xml, 'utf8'), new RegExp(`<port protocol="tcp" portid="${port}"><state state="open"[^>]*/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2\\+deb12u3"`));
    const sql = await run(process.execPath, [prtip, 'sql', db, 'select port, name, product from services', '--json']);
    t.equal(sql.code, 0, sql.stderr);
    t.same(JSON.parse(sql.stdout), [{ port, name: 'ssh', product: 'OpenSSH' }]);
    for (const args of [['-sU'], ['-sA'], ['-sF'], ['-sT', '-O']]) {
      // Loopback target: a refusal that ever stops being one cannot reach the network.
      const r = await run(process.execPath, [prtip, 'scan', ...args, '-p', '1', '127.0.0.1']);
      t.equal(r.code, 1, `${args.join(' ')} refused`);
      const lines = r.stderr.trim().split('\n');
      t.equal(lines.length, 1, `${args.join(' ')}: one line: ${r.stderr}`);
      t.match(lines[0], /^prtip: -\S+ \([^)]+\) needs prtip's native engine, which is not built \(.*prtip_native\.node is missing\): install libpcap-dev and run "npm run build"$/);
    }
    const syn = await run(process.execPath, [prtip, 'scan', '-sS', '-p', String(port), '127.0.0.1']);
    t.equal(syn.code, 0, 'explicit -sS: the connect scan instead, with the reason');
    t.match(syn.stderr, /^prtip: warning: -sS needs prtip's native engine, which is not built \(.*\): install libpcap-dev and run "npm run build"; running a connect scan \(-sT\) instead$/m);
    t.match(syn.stdout, new RegExp(`${port}/tcp open`));
  });
}
