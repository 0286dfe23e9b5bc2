// Which statements the live SQL endpoint lets through to the engine, and the ClickHouse errors it answers for the rest.
import { describe, expect, it } from 'vitest';
import { readOnlyViolation } from '../../serving/read-only.ts';
import { languageOf } from '../../serving/live-page.ts';

const codeOf = (query: string, settings?: Record<string, string>) => readOnlyViolation(query, settings)?.code;

describe('the live SQL endpoint\'s read-only check', () => {
  it('lets reading statements through, whatever their case, comments and parentheses', () => {
    for (const query of [
      'SELECT 1',
      'select count() from touchstream.sessions FINAL',
      '  -- a comment\n/* another */ WITH x AS (SELECT 1) SELECT * FROM x',
      '(SELECT 1) UNION ALL (SELECT 2)',
      'SHOW TABLES FROM touchstream',
      'DESCRIBE TABLE touchstream.events',
      'DESC touchstream.events',
      'EXISTS TABLE touchstream.events',
      'EXPLAIN SELECT 1',
      'SELECT 1;',
      'SELECT 1; -- trailing comment',
      "SELECT 'a; DROP TABLE x' AS text",
      'SELECT "odd;name" FROM t',
      "SELECT 'it\\'s; fine'",
      'SELECT 1 FORMAT JSONEachRow',
    ]) expect(readOnlyViolation(query), query).toBeUndefined();
  });

  it('refuses writes, DDL and session changes with READONLY (164)', () => {
    for (const query of [
      "INSERT INTO touchstream.events VALUES ('x')",
      'CREATE TABLE t (x UInt8) ENGINE = Memory',
      'DROP TABLE touchstream.events',
      'ALTER TABLE touchstream.events DELETE WHERE 1',
      'TRUNCATE TABLE touchstream.signals',
      'RENAME TABLE a TO b',
      'OPTIMIZE TABLE touchstream.events FINAL',
      'SET readonly = 0',
      'SYSTEM STOP MERGES',
      'KILL QUERY WHERE 1',
      'USE system',
      '/* SELECT */ DELETE FROM touchstream.events WHERE 1',
    ]) {
      const violation = readOnlyViolation(query);
      expect(violation?.code, query).toBe(164);
      expect(violation?.message, query).toMatch(/^Code: 164\. DB::Exception: .*readonly mode.*\(READONLY\)$/);
    }
  });

  it('refuses a second statement (62, as ClickHouse\'s HTTP interface), INTO OUTFILE and readonly=0', () => {
    expect(codeOf('SELECT 1; DROP TABLE touchstream.events')).toBe(62);
    expect(readOnlyViolation('SELECT 1; SELECT 2')?.message).toContain('Multi-statements are not allowed');
    expect(codeOf("SELECT 1 INTO OUTFILE '/tmp/x'")).toBe(164);
    expect(codeOf('SELECT 1', { readonly: '0' })).toBe(164);
    expect(codeOf('SELECT 1', { readonly: '1' })).toBeUndefined();
    expect(codeOf('SELECT 1', { readonly: '2' })).toBeUndefined();
    expect(codeOf('   ')).toBe(62);
  });
});

describe('the live page\'s language', () => {
  it('takes ?lang=, else the browser\'s first preference, else English', () => {
    expect(languageOf('de', 'en-US')).toBe('de');
    expect(languageOf('en', 'de-DE')).toBe('en');
    expect(languageOf(undefined, 'de-DE,de;q=0.9,en;q=0.8')).toBe('de');
    expect(languageOf(undefined, 'en-GB,de;q=0.5')).toBe('en');
    expect(languageOf('fr', undefined)).toBe('en');
  });
});
