// libssh2 for NSE (stages/script/ssh-session.ts): ssh-auth-methods runs unmodified against the
// lab's OpenSSH and prints what nmap prints; a hand-written script checks the binding's other
// calls against OpenSSH's own tools (host key fingerprint from ssh-keygen, a key query the
// server must refuse); the wire shows our version line and then only encrypted packets.
import t from 'tap';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labSkipReason } from '../lab/lab.js';
import { parseScriptXml } from '../../bench/scripts-compare.js';

const RUN_JS = fileURLToPath(new URL('../../packages/oclif-cli/bin/run.js', import.meta.url));

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['sshd'], tcpListeners: [], startTimeoutMs: 60_000 });
  t.teardown(() => lab.teardown());
  const scan = (tool: string[], spec: string, extra: string[] = []) => lab.exec([...tool, '-n', '-Pn', '-sT', '-p', '22', '--script', spec, ...extra, '-oX', '-', lab.targetV4], { timeoutMs: 120_000 });

  t.test('ssh-auth-methods: prtip prints what nmap prints', async (t) => {
    const cap = await lab.capture(`tcp port 22 and host ${lab.targetV4}`);
    const mine = await scan([process.execPath, RUN_JS, 'scan'], 'ssh-auth-methods');
    const packets = await cap.stop();
    const theirs = await scan(['nmap'], 'ssh-auth-methods');
    t.equal(mine.code, 0, mine.stderr);
    const a = parseScriptXml(mine.stdout.toString()).filter((r) => r.id === 'ssh-auth-methods');
    const b = parseScriptXml(theirs.stdout.toString()).filter((r) => r.id === 'ssh-auth-methods');
    t.equal(b.length, 1, `nmap ran ssh-auth-methods: ${theirs.stderr}`);
    t.match(b[0]?.output ?? '', /publickey/, 'the lab server offers publickey (the reference is not empty)');
    t.same(a, b, 'same output text');
    const sent = packets.filter((p) => p.src === lab.scannerV4 && p.dport === 22 && p.payload && p.payload.length > 0);
    t.ok(sent.some((p) => p.payload!.toString('latin1').startsWith('SSH-2.0-prtip_NSE\r\n')), 'our version line went to the server');
    const plain = Buffer.concat(sent.map((p) => p.payload!)).toString('latin1');
    t.ok(plain.includes('curve25519-sha256'), 'the key exchange offer is on the wire in clear, as it must be');
    t.notOk(plain.includes('ssh-userauth') || plain.includes('ssh-connection'), 'the authentication requests are encrypted');
  });

  t.test('the binding: hostkey_hash equals ssh-keygen\'s fingerprint, a foreign key is refused, errors as nmap words them', async (t) => {
    const pub = readFileSync(join(lab.tmpDir, 'sshd', 'ssh_host_ed25519_key.pub'), 'utf8').split(' ');
    const md5 = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', join(lab.tmpDir, 'sshd', 'ssh_host_ed25519_key.pub')]).toString().split(' ')[1]!.replace(/^MD5:/, '').toUpperCase();
    const sha1 = execFileSync('sh', ['-c', `cut -d' ' -f2 ${join(lab.tmpDir, 'sshd', 'ssh_host_ed25519_key.pub')} | base64 -d | sha1sum`]).toString().split(' ')[0]!.toUpperCase().match(/../g)!.join(':');
    const dir = mkdtempSync(join(tmpdir(), 'prtip-libssh2-'));
    const path = join(dir, 'libssh2-probe.nse');
    writeFileSync(path, `description = "libssh2 binding probe (prtip test)"
categories = {"safe"}
local libssh2 = require "libssh2"
local base64 = require "base64"
portrule = function(host, port) return port.number == 22 end
action = function(host, port)
  local s = libssh2.session_open(host, port.number)
  local out = { libssh2.hostkey_hash(s, "md5"), libssh2.hostkey_hash(s, "sha1") }
  local key = base64.dec("${pub[1]}")
  out[#out + 1] = tostring(libssh2.publickey_canauth(s, "nobody", key))
  out[#out + 1] = table.concat(libssh2.userauth_list(s, "nobody"), ",")
  out[#out + 1] = tostring(libssh2.userauth_password(s, "nobody", "wrong"))
  libssh2.session_close(s)
  local ok, err = pcall(libssh2.session_open, host, 2222)
  out[#out + 1] = tostring(ok) .. ":" .. tostring(err)
  return table.concat(out, "|")
end
`);
    const r = await scan([process.execPath, RUN_JS, 'scan'], path, ['--script-trace']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, new RegExp(`NSE: libssh2-probe TCP ${lab.scannerV4.replace(/\./g, '\\.')}:\\d+ > ${lab.targetV4.replace(/\./g, '\\.')}:22 \\| SSH-2\\.0-prtip_NSE`), '--script-trace shows the session\'s bytes');
    t.match(r.stderr, new RegExp(`NSE: libssh2-probe TCP [^|]* < ${lab.targetV4.replace(/\./g, '\\.')}:22 \\| SSH-2\\.0-OpenSSH`), 'and the server\'s');
    const res = parseScriptXml(r.stdout.toString()).find((x) => x.id === 'libssh2-probe');
    const p = (res?.output ?? '').split('|');
    t.equal(p[0], md5, 'md5 of the host key, as ssh-keygen -E md5 prints it');
    t.equal(p[1], sha1, 'sha1 of the host key blob');
    t.equal(p[2], 'false', 'the server refuses its own host key as a user key (AuthorizedKeysFile none)');
    t.equal(p[3], 'publickey', 'the methods that can continue');
    t.equal(p[4], 'false', 'a password login the server does not offer fails');
    t.equal(p[5], `false:connect to ${lab.targetV4}:2222/tcp refused: not a target of this scan`, 'a port outside the scan is refused before any packet');
  });
}
