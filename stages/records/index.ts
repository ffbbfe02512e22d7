export * from './types.js';
export * from './header.js';
export * from './codec.js';
export * from './probe-batch.js';
export * from './stage.js';
export * from './errors.js';
export * from './status.js';
export * from './progress-gate.js';
