// A secret taken from the environment: usable in a request header, never printed (logs, errors, JSON, inspect all show it redacted).

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string, readonly variable: string) {
    this.#value = value;
  }

  /** The value itself, for the one place that needs it: the request headers. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.variable})`;
  }
}
