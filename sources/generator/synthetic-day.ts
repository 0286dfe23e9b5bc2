// A deterministic synthetic day of CX traffic: journeys with views, carts, purchases, video, email, ads, calls, surveys and social mentions.
import { z } from 'zod';
import type { Channel, CxEvent } from '../../schemas/events.ts';

export const generatorConfigSchema = z.object({
  seed: z.number().int().default(42),
  customers: z.number().int().min(1).default(2000),
  /** Start of the generated day (UTC midnight). */
  day: z.iso.date().default('2026-11-02'),
  /** Share of customers without a login: their events carry only an anonymous_id. */
  anonymousShare: z.number().min(0).max(1).default(0.2),
  /**
   * The planted key drivers (issue 16): an NPS response after a session scores 2.5 points lower per checkout error
   * and 1.5 lower per help/contact page view of that session, and 2.5 higher per video watched to the end (then
   * clamped to 0–10). Off: NPS scores are uniform and independent of the journey. Only the scores change, never
   * which events are generated or their ids and times.
   */
  plantedDrivers: z.boolean().default(true),
  /**
   * Share of customers with a device id who browse anonymously before logging in (identity stitching, issue 16): in
   * their first web/app session the events before the middle page view carry only the device's anonymous_id, the
   * rest both ids. 0 (the default) changes nothing else: no random draw is taken for it.
   */
  loginShare: z.number().min(0).max(1).default(0),
});
export type GeneratorConfig = z.input<typeof generatorConfigSchema>;

/** mulberry32: small, fast and good enough for synthetic traffic; the same seed gives the same day. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRODUCTS = Array.from({ length: 40 }, (_, index) => ({ id: `sku-${1000 + index}`, price: Math.round((5 + ((index * 37) % 120)) * 100) / 100 }));
const CAMPAIGNS = ['black-friday', 'winter-sale', 'newsletter-47', 'loyalty-q4'];
const TOUCHPOINTS = ['home', 'search', 'category/shoes', 'category/jackets', 'product', 'checkout', 'help-center'];
const MENTIONS = {
  en: [
    'Love the new jacket, great quality and fast delivery!',
    'Checkout keeps failing, really frustrating experience.',
    'Delivery was okay, nothing special.',
    'Terrible support, waited an hour on the phone.',
    'Amazing service, the staff in the store were so helpful.',
  ],
  de: [
    'Super Qualität und schnelle Lieferung, sehr zufrieden!',
    'Der Checkout funktioniert nicht, total ärgerlich.',
    'Lieferung war in Ordnung.',
    'Schlechter Kundenservice, niemand hat zurückgerufen.',
    'Tolle Beratung im Laden, gerne wieder.',
  ],
};
const COMMENTS = ['Easy to find what I needed', 'Checkout error twice', 'Too expensive', 'Schnell und einfach', 'Keine Hilfe bekommen', ''];

/** The planted effect on an NPS score, in points per count of the session before the response. */
export const PLANTED_NPS_EFFECT = { checkout_errors: -2.5, help_views: -1.5, videos_completed: 2.5 } as const;

/** An NPS score from a uniform draw `u` in [0, 1): uniform 0–10, shifted by the planted effect of the session when it is on. */
function npsScore(u: number, session: { errors: number; helpViews: number; videosCompleted: number } | null): number {
  const shift = session
    ? PLANTED_NPS_EFFECT.checkout_errors * session.errors + PLANTED_NPS_EFFECT.help_views * session.helpViews + PLANTED_NPS_EFFECT.videos_completed * session.videosCompleted
    : 0;
  return Math.min(10, Math.max(0, Math.floor(u * 11 + shift)));
}

