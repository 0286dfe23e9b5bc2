// An in-test LiveState (hand-built customers, settable ownership) and a fastify worker serving the customer API on 127.0.0.1:0.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { CustomerJourney, LiveSession, LiveState } from '../../serving/live-state.ts';
import type { CustomerApiOptions } from '../../serving/customer-api.ts';
import { customerApi } from '../../serving/customer-api.ts';
import type { SessionKpis, Signal } from '../../schemas/outputs.ts';
import { SESSION_KPI_COLUMNS } from '../../schemas/session-kpi-columns.ts';
import type { SessionKpiValues } from '../../schemas/session-kpi-columns.ts';

export const T0 = Date.parse('2026-03-02T10:00:00.000Z');

export interface FixtureCustomer {
  session?: LiveSession;
  signals?: Signal[];
  journey?: CustomerJourney;
}

/** A LiveState over a map of customers; `owned` is what `ownedPartitions` answers (tests change it). */
export class FixtureLiveState implements LiveState {
  owned: readonly number[] | 'rebalancing';
  readonly customers = new Map<string, FixtureCustomer>();
  /** The keys the API asked about (pseudonymisation checks). */
  readonly asked: string[] = [];

  constructor(owned: readonly number[] | 'rebalancing') {
    this.owned = owned;
  }

  ownedPartitions(): readonly number[] | 'rebalancing' {
    return this.owned;
  }

  session(key: string): LiveSession | undefined {
    this.asked.push(key);
    return this.customers.get(key)?.session;
  }

  openSignals(key: string, now: number): readonly Signal[] | undefined {
    this.asked.push(key);
    const customer = this.customers.get(key);
    // Deliberately returns expired and suppressed ones too: the API must filter.
    return customer ? (customer.signals ?? []).filter(() => now > 0) : undefined;
  }

  journey(key: string): CustomerJourney | undefined {
    this.asked.push(key);
    const customer = this.customers.get(key);
    return customer ? (customer.journey ?? { sessions: [], feedback: [], contacts: [], negative_mentions: [] }) : undefined;
  }
}

export function kpis(customer: string, overrides: Partial<SessionKpis> = {}): SessionKpis {
  return {
    session_id: `s-${customer}`,
    customer_id: customer,
    started_at: T0,
    ended_at: T0 + 90_000,
    duration_ms: 90_000,
    // Every declared KPI (a new one starts at zero here), then this fixture's values.
    ...zeroKpis(),
    events: 4,
    page_views: 2,
    clicks: 1,
    bounced: false,
    orders: 0,
    revenue: 0,
    converted: false,
    cart_adds: 1,
    cart_value: 59.9,
    cart_abandoned: true,
    checkout_errors: 0,
    help_views: 0,
    videos_started: 0,
    videos_completed: 0,
    entry_page: '/home',
    exit_page: '/cart',
    channel: 'web',
    experiment_id: null,
    variant: null,
    touchpoint: null,
    first_campaign: null,
    last_campaign: null,
    ...overrides,
  };
}

export function signal(customer: string, overrides: Partial<Signal> = {}): Signal {
  return {
    signal_id: `sig-${customer}-${overrides.action ?? 'cart_reminder'}`,
    customer_id: customer,
    session_id: `s-${customer}`,
    action: 'cart_reminder',
    channel: 'email',
    priority: 40,
    rule_id: 'cart_reminder',
    reason: 'A cart worth 59.90 was left in the session',
    evidence_event_ids: ['e1', 'e2'],
    triggered_at: T0 + 90_000,
    emitted_at: T0 + 90_050,
    expires_at: T0 + 24 * 3_600_000,
    status: 'emitted',
    audience: 'customer',
    context: null,
    ...overrides,
  };
}

export interface Worker {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** A fastify server with the customer API on 127.0.0.1, any free port. */
export async function startWorker(options: CustomerApiOptions): Promise<Worker> {
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 256 } });
  await app.register(customerApi(options));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

function zeroKpis(): SessionKpiValues {
  return Object.fromEntries(SESSION_KPI_COLUMNS.map((entry) => [entry.column, entry.kind === 'flag' ? false : 0])) as SessionKpiValues;
}
