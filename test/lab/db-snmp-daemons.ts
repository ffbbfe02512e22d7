// Lab daemons for the script and service-detection comparisons: MariaDB (3306) and the Net-SNMP
// agent (UDP 161, plus TCP 161 so the lab's readiness check can see it listening). Each
// prepare function writes its state under the lab's temp dir and returns the foreground argv
// lab.ts starts in the target namespace.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** MariaDB with a fresh data directory, no test database, accepting every client (lab only). */
export async function prepareMariadb(dir: string): Promise<string[]> {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true, mode: 0o750 });
  await execFileP('chown', ['-R', 'mysql:mysql', dir]);
  await execFileP('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=mysql', '--skip-test-db',
    '--auth-root-authentication-method=socket', '--skip-name-resolve'], { timeout: 120_000 });
  return ['/usr/sbin/mariadbd', '--no-defaults', `--datadir=${data}`, '--user=mysql', '--port=3306', '--bind-address=*',
    `--socket=${join(dir, 'mysqld.sock')}`, `--pid-file=${join(dir, 'mysqld.pid')}`, '--skip-name-resolve', '--skip-log-bin',
    '--innodb-buffer-pool-size=16M',
    // any client may connect (the scanner is not localhost): scripts see the server's greeting
    '--skip-grant-tables'];
}

/** The Net-SNMP agent with community "public" read-only, and fixed system facts. */
export async function prepareSnmpd(dir: string): Promise<string[]> {
  const conf = join(dir, 'snmpd.conf');
  mkdirSync(join(dir, 'persist'), { recursive: true, mode: 0o700 });
  writeFileSync(conf, [
    '# prtip test lab — generated',
    'agentAddress udp:161,udp6:[::]:161,tcp:161,tcp6:[::]:161',
    // the system group, interfaces, IP, TCP and UDP; not the host's processes or packages
    // (hrSWRun, hrSWInstalled: they list the machine outside the lab and change run to run), nor
    // TCP's connection tables (the scans' own connections)
    'view labview included .1.3.6.1.2.1.1',
    'view labview included .1.3.6.1.2.1.2',
    'view labview included .1.3.6.1.2.1.4',
    'view labview included .1.3.6.1.2.1.7',
    'view labview included .1.3.6.1.2.1.25.1',
    'view labview included .1.3.6.1.2.1.31',
    'view labview included .1.3.6.1.6.3',
    'rocommunity public default -V labview',
    'rocommunity6 public default -V labview',
    'sysLocation prtip test lab',
    'sysContact prtip lab <lab@prtip.test>',
    'sysName prtip-lab',
    'sysServices 72',
    `[snmp] persistentDir ${join(dir, 'persist')}`,
    '',
  ].join('\n'), { mode: 0o600 });
  return ['/usr/sbin/snmpd', '-f', '-C', '-c', conf, '-Le', '-I', '-smux', '-m', '', '-p', join(dir, 'snmpd.pid')];
}
