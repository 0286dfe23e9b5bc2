// Why a query may not run on the live SQL endpoint: more than one statement, a write, DDL, a file written, or readonly switched off.
import { ClickHouseHttpError } from './clickhouse-error.ts';

/** Statements that only read (ClickHouse's readonly=1 allows exactly these kinds). */
const READING = new Set(['SELECT', 'WITH', 'SHOW', 'DESC', 'DESCRIBE', 'EXISTS', 'EXPLAIN']);

interface Scan {
  /** Words outside strings, quoted identifiers and comments, upper-cased, in order. */
  words: string[];
  /** Where a `;` ends the first statement, if anything but blanks and comments follows it. */
  secondStatementAt?: number;
}

/** One pass over the text that skips string literals, quoted identifiers and comments, as ClickHouse's lexer does. */
function scan(query: string): Scan {
  const words: string[] = [];
  let semicolon = -1;
  let index = 0;
  while (index < query.length) {
    const char = query[index]!;
    const next = query[index + 1];
    if (char === "'" || char === '"' || char === '`') {
      index++;
      while (index < query.length && query[index] !== char) index += query[index] === '\\' ? 2 : 1;
      index++;
      if (semicolon >= 0) return { words, secondStatementAt: semicolon };
      continue;
    }
    if ((char === '-' && next === '-') || char === '#') {
      while (index < query.length && query[index] !== '\n') index++;
      continue;
    }
    if (char === '/' && next === '*') {
      const end = query.indexOf('*/', index + 2);
      index = end < 0 ? query.length : end + 2;
      continue;
    }
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    if (semicolon >= 0) return { words, secondStatementAt: semicolon };
    if (char === ';') {
      semicolon = index;
      index++;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(index, index + 64));
    if (word) {
      words.push(word[0].toUpperCase());
      index += word[0].length;
      continue;
    }
    words.push(char);
    index++;
  }
  return { words };
}

const readonlyError = (message: string) => new ClickHouseHttpError(164, 'READONLY', message);

/**
 * Undefined when the query may run; else the error ClickHouse answers (code 164 READONLY, or 62 for a second
 * statement, as its HTTP interface does). The engine runs it with readonly=1 as well: this check is the first line,
 * and the one that keeps what the engine would allow under readonly (INTO OUTFILE) out.
 */
export function readOnlyViolation(query: string, settings: Record<string, string> = {}): ClickHouseHttpError | undefined {
  if (settings.readonly !== undefined && settings.readonly !== '1' && settings.readonly !== '2') {
    return readonlyError("default: Cannot modify 'readonly' setting in readonly mode");
  }
  const { words, secondStatementAt } = scan(query);
  if (secondStatementAt !== undefined) {
    return new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Syntax error (Multi-statements are not allowed): failed at position ${secondStatementAt + 1} (end of query): ${query.slice(secondStatementAt, secondStatementAt + 40)}`);
  }
  const first = words.find((word) => word !== '(');
  if (first === undefined) return new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Empty query');
  if (!READING.has(first)) return readonlyError(`default: Cannot execute query in readonly mode: ${first} is not a read query on this endpoint (touchstream serves its tables read-only)`);
  for (let index = 0; index + 1 < words.length; index++) {
    if (words[index] === 'INTO' && words[index + 1] === 'OUTFILE') return readonlyError('default: Cannot execute query in readonly mode: INTO OUTFILE writes a file');
  }
  return undefined;
}
