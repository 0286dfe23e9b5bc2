// The peers' sessionisation, as a developer would write it in a plain consumer: JSON.parse each event, one open session per key, a watermark over partitions.

/** The contract's session events and channels (CONTRACT §2), spelled out as a plain consumer would. */
const SESSION_TYPES = new Set(['page_view', 'click', 'add_to_cart', 'remove_from_cart', 'checkout_start', 'checkout_error', 'purchase', 'video_start', 'video_progress', 'video_complete']);
const SESSION_CHANNELS = new Set(['web', 'app']);

interface OpenSession {
  start: number;
  last: number;
  events: number;
}

export interface ClosedSession {
  key: string;
  start: number;
  last: number;
  events: number;
}

export interface JsonSessionizerOptions {
  gapMs: number;
  outOfOrdernessMs: number;
  partitions: number;
  /** Keys with this prefix are sessionised but never counted (the benchmark's end markers). */
  ignorePrefix: string;
  onClose(session: ClosedSession): void;
}

/**
 * Sessions per key with an inactivity gap; a session closes when the next event of its key comes after the gap, or
 * when the watermark (min over partitions of the largest event time − out-of-orderness) passes its last event + gap.
 */
export class JsonSessionizer {
  readonly #open = new Map<string, OpenSession>();
  readonly #maxTime: number[];
  #closed = 0;

  constructor(private readonly options: JsonSessionizerOptions) {
    this.#maxTime = new Array<number>(options.partitions).fill(Number.NEGATIVE_INFINITY);
  }

  get closed(): number {
    return this.#closed;
  }

  get open(): number {
    return this.#open.size;
  }

  /** Takes one message's JSON bytes and its key (the session key the producer keyed it by). */
  add(partition: number, key: string, value: Buffer): void {
    const event = JSON.parse(value.toString('utf8')) as { type: string; channel: string; occurred_at: string };
    const time = Date.parse(event.occurred_at);
    if (time > this.#maxTime[partition]!) this.#maxTime[partition] = time;
    if (!SESSION_TYPES.has(event.type) || !SESSION_CHANNELS.has(event.channel)) return;
    const session = this.#open.get(key);
    if (session === undefined) {
      this.#open.set(key, { start: time, last: time, events: 1 });
    } else if (time > session.last + this.options.gapMs) {
      this.#close(key, session);
      this.#open.set(key, { start: time, last: time, events: 1 });
    } else {
      session.events++;
      if (time > session.last) session.last = time;
      if (time < session.start) session.start = time;
    }
  }

  watermark(): number {
    return Math.min(...this.#maxTime) - this.options.outOfOrdernessMs;
  }

  /** Closes every session the watermark has passed. */
  closeDue(): void {
    const watermark = this.watermark();
    if (!Number.isFinite(watermark)) return;
    for (const [key, session] of this.#open) {
      if (session.last + this.options.gapMs < watermark) {
        this.#open.delete(key);
        this.#close(key, session);
      }
    }
  }

  #close(key: string, session: OpenSession): void {
    if (key.startsWith(this.options.ignorePrefix)) return;
    this.#closed++;
    this.options.onClose({ key, start: session.start, last: session.last, events: session.events });
  }
}
