// ClickHouse error texts quote the data they refused: what goes into errors (and so logs) keeps what failed, not the data.
import { describe, expect, it } from 'vitest';
import { redactServerMessage } from '../../sinks/clickhouse/server-message.ts';

describe('a ClickHouse error text made safe to log', () => {
  it('drops the unparsed input after "before:" and row dumps on later lines', () => {
    const message =
      "Code: 27. DB::Exception: Cannot parse input: expected '\\t' before: 'anna.schmidt@example.de\\t+49 170 1234567': (at row 1)\n" +
      'Row 1:\nColumn 0,   name: customer_id, type: String, parsed text: "anna.schmidt@example.de"';
    const redacted = redactServerMessage(message);
    expect(redacted).toContain('Code: 27. DB::Exception: Cannot parse input');
    expect(redacted).not.toContain('anna');
    expect(redacted).not.toContain('1234567');
    expect(redacted).not.toContain('Row 1');
  });

  it('replaces quoted literals (values in a query) and keeps backticked identifiers', () => {
    const redacted = redactServerMessage("Code: 62. DB::Exception: Syntax error: failed at position 40 ('DELETE') in `sessions` WHERE customer_id = 'c-4711-secret' AND \"x\"");
    expect(redacted).toContain('`sessions`');
    expect(redacted).not.toContain('c-4711-secret');
    expect(redacted).toContain("'…'");
  });

  it('leaves plain messages as they are and caps long ones', () => {
    expect(redactServerMessage('connect ECONNREFUSED 127.0.0.1:8123')).toBe('connect ECONNREFUSED 127.0.0.1:8123');
    expect(redactServerMessage('x'.repeat(1000)).length).toBeLessThanOrEqual(301);
  });
});
