// npm run setup and the native build's preflight, run for real: in a private mount namespace the
// test hides libpcap's headers (preflight) or makes dpkg forget libpcap-dev (setup as a user
// without root or sudo), so the machine itself is never changed.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SETUP = path.join(root, 'packages/oclif-cli/bin/setup.mjs');
const PREFLIGHT = path.join(root, 'native/preflight.mjs');

const installed = (pkg: string) => /install ok installed/.test(spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout ?? '');

/** Runs a shell script in a new mount namespace (changes vanish with it). */
function inMountNs(script: string) {
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-ec', script], { encoding: 'utf8', timeout: 60_000 });
}

const reason = process.getuid?.() !== 0 ? 'needs root (mount namespaces)' : !installed('libpcap-dev') ? 'libpcap-dev is not installed' : undefined;
if (reason) {
  if (process.env.CI) t.fail(`setup tests must run in CI, but: ${reason}`);
  else t.pass(`setup tests skipped: ${reason}`);
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-setup-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.test('preflight passes with libpcap headers, and names libpcap-dev in one line without them', async (t) => {
    const ok = spawnSync(process.execPath, [PREFLIGHT], { encoding: 'utf8' });
    t.equal(ok.status, 0, ok.stderr);
    fs.mkdirSync(path.join(tmp, 'empty'));
    const r = inMountNs(`mount --bind ${tmp}/empty /usr/include/pcap; exec ${process.execPath} ${PREFLIGHT}`);
    t.equal(r.status, 1);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.match(r.stderr, /^prtip build: libpcap headers not found \(pcap\/pcap\.h\): install libpcap-dev/);
  });

  t.test('setup without root or sudo prints the one apt-get line for what is missing and exits 1', async (t) => {
    for (const p of ['build-essential', 'python3', 'pkg-config', 'nmap', 'iproute2']) t.ok(installed(p), `${p} installed (precondition)`);
    // dpkg's database without libpcap-dev's stanza.
    const status = fs.readFileSync('/var/lib/dpkg/status', 'utf8').split(/\n\n+/).filter((s) => !/^Package: libpcap-dev$/m.test(s)).join('\n\n');
    fs.writeFileSync(path.join(tmp, 'status'), `${status}\n`);
    fs.chmodSync(tmp, 0o755);
    const asNobody = (args: string) =>
      inMountNs(`mount --bind ${tmp}/status /var/lib/dpkg/status; exec setpriv --reuid=65534 --regid=65534 --clear-groups env PATH=/usr/bin:/bin ${process.execPath} ${SETUP} ${args}`);
    const r = asNobody('--no-npm');
    t.equal(r.status, 1, r.stdout + r.stderr);
    t.match(r.stderr, /neither root nor sudo/);
    const line = r.stderr.split('\n').find((l) => l.includes('apt-get install'));
    t.ok(line, 'an apt-get line');
    t.match(line!, /apt-get install -y --no-install-recommends .*libpcap-dev$/, 'ends with the missing package');
    t.notMatch(line!, /\bnmap\b|build-essential/, 'installed packages are not listed');
    const printed = asNobody('--print');
    t.equal(printed.status, 0);
    t.match(printed.stdout, /^apt-get install .* libpcap-dev\n$/);
  });

  t.test('setup with every package present installs nothing; bad options are one line', async (t) => {
    const r = spawnSync(process.execPath, [SETUP, '--no-npm'], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /prtip setup: Debian packages present \(\d+\)/);
    t.notMatch(r.stdout, /apt-get/);
    const bad = spawnSync(process.execPath, [SETUP, '--frobnicate'], { encoding: 'utf8' });
    t.equal(bad.status, 1);
    t.match(bad.stderr, /^prtip setup: unknown option "--frobnicate"/);
  });
}
