// libssh2's key login and exec channels: a private sshd on 127.0.0.1 (key-only, user nobody,
// whose shell is nologin) and Nmap's ssh-run script run unmodified by prtip and by nmap with the
// same key: the outputs are equal, and equal nologin's own words; a key the server does not
// know fails as "Authentication Failed". The key file is read through prtip's sandbox (it lies
// in the --datadir), so a key outside the data directories cannot be read.
import t from 'tap';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScriptXml } from '../../bench/scripts-compare.js';
import { runCli } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) {
  if (process.env.CI) t.fail('this test needs root (it starts sshd) and CI runs as root');
  else t.pass('skipped: needs root to start sshd');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-sshrun-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'datadir');
  execFileSync('mkdir', ['-p', data]);
  // a data directory with Nmap's files (linked) and the user key
  for (const f of readdirSync('/usr/share/nmap')) symlinkSync(join('/usr/share/nmap', f), join(data, f));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'prtip-test', '-f', join(data, 'id_user')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'prtip-test', '-f', join(data, 'id_other')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'prtip-test', '-f', join(dir, 'hostkey')]);
  execFileSync('cp', [join(data, 'id_user'), join(dir, 'id_outside')]);
  execFileSync('cp', [join(data, 'id_user.pub'), join(dir, 'authorized_keys')]);
  // A scan started as root runs its scripts after dropping to nobody: the keys it reads must be
  // readable by that user (a user's own key file would be, for a scan run as that user).
  for (const k of [join(data, 'id_user'), join(data, 'id_other'), join(dir, 'id_outside')]) chmodSync(k, 0o644);
  const port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => res(p)); });
  });
  if (!execFileSync('sh', ['-c', 'ls /run/sshd 2>/dev/null || mkdir -p /run/sshd; echo ok']).toString().includes('ok')) throw new Error('no /run/sshd');
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'hostkey')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'StrictModes no', 'AllowUsers nobody', 'PermitRootLogin no', 'UseDNS no', '',
  ].join('\n'), { mode: 0o600 });
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdLog = '';
  sshd.stderr.on('data', (d: Buffer) => { sshdLog += d.toString(); });
  t.teardown(() => { sshd.kill(); });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); res(true); }); c.on('error', () => res(false)); });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const args = (key: string) => `ssh-run.username=nobody,ssh-run.cmd=id,ssh-run.privatekey=${key}`;
  const nmapRun = (key: string) => new Promise<string>((res) => {
    const p = spawn('nmap', ['-n', '-Pn', '-sT', '-sV', '-p', String(port), '--datadir', data, '--script', 'ssh-run', '--script-args', args(key), '-oX', '-', '127.0.0.1']);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', () => res(out));
  });
  const prtipRun = async (key: string) => {
    const r = await runCli(['scan', '-n', '-Pn', '-sT', '-sV', '-p', String(port), '--datadir', data, '--script', 'ssh-run', '--script-args', args(key), '-oX', '-', '127.0.0.1'], { timeoutMs: 120_000 });
    return r.stdout;
  };
  const nologin = (() => { try { return execFileSync('/usr/sbin/nologin', ['-c', 'id']).toString(); } catch (e) { return String((e as { stdout?: Buffer }).stdout ?? ''); } })();

  t.test('ssh-run with the authorized key: prtip prints what nmap prints (the remote shell\'s words)', async (t) => {
    const mine = parseScriptXml(await prtipRun(join(data, 'id_user')));
    const theirs = parseScriptXml(await nmapRun(join(data, 'id_user')));
    t.equal(theirs.length, 1, `nmap ran ssh-run; sshd: ${sshdLog.slice(-500)}`);
    t.match(theirs[0]?.output ?? '', nologin.trim(), 'the reference shows nologin\'s answer (nmap logged in and ran the command)');
    // stdout and stderr come from two pipes of the remote process (merged, as nmap's channel_read
    // gives them): their interleaving is the server's timing, so lines are compared as a set
    const lines = (r: typeof mine) => r.map((x) => ({ ...x, output: x.output.split('\n').sort().join('\n') }));
    t.same(lines(mine), lines(theirs), `same output; sshd: ${sshdLog.slice(-500)}`);
    t.match(mine[0]?.output ?? '', nologin.trim(), 'prtip logged in and ran the command: nologin\'s answer');
    t.ok((sshdLog.match(/Accepted publickey for nobody/g) ?? []).length >= 2, 'sshd accepted both key logins (prtip\'s and nmap\'s)');
  });

  t.test('a key the server does not know fails; a key outside the data directories cannot be read', async (t) => {
    const other = parseScriptXml(await prtipRun(join(data, 'id_other')));
    t.same(other.map((r) => r.output), ['Authentication Failed']);
    const outside = parseScriptXml(await prtipRun(join(dir, 'id_outside')));
    t.same(outside.map((r) => r.output), ['Authentication Failed'], 'the sandbox keeps the file out of reach: no login');
  });
}
