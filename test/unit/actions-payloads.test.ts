// Pins the payload mappings: the generic webhook, GitHub Issues, Zendesk tickets and HubSpot CRM record updates, with expected requests written out.
import { describe, expect, it } from 'vitest';
import { parseDestinations } from '../../actions/destinations.ts';
import { requestOf, zendeskPriority } from '../../actions/payloads.ts';
import type { DeliverableSignal } from '../../actions/records.ts';
import type { SignalContext } from '../../schemas/outputs.ts';

const context: SignalContext = {
  trigger: { id: 'e2', type: 'survey_response', occurred_at: Date.UTC(2026, 11, 3, 10, 0, 0), channel: 'survey' },
  feedback: {
    survey_id: 'post-journey', metric: 'nps', score: 3, comment: 'slow delivery', language: 'en', sentiment_label: 'negative', sentiment_score: -0.4, product_fault_terms: [],
  },
  mention: null,
  cart: null,
  error_codes: [],
  session: null,
  experience: { last_nps: 3, last_nps_at: Date.UTC(2026, 11, 3, 10, 0, 0), last_csat: null, last_ces: null },
};

const signal: DeliverableSignal = {
  signal_id: 'sig-1',
  customer_id: 'c42',
  session_id: 's9',
  action: 'support_case',
  channel: 'call_center',
  priority: 100,
  rule_id: 'support_callback',
  reason: 'NPS detractor (score 3)',
  evidence_event_ids: ['e1', 'e2'],
  triggered_at: Date.UTC(2026, 11, 3, 10, 0, 0),
  emitted_at: Date.UTC(2026, 11, 3, 10, 0, 0, 40),
  expires_at: Date.UTC(2026, 11, 4, 10, 0, 0),
  status: 'emitted',
  audience: 'internal',
  context,
};

const destination = (config: Record<string, unknown>) => parseDestinations({ destinations: { d: config } }, {}).destinations.get('d')!.config;

describe('payload mappings', () => {
  it('webhook: POSTs the action, the signal (ISO timestamps) and its context as it came', () => {
    expect(requestOf(destination({ type: 'webhook', url: 'http://127.0.0.1:9999/actions' }), signal, 'support_case')).toEqual({
      method: 'POST',
      url: 'http://127.0.0.1:9999/actions',
      headers: {},
      body: {
        action: 'support_case',
        signal: {
          signal_id: 'sig-1', customer_id: 'c42', session_id: 's9', action: 'support_case', channel: 'call_center', priority: 100,
          rule_id: 'support_callback', reason: 'NPS detractor (score 3)', evidence_event_ids: ['e1', 'e2'],
          triggered_at: '2026-12-03T10:00:00.000Z', emitted_at: '2026-12-03T10:00:00.040Z', expires_at: '2026-12-04T10:00:00.000Z', status: 'emitted', audience: 'internal',
        },
        context,
      },
    });
    const { context: _context, ...withoutContext } = signal;
    expect((requestOf(destination({ type: 'webhook', url: 'http://h/a' }), withoutContext, 'x').body as { context: unknown }).context).toBeNull();
  });

  it('GitHub Issues: POST /repos/{owner}/{repo}/issues with title, body and labels', () => {
    const request = requestOf(destination({ type: 'github_issues', owner: 'acme', repo: 'shop', labels: ['cx', 'feedback'] }), signal, 'rnd_ticket');
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://api.github.com/repos/acme/shop/issues');
    expect(request.headers).toEqual({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
    const body = request.body as { title: string; body: string; labels: string[] };
    expect(Object.keys(body).sort()).toEqual(['body', 'labels', 'title']);
    expect(body.title).toBe('[rnd_ticket] NPS detractor (score 3)');
    expect(body.labels).toEqual(['cx', 'feedback', 'rnd_ticket']);
    expect(body.body).toContain('- signal: sig-1 (rule support_callback, priority 100, channel call_center)');
    expect(body.body).toContain('"comment": "slow delivery"');
  });

  it('Zendesk: POST /api/v2/tickets with subject, comment, requester, priority, external_id, tags', () => {
    const request = requestOf(destination({ type: 'zendesk_tickets', url: 'https://acme.zendesk.com/', requesterEmail: 'cx+{customer_id}@acme.example' }), signal, 'support_case');
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://acme.zendesk.com/api/v2/tickets');
    const { ticket } = request.body as { ticket: Record<string, unknown> };
    expect(ticket).toMatchObject({
      subject: '[support_case] NPS detractor (score 3)',
      requester: { name: 'c42', email: 'cx+c42@acme.example' },
      priority: 'urgent',
      external_id: 'sig-1',
      tags: ['touchstream', 'support_case'],
    });
    expect((ticket.comment as { body: string }).body).toContain('NPS detractor (score 3)');
    expect([100, 90, 89, 70, 69, 40, 39, 0].map(zendeskPriority)).toEqual(['urgent', 'urgent', 'high', 'high', 'normal', 'normal', 'low', 'low']);
  });

  it('HubSpot: PATCH /crm/v3/objects/contacts/{id}?idProperty=… with the properties to update', () => {
    const request = requestOf(destination({ type: 'hubspot_records', idProperty: 'cx_id' }), { ...signal, customer_id: 'c/42' }, 'crm_update');
    expect(request).toEqual({
      method: 'PATCH',
      url: 'https://api.hubapi.com/crm/v3/objects/contacts/c%2F42?idProperty=cx_id',
      headers: {},
      body: {
        properties: {
          touchstream_last_action: 'crm_update',
          touchstream_last_signal_id: 'sig-1',
          touchstream_last_signal_reason: 'NPS detractor (score 3)',
          touchstream_last_signal_priority: '100',
          touchstream_last_signal_at: '2026-12-03T10:00:00.000Z',
          touchstream_last_nps: '3',
          touchstream_last_nps_at: '2026-12-03T10:00:00.000Z',
        },
      },
    });
    // Without a score in the context, the NPS properties are left alone.
    const { context: _context, ...bare } = signal;
    expect(Object.keys((requestOf(destination({ type: 'hubspot_records' }), bare, 'crm_update').body as { properties: object }).properties)).not.toContain('touchstream_last_nps');
  });
});
