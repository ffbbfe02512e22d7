import fs from 'node:fs';
import { runScan } from '../../../pipelines/scan.js';
import { DEFAULT_UNPRIVILEGED_USER, openScanDatabase } from '../../../pipelines/privilege.js';
import { createPacketTrace, UserInputError, type AnyRecord, type Proto } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import { parseArgs, type CliOptions, type FlagGroup } from '../lib/flags.js';
import { interruptController, lossWatch } from '../lib/io.js';
import { refuseScriptFlagsWithoutScripts } from '../lib/script-flags.js';
import { verboseObserver } from '../lib/verbose.js';
import { checkScanOptions, scanPipelineOptions, SCAN_GROUPS, statusInterval } from '../lib/scan-options.js';
import { ProgressReporter } from '../lib/progress/reporter.js';
import { listenForKeys } from '../lib/progress/keys.js';
import type { Interaction } from '../lib/progress/interaction.js';
import type { KeySink } from '../lib/progress/keys.js';
import { startTui, tuiUnavailable } from '../lib/progress/tui.js';
import { TuiModel } from '../lib/progress/tui-model.js';
import { loadServicesTable } from '../../../stages/datafiles/index.js';

const GROUPS: FlagGroup[] = SCAN_GROUPS;

/** DuckDB loads only for --db / --resume: importing it costs more start-up than the rest of a scan's code. */
const loadStore = () => import('../../../stages/store/index.js');

export default class Scan extends PrtipCommand {
  static override summary = 'Run a whole scan in one process (targets → discover → send (or list, -sL) → [detect] → [os] → [trace] → [script] → [store] → format)';
  static override description = commandHelp(
    'prtip [scan] [options] TARGET...  |  prtip scan --resume FILE',
    'Scans the targets with the same stages the pipe runs, in one process, and prints the\n' +
      'normal report on stdout (plus any -oN/-oX/-oG/-oJ/-oD/-oC files). nmap spellings are accepted;\n' +
      'options prtip does not implement yet are refused by name. With --db FILE the results go to a\n' +
      'DuckDB database as they arrive, checkpointed every second; a scan killed in any way can be\n' +
      'continued with --resume FILE (same plan and seed, finished probe batches skipped).\n' +
      'Interrupted (Ctrl-C) it writes what it found and exits 130. A scan that lost probes (its link\n' +
      'went down, the interface refused frames) keeps what it found, says so and exits 3.\n\n' +
      'DEFAULTS: -p the top 1000 TCP ports (nmap-services order), -sS as root or with CAP_NET_RAW, else\n' +
      '-sT; -T3. Connect scan (-T3): 256 connects in flight, 1s per attempt, 1 retry, no rate limit.\n' +
      'SYN scan (-T3): probe timeout from 1s adapting to measured RTTs within 100ms-10s, 3 retries,\n' +
      'no rate limit. --batch-size 8192, a random --seed. -sV: --version-intensity 7, 64 ports at once\n' +
      '(16 per host), 60s per port, 300s per host. --db: a commit every second. Host discovery first\n' +
      '(-Pn skips it, -sn does only it): as root -PE -PS443 -PA80 -PP (IPv6 without -PP), ARP/ND on\n' +
      'the local link, own addresses up; without root connect() to 80 and 443; 1 retry.',
    GROUPS,
    [
      'prtip scan -sT -p 1-1024 198.18.0.0/24',
      'prtip scan -sV -p 22,80,443 198.18.0.7',
      'prtip scan -sV -sC -p 21,22,25,80,443 198.18.0.7',
      'sudo prtip scan -sS -O -p 22,80,81 198.18.0.7',
      'prtip -sT -F --open -oD results.jsonl 198.18.0.7',
      'prtip scan -sT -p- -T4 -oA all 198.18.0.7 --db scans.duckdb',
      'prtip scan --resume scans.duckdb',
    ],
  );

  protected readonly commandName = 'scan';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;

