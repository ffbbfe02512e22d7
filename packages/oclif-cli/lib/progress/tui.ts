/**
 * prtip scan --tui: a full-screen dashboard on stderr (ink 6, loaded only when asked for): rate
 * graph, progress per phase, open ports and services as they are found, top services, hosts
 * up, warnings. It takes the alternate screen while the scan runs, so the report printed at the
 * end lands on the normal screen.
 */
import type { Interaction } from './interaction.js';
import type { KeySink } from './keys.js';
import { clock, compact, phaseTitle } from './status-line.js';
import { bar, sparkline, TuiModel } from './tui-model.js';

export const TUI_MIN_COLUMNS = 80;
export const TUI_MIN_ROWS = 20;

/** Why the TUI cannot run here (undefined: it can). */
export function tuiUnavailable(out: NodeJS.WriteStream = process.stderr): string | undefined {
  if (!out.isTTY) return 'stderr is not a terminal';
  if ((out.columns ?? 0) < TUI_MIN_COLUMNS || (out.rows ?? 0) < TUI_MIN_ROWS) {
    return `the terminal is ${out.columns ?? '?'}×${out.rows ?? '?'}, smaller than ${TUI_MIN_COLUMNS}×${TUI_MIN_ROWS}`;
  }
  return undefined;
}

/**
 * ink decides once, when its module loads, whether it runs under CI (CI or CONTINUOUS_INTEGRATION
 * set) and then draws only the last frame at exit. --tui is asked for on a terminal we checked, so
 * the dashboard must be live there too: ink is loaded with those two variables out of sight.
 */
async function importInkOnTerminal(): Promise<typeof import('ink')> {
  const hidden = (['CI', 'CONTINUOUS_INTEGRATION'] as const).filter((k) => k in process.env).map((k) => [k, process.env[k]] as const);
  for (const [k] of hidden) delete process.env[k];
  try {
    return await import('ink');
  } finally {
    for (const [k, v] of hidden) process.env[k] = v;
  }
}

export interface Tui extends KeySink {
  model: TuiModel;
  observe(rec: { type: string }): void;
  stop(): void;
}

export async function startTui(model: TuiModel, interaction: Interaction, onQuit: () => void, out: NodeJS.WriteStream = process.stderr): Promise<Tui> {
  const React = await import('react');
  const ink = await importInkOnTerminal();
  const h = React.createElement;
  const { Box, Text } = ink;

  function Dashboard() {
    const [, setTick] = React.useState(0);
    // Redrawn at most 5 times a second, whatever the record rate.
    React.useEffect(() => {
      let dirty = true;
      const off = model.subscribe(() => { dirty = true; });
      const timer = setInterval(() => {
        if (!dirty) return;
        dirty = false;
        setTick((n) => n + 1);
      }, 200);
      return () => { off(); clearInterval(timer); };
    }, []);
    const cols = out.columns ?? 100;
    const rows = out.rows ?? 30;
    const stages = model.tracker.stages();
    const send = stages.find((s) => s.stage === 'send');
    const latest = model.tracker.latest();
    const openRows = [...model.open.values()];
    const tableRows = Math.max(3, rows - 16);
    const shown = openRows.slice(-tableRows);
    const top = model.topServices(6);
    const state = model.state === 'stopping' ? 'stopping…' : model.state === 'done' ? 'done' : 'running';
    return h(Box, { flexDirection: 'column', width: cols, height: rows - 1 },
      h(Box, { borderStyle: 'round', paddingX: 1, justifyContent: 'space-between' },
        h(Text, { bold: true }, `prtip · ${model.title}`.slice(0, cols - 30)),
        h(Text, null, `${state} · ${clock(latest?.elapsedMs ?? 0)}`)),
      h(Box, { flexDirection: 'column', paddingX: 1 },
        ...(stages.length === 0 ? [h(Text, { key: 'none', dimColor: true }, 'starting…')] : stages.map((s) => h(Text, { key: s.stage },
          `${phaseTitle(s).padEnd(18)} ${bar(s.percent, 30)} ${s.percent === null ? '' : `${s.percent.toFixed(1)}%`} ${compact(s.done)}/${s.total === null ? '?' : compact(s.total)}${s.etaMs !== null ? `  ETA ${clock(s.etaMs)}` : ''}`))),
        h(Text, null,
          `Rate ${sparkline(model.rates, Math.max(10, cols - 60)).padEnd(10)} ${compact(send?.pps ?? 0)} pps (avg ${compact(send?.avgPps ?? 0)})  replies ${compact(send?.replies ?? 0)} · retries ${compact(send?.retries ?? 0)} · drops ${compact(send?.drops ?? 0)}`)),
      h(Box, { flexGrow: 1 },
        h(Box, { flexDirection: 'column', borderStyle: 'single', paddingX: 1, flexGrow: 1 },
          h(Text, { bold: true }, `Open ports (${openRows.length})`),
          ...shown.map((r) => h(Text, { key: `${r.ip} ${r.port}/${r.proto}`, wrap: 'truncate' },
            `${r.ip.padEnd(16)} ${`${r.port}/${r.proto}`.padEnd(10)} ${r.service.padEnd(14)} ${r.version}`))),
        h(Box, { flexDirection: 'column', borderStyle: 'single', paddingX: 1, width: 26 },
          h(Text, { bold: true }, 'Top services'),
          ...top.map(([name, n]) => h(Text, { key: name, wrap: 'truncate' }, `${name.padEnd(16)} ${n}`)),
          h(Text, null, ' '),
          h(Text, { bold: true }, `Hosts up: ${model.hostsUp.size}`),
          h(Text, { color: model.errors ? 'red' : undefined }, `Errors: ${model.errors || 'none'}`))),
      h(Box, { flexDirection: 'column', paddingX: 1 },
        ...model.log.map((l, i) => h(Text, { key: `log${i}`, wrap: 'truncate', dimColor: true }, l)),
        h(Text, { dimColor: true }, 'q stop cleanly · v/V verbosity · d/D debugging · Enter or ? status')));
  }

  // Mounted at the first status record (a second in): what the outputs print at the start
  // ("Starting prtip …") stays on the normal screen, above where the report will go.
  let instance: { unmount(): void } | undefined;
  let stopped = false;
  const mount = () => {
    if (instance || stopped) return;
    out.write('\x1b[?1049h\x1b[H'); // alternate screen
    instance = ink.render(h(Dashboard), { stdout: out, stdin: process.stdin, exitOnCtrlC: false, patchConsole: false, maxFps: 10 });
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (!instance) return;
    instance.unmount();
    out.write('\x1b[?1049l'); // back to the normal screen
  };
  process.once('exit', stop);
  return {
    model,
    observe: (rec) => {
      if (rec.type === 'end') stop();
      else if (rec.type === 'status') mount();
      model.observe(rec as never);
    },
    say: (text) => model.say(text),
    statusNow: () => model.statusNow(interaction.debug),
    quit: () => {
      if (model.state !== 'running') return;
      model.state = 'stopping';
      model.say('q: stopping cleanly (the trailer is written; --resume can continue a --db scan)');
      onQuit();
    },
    stop,
  };
}
