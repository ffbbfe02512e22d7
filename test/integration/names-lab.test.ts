// Names in the lab: a hand-written DNS responder (test/lab/dns-responder.ts) runs in the target
// namespace on 198.18.0.2:53; prtip asks it (--dns-servers, or the scanner namespace's own
// resolv.conf) for the reverse names of -R and -sL. The wire shows the questions that went there
// and, for -sL, that nothing else was sent; -sL's hosts and names equal nmap -sL's against the
// same server. The host's resolver is never asked about lab addresses.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { startDnsResponder, type DnsResponder } from '../lab/dns-responder.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

async function inLab(lab: Lab, argv: string[], timeoutMs = 60_000) {
  const r = await lab.exec(argv[0] === 'prtip' ? [process.execPath, PRTIP_BIN, ...argv.slice(1)] : argv, { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

const xmlHosts = (xml: string) => [...xml.matchAll(/<host\b[^>]*>([\s\S]*?)<\/host>/g)].map((m) => {
  const body = m[1]!;
  return {
    addr: /<address addr="([^"]+)"/.exec(body)?.[1],
    status: /<status state="([^"]+)" reason="([^"]+)"/.exec(body)?.slice(1, 3).join('/'),
    names: [...body.matchAll(/<hostname name="([^"]+)" type="([^"]+)"\/>/g)].map((n) => `${n[1]}/${n[2]}`),
  };
});

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ anyIpV4: '198.19.0.0/24', tcpListeners: [8080] });
  t.teardown(() => lab.teardown());
  const table = { ptr: { '198.18.0.1': 'scanner.lab', '198.18.0.2': 'target.lab', '198.19.0.5': 'five.any.lab', '198.19.0.7': 'seven.any.lab' }, a: { 'target.lab': '198.18.0.2' } };
  const dns: DnsResponder = await startDnsResponder(lab, { ns: 'target', address: lab.targetV4, table });
  t.teardown(() => dns.stop());
  const server = `--dns-servers=${lab.targetV4}`;

  t.test('-R: names of up hosts in -oN, -oX, -oG, -oJ and the database, asked of the lab server', async (t) => {
    const cap = await lab.capture(`udp and dst port 53`);
    const asked = dns.seen.length;
    const db = path.join(lab.tmpDir, 'r.duckdb');
    const out = (ext: string) => path.join(lab.tmpDir, `r.${ext}`);
    const r = await inLab(lab, ['prtip', 'scan', '-sT', '-R', server, '-p', '8080', '--max-retries', '0', '--max-rtt-timeout', '300ms',
      '-oN', out('nmap'), '-oX', out('xml'), '-oG', out('gnmap'), '-oJ', out('json'), '--db', db, lab.targetV4, '198.19.0.5', '198.19.0.6']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const normal = fs.readFileSync(out('nmap'), 'utf8');
    t.match(normal, /^prtip scan report for target\.lab \(198\.18\.0\.2\)$/m);
    t.match(normal, /^prtip scan report for five\.any\.lab \(198\.19\.0\.5\)$/m);
    t.match(normal, /^prtip scan report for 198\.19\.0\.6$/m, 'a host without a PTR record is shown by address');
    const xml = fs.readFileSync(out('xml'), 'utf8');
    t.same(xmlHosts(xml).map((h) => `${h.addr} ${h.names.join(',')}`), ['198.18.0.2 target.lab/PTR', '198.19.0.5 five.any.lab/PTR', '198.19.0.6 ']);
    const v = await inLab(lab, ['xmllint', '--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', out('xml')]);
    t.equal(v.code, 0, v.stderr);
    t.match(fs.readFileSync(out('gnmap'), 'utf8'), /^Host: 198\.18\.0\.2 \(target\.lab\)\tStatus: Up$/m);
    const json = JSON.parse(fs.readFileSync(out('json'), 'utf8')) as { hosts: Array<{ ip: string; hostnames: unknown }> };
    t.same(json.hosts.find((h) => h.ip === '198.19.0.5')?.hostnames, [{ name: 'five.any.lab', type: 'PTR' }]);
    const q = await inLab(lab, ['prtip', 'sql', db, 'select ip, hostname from hosts order by ip', '--csv']);
    t.match(q.stdout, /198\.18\.0\.2,target\.lab/);
    t.match(q.stdout, /198\.19\.0\.5,five\.any\.lab/);
    // The wire: one PTR question per up host, to the lab server, and the server saw the same.
    const questions = dns.seen.slice(asked).map((s) => s.name).sort();
    t.same(questions, ['2.0.18.198.in-addr.arpa', '5.0.19.198.in-addr.arpa', '6.0.19.198.in-addr.arpa']);
    t.equal(packets.filter((p) => p.dst === lab.targetV4 && p.dport === 53).length, 3);
  });

  t.test('-n (the default) asks nothing', async (t) => {
    const asked = dns.seen.length;
    const r = await inLab(lab, ['prtip', 'scan', '-sT', server, '-p', '8080', '-oD', '-', lab.targetV4]);
    t.equal(r.code, 0, r.stderr);
    t.equal(dns.seen.length, asked);
    t.equal(jsonLines(r.stdout).find((x) => x.type === 'host')?.hostname, undefined);
  });

  t.test('-sL lists targets with names as nmap -sL does, sending them nothing', async (t) => {
    const cap = await lab.capture(`(ip or ip6) and not icmp6`);
    const asked = dns.seen.length;
    const xml = path.join(lab.tmpDir, 'sl.xml');
    const r = await inLab(lab, ['prtip', '-sL', server, '--exclude', '198.19.0.6', '-oX', xml, '-oG', '-', '198.18.0.1-2', '198.19.0.4-8']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^Host: 198\.19\.0\.7 \(seven\.any\.lab\)\tStatus: Unknown$/m);
    t.match(r.stdout, /^Host: 198\.19\.0\.4 \(\)\tStatus: Unknown$/m);
    t.match(r.stdout, /6 IP addresses \(0 hosts up\)/);
    const mine = xmlHosts(fs.readFileSync(xml, 'utf8'));
    t.equal(mine.length, 6);
    t.ok(mine.every((h) => h.status === 'unknown/user-set'));
    const v = await inLab(lab, ['xmllint', '--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', xml]);
    t.equal(v.code, 0, v.stderr);
    t.same(packets.filter((p) => !(p.dport === 53 && p.dst === lab.targetV4) && !(p.sport === 53 && p.src === lab.targetV4)).map((p) => `${p.src}>${p.dst} ${p.proto}`), [], 'only DNS on the wire');
    t.equal(dns.seen.length - asked, 6, 'one question per listed address');
    // nmap -sL against the same server, in the same namespace.
    const n = await inLab(lab, ['nmap', '-sL', server, '--exclude', '198.19.0.6', '-oX', '-', '198.18.0.1-2', '198.19.0.4-8']);
    t.equal(n.code, 0, n.stderr);
    const theirs = xmlHosts(n.stdout);
    t.same(mine.map((h) => `${h.addr} ${h.status} ${h.names.join(',')}`), theirs.map((h) => `${h.addr} ${h.status} ${h.names.join(',')}`));
    t.same(mine.filter((h) => h.names.length).map((h) => h.addr), ['198.18.0.1', '198.18.0.2', '198.19.0.5', '198.19.0.7']);
  });

  t.test('-sL -n lists without a single packet; -sL with a port or scan type is refused', async (t) => {
    const cap = await lab.capture(`ip or ip6`);
    const asked = dns.seen.length;
    const r = await inLab(lab, ['prtip', '-sL', '-n', server, '-oN', '-', '198.19.0.0/30']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.same(r.stdout.split('\n').filter((l) => l.startsWith('prtip scan report')), ['0', '1', '2', '3'].map((i) => `prtip scan report for 198.19.0.${i}`));
    t.equal(packets.filter((p) => p.proto !== 'icmp6').length, 0);
    t.equal(dns.seen.length, asked);
    const bad = await inLab(lab, ['prtip', '-sL', '-sS', '-p', '80', '198.19.0.1']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /-sL \(list scan\) sends nothing to the targets: it cannot take -sS, -p/);
  });

  t.test('without --dns-servers: the namespace\'s resolv.conf (ip netns exec), /etc/hosts first', async (t) => {
    const dir = `/etc/netns/${lab.scannerNs}`;
    fs.mkdirSync(dir, { recursive: true });
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${lab.targetV4}\n`);
    fs.writeFileSync(path.join(dir, 'hosts'), `198.18.0.1 from-hosts-file\n`);
    const asked = dns.seen.length;
    const r = await inLab(lab, ['prtip', '-sL', '-oG', '-', '198.18.0.1-2']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^Host: 198\.18\.0\.1 \(from-hosts-file\)\tStatus: Unknown$/m);
    t.match(r.stdout, /^Host: 198\.18\.0\.2 \(target\.lab\)\tStatus: Unknown$/m);
    t.same(dns.seen.slice(asked).map((s) => s.name), ['2.0.18.198.in-addr.arpa']);
    // a target typed by name, resolved at --dns-servers
    const byName = await inLab(lab, ['prtip', 'scan', '-sT', server, '-p', '8080', '-oG', '-', 'target.lab']);
    t.equal(byName.code, 0, byName.stderr);
    t.match(byName.stdout, /Host: 198\.18\.0\.2 .*Ports: 8080\/open/);
  });
}
