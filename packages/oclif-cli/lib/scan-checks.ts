/** What `prtip scan` accepts beyond the flag table's own checks; shared with prtip cluster submit and the worker. */
import { UserInputError } from '../../../stages/records/index.js';
import type { CliOptions, FlagGroup } from './flags.js';

export const SCAN_GROUPS: FlagGroup[] = ['targets', 'ports', 'scan', 'discovery', 'version', 'timing', 'output', 'database', 'misc'];

export function checkScanOptions(o: CliOptions): void {
  if (o.versionIntensity !== undefined && !o.versionDetect) {
    throw new UserInputError('--version-intensity, --version-light and --version-all set how -sV probes: add -sV');
  }
  const uPorts = o.ports !== undefined && /(^|,)\s*[US]:/i.test(o.ports);
  if (uPorts) {
    throw new UserInputError(`-p "${o.ports}" asks for UDP/SCTP ports, but prtip scans TCP only for now (-sS, -sT)`);
  }
}
