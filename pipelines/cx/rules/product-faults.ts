// Whether a feedback text (survey comment, social mention) names a product or a fault: a small keyword and pattern rule, German and English (docs/rules.md).

/**
 * Terms, matched case-insensitively on word starts: a fault (broken, defect, error, does not work, kaputt,
 * funktioniert nicht…), a product or a part of the shop a product team owns (product, item, device, app,
 * checkout, Artikel, Gerät, Kasse…), or a product id such as `sku-123` or `Art.-Nr. 4711`. Deliberately small
 * and predictable: a team that needs more edits this list (or writes its own rule on `event.properties.comment`).
 */
const PATTERNS: ReadonlyArray<readonly [kind: 'fault' | 'product', pattern: RegExp]> = [
  // English faults
  ['fault', /\b(broken|broke|breaks|defect(?:ive|s)?|fault(?:y|s)?|error(?:s)?|crash(?:es|ed|ing)?|bug(?:s|gy)?|damaged|leak(?:s|ing|ed)?|malfunction(?:s|ing)?|fail(?:s|ed|ing|ure)?)\b/giu],
  ['fault', /\b(?:does ?n[o']t|doesn't|did ?n[o']t|didn't|not|stopped|won't|will not|never) work(?:s|ing|ed)?\b/giu],
  // German faults (ä/ö/ü and ß count as word characters)
  ['fault', /(?<![\p{L}\p{N}])(kaputt\p{L}*|defekt\p{L}*|fehler\p{L}*|fehlerhaft\p{L}*|beschädigt\p{L}*|absturz|abgestürzt|stürzt\p{L}* ab|undicht\p{L}*|ausgefallen|mangel|mängel\p{L}*)(?![\p{L}\p{N}])/giu],
  ['fault', /(?<![\p{L}\p{N}])(?:funktioniert|geht|läuft) (?:\p{L}+ )?(?:nicht|nie)(?![\p{L}\p{N}])/giu],
  // Products and the shop's own surfaces, English and German
  ['product', /\b(products?|items?|devices?|app|website|checkout|payment|sizes?)\b/giu],
  ['product', /(?<![\p{L}\p{N}])(produkt\p{L}*|artikel|gerät\p{L}*|webseite|kasse|bezahlung|zahlung|größe)(?![\p{L}\p{N}])/giu],
  // Product ids
  ['product', /\b(sku[-\s#:]?[a-z0-9][\w-]*|art\.?-?\s?nr\.?\s?\d+|artikel(?:nummer|-nr\.?)\s?\d+)/giu],
];

export interface ProductFaultMatch {
  /** The matched terms, lower case, in text order, each once. */
  terms: string[];
  /** Whether a fault term matched (as opposed to only a product). */
  fault: boolean;
}

/** The product and fault terms a text names; empty for null or empty text. */
export function productFaultTerms(text: string | null | undefined): ProductFaultMatch {
  if (!text) return { terms: [], fault: false };
  const found: Array<{ at: number; term: string }> = [];
  let fault = false;
  for (const [kind, pattern] of PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      found.push({ at: match.index, term: match[0].toLowerCase() });
      if (kind === 'fault') fault = true;
    }
  }
  found.sort((a, b) => a.at - b.at);
  return { terms: [...new Set(found.map((entry) => entry.term))], fault };
}

/** The feedback text of an event: a survey comment or a social mention's text (null for other events). */
export function feedbackTextOf(event: { type: string; properties: unknown }): string | null {
  const properties = event.properties as { comment?: string | null; text?: string };
  if (event.type === 'survey_response') return properties.comment ?? null;
  if (event.type === 'social_mention') return properties.text ?? null;
  return null;
}
