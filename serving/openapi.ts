// The OpenAPI 3.1 document of the customer API, generated from the zod response schemas (zod's own JSON Schema output, draft 2020-12 = OpenAPI 3.1's dialect).
import { z } from 'zod';
import { apiSchemas } from './live-state.ts';

type JsonObject = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description: string) => ({ description, content: { 'application/json': { schema: ref(name) } } });

/** The answers every customer route can give besides its 200. */
const errorResponses = {
  '400': json('Error', 'The customer id is not 1–128 characters (`invalid_customer_id`)'),
  '401': json('Error', 'No valid API key (`unauthorized`): send `Authorization: Bearer <key>`'),
  '404': json('Error', 'The worker that owns the customer\'s partition holds nothing about this customer (`unknown_customer`)'),
  '500': json('Error', 'The worker failed to answer (`internal_error`)'),
  '503': {
    ...json('Error', 'The customer\'s partition is being rebalanced or restored, or its owner did not answer (`partition_unavailable`, `owner_unreachable`); retry after `Retry-After` seconds'),
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } },
  },
};

const servedBy = {
  'X-Touchstream-Served-By': { description: 'Member id of the worker that answered (the partition owner)', schema: { type: 'string' } },
};

function customerRoute(operationId: string, summary: string, description: string, response: string) {
  return {
    get: {
      operationId,
      summary,
      description,
      tags: ['customers'],
      parameters: [
        {
          name: 'id',
          in: 'path',
          required: true,
          description: 'The customer id (or anonymous id) as sent in events; pseudonymised by the worker when privacy is on',
          schema: { type: 'string', minLength: 1, maxLength: 128 },
        },
      ],
      responses: { '200': { ...json(response, summary), headers: servedBy }, ...errorResponses },
    },
  };
}

/** Builds the document; `serverUrl` is where the API is mounted (omitted: relative to the document). */
export function openApiDocument(serverUrl?: string): JsonObject {
  const { schemas } = z.toJSONSchema(apiSchemas, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any' }) as { schemas: Record<string, JsonObject> };
  // Each schema is a component, not a standalone document.
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'touchstream live serving API',
      version: '1',
      description:
        'Interactive queries on a running touchstream pipeline (CONTRACT §8): a customer\'s live session, open signals and recent journey, ' +
        'answered from the in-memory state of the worker that owns the customer\'s input partition, whichever worker is asked.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ apiKey: [] }],
    paths: {
      '/v1/customers/{id}/session': customerRoute(
        'getCustomerSession',
        "The customer's open session (KPIs so far), else the last closed one",
        'The open session window of the customer with its KPIs up to the last event processed (`status: open`), or, with no open session, the last closed session still held in live state (`status: closed`).',
        'SessionResponse',
      ),
      '/v1/customers/{id}/signals': customerRoute(
        'getCustomerSignals',
        "The customer's open signals",
        'Next-best-action signals with `status = emitted` whose `expires_at` is in the future, highest priority first. Suppressed signals are not listed.',
        'SignalsResponse',
      ),
      '/v1/customers/{id}/journey': customerRoute(
        'getCustomerJourney',
        "The customer's recent journey",
        'Recent sessions (open and closed), survey responses, contacts and negative social mentions, as far back as live state keeps them.',
        'JourneyResponse',
      ),
    },
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'One of the keys of TOUCHSTREAM_API_KEYS' },
      },
    },
  };
}
