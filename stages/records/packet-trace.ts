/**
 * --packet-trace: where scanning stages write nmap's SENT/RCVD/CONN lines. Shared by the send
 * stage's engines (raw session, connect scanner) so the CLI decides where lines go (nmap: stdout)
 * and whether tracing is on right now (the p/P keys switch it while a scan runs).
 */
export interface PacketTrace {
  /** Read for every packet: tracing can be switched on and off at run time. */
  enabled(): boolean;
  /** One line, without its newline. */
  write(line: string): void;
  /** Seconds since the run started, as nmap shows them ("0.0521s"), for a realtime stamp in ms. */
  clock(epochMs: number): string;
}

/** Lines after which the trace warns that it slows the scan (it is a debugging aid). */
export const TRACE_WARN_LINES = 10_000;

export function createPacketTrace(o: {
  enabled: () => boolean;
  out: (text: string) => void;
  /** Once, after TRACE_WARN_LINES lines. */
  onWarning?: (message: string) => void;
  /** Epoch ms the clock counts from (default: when this process started). */
  startMs?: number;
}): PacketTrace {
  const start = o.startMs ?? performance.timeOrigin;
  let lines = 0;
  return {
    enabled: o.enabled,
    write(line) {
      o.out(`${line}\n`);
      if (++lines === TRACE_WARN_LINES) {
        o.onWarning?.(`--packet-trace has printed ${TRACE_WARN_LINES} lines: a line per packet slows large scans (press P to stop tracing)`);
      }
    },
    clock: (ms) => `${(Math.max(0, ms - start) / 1000).toFixed(4)}s`,
  };
}
