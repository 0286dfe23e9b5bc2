// Payload mappings: how one action of one signal becomes the HTTP request of each connector (generic webhook, GitHub Issues, Zendesk tickets, HubSpot CRM records).
import type { DestinationConfig } from './destinations.ts';
import type { DeliverableSignal } from './records.ts';

export interface ActionRequest {
  method: 'POST' | 'PATCH';
  url: string;
  /** JSON-ready body. */
  body: unknown;
  /** Connector-specific headers (the destination's own headers are added by delivery). */
  headers: Record<string, string>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The signal as JSON for receivers: timestamps as ISO-8601 text, `context` apart (its own timestamps stay epoch ms, as on the topic). */
export function signalJson(signal: DeliverableSignal): Record<string, unknown> {
  const { context: _context, ...fields } = signal;
  return { ...fields, triggered_at: iso(signal.triggered_at), emitted_at: iso(signal.emitted_at), expires_at: iso(signal.expires_at) };
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** Zendesk's four priorities from the signal's 0–100 priority. */
export function zendeskPriority(priority: number): 'urgent' | 'high' | 'normal' | 'low' {
  if (priority >= 90) return 'urgent';
  if (priority >= 70) return 'high';
  if (priority >= 40) return 'normal';
  return 'low';
}

/** A readable text of the signal for a ticket or issue body (ids, reason, evidence, context). */
function describe(signal: DeliverableSignal, action: string): string {
  const lines = [
    signal.reason,
    '',
    `- action: ${action}`,
    `- signal: ${signal.signal_id} (rule ${signal.rule_id}, priority ${signal.priority}, channel ${signal.channel})`,
    `- customer: ${signal.customer_id}${signal.session_id ? `, session ${signal.session_id}` : ''}`,
    `- triggered at: ${iso(signal.triggered_at)}; expires at: ${iso(signal.expires_at)}`,
    `- evidence events: ${signal.evidence_event_ids.join(', ') || 'none'}`,
  ];
  if (signal.context !== undefined && signal.context !== null) lines.push('', 'Context:', '```json', JSON.stringify(signal.context, null, 2), '```');
  return lines.join('\n');
}

export function requestOf(destination: DestinationConfig, signal: DeliverableSignal, action: string): ActionRequest {
  switch (destination.type) {
    case 'webhook':
      return {
        method: 'POST',
        url: destination.url,
        headers: {},
        body: { action, signal: signalJson(signal), context: signal.context ?? null },
      };
    case 'github_issues':
      return {
        method: 'POST',
        url: `${trimSlash(destination.apiUrl)}/repos/${encodeURIComponent(destination.owner)}/${encodeURIComponent(destination.repo)}/issues`,
        headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
        body: {
          title: `[${action}] ${signal.reason}`.slice(0, 256),
          body: describe(signal, action),
          labels: [...destination.labels, action],
        },
      };
    case 'zendesk_tickets':
      return {
        method: 'POST',
        url: `${trimSlash(destination.url)}/api/v2/tickets`,
        headers: {},
        body: {
          ticket: {
            subject: `[${action}] ${signal.reason}`.slice(0, 255),
            comment: { body: describe(signal, action) },
            requester: { name: signal.customer_id, email: destination.requesterEmail.replaceAll('{customer_id}', signal.customer_id) },
            priority: zendeskPriority(signal.priority),
            external_id: signal.signal_id,
            tags: [...destination.tags, action],
          },
        },
      };
    case 'hubspot_records': {
      const prefix = destination.propertyPrefix;
      return {
        method: 'PATCH',
        url:
          `${trimSlash(destination.apiUrl)}/crm/v3/objects/${destination.objectType}/${encodeURIComponent(signal.customer_id)}` +
          `?idProperty=${encodeURIComponent(destination.idProperty)}`,
        headers: {},
        body: {
          properties: {
            [`${prefix}last_action`]: action,
            [`${prefix}last_signal_id`]: signal.signal_id,
            [`${prefix}last_signal_reason`]: signal.reason,
            [`${prefix}last_signal_priority`]: String(signal.priority),
            [`${prefix}last_signal_at`]: iso(signal.triggered_at),
            // The latest NPS and its date, when the signal's context has one (the crm_update of the default rules).
            ...(signal.context?.experience.last_nps != null
              ? { [`${prefix}last_nps`]: String(signal.context.experience.last_nps), [`${prefix}last_nps_at`]: signal.context.experience.last_nps_at === null ? '' : iso(signal.context.experience.last_nps_at) }
              : {}),
          },
        },
      };
    }
  }
}