export function generateDay(config: GeneratorConfig = {}): CxEvent[] {
  const options = generatorConfigSchema.parse(config);
  const random = seededRandom(options.seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const chance = (p: number) => random() < p;
  const dayStart = Date.parse(`${options.day}T00:00:00.000Z`);
  const events: CxEvent[] = [];
  let sequence = 0;

  for (let index = 0; index < options.customers; index++) {
    const anonymous = chance(options.anonymousShare);
    const customer = anonymous ? { customer_id: null, anonymous_id: `anon-${options.seed}-${index}` } : { customer_id: `cust-${index}`, anonymous_id: chance(0.5) ? `device-${index}` : null };
    const experiment = chance(0.5) ? { id: 'checkout-redesign', variant: chance(0.5) ? 'A' : 'B' } : null;
    const logsIn = options.loginShare > 0 && customer.anonymous_id !== null && chance(options.loginShare);
    /** Browsing anonymously (before the login of a `logsIn` customer): web/app events carry only the device id. */
    let beforeLogin = false;
    const emit = (time: number, channel: Channel, type: CxEvent['type'], properties: Record<string, unknown>, touchpoint: string | null = null) => {
      events.push({
        event_id: `evt-${options.seed}-${(sequence++).toString(36)}`,
        type,
        occurred_at: Math.round(time),
        ...(beforeLogin && (channel === 'web' || channel === 'app') ? { customer_id: null, anonymous_id: customer.anonymous_id } : customer),
        channel,
        touchpoint,
        experiment: channel === 'web' || channel === 'app' ? experiment : null,
        properties,
      } as CxEvent);
    };

    // Marketing touches before the journeys.
    let time = dayStart + random() * 20 * 3600_000;
    if (chance(0.4)) {
      const shownAt = time - 3600_000 * (1 + random() * 48);
      const ad = { campaign_id: pick(CAMPAIGNS), placement: pick(['search', 'social', 'display']) };
      emit(shownAt, 'ads', 'ad_impression', ad, 'paid');
      if (chance(0.2)) emit(shownAt + 2_000 + random() * 20_000, 'ads', 'ad_click', ad, 'paid');
    }
    if (chance(0.3)) {
      const campaign = pick(CAMPAIGNS);
      emit(time - 600_000, 'email', 'email_open', { campaign_id: campaign }, 'newsletter');
      if (chance(0.5)) emit(time - 300_000, 'email', 'email_click', { campaign_id: campaign, url: `https://shop.example/${campaign}` }, 'newsletter');
    }

    const sessions = 1 + Math.floor(random() * 3);
    for (let s = 0; s < sessions; s++) {
      const channel: Channel = chance(0.7) ? 'web' : 'app';
      let cart = 0;
      let helpViews = 0;
      let errors = 0;
      let videosCompleted = 0;
      const views = 1 + Math.floor(random() * 8);
      beforeLogin = logsIn && s === 0 && views >= 2;
      for (let v = 0; v < views; v++) {
        if (v === Math.floor(views / 2)) beforeLogin = false; // logs in: this page view carries both ids
        const pageType = v === 0 ? pick(['home', 'category', 'product'] as const) : pick(['category', 'product', 'product', 'cart', 'help', 'contact', 'other'] as const);
        if (pageType === 'help' || pageType === 'contact') helpViews++;
        emit(time, channel, 'page_view', { page: `/${pageType}/${Math.floor(random() * 50)}`, page_type: pageType }, pick(TOUCHPOINTS));
        time += 5_000 + random() * 120_000;
        if (chance(0.5)) {
          emit(time, channel, 'click', { element: pick(['buy-button', 'menu', 'search', 'banner']) });
          time += 2_000 + random() * 20_000;
        }
        if (pageType === 'product' && chance(0.35)) {
          const product = pick(PRODUCTS);
          const quantity = 1 + Math.floor(random() * 2);
          cart += product.price * quantity;
          emit(time, channel, 'add_to_cart', { product_id: product.id, price: product.price, quantity });
          time += 3_000 + random() * 30_000;
          if (chance(0.1)) {
            // Changed their mind: the cart value keeps the add (CONTRACT §2 sums add_to_cart only).
            emit(time, channel, 'remove_from_cart', { product_id: product.id, quantity: 1 });
            time += 2_000 + random() * 10_000;
          }
        }
        if (chance(0.08)) {
          const video = `vid-${Math.floor(random() * 10)}`;
          emit(time, channel, 'video_start', { video_id: video });
          time += 30_000 + random() * 60_000;
          emit(time, channel, 'video_progress', { video_id: video, percent: 50 });
          if (chance(0.6)) {
            emit((time += 30_000), channel, 'video_complete', { video_id: video });
            videosCompleted++;
          }
        }
      }
      if (cart > 0 && chance(0.6)) {
        emit(time, channel, 'checkout_start', {}, 'checkout');
        time += 10_000 + random() * 60_000;
        const failures = chance(0.2) ? 1 + Math.floor(random() * 2) : 0;
        for (let f = 0; f < failures; f++, errors++) {
          emit(time, channel, 'checkout_error', { code: pick(['PAYMENT_DECLINED', 'ADDRESS_INVALID', 'TIMEOUT']) }, 'checkout');
          time += 10_000 + random() * 30_000;
        }
        if (failures < 2 && chance(0.75)) {
          emit(time, channel, 'purchase', { order_id: `ord-${options.seed}-${index}-${s}`, revenue: Math.round(cart * 100) / 100, currency: 'EUR' }, 'checkout');
          time += 5_000;
        }
      }
      // Tried online, then called.
      if ((helpViews > 0 || errors > 0) && chance(0.4)) {
        time += 10 * 60_000 + random() * 3 * 3600_000;
        emit(time, 'call_center', 'contact', { kind: pick(['call', 'chat'] as const), reason: errors > 0 ? 'checkout problem' : 'question' }, 'hotline');
      }
      if (chance(0.25)) {
        time += 60 * 60_000 + random() * 2 * 3600_000;
        const metric = pick(['nps', 'nps', 'csat', 'ces'] as const);
        const score = metric === 'nps' ? npsScore(random(), options.plantedDrivers ? { errors, helpViews, videosCompleted } : null) : metric === 'csat' ? 1 + Math.floor(random() * 5) : 1 + Math.floor(random() * 7);
        const comment = pick(COMMENTS);
        emit(time, 'survey', 'survey_response', { survey_id: `post-journey-${metric}`, metric, score, comment: comment || null, language: /[äöü]|Schnell|Keine/.test(comment) ? 'de' : 'en' }, 'post-journey');
      }
      time += 45 * 60_000 + random() * 4 * 3600_000;
    }
    if (chance(0.1)) {
      const language = chance(0.5) ? 'de' : 'en';
      emit(dayStart + random() * 24 * 3600_000, 'social', 'social_mention', { platform: pick(['x', 'instagram', 'trustpilot']), text: pick(MENTIONS[language]), language, rating: null, product_id: chance(0.5) ? pick(PRODUCTS).id : null }, null);
    }
  }
  // Real traffic arrives in time order, give or take a little jitter.
  return events.sort((a, b) => a.occurred_at - b.occurred_at || (a.event_id < b.event_id ? -1 : 1));
}
