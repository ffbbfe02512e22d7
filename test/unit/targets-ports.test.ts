import t from 'tap';
import { fileURLToPath } from 'node:url';
import { UserInputError } from '../../stages/records/index.js';
import { loadServicesTable, parseServices, type ServicesTable } from '../../stages/datafiles/index.js';
import { parsePortSpec, selectPorts, type PortList } from '../../stages/targets/ports.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const fixtureDir = fileURLToPath(new URL('../fixtures/targets/datadir', import.meta.url));
const fixture = (): ServicesTable => loadServicesTable(fixtureDir);
const installed = (): ServicesTable => loadServicesTable('/usr/share/nmap');

/** "80/tcp 53/udp …" in list order. */
function pairs(list: PortList): string[] {
  const name: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
  return Array.from(list.ports, (p, i) => `${p}/${name[list.protos[i]!]}`);
}

const p = (spec: string, services = fixture): PortList => parsePortSpec(spec, services);

t.test('numbers, lists and ranges (unprefixed = TCP)', async (t) => {
  t.same(pairs(p('22')), ['22/tcp']);
  t.same(pairs(p('22,80,443')), ['22/tcp', '80/tcp', '443/tcp']);
  t.same(pairs(p('443,22,80,22')), ['22/tcp', '80/tcp', '443/tcp'], 'sorted, duplicates merged');
  t.equal(p('8000-8100').count, 101);
  t.same(p('22,80,8000-8100').lists, { tcp: '22,80,8000-8100', udp: '', sctp: '' });
  t.same(p('1-3,2-5').lists.tcp, '1-5', 'overlapping ranges merge');
  t.same(p('-1024').lists.tcp, '1-1024', 'open start is 1');
  t.same(p('60000-').lists.tcp, '60000-65535', 'open end is 65535');
  t.same(p('-').lists.tcp, '1-65535', '-p- is every port but 0');
  t.equal(p('-').count, 65535);
  t.same(p('0').lists.tcp, '0', 'port 0 when written');
  t.same(p('0-2').lists.tcp, '0-2');
  t.same(p('65535').lists.tcp, '65535');
  t.same(p(' 22 , 80 ').lists.tcp, '22,80', 'spaces around items are ignored');
  t.same(p('080').lists.tcp, '80');
});

t.test('protocol prefixes apply until the next prefix', async (t) => {
  const list = p('U:53,111,T:21-25,80');
  t.same(list.lists, { tcp: '21-25,80', udp: '53,111', sctp: '' });
  t.same(pairs(list), ['21/tcp', '22/tcp', '23/tcp', '24/tcp', '25/tcp', '80/tcp', '53/udp', '111/udp'], 'tcp first, then udp');
  t.same(p('S:80,T:80,U:80').lists, { tcp: '80', udp: '80', sctp: '80' });
  t.equal(p('S:80,T:80,U:80').count, 3, 'same port on three protocols is three entries');
  t.same(Array.from(p('T:1,U:2,S:3').protos), [6, 17, 132]);
  t.same(p('u:53').lists.udp, '53', 'lower-case prefix accepted');
  t.same(p('T:-').lists.tcp, '1-65535');
});

t.test('service names and wildcards', async (t) => {
  t.same(p('http').lists, { tcp: '80,8008', udp: '', sctp: '' }, 'unprefixed names are TCP; every port of that name');
  t.same(p('U:http').lists, { tcp: '', udp: '80', sctp: '' });
  t.same(p('S:http').lists.sctp, '80');
  t.same(p('http,ssh').lists.tcp, '22,80,8008');
  t.same(p('HTTP').lists.tcp, '80,8008', 'case-insensitive');
  t.same(p('http*').lists.tcp, '80,443,3128,8008,8080', 'http, https, http-alt, http-proxy');
  t.same(p('U:domain,T:ssh').lists, { tcp: '22', udp: '53', sctp: '' });
  t.same(p('X11:1').lists.tcp, '6001', 'names with a colon are not prefixes');
  t.same(p('z39.50').lists.tcp, '210');
  t.same(p('?sh').lists.tcp, '22');
  t.same(p('ssh,22,20-23').lists.tcp, '20-23', 'names and numbers mix');
  t.same(p('http,ssh', installed).lists.tcp, '22,80,8008', 'installed table: http and ssh');
  t.ok(p('http*', installed).count > 10, 'wildcards over the installed table');
});

t.test('bracketed ranges: only ports named in nmap-services', async (t) => {
  t.same(p('[1-100]').lists.tcp, '7,22-23,25,53,80');
  t.same(p('[-100]').lists.tcp, '7,22-23,25,53,80');
  t.same(p('[8000-]').lists.tcp, '8008,8080');
  t.same(p('U:[1-100]').lists.udp, '7,22,53,80');
  t.same(p('[80]').lists.tcp, '80');
  t.same(p('[-]').count, 14, 'every TCP port in the fixture');
});

