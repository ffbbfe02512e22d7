#!/usr/bin/env node
// `npm run setup [-- --tests] [-- --no-npm] [-- --print]`: one command from a fresh Debian 12
// clone to a working prtip. Installs the Debian packages that are missing (apt-get as root,
// through sudo when present, otherwise prints the one apt-get line to run and exits 1), then
// `npm ci` and `npm run build`. Plain Node with no dependencies: it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian package groups: what building needs, what scanning needs, what the test suite needs. */
export const GROUPS = {
  build: ['build-essential', 'python3', 'pkg-config', 'libpcap-dev'],
  runtime: ['nmap', 'iproute2', 'ca-certificates'],
  tests: [
    'nftables', 'tcpdump', 'procps', 'util-linux', 'iputils-ping', 'libxml2-utils', 'ndiff', 'python3-libnmap', 'openssl', 'time', 'git',
    'nginx-light', 'openssh-server', 'openssh-client', 'redis-server', 'vsftpd', 'postfix', 'memcached', 'postgresql',
    'dnsmasq-base', 'mariadb-server', 'snmpd', 'zmap', 'masscan', 'chromium', 'tmux', 'clang-14', 'libclang-rt-14-dev',
  ],
};

const USAGE = `usage: npm run setup [-- --tests] [-- --no-npm] [-- --print]
  installs the Debian packages prtip needs (groups: build ${GROUPS.build.join(' ')};
  runtime ${GROUPS.runtime.join(' ')}), then runs npm ci and npm run build.
  --tests   also the packages the test suite uses (lab daemons, nftables, tcpdump, chromium, tmux, peers)
  --no-npm  only the Debian packages
  --print   print the apt-get line for what is missing and exit`;

function parse(argv) {
  const o = { tests: false, npm: true, print: false };
  for (const a of argv) {
    if (a === '--tests') o.tests = true;
    else if (a === '--no-npm') o.npm = false;
    else if (a === '--print') o.print = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      process.stderr.write(`prtip setup: unknown option "${a}"\n${USAGE}\n`);
      process.exit(1);
    }
  }
  return o;
}

/** Packages dpkg does not report as installed. */
export function missingPackages(pkgs) {
  return pkgs.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !/ installed$/.test(r.stdout.trim());
  });
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));
}

function run(cmd, args, opts = {}) {
  process.stdout.write(`==> ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) {
    process.stderr.write(`prtip setup: cannot run ${cmd}: ${r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) {
    process.stderr.write(`prtip setup: "${[cmd, ...args].join(' ')}" failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

const APT_OPTS = ['-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=900'];

/**
 * Packages must not start their daemons system-wide while installing: the tests start their own
 * copies inside network namespaces. policy-rc.d exiting 101 tells invoke-rc.d "not allowed";
 * only a policy file we created is removed again.
 */
function withoutDaemonStarts(fn) {
  const policy = '/usr/sbin/policy-rc.d';
  let created = false;
  if (!fs.existsSync(policy)) {
    fs.writeFileSync(policy, '#!/bin/sh\n# installed by prtip setup while packages install\nexit 101\n', { mode: 0o755 });
    created = true;
  }
  const cleanup = () => { if (created) fs.rmSync(policy, { force: true }); created = false; };
  process.once('exit', cleanup);
  try { fn(); } finally { cleanup(); }
}

function installPackages(missing) {
  const line = `apt-get install ${APT_OPTS.join(' ')} ${missing.join(' ')}`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (process.getuid?.() === 0) {
    withoutDaemonStarts(() => {
      run('apt-get', ['update'], { env });
      run('apt-get', ['install', ...APT_OPTS, ...missing], { env });
    });
  } else if (onPath('sudo')) {
    run('sudo', ['apt-get', 'update']);
    run('sudo', ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', ...APT_OPTS, ...missing]);
  } else {
    process.stderr.write(`prtip setup: missing Debian packages and neither root nor sudo; as root run:\n  apt-get update && ${line}\nthen npm run setup again\n`);
    process.exit(1);
  }
}

function main() {
  const o = parse(process.argv.slice(2));
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const wanted = [...GROUPS.build, ...GROUPS.runtime, ...(o.tests ? GROUPS.tests : [])];
  const hasDpkg = onPath('dpkg-query');
  const missing = hasDpkg ? missingPackages(wanted) : [];
  if (!hasDpkg) process.stdout.write('prtip setup: no dpkg here (not Debian?): install the equivalents of ' + wanted.join(' ') + ' yourself\n');
  if (o.print) {
    process.stdout.write(missing.length ? `apt-get install ${APT_OPTS.join(' ')} ${missing.join(' ')}\n` : 'nothing to install\n');
    return;
  }
  if (missing.length > 0) installPackages(missing);
  else if (hasDpkg) process.stdout.write(`prtip setup: Debian packages present (${wanted.length})\n`);
  if (!o.npm) return;
  run('npm', ['ci'], { cwd: root });
  // setup installed the build group: a native engine that still does not build is an error here.
  run('npm', ['run', 'build'], { cwd: root, env: { ...process.env, PRTIP_REQUIRE_NATIVE: '1' } });
  process.stdout.write('prtip setup: done. Try: npx prtip demo\n');
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
