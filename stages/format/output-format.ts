import type { AnyRecord, EndTrailer, ScanHeader } from '../records/index.js';
import type { OutputSink } from './sink.js';

/** Presentation choices shared by the human-readable formats. */
export interface ViewOptions {
  /** --open: show only open (and open|filtered) ports. */
  openOnly: boolean;
  /** --show-proxied: with --open, still list open ports marked proxied (stages/middlebox). */
  showProxied?: boolean;
  /** --reason: add a REASON column. */
  reason: boolean;
  /** -v level: 1 also reports hosts that are down (normal, XML, grepable). */
  verbose?: number;
  /** Records a per-host report holds in memory before spilling sorted runs to disk (default 250000). */
  reportMemoryRecords?: number;
  /** Service name for a port from the services table (nmap-services), when known. */
  serviceName: (port: number, proto: string) => string | undefined;
}

/**
 * One output format (normal, JSON Lines, …): it sees the header, every record, and the trailer,
 * and writes to its sink. Like ZMap's output modules, each format is one small file.
 */
export interface OutputFormat {
  begin(header: ScanHeader | undefined): Promise<void>;
  /** A promise only when the caller must wait (an output's stream is full); formats on the hot path return undefined. */
  record(rec: AnyRecord): Promise<void> | void;
  end(trailer: EndTrailer | undefined): Promise<void>;
}

export type OutputFormatFactory = (sink: OutputSink, view: ViewOptions) => OutputFormat;
