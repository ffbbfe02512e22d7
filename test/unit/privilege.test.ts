// pipelines/privilege.ts and the native raw-handle reserve: account lookup and its refusals, the
// /proc check (against a real unprivileged child), and handles reserved as root that engines can
// still take after the process dropped root — and only those. Nothing is sent (loopback, no send).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { lookupAccount, notDroppedReason } from '../../pipelines/privilege.js';

const ADDON = fileURLToPath(new URL('../../native/build/Release/prtip_native.node', import.meta.url));
const root = process.geteuid?.() === 0;

t.test('lookupAccount', async (t) => {
  const nobody = lookupAccount('nobody');
  t.equal(nobody.uid, 65534);
  t.equal(nobody.name, 'nobody');
  t.same(lookupAccount('65534').uid, 65534, 'a uid works as well as a name');
  t.throws(() => lookupAccount('no-such-user'), /^--unprivileged-user "no-such-user": no such user on this system/);
  t.throws(() => lookupAccount('root'), /uid or gid 0, which keeps root/);
  t.throws(() => lookupAccount('a b'), /not a user name or number/);
  t.throws(() => lookupAccount('-n'), /not a user name or number/);
});

t.test('notDroppedReason reads every thread of a process', { skip: root ? false : 'needs root to start a child as nobody' }, async (t) => {
  t.match(notDroppedReason({ uid: 65534, gid: 65534 }), /thread \d+ has uids 0 0 0 0/, 'this (root) process is not dropped');
  const child = spawn('sleep', ['20'], { uid: 65534, gid: 65534, stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    t.equal(notDroppedReason({ uid: 65534, gid: 65534 }, child.pid!), undefined, 'a process started as nobody is');
    t.match(notDroppedReason({ uid: 1, gid: 1 }, child.pid!), /has uids 65534/, 'and is not another account');
  } finally {
    child.kill();
  }
});

// Runs in a child (the drop cannot be undone): reserve as root, drop, then take handles.
const CHILD = `
const native = require(process.argv[1]);
const out = {};
out.reserved = native.reserveRawHandles('lo', 'exchange', 2);
process.setgroups([65534]); process.setgid(65534); process.setuid(65534);
out.uid = process.getuid();
out.access = native.hasRawAccess();
try { native.reserveRawHandles('lo', 'exchange', 3); } catch (e) { out.reserveAfter = e.code + ': ' + e.message; }
const a = new native.RawExchange('lo', 'icmp');
const b = new native.RawExchange('lo', 'icmp');
out.left = native.reservedRawHandles('lo', 'exchange');
try { new native.RawExchange('lo', 'icmp'); } catch (e) { out.third = e.message; }
a.close();
out.afterClose = native.reservedRawHandles('lo', 'exchange');
const c = new native.RawExchange('lo', 'icmp');
out.reused = native.reservedRawHandles('lo', 'exchange');
b.close(); c.close();
native.closeRawHandles();
out.afterCloseAll = [native.reservedRawHandles('lo', 'exchange'), native.hasRawAccess()];
console.log(JSON.stringify(out));
`;

t.test('handles reserved as root serve engines after the drop, and only they', { skip: root ? false : 'needs root' }, async (t) => {
  const r = spawnSync(process.execPath, ['-e', CHILD, ADDON], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  t.equal(out.reserved, 2);
  t.equal(out.uid, 65534);
  t.equal(out.access, true, 'hasRawAccess counts the reserve');
  t.match(out.reserveAfter, /^EPERM: cannot open a raw socket on lo: AF_PACKET socket: Operation not permitted/, 'no new handle after the drop');
  t.equal(out.left, 0, 'two exchanges took both');
  t.match(out.third, /RawExchange: AF_PACKET socket: Operation not permitted/, 'a third cannot open one');
  t.equal(out.afterClose, 1, 'a closed exchange gives its handle back');
  t.equal(out.reused, 0, 'and the next one takes it');
  t.same(out.afterCloseAll, [0, false], 'closeRawHandles empties the reserve: no raw access left');
});

t.test('without root nothing can be reserved', { skip: root ? false : 'needs root to start a child as nobody' }, async (t) => {
  const r = spawnSync(process.execPath, ['-e', `const n = require(process.argv[1]); let e; try { n.reserveRawHandles('lo', 'engine', 1) } catch (x) { e = x.code } console.log(JSON.stringify([n.hasRawAccess(), e]))`, ADDON],
    { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 30_000, env: { PATH: process.env.PATH } });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), [false, 'EPERM']);
});

t.test('--unprivileged-user without root is said to do nothing (loopback connect scan)', { skip: root ? false : 'needs root to start a child as nobody' }, async (t) => {
  const bin = fileURLToPath(new URL('../../packages/oclif-cli/bin/run.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'scan', '-sT', '-p', '1', '--unprivileged-user', 'daemon', '127.0.0.1'],
    { encoding: 'utf8', uid: 65534, gid: 65534, cwd: '/', timeout: 60_000, env: { PATH: process.env.PATH } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /^prtip: warning: --unprivileged-user daemon: prtip is not running as root \(uid 65534\), so there is nothing to drop$/m);
});

t.test('a root that cannot drop (no CAP_SETUID/CAP_SETGID) is refused before any output or database exists', { skip: root ? false : 'needs root' }, async (t) => {
  const bin = fileURLToPath(new URL('../../packages/oclif-cli/bin/run.js', import.meta.url));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-priv-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('setpriv', ['--bounding-set=-setuid,-setgid', process.execPath, bin, 'scan', '-sT', '-p', '1', '-oX', path.join(dir, 'x.xml'), '--db', path.join(dir, 'x.duckdb'), '127.0.0.1'],
    { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
  t.equal(r.status, 1);
  t.equal(r.stderr, 'prtip: cannot drop root privileges to "nobody": this root lacks CAP_SETGID and CAP_SETUID; nothing was sent (give root CAP_SETUID and CAP_SETGID, or run prtip as an ordinary user with -sT)\n');
  t.same(fs.readdirSync(dir), [], 'no output file, no database');
});

t.test('cluster submit refuses --unprivileged-user (workers do not drop yet) before it connects anywhere', async (t) => {
  const bin = fileURLToPath(new URL('../../packages/oclif-cli/bin/run.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'cluster', 'submit', '--redis', 'redis://127.0.0.1:1', '--shards', '2', '-sT', '-p', '1', '--unprivileged-user', 'nobody', '127.0.0.1'],
    { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1);
  t.equal(r.stderr, 'prtip: prtip cluster submit does not take --unprivileged-user: workers do not drop privileges yet: prtip worker runs its shards with the privileges it was started with\n');
});
