import fs from 'node:fs';
import { runScan } from '../../../pipelines/scan.js';
import { UserInputError, type AnyRecord } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import { parseArgs, type CliOptions, type FlagGroup } from '../lib/flags.js';
import { interruptController } from '../lib/io.js';
import { detectOptions, formatOptions, osOptions, refuseOsFlagsWithoutO, scanProtocols, sendOptions, targetsOptions } from '../lib/stage-options.js';
import { verboseObserver } from '../lib/verbose.js';

const GROUPS: FlagGroup[] = ['targets', 'ports', 'scan', 'evasion', 'discovery', 'version', 'os', 'timing', 'output', 'database', 'misc'];

/** DuckDB loads only for --db / --resume: importing it costs more start-up than the rest of a scan's code. */
const loadStore = () => import('../../../stages/store/index.js');

export default class Scan extends PrtipCommand {
  static override summary = 'Run a whole scan in one process (targets → send → [detect] → [os] → [store] → format)';
  static override description = commandHelp(
    'prtip [scan] [options] TARGET...  |  prtip scan --resume FILE',
    'Scans the targets with the same stages the pipe runs, in one process, and prints the\n' +
      'normal report on stdout (plus any -oN/-oX/-oG/-oJ/-oD/-oC files). nmap spellings are accepted;\n' +
      'options prtip does not implement yet are refused by name. With --db FILE the results go to a\n' +
      'DuckDB database as they arrive, checkpointed every second; a scan killed in any way can be\n' +
      'continued with --resume FILE (same plan and seed, finished probe batches skipped).',
    GROUPS,
    [
      'prtip scan -sT -p 1-1024 198.18.0.0/24',
      'prtip scan -sV -p 22,80,443 198.18.0.7',
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
    let argv = this.argv;
    let resume: { scanId: string; skip: Array<[number, number]>; seed: number; prior: AnyRecord[] } | undefined;
    if (o.resume !== undefined) {
      if (argv.length !== 2 && !(argv.length === 1 && argv[0]!.startsWith('--resume='))) {
        throw new UserInputError('--resume FILE takes no other options: the stored scan\'s own options are used');
      }
      if (!fs.existsSync(o.resume)) throw new UserInputError(`--resume "${o.resume}": no such database file`);
      const { findResumable, finishedRanges, openDatabase, storedRecords } = await loadStore();
      const db = await openDatabase(o.resume);
      try {
        const scan = await findResumable(db, o.resume);
        resume = { scanId: scan.scanId, skip: await finishedRanges(db, scan.scanId), seed: scan.seed, prior: await storedRecords(db, scan.scanId) };
        argv = scan.argv;
      } finally {
        db.close();
      }
      const file = o.resume;
      o = parseArgs(argv, GROUPS, 'scan', true);
      o.seed = resume.seed;
      o.db = file;
      process.stderr.write(`prtip: resuming scan ${resume.scanId}: ${resume.skip.reduce((n, [a, b]) => n + b - a, 0)} probes already done\n`);
    }
    if (o.versionIntensity !== undefined && !o.versionDetect) {
      throw new UserInputError('--version-intensity, --version-light and --version-all set how -sV probes: add -sV');
    }
    refuseOsFlagsWithoutO(o);
    const protocols = scanProtocols(o);
    if (o.ports !== undefined && /(^|,)\s*S:/i.test(o.ports)) {
      throw new UserInputError(`-p "${o.ports}" asks for SCTP ports, but prtip has no SCTP scan yet (-sY/-sZ)`);
    }
    if (o.ports !== undefined && /(^|,)\s*U:/i.test(o.ports) && !protocols.includes('udp')) {
      throw new UserInputError(`-p "${o.ports}" asks for UDP ports: add -sU (UDP scan) to probe them`);
    }
    const interrupt = interruptController();
    const warn = (m: string) => process.stderr.write(`prtip: warning: ${m}\n`);
    const args = [['prtip', 'scan', ...argv].join(' ')];
    const outputs = o.outputs.some((x) => x.path === '-') ? o.outputs : [...o.outputs, { format: 'normal' as const, path: '-' }];
    const targets = targetsOptions(o, args, interrupt.signal);
    if (resume) targets.skip = resume.skip;
    // Opened before any record flows, so a bad --db path fails before the scan starts.
    const db = o.db ? await (await loadStore()).openDatabase(o.db) : undefined;
    try {
      await runScan({
        targets,
        send: sendOptions(o, [], interrupt.signal, warn),
        format: formatOptions(o, outputs),
        detect: o.versionDetect ? detectOptions(o, [], interrupt.signal, warn) : undefined,
        os: o.osDetect ? osOptions(o, [], interrupt.signal, warn) : undefined,
        store: o.db ? { path: o.db, db, argv, resumeScanId: resume?.scanId } : undefined,
        observe: verboseObserver(o.verbose),
        prior: resume?.prior,
      });
    } finally {
      db?.close();
    }
  }
}
