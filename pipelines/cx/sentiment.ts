// Sentiment of free text (social mentions, survey comments; CONTRACT §3): language detection (tinyld) and polarity (natural's SentimentAnalyzer), English and German.
import { createRequire } from 'node:module';
import { detect } from 'tinyld';

export type SentimentLabel = 'negative' | 'neutral' | 'positive';

export interface Sentiment {
  /** Polarity in [−1, 1]: the mean polarity of the text's opinion words, negations applied. 0 when it has none. */
  score: number;
  label: SentimentLabel;
  /** ISO 639-1 code the text was scored as (`en`, `de`), the hint's language when it is one we cannot score, or `und`. */
  language: string;
}

/** Languages with a polarity vocabulary (natural's "pattern" lexicons: polarity per word in [−1, 1], with negations). */
export const SENTIMENT_LANGUAGES = ['en', 'de'] as const;
export type SentimentLanguage = (typeof SENTIMENT_LANGUAGES)[number];

/** CONTRACT §3: negative < −0.05 ≤ neutral ≤ 0.05 < positive. */
export function sentimentLabel(score: number): SentimentLabel {
  if (score < -0.05) return 'negative';
  if (score > 0.05) return 'positive';
  return 'neutral';
}

interface Analyzer {
  getSentiment(words: string[]): number;
}
interface Stemmer {
  stem(word: string): string;
}

// natural's package entry point loads storage back-ends (dotenv, database clients) we do not use; the sentiment module alone does not.
const require = createRequire(import.meta.url);
const analyzers = new Map<SentimentLanguage, Analyzer>();

function analyzerFor(language: SentimentLanguage): Analyzer {
  let analyzer = analyzers.get(language);
  if (!analyzer) {
    const { SentimentAnalyzer } = require('natural/lib/natural/sentiment/index.js') as {
      SentimentAnalyzer: new (language: string, stemmer: Stemmer | null, vocabulary: string) => Analyzer;
    };
    const stemmer = require(language === 'de' ? 'natural/lib/natural/stemmers/porter_stemmer_de.js' : 'natural/lib/natural/stemmers/porter_stemmer.js') as Stemmer;
    analyzer = new SentimentAnalyzer(language === 'de' ? 'German' : 'English', stemmer, 'pattern');
    analyzers.set(language, analyzer);
  }
  return analyzer;
}

const WORD = /[\p{L}\p{N}']+/gu;

/**
 * The library divides the summed polarity by all words, so a long text with one strong opinion word would read as
 * neutral; we rescale to the mean over the words that carry a polarity (each looked up through the same analyzer).
 */
function polarity(analyzer: Analyzer, words: string[]): { score: number; hits: number } {
  if (words.length === 0) return { score: 0, hits: 0 };
  const raw = analyzer.getSentiment(words);
  let hits = 0;
  for (const word of words) if (analyzer.getSentiment([word]) !== 0) hits++;
  if (hits === 0) return { score: 0, hits };
  return { score: Math.max(-1, Math.min(1, (raw * words.length) / hits)), hits };
}

function primaryTag(language: string | null | undefined): string | null {
  if (!language) return null;
  const tag = language.trim().toLowerCase().split(/[-_]/)[0];
  return tag ? tag : null;
}

const isSupported = (tag: string | null): tag is SentimentLanguage => tag === 'en' || tag === 'de';

/**
 * Scores one text. `languageHint` (BCP-47, e.g. `de-AT`, from the event) wins over detection; texts too short to detect
 * are scored in both languages and the stronger reading wins. Pure and synchronous; about 0.05 ms per text with a hint,
 * about 0.4 ms when the language must be detected.
 */
export function scoreSentiment(text: string, languageHint?: string | null): Sentiment {
  const hinted = primaryTag(languageHint);
  const words = text.toLowerCase().match(WORD) ?? [];
  if (hinted !== null && !isSupported(hinted)) return { score: 0, label: 'neutral', language: hinted };
  const detected = hinted ?? (words.length === 0 ? '' : detect(text, { only: [...SENTIMENT_LANGUAGES] }));
  let language: string;
  let score: number;
  if (isSupported(detected)) {
    language = detected;
    score = polarity(analyzerFor(detected), words).score;
  } else {
    const english = polarity(analyzerFor('en'), words);
    const german = polarity(analyzerFor('de'), words);
    const best = Math.abs(german.score) > Math.abs(english.score) ? { ...german, language: 'de' } : { ...english, language: 'en' };
    language = best.hits > 0 ? best.language : 'und';
    score = best.score;
  }
  return { score, label: sentimentLabel(score), language };
}
