// Schema evolution check: each current .avsc must read data written with the last released version of it (BACKWARD, via avsc resolvers).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AvroSchema, AvroType } from './avro.ts';
import { avroType } from './avro.ts';

export type Compatibility = { ok: true } | { ok: false; reason: string };

/** BACKWARD: a reader with `reader` can decode what `writer` wrote (avsc builds a resolver, or says which field fails). */
export function checkBackward(reader: AvroSchema, writer: AvroSchema): Compatibility {
  const readerType = avroType(reader);
  const writerType = avroType(writer);
  try {
    readerType.createResolver(writerType);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: explain(readerType, writerType, readerType.name ?? '(schema)') ?? (error as Error).message };
  }
}

interface FieldLike {
  name: string;
  type: AvroType;
  aliases: string[];
  defaultValue(): unknown;
}

/** Narrows a resolver failure down to the first field path that cannot be resolved, with the rule it breaks. */
function explain(reader: AvroType, writer: AvroType, path: string): string | null {
  const readerFields = (reader as unknown as { fields?: FieldLike[] }).fields;
  const writerFields = (writer as unknown as { fields?: FieldLike[] }).fields;
  if (!readerFields || !writerFields) return null;
  for (const field of readerFields) {
    const at = `${path}.${field.name}`;
    const source = writerFields.find((candidate) => candidate.name === field.name || field.aliases.includes(candidate.name));
    if (!source) {
      if (field.defaultValue() === undefined) return `${at}: new field without a default (data written with the released schema has no value for it)`;
      continue;
    }
    try {
      field.type.createResolver(source.type);
    } catch (error) {
      return explain(field.type, source.type, at) ?? `${at}: ${(error as Error).message}`;
    }
  }
  return null;
}

export interface SchemaCheck {
  name: string;
  releasedVersion: number;
  releasedFile: string;
  currentFile: string;
  result: Compatibility;
}

const RELEASED = /^(?<name>[a-z0-9-]+)\.v(?<version>\d+)\.avsc$/;

/**
 * Compares every schema in `currentDir` that has released versions in `releasedDir` (`<name>.v<N>.avsc`) against
 * its highest released version. A released schema whose current file is gone is a failure too.
 */
export function checkReleasedSchemas(currentDir: string, releasedDir: string): SchemaCheck[] {
  const latest = new Map<string, { version: number; file: string }>();
  for (const file of readdirSync(releasedDir)) {
    const match = RELEASED.exec(file);
    if (!match?.groups) continue;
    const version = Number(match.groups.version);
    const name = match.groups.name!;
    if ((latest.get(name)?.version ?? -1) < version) latest.set(name, { version, file: join(releasedDir, file) });
  }
  const checks: SchemaCheck[] = [];
  for (const [name, released] of [...latest].sort(([a], [b]) => a.localeCompare(b))) {
    const currentFile = join(currentDir, `${name}.avsc`);
    const base = { name, releasedVersion: released.version, releasedFile: released.file, currentFile };
    if (!existsSync(currentFile)) {
      checks.push({ ...base, result: { ok: false, reason: `${currentFile} is missing: a released schema cannot be removed` } });
      continue;
    }
    const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as AvroSchema;
    let result: Compatibility;
    try {
      result = checkBackward(read(currentFile), read(released.file));
    } catch (error) {
      result = { ok: false, reason: `does not parse: ${(error as Error).message}` };
    }
    checks.push({ ...base, result });
  }
  return checks;
}
