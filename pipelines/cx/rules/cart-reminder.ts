// cart_reminder (CONTRACT §4): a session closed with an abandoned cart worth at least 20.
import type { SessionClosedRule } from './rule.ts';

export const cartReminder: SessionClosedRule = {
  id: 'cart_reminder',
  on: 'session_closed',
  action: 'cart_reminder',
  channel: 'email',
  priority: 40,
  expiresAfterMs: 48 * 60 * 60 * 1000,
  when: (session) => session.cart_abandoned && session.cart_value >= 20,
  reason: (session) =>
    `Left ${session.cart_adds} item${session.cart_adds === 1 ? '' : 's'} worth ${session.cart_value.toFixed(2)} in the cart without buying.`,
};
