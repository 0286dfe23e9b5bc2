// Scores the free text of survey comments and social mentions, and writes the social_mentions rows.
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import type { Sentiment } from '../../../schemas/analytics-outputs.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';

/** Scores free text (pipelines/cx/sentiment.ts in production; a stub in tests). */
export type ScoreSentiment = (text: string, languageHint?: string | null) => Sentiment;

export class ExperienceScoring implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'experience';

  constructor(private readonly scoreSentiment: ScoreSentiment) {}

  onItem(item: CxItem, out: Outputs<CxOutputs>): void {
    if (item.kind !== 'event' || item.late) return;
    const { event } = item;
    if (event.type === 'survey_response') {
      const { comment, language } = event.properties;
      item.sentiment = comment ? this.scoreSentiment(comment, language) : null;
    } else if (event.type === 'social_mention') {
      const { text, language, platform, product_id, rating } = event.properties;
      const sentiment = this.scoreSentiment(text, language);
      item.sentiment = sentiment;
      out.emit('social_mentions', {
        mention_event_id: event.event_id,
        customer_id: item.key,
        occurred_at: event.occurred_at,
        platform,
        product_id: product_id ?? null,
        rating: rating ?? null,
        text,
        language: sentiment.language,
        sentiment_score: sentiment.score,
        sentiment_label: sentiment.label,
      });
    }
  }
}
