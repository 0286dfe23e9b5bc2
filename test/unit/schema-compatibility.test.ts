// Pins `touchstream schemas check`: a compatible change passes, a breaking one fails naming the field and the rule, and the repo's schemas pass against their released versions.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBackward, checkReleasedSchemas } from '../../schemas/compatibility.ts';

const released = {
  type: 'record',
  name: 'Order',
  namespace: 'touchstream.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'revenue', type: 'int' },
    { name: 'customer', type: { type: 'record', name: 'Customer', fields: [{ name: 'id', type: 'string' }] } },
  ],
};

function dirs(current: object): { current: string; released: string } {
  const root = mkdtempSync(join(tmpdir(), 'touchstream-schemas-'));
  mkdirSync(join(root, 'avro'));
  mkdirSync(join(root, 'released'));
  writeFileSync(join(root, 'released', 'order.v1.avsc'), JSON.stringify(released));
  writeFileSync(join(root, 'avro', 'order.avsc'), JSON.stringify(current));
  return { current: join(root, 'avro'), released: join(root, 'released') };
}

describe('BACKWARD compatibility against released schemas', () => {
  it('passes an optional field with a default and a promoted type (int → long)', () => {
    const current = { ...released, fields: [released.fields[0], { name: 'revenue', type: 'long' }, released.fields[2], { name: 'note', type: ['null', 'string'], default: null }] };
    expect(checkBackward(current, released)).toEqual({ ok: true });
  });

  it('fails a new field without a default, naming it', () => {
    const current = { ...released, fields: [...released.fields, { name: 'currency', type: 'string' }] };
    expect(checkBackward(current, released)).toEqual({ ok: false, reason: 'touchstream.test.Order.currency: new field without a default (data written with the released schema has no value for it)' });
  });

  it('fails a type change the resolver cannot read, naming the nested field', () => {
    const current = { ...released, fields: [released.fields[0], released.fields[1], { name: 'customer', type: { type: 'record', name: 'Customer', fields: [{ name: 'id', type: 'int' }] } }] };
    expect(checkBackward(current, released)).toEqual({ ok: false, reason: 'touchstream.test.Order.customer.id: cannot read "string" as "int"' });
  });

  it('compares against the highest released version and fails a removed schema', () => {
    const paths = dirs(released);
    writeFileSync(join(paths.released, 'order.v2.avsc'), JSON.stringify({ ...released, fields: [...released.fields, { name: 'note', type: 'string', default: '' }] }));
    writeFileSync(join(paths.released, 'gone.v1.avsc'), JSON.stringify(released));
    const checks = checkReleasedSchemas(paths.current, paths.released);
    expect(checks.map((check) => [check.name, check.releasedVersion, check.result.ok])).toEqual([
      ['gone', 1, false],
      ['order', 2, true],
    ]);
  });

  it('passes for the schemas in this repository', () => {
    const checks = checkReleasedSchemas(new URL('../../schemas/avro/', import.meta.url).pathname, new URL('../../schemas/released/', import.meta.url).pathname);
    expect(checks.map((check) => check.name)).toEqual(['dead-letter', 'erasure', 'event', 'session', 'signal']);
    expect(checks.filter((check) => !check.result.ok)).toEqual([]);
  });

  it('`touchstream schemas check` exits 1 and says which field on a breaking change, ok on a compatible one', () => {
    const bin = new URL('../../bin/touchstream.mjs', import.meta.url).pathname;
    // One run sees a breaking schema and a compatible one (the CLI starts in seconds, so one spawn only).
    const broken = dirs({ ...released, fields: [...released.fields, { name: 'currency', type: 'string' }] });
    writeFileSync(join(broken.released, 'gone.v1.avsc'), JSON.stringify(released));
    writeFileSync(join(broken.current, 'gone.avsc'), JSON.stringify({ ...released, fields: [...released.fields, { name: 'currency', type: 'string', default: 'EUR' }] }));
    const failed = spawnSync(process.execPath, [bin, 'schemas', 'check', '--current', broken.current, '--released', broken.released], { encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('BREAKING order: cannot read data written with v1: touchstream.test.Order.currency: new field without a default');
    expect(failed.stdout).toContain('ok       gone');
  }, 60_000);
});
