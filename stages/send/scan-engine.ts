// The interface every scan type's engine implements lives with the raw session (stages/probes),
// which send, discover and os share.
export type { ScanEngine, Decided } from '../probes/scan-engine.js';
