// A ClickHouse error text made safe to log: the server quotes the data it could not parse ("parsed text", "before: '…'", row dumps), which may be personal data.

/** The longest text kept of a server message: its first line says what failed. */
const MAX_LENGTH = 300;

/**
 * Keeps what failed and drops what it failed on: only the first line (row dumps follow on later lines), every quoted
 * literal replaced by `'…'` (ClickHouse quotes values in single or double quotes and identifiers in backticks, which
 * stay), and the text after `before:` / `parsed text` (the unparsed input), capped in length.
 */
export function redactServerMessage(message: string): string {
  let text = message.split('\n', 1)[0] ?? '';
  text = text.replace(/\b(before|parsed text)\s*:?\s*.*$/i, '$1: …');
  text = text.replace(/'(?:[^'\\]|\\.)*'/g, "'…'").replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH)}…` : text;
}
