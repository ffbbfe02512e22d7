import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { UserInputError } from '../../../stages/records/index.js';
import { DEFAULT_UNPRIVILEGED_USER, dropPrivileges, handOverDatabase, lookupAccount, openScanDatabase, runningAsRoot } from '../../../pipelines/privilege.js';
import { parseInteger } from '../lib/nmap-values.js';
import { LOOPBACK_RANGES, parseAllowList } from '../lib/serve/allow.js';
import { ScanManager } from '../lib/serve/scans.js';
import { buildServer } from '../lib/serve/server.js';
import { lockDown } from '../lib/serve/sql.js';
import { parseSimple, SimpleCommand } from '../lib/simple-command.js';

export default class Serve extends SimpleCommand {
  static override summary = 'Web API, live events and a web dashboard over a DuckDB database';
  static override description = [
    'USAGE: prtip serve --db FILE [--listen ADDR] [--port N] [--token-file F] [--allow-targets CIDR,…] [--unprivileged-user USER]',
    '',
    'Serves a REST API (OpenAPI 3 at /api/openapi.json), Server-Sent Events for running scans and',
    'a dashboard at / . Scans started through the API take the words of `prtip scan` and are',
    'stored in FILE. Every route needs the token: "Authorization: Bearer TOKEN", or ?token=TOKEN',
    '(the page and EventSource). The URL with the token is printed at start.',
    '',
    'OPTIONS:',
    '  --db FILE                    the DuckDB database (created when absent); scans are stored there',
    '  --listen ADDR                address to bind (default 127.0.0.1; anything else is reachable from the network)',
    '  --port N                     TCP port (default 8470; 0 picks a free one)',
    '  --token-file F               read the token from F (at least 16 characters) instead of generating one',
    '  --allow-targets CIDR,…       what API clients may scan besides loopback (default: loopback only)',
    '  --max-scans N                scans running at once (default 4)',
    '  --unprivileged-user USER     started as root: drop to USER once the server listens',
    '',
    'Scans run inside the server, with its privileges. Started as root, the server keeps root, so',
    'API scans may use raw scan types, -O and --traceroute (within --allow-targets). With',
    '--unprivileged-user USER it opens its database and its port, then drops to USER before it',
    'reads a request: its scans then run without root (kernel sockets, -sT; raw scan types, -O and',
    '--traceroute are refused as for any user without root).',
    '',
    'EXAMPLES:',
    '  prtip serve --db scans.duckdb',
    '  sudo prtip serve --db lab.duckdb --allow-targets 198.18.0.0/15 --token-file ~/.prtip-token',
    '  curl -H "Authorization: Bearer $TOKEN" -d \'{"args":["-sT","-p","80","127.0.0.1"]}\' -H content-type:application/json http://127.0.0.1:8470/api/scans',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'serve', [], ['--db', '--listen', '--port', '--token-file', '--allow-targets', '--max-scans', '--unprivileged-user']);
    if (a.positional.length) throw new UserInputError(`prtip serve takes no arguments, got "${a.positional[0]}"; see prtip serve --help`);
    const dbPath = a.values.get('--db');
    if (!dbPath) throw new UserInputError('prtip serve needs --db FILE: the database scans are stored in and read from');
    const host = a.values.get('--listen') ?? '127.0.0.1';
    if (net.isIP(host) === 0) throw new UserInputError(`bad address "${host}" for --listen: expected an IPv4 or IPv6 address`);
    const port = a.values.has('--port') ? parseInteger('--port', a.values.get('--port')!, 0, 65535) : 8470;
    const maxRunning = a.values.has('--max-scans') ? parseInteger('--max-scans', a.values.get('--max-scans')!, 1, 64) : 4;
    const allowed = parseAllowList([...LOOPBACK_RANGES, ...(a.values.has('--allow-targets') ? [a.values.get('--allow-targets')!] : [])]);
    let token: string;
    const tokenFile = a.values.get('--token-file');
    if (tokenFile !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(tokenFile, 'utf8').trim();
      } catch (err) {
        throw new UserInputError(`cannot read --token-file "${tokenFile}": ${(err as Error).message}`);
      }
      if (text.length < 16 || /\s/.test(text)) throw new UserInputError(`--token-file "${tokenFile}": the token must be at least 16 characters without spaces`);
      token = text;
    } else {
      token = randomBytes(24).toString('base64url');
    }

    // As root: the account is checked first, the database opened so its WAL survives the drop.
    // A server runs many scans in one process, so it cannot drop per scan: started as root it keeps
    // root (raw scan types, -O and --traceroute work for API clients) unless told
    // to drop with --unprivileged-user.
    const dropTo = a.values.get('--unprivileged-user');
    const privilege = { user: dropTo ?? DEFAULT_UNPRIVILEGED_USER };
    const account = runningAsRoot() && dropTo !== undefined ? lookupAccount(dropTo) : undefined;
    if (dropTo !== undefined && !runningAsRoot()) process.stderr.write(`prtip serve: warning: --unprivileged-user ${dropTo}: not running as root, nothing to drop\n`);
    const db = await openScanDatabase(dbPath, privilege);
    await lockDown(db.conn);
    const manager = new ScanManager({ dbPath, instance: db.instance, allowed, maxRunning });
    const app = await buildServer({ token, instance: db.instance, manager });
    try {
      await app.listen({ host, port });
    } catch (err) {
      db.close();
      throw new UserInputError(`cannot listen on ${host} port ${port}: ${(err as Error).message}`);
    }
    if (account) {
      try {
        handOverDatabase(db, account);
        dropPrivileges(account);
      } catch (err) {
        await app.close();
        db.close();
        throw err;
      }
      process.stderr.write(`prtip serve: running as ${account.name} (uid ${account.uid}): its scans run without root (-sT; raw scan types are refused)\n`);
    } else if (runningAsRoot()) {
      process.stderr.write('prtip serve: running as root: API scans may send raw packets (-sS, -O, …) within --allow-targets; --unprivileged-user USER drops root after start-up (connect scans only)\n');
    }
    const addr = app.server.address() as net.AddressInfo;
    const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const loopback = addr.address.startsWith('127.') || addr.address === '::1';
    process.stdout.write(
      `prtip serve: http://${hostPart}:${addr.port}/?token=${encodeURIComponent(token)}\n` +
        `prtip serve: API at http://${hostPart}:${addr.port}/api (OpenAPI: /api/openapi.json), token${tokenFile ? ` from ${tokenFile}` : ''} in "Authorization: Bearer TOKEN"\n` +
        `prtip serve: database ${dbPath}; API scans may target ${allowed.map((r) => r.text).join(', ')}\n`,
    );
    if (!loopback) process.stderr.write(`prtip serve: warning: listening on ${addr.address}: reachable from the network; keep the token secret\n`);

    let stopping = false;
    await new Promise<void>((resolve) => {
      const stop = () => {
        if (stopping) process.exit(130);
        stopping = true;
        process.stderr.write('prtip serve: stopping: running scans are stopped cleanly\n');
        void manager.stopAll().then(() => app.close()).finally(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    db.close();
  }
}
