import { randomBytes } from 'node:crypto';
import { SCHEMA_VERSION, type EndTrailer, type ScanHeader } from './types.js';

export const PRTIP_VERSION = '0.1.0';

/** A fresh header for the first stage of a pipeline. */
export function newHeader(args: string[], fields: Partial<ScanHeader> = {}): ScanHeader {
  return {
    type: 'scan',
    schema: SCHEMA_VERSION,
    tool: 'prtip',
    version: PRTIP_VERSION,
    scanId: randomBytes(8).toString('hex'),
    args,
    startTime: Date.now(),
    ...fields,
  };
}

export function newTrailer(interrupted = false): EndTrailer {
  return { type: 'end', endTime: Date.now(), interrupted, counters: {} };
}

/** A trailer passed on by a stage: keeps upstream counters, adds this stage's own. */
export function extendTrailer(
  upstream: EndTrailer | undefined,
  stage: string,
  counters: Record<string, number>,
  interrupted: boolean,
): EndTrailer {
  const base = upstream ?? newTrailer(true);
  return {
    type: 'end',
    endTime: Date.now(),
    interrupted: base.interrupted || interrupted,
    counters: { ...base.counters, [stage]: counters },
  };
}
