/**
 * The typed boundary to the C++ engine (native/src). Loaded lazily so commands that need no
 * native code (connect scan, format) still run when the addon is not built.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface NativeInterfaceAddress {
  family: 4 | 6;
  address: string;
  netmask?: string;
}

export interface NativeInterface {
  name: string;
  description: string;
  loopback: boolean;
  up: boolean;
  running: boolean;
  addresses: NativeInterfaceAddress[];
}

export interface NativeEngine {
  /** libpcap's version string. */
  pcapVersion(): string;
  /** Interfaces libpcap can capture on, with their addresses. */
  listInterfaces(): NativeInterface[];
  /** Internet checksum (RFC 1071) of the bytes, optionally continuing a running sum. */
  checksum(bytes: Uint8Array, initialSum?: number): number;
  /** Null when the native self-tests pass, else the name of the failing one. */
  selfTest(): string | null;
}

let engine: NativeEngine | undefined;

/** Finds build/Release/prtip_native.node from both the source tree and dist/. */
function addonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '..', '..') : path.resolve(here, '..');
  return path.join(root, 'native', 'build', 'Release', 'prtip_native.node');
}

export function loadNative(): NativeEngine {
  if (engine) return engine;
  const file = addonPath();
  try {
    engine = createRequire(import.meta.url)(file) as NativeEngine;
  } catch (err) {
    throw new Error(
      `prtip's native engine is not built (${file}: ${(err as Error).message.split('\n')[0]}); run "npm run build"`,
    );
  }
  return engine;
}