  protected async main(o: CliOptions): Promise<void> {
    // The script command (and its Lua engine) loads only when asked for: start-up is part of every scan.
    if (o.scriptHelp !== undefined) return (await import('./script.js')).printScriptHelp(o);
    let argv = this.argv;
    let resume: { scanId: string; skip: Array<[number, number]>; seed: number; prior: AnyRecord[] } | undefined;
    let resumedDb: Awaited<ReturnType<typeof openScanDatabase>> | undefined;
    if (o.resume !== undefined) {
      if (argv.length !== 2 && !(argv.length === 1 && argv[0]!.startsWith('--resume='))) {
        throw new UserInputError('--resume FILE takes no other options: the stored scan\'s own options are used');
      }
      if (!fs.existsSync(o.resume)) throw new UserInputError(`--resume "${o.resume}": no such database file`);
      const { findResumable, finishedRanges, storedRecords } = await loadStore();
      // Opened once, for reading the stored scan and for continuing it (see openDatabaseForDrop).
      const db = await openScanDatabase(o.resume, { user: DEFAULT_UNPRIVILEGED_USER });
      try {
        const scan = await findResumable(db, o.resume);
        resume = { scanId: scan.scanId, skip: await finishedRanges(db, scan.scanId), seed: scan.seed, prior: await storedRecords(db, scan.scanId) };
        argv = scan.argv;
      } catch (err) {
        db.close();
        throw err;
      }
      resumedDb = db;
      const file = o.resume;
      o = parseArgs(argv, GROUPS, 'scan', true);
      o.seed = resume.seed;
      o.db = file;
      process.stderr.write(`prtip: resuming scan ${resume.scanId}: ${resume.skip.reduce((n, [a, b]) => n + b - a, 0)} probes already done\n`);
    }
    refuseScriptFlagsWithoutScripts(o);
    checkScanOptions(o);
    const interrupt = interruptController();
    const interaction: Interaction = { verbose: o.verbose, debug: 0, packetTrace: o.packetTrace === true };
    if (o.packetTrace && o.tui) throw new UserInputError('--packet-trace prints a line per packet, which the full-screen --tui would hide: use one or the other');
    const stderrTty = process.stderr.isTTY === true;
    const reporter = new ProgressReporter({
      out: process.stderr, live: stderrTty, interaction,
      statsEveryMs: stderrTty ? o.statsEveryMs : statusInterval(o, false),
    });
    const noTui = o.tui ? tuiUnavailable() : undefined;
    if (noTui) reporter.say(`prtip: --tui: ${noTui}; showing the status line instead\n`);
    const services = loadServicesTable(o.datadir);
    const tui = o.tui && !noTui
      ? await startTui(new TuiModel(['prtip', 'scan', ...argv].join(' '), (port, proto) => services.serviceName(port, proto as Proto)), interaction, () => interrupt.abort())
      : undefined;
    const sink: KeySink = tui ?? reporter;
    const warn = (m: string) => sink.say(`prtip: warning: ${m}\n`);
    const verbose = verboseObserver(() => interaction.verbose, (t) => sink.say(t));
    const outputs = o.outputs.some((x) => x.path === '-') ? o.outputs : [...o.outputs, { format: 'normal' as const, path: '-' }];
    // Opened before any record flows, so a bad --db path fails before the scan starts.
    // Started as root, the database is opened so that its WAL survives the privilege drop.
    const db = resumedDb ?? (o.db ? await openScanDatabase(o.db, { user: o.unprivilegedUser ?? DEFAULT_UNPRIVILEGED_USER }) : undefined);
    const readsStdin = o.inputFiles.includes('-');
    const stopKeys = readsStdin ? () => {} : listenForKeys(interaction, sink);
    const losses = lossWatch();
    try {
      await runScan(scanPipelineOptions(o, {
        args: [['prtip', 'scan', ...argv].join(' ')],
        argv,
        signal: interrupt.signal,
        warn,
        outputs,
        db,
        closeDb: true,
        statusEveryMs: statusInterval(o, stderrTty),
        observe: tui ? (rec) => { verbose?.(rec); losses.observe(rec); tui.observe(rec); } : (rec) => { verbose?.(rec); losses.observe(rec); reporter.observe(rec); },
        resume,
        // On stdout as nmap, unless stdout carries a machine format (-oX -, -oD -, …) or is the
        // terminal of the live status line (then through the reporter, which keeps that line whole).
        packetTrace: tui ? undefined : createPacketTrace({
          enabled: () => interaction.packetTrace === true,
          startMs: Date.now(),
          out: outputs.some((x) => x.path === '-' && x.format !== 'normal') || (process.stdout.isTTY && stderrTty)
            ? (t) => sink.say(t) : (t) => process.stdout.write(t),
          onWarning: warn,
        }),
      }));
    } finally {
      stopKeys();
      tui?.stop();
      reporter.finish();
      db?.close();
    }
    losses.settle();
  }
}
