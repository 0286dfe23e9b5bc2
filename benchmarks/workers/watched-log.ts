// Wraps a Log so a benchmark worker learns when it joined its group and when its first input record arrived; every other call passes through untouched.
import type { Log, LogConsumer, LogRecord } from '../../log/index.ts';

/** Forwards every property to `target`, methods bound to it (the transports keep private fields). */
function forward<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

export function watchFirstRecord(log: Log, onFirstRecord: (at: number) => void, onAssigned: (at: number) => void = () => {}): Log {
  let seen = false;
  let assigned = false;
  const watch = (consumer: LogConsumer): LogConsumer =>
    forward(consumer, {
      async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
        const records = await consumer.poll(maxRecords, timeoutMs);
        if (!assigned && consumer.assignment().length > 0) {
          assigned = true;
          onAssigned(Date.now());
        }
        if (!seen && records.length > 0) {
          seen = true;
          onFirstRecord(Date.now());
        }
        return records;
      },
    });
  return forward(log, {
    consumer: async (options: Parameters<Log['consumer']>[0]) => watch(await log.consumer(options)),
  });
}
