// Encodes values as Avro in the Confluent wire format and decodes batches of framed bytes, resolving writer schemas by id.
import type { AvroSchema, AvroType } from './avro.ts';
import { avroType, frame, schemaIdOf, WIRE_HEADER_BYTES } from './avro.ts';
import type { SchemaRegistry } from './registry.ts';

export type DecodeFailureCode = 'not_wire_format' | 'unknown_schema_id' | 'corrupt_avro';
export type Decoded<T> = { ok: true; value: T } | { ok: false; code: DecodeFailureCode; message: string };

export class AvroWireCodec<T> {
  readonly readerType: AvroType;
  #schemaId = -1;
  /** Per writer id: the resolver from the writer's schema to ours, or null for an id the registry does not know. */
  readonly #readers = new Map<number, { type: AvroType; resolver: unknown } | null>();

  constructor(
    private readonly registry: SchemaRegistry,
    readonly subject: string,
    readonly schema: AvroSchema,
  ) {
    this.readerType = avroType(schema);
  }

  /** Registers the reader/writer schema; call once before encoding. */
  async init(): Promise<this> {
    this.#schemaId = await this.registry.register(this.subject, this.schema);
    this.#readers.set(this.#schemaId, { type: this.readerType, resolver: undefined });
    return this;
  }

  get schemaId(): number {
    return this.#schemaId;
  }

  encode(value: T): Buffer {
    return frame(this.#schemaId, this.readerType.toBuffer(value));
  }

  /** Decodes a batch; writer schemas it has not seen are fetched from the registry first, once per id. */
  async decodeBatch(messages: readonly Buffer[]): Promise<Decoded<T>[]> {
    for (const bytes of messages) {
      const id = schemaIdOf(bytes);
      if (id >= 0 && !this.#readers.has(id)) await this.#learn(id);
    }
    return messages.map((bytes) => this.decodeKnown(bytes));
  }

  /** Decodes one message whose writer schema is already known (see `decodeBatch`). */
  decodeKnown(bytes: Buffer): Decoded<T> {
    const id = schemaIdOf(bytes);
    if (id < 0) return { ok: false, code: 'not_wire_format', message: 'not in the Confluent wire format (magic byte 0 + schema id)' };
    const reader = this.#readers.get(id);
    if (!reader) return { ok: false, code: 'unknown_schema_id', message: `schema id ${id} is not in the registry` };
    try {
      const { value, offset } = this.readerType.decode(bytes, WIRE_HEADER_BYTES, reader.resolver as never);
      if (offset !== bytes.length) {
        return { ok: false, code: 'corrupt_avro', message: `Avro body ${offset < 0 ? 'truncated' : 'has trailing bytes'}` };
      }
      return { ok: true, value: value as T };
    } catch (error) {
      return { ok: false, code: 'corrupt_avro', message: `Avro body does not decode: ${(error as Error).message}` };
    }
  }

  async #learn(id: number): Promise<void> {
    const writerSchema = await this.registry.schemaById(id);
    if (!writerSchema) {
      this.#readers.set(id, null);
      return;
    }
    const writerType = avroType(writerSchema);
    try {
      this.#readers.set(id, { type: writerType, resolver: this.readerType.createResolver(writerType) });
    } catch {
      this.#readers.set(id, null);
    }
  }
}