t.test('-F, --top-ports and the default', async (t) => {
  const fix = selectPorts({ topPorts: 3 }, fixture);
  t.same(fix.lists.tcp, '22,80,443', 'top 3 by frequency, listed in port order');
  t.equal(selectPorts({}, installed).count, 1000, 'default: top 1000 TCP ports');
  t.equal(selectPorts({ fast: true }, installed).count, 100, '-F: top 100');
  t.equal(selectPorts({ topPorts: 10 }, installed).count, 10);
  t.equal(selectPorts({}, installed).lists.udp, '');
  t.match(selectPorts({ topPorts: 10 }, installed).lists.tcp, /\b80\b/);
  t.equal(selectPorts({ topPorts: 100000 }, fixture).count, 14, 'capped at what the table has');
  t.same(selectPorts({ ports: '22' }, fixture).lists.tcp, '22');
  let loaded = false;
  selectPorts({ ports: '1-10' }, () => {
    loaded = true;
    return fixture();
  });
  t.notOk(loaded, 'the services table is not read for numeric lists');
});

/** Asserts a UserInputError quoting the bad token (and the -p spec). */
function refuses(t: Tap, spec: string, token: string, why: RegExp): void {
  try {
    p(spec);
    t.fail(`-p "${spec}" was accepted`);
  } catch (err) {
    t.type(err, UserInputError, `-p "${spec}" → UserInputError`);
    const msg = (err as Error).message;
    t.ok(msg.includes(`"${token}"`), `message quotes "${token}": ${msg}`);
    t.ok(msg.includes(`-p "${spec}"`), 'message quotes the whole spec');
    t.match(msg, why);
  }
}

t.test('bad port specs are refused, quoting the bad token', async (t) => {
  refuses(t, '22,70000', '70000', /ports are 0-65535/);
  t.throws(() => p('22,70000'), { message: 'bad port spec "70000" in -p "22,70000": ports are 0-65535' }, 'exact message');
  refuses(t, '65536', '65536', /0-65535/);
  refuses(t, '99999999999999999999', '99999999999999999999', /0-65535/);
  refuses(t, '90-80', '90-80', /runs backwards/);
  refuses(t, '80,,81', '', /empty item/);
  refuses(t, '80,', '', /empty item/);
  refuses(t, ',80', '', /empty item/);
  refuses(t, 'nosuchservice', 'nosuchservice', /unknown service name/);
  refuses(t, 'U:ssl-nothing', 'ssl-nothing', /unknown service name/);
  refuses(t, 'S:ssh', 'ssh', /no sctp port has that service name/);
  refuses(t, 'U:https', 'https', /no udp port/);
  refuses(t, 'zzz*', 'zzz*', /no service name matches/);
  refuses(t, '8o!', '8o!', /expected a port number/);
  refuses(t, '1-2-3', '1-2-3', /expected a port number/);
  refuses(t, '22;80', '22;80', /expected a port number/);
  refuses(t, 'T:', 'T:', /nothing after the T: prefix/);
  refuses(t, '22,U:', 'U:', /nothing after the U: prefix/);
  refuses(t, 'P:6', 'P:6', /not supported/);
  refuses(t, '[1-100', '[1-100', /bracketed range/);
  refuses(t, '[a-b]', '[a-b]', /bracketed range/);
  refuses(t, '[]', '[]', /bracketed range/);
  refuses(t, '[90-80]', '90-80', /runs backwards/);
  refuses(t, '[70000]', '70000', /0-65535/);
  refuses(t, '', '', /empty port list/);
  refuses(t, '[60000-60001]', '[60000-60001]', /selects no ports/);
  refuses(t, '22 80', '22 80', /expected a port number/);
});

t.test('option combinations like nmap', async (t) => {
  t.throws(() => selectPorts({ ports: '22', fast: true }, fixture), { name: 'UserInputError', message: /-p and -F cannot be combined/ });
  t.throws(() => selectPorts({ ports: '22', topPorts: 5 }, fixture), { name: 'UserInputError', message: /-p and --top-ports/ });
  t.throws(() => selectPorts({ fast: true, topPorts: 5 }, fixture), { name: 'UserInputError', message: /-F and --top-ports/ });
  t.throws(() => selectPorts({ topPorts: 0 }, fixture), { name: 'UserInputError', message: /--top-ports "0"/ });
  t.throws(() => selectPorts({ topPorts: 1.5 }, fixture), { name: 'UserInputError' });
  t.throws(() => selectPorts({ topPorts: -3 }, fixture), { name: 'UserInputError' });
  t.equal(selectPorts({ fast: false, ports: '22' }, fixture).count, 1, '-F false does not conflict');
});

t.test('unprefixed items are for every protocol the scan types probe; T:/U: still pick one', async (t) => {
  const tbl = () => parseServices('http 80/tcp 0.5\ndomain 53/udp 0.4\ndomain 53/tcp 0.1\nsnmp 161/udp 0.3\n', 'fixture');
  const both = parsePortSpec('53,T:80,U:161', tbl, ['tcp', 'udp']);
  t.same([...both.ports].map((p, i) => `${both.protos[i]}:${p}`), ['6:53', '6:80', '17:53', '17:161']);
  const udp = parsePortSpec('53', tbl, ['udp']);
  t.same([...udp.protos], [17], '-sU -p 53 is UDP 53');
  const top = selectPorts({ topPorts: 1, protocols: ['udp'] }, tbl);
  t.same([...top.ports], [53], 'top ports of UDP come from its own frequencies');
});
