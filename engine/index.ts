// The engine's public face: event time, watermarks, windows, keyed state stores, the operator hooks and the job runner.
export * from './operator.ts';
export * from './metrics.ts';
export * from './watermarks.ts';
export * from './session-windows.ts';
export * from './time-windows.ts';
export * from './event-time-timers.ts';
export * from './runner.ts';
export * from './retry.ts';
export * from './seen-set.ts';
export * from './state.ts';
export * from './supervisor.ts';
export * from './stall-watchdog.ts';
export * from './changelog.ts';
export * from './operator-chain.ts';
