// Schema registries: the interface every registry client meets, and the in-process one used by the embedded default.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import type { AvroSchema } from './avro.ts';

export interface SchemaRegistry {
  /** Registers (or finds) `schema` under `subject` and answers its global id. */
  register(subject: string, schema: AvroSchema): Promise<number>;
  /** The schema with a global id, or undefined when the registry has no such id. */
  schemaById(id: number): Promise<AvroSchema | undefined>;
}

/**
 * A registry in process memory, optionally kept in a JSON file so ids stay stable across runs
 * of the embedded pipeline (its data directory holds the file).
 */
export class LocalSchemaRegistry implements SchemaRegistry {
  readonly #schemas: string[] = [];
  readonly #subjects = new Map<string, number[]>();

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { schemas: string[]; subjects: Record<string, number[]> };
      this.#schemas.push(...saved.schemas);
      for (const [subject, ids] of Object.entries(saved.subjects)) this.#subjects.set(subject, ids);
    }
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const text = JSON.stringify(schema);
    let id = this.#schemas.indexOf(text) + 1;
    if (id === 0) {
      this.#schemas.push(text);
      id = this.#schemas.length;
    }
    const versions = this.#subjects.get(subject) ?? [];
    if (!versions.includes(id)) {
      versions.push(id);
      this.#subjects.set(subject, versions);
      this.#save();
    }
    return id;
  }

  async schemaById(id: number): Promise<AvroSchema | undefined> {
    const text = this.#schemas[id - 1];
    return text === undefined ? undefined : (JSON.parse(text) as AvroSchema);
  }

  #save(): void {
    if (!this.file) return;
    writeFileSync(this.file, JSON.stringify({ schemas: this.#schemas, subjects: Object.fromEntries(this.#subjects) }));
  }
}
