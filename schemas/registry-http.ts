// A client of the Confluent Schema Registry REST API (Confluent, Apicurio's `/apis/ccompat/v7`, Redpanda): register under a subject, fetch by id, cached.
import type { AvroSchema } from './avro.ts';
import { TouchstreamError } from './errors.ts';
import type { SchemaRegistry } from './registry.ts';

export type CompatibilityLevel = 'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export interface HttpSchemaRegistryOptions {
  /** Base URL, e.g. http://registry:8081 or http://apicurio:8080/apis/ccompat/v7. */
  url: string;
  /** Basic auth (Confluent Cloud: API key and secret). */
  username?: string;
  password?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

/** What the registry answered with when it refused a request: its HTTP status and Confluent error code. */
export class SchemaRegistryError extends TouchstreamError {
  constructor(
    code: string,
    message: string,
    readonly status: number | null,
    readonly registryErrorCode: number | null,
    retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, retriable, options);
    this.name = 'SchemaRegistryError';
  }
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class HttpSchemaRegistry implements SchemaRegistry {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  /** Schemas by id never change in a registry, so they are cached for good; so are ids of schemas we registered. */
  readonly #byId = new Map<number, AvroSchema>();
  readonly #registered = new Map<string, number>();

  constructor(options: HttpSchemaRegistryOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#headers = { accept: `${CONTENT_TYPE}, application/json`, 'content-type': CONTENT_TYPE };
    if (options.username !== undefined) {
      this.#headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    }
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const text = JSON.stringify(schema);
    const cacheKey = `${subject}\0${text}`;
    const known = this.#registered.get(cacheKey);
    if (known !== undefined) return known;
    const { id } = (await this.#request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: text, schemaType: 'AVRO' })) as { id: number };
    this.#registered.set(cacheKey, id);
    this.#byId.set(id, schema);
    return id;
  }

  async schemaById(id: number): Promise<AvroSchema | undefined> {
    const cached = this.#byId.get(id);
    if (cached) return cached;
    const answer = (await this.#request('GET', `/schemas/ids/${id}`, undefined, true)) as { schema: string; schemaType?: string } | undefined;
    if (answer === undefined) return undefined;
    if (answer.schemaType !== undefined && answer.schemaType !== 'AVRO') {
      throw new SchemaRegistryError('schema_not_avro', `schema id ${id} is ${answer.schemaType}, not Avro`, 200, null, false);
    }
    const schema = JSON.parse(answer.schema) as AvroSchema;
    this.#byId.set(id, schema);
    return schema;
  }

  /** Sets the compatibility level of a subject, or the global default when `subject` is null. */
  async setCompatibility(subject: string | null, level: CompatibilityLevel): Promise<void> {
    await this.#request('PUT', subject === null ? '/config' : `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  }

  /** Whether `schema` may be registered as the next version of `subject` under its compatibility level. */
  async isCompatible(subject: string, schema: AvroSchema): Promise<boolean> {
    const answer = (await this.#request('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, { schema: JSON.stringify(schema), schemaType: 'AVRO' }, true)) as { is_compatible: boolean } | undefined;
    return answer === undefined ? true : answer.is_compatible;
  }

  async #request(method: string, path: string, body?: unknown, notFoundIsUndefined = false): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: this.#headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new SchemaRegistryError('schema_registry_unreachable', `schema registry ${this.#base} did not answer ${method} ${path}: ${(error as Error).message}`, null, null, true, { cause: error });
    }
    const text = await response.text();
    if (response.ok) return text === '' ? undefined : JSON.parse(text);
    if (response.status === 404 && notFoundIsUndefined) return undefined;
    let registryCode: number | null = null;
    let message = text;
    try {
      const parsed = JSON.parse(text) as { error_code?: number; message?: string };
      registryCode = parsed.error_code ?? null;
      message = parsed.message ?? text;
    } catch {
      // not JSON: keep the text
    }
    const code = response.status === 409 ? 'schema_incompatible' : response.status === 422 ? 'schema_invalid' : response.status === 401 || response.status === 403 ? 'schema_registry_unauthorized' : 'schema_registry_error';
    throw new SchemaRegistryError(code, `schema registry refused ${method} ${path} (HTTP ${response.status}${registryCode === null ? '' : `, error ${registryCode}`}): ${message}`, response.status, registryCode, response.status >= 500 || response.status === 429);
  }
}
