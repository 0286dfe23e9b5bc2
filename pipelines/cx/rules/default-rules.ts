// The default rule set of CONTRACT §4, written as data with the same API users write their own rules with.
import type { RuleSpec } from './rule.ts';
import { defineRule } from './rule.ts';

export const DEFAULT_RULES: readonly RuleSpec[] = [
  // The seeds' detractor fan-out: the customer gets a call back; support, R&D and the CRM act on the same response.
  defineRule({
    id: 'support_callback',
    channel: 'call_center',
    priority: 100,
    expires_after: '24h',
    trigger: { on: 'event', types: ['survey_response'] },
    when: [
      { fact: 'event.properties.metric', op: 'eq', value: 'nps' },
      { fact: 'event.properties.score', op: 'lte', value: 6 },
    ],
    reason: 'Scored NPS {event.properties.score} in survey {event.properties.survey_id}: a detractor worth a call back.',
    actions: [
      { action: 'support_callback', audience: 'customer' },
      {
        action: 'support_case', audience: 'internal', priority: 90, expires_after: '7d',
        reason: 'NPS detractor (score {event.properties.score} in survey {event.properties.survey_id}): open a support case for the call back.',
      },
      {
        action: 'rnd_ticket', audience: 'internal', channel: 'survey', priority: 50, expires_after: '30d',
        when: [{ fact: 'event.text.product_fault', op: 'eq', value: true }],
        reason: 'NPS detractor feedback (score {event.properties.score}) names a product or a fault: for R&D.',
      },
      {
        action: 'crm_update', audience: 'internal', channel: 'survey', priority: 20, expires_after: '7d',
        reason: 'Latest NPS {experience.last_nps} for the customer record.',
      },
    ],
  }),
  defineRule({
    id: 'live_chat_offer',
    channel: 'chat',
    priority: 80,
    expires_after: '30m',
    trigger: { on: 'event', types: ['checkout_error'] },
    when: [{ fact: 'session.checkout_errors', op: 'gte', value: 2 }],
    reason: 'Hit {session.checkout_errors|count:checkout error} in this session (last: {event.properties.code}).',
    evidence: 'session.checkout_errors',
  }),
  defineRule({
    id: 'social_care',
    channel: 'social',
    priority: 70,
    expires_after: '24h',
    trigger: { on: 'event', types: ['social_mention'] },
    when: [{ fact: 'event.sentiment.label', op: 'eq', value: 'negative' }],
    reason: 'Posted a negative mention on {event.properties.platform} (sentiment {event.sentiment.score|decimal}).',
  }),
  defineRule({
    id: 'proactive_help',
    channel: 'chat',
    priority: 60,
    expires_after: '30m',
    trigger: { on: 'event', types: ['page_view'] },
    when: [
      { fact: 'event.properties.page_type', op: 'in', value: ['help', 'contact'] },
      { fact: 'session.help_views', op: 'gte', value: 3 },
      { fact: 'session.purchased_before_event', op: 'eq', value: false },
    ],
    reason: 'Opened {session.help_views|count:help page} in this session without buying.',
    evidence: 'session.help_views',
  }),
  defineRule({
    id: 'cart_reminder',
    channel: 'email',
    priority: 40,
    expires_after: '48h',
    trigger: { on: 'session_closed' },
    when: [
      { fact: 'session.cart_abandoned', op: 'eq', value: true },
      { fact: 'session.cart_value', op: 'gte', value: 20 },
    ],
    reason: 'Left {session.cart_adds|count:item} worth {session.cart_value|money} in the cart without buying.',
    evidence: 'session.cart_adds',
  }),
];
