import { toOpenAPISchema } from "@elysiajs/openapi";
import type { AnyElysia } from "elysia";
import { ErrorResponse as AnthropicErrorResponse } from "../anthropic/errors.ts";
import { ErrorResponse } from "../openai/errors.ts";
import { ANTHROPIC_ERROR_STATUSES, ERROR_STATUSES, ROUTE_DOCS, type RouteDoc } from "./route-docs.ts";

type Json = Record<string, unknown>;
type Operation = Json & { requestBody?: { content?: Json; required?: boolean; description?: string }; responses?: Json };

/** TypeBox schemas are JSON Schema already; this drops TypeBox's symbol keys and shares nothing with the original. */
const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema)) as Json;

/**
 * The OpenAPI 3.1 document of every route the app serves, generated from the routes themselves: @elysiajs/openapi
 * turns each route's TypeBox schemas (body, params) into operations, then the answers (src/docs/route-docs.ts), error
 * envelopes and API-key security are added. A route added later appears with no change here.
 */
export function openApiDocument(app: AnyElysia, version: string): Json {
  const generated = toOpenAPISchema(app, undefined, undefined, undefined, "3.1.0") as unknown as { paths: Record<string, Record<string, Operation>> };
  const paths: Record<string, Record<string, Operation>> = {};
  for (const route of app.routes) {
    const method = route.method.toLowerCase();
    if (method === "options" || route.hooks?.detail?.hide) continue;
    const path = route.path.replaceAll(/:([^/]+)/g, "{$1}");
    const operation: Operation = { ...(generated.paths[path]?.[method] ?? {}) };
    const body = route.hooks?.body;
    // The generator leaves the body without a media type when the app parses bodies itself (src/http/body-limit.ts).
    const doc = ROUTE_DOCS[`${route.method} ${route.path}`];
    if (body && typeof body === "object") {
      operation.requestBody = { required: true, content: { [doc?.form ? "multipart/form-data" : "application/json"]: { schema: plain(body) } } };
    }
    describe(operation, doc);
    (paths[path] ??= {})[method] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "gpt3dev",
      version,
      description:
        "Self-hosted, OpenAI-compatible inference server for local ONNX models. Point any OpenAI client at `/v1`. " +
        "Streaming answers are Server-Sent Events (`data: {json}` … `data: [DONE]`).",
    },
    servers: [{ url: "/" }],
    tags: [...new Set(Object.values(ROUTE_DOCS).map((d) => d.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ErrorResponse: plain(ErrorResponse), AnthropicErrorResponse: plain(AnthropicErrorResponse) },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "One of the server's API keys (--api-key, API_KEYS, --api-key-file)" },
        apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key" },
      },
    },
    // Keys are optional: an open server needs none, a server with keys takes either form.
    security: [{}, { bearer: [] }, { apiKeyHeader: [] }],
  };
}

function describe(operation: Operation, doc: RouteDoc | undefined): void {
  if (doc) {
    operation.summary ??= doc.summary;
    operation.tags ??= [doc.tag];
  }
  const content: Json = {};
  if (doc?.response) content["application/json"] = { schema: plain(doc.response) };
  if (doc?.chunk) content["text/event-stream"] = { schema: plain(doc.chunk) };
  for (const type of [doc?.text ?? []].flat()) content[type] = { schema: { type: "string" } };
  for (const type of doc?.binary ?? []) content[type] = { schema: { type: "string", format: "binary" } };
  const description = !doc?.chunk
    ? "OK"
    : doc.typedEvents
      ? "JSON; with `stream: true`, Server-Sent Events: `event: <type>` and `data: {json}` per event of the text/event-stream schema, no `[DONE]`"
      : "JSON; with `stream: true`, Server-Sent Events: one `data: {json}` event per chunk of the text/event-stream schema, then `data: [DONE]`";
  const responses: Json = {
    ...(operation.responses ?? {}),
    "200": { description, ...(Object.keys(content).length > 0 ? { content } : {}) },
  };
  const anthropic = doc?.anthropicErrors === true;
  const errorSchema = { $ref: `#/components/schemas/${anthropic ? "AnthropicErrorResponse" : "ErrorResponse"}` };
  for (const [status, description] of Object.entries(anthropic ? ANTHROPIC_ERROR_STATUSES : ERROR_STATUSES)) {
    if (doc && doc.openaiErrors !== true && !anthropic) continue;
    responses[status] = doc ? { description, content: { "application/json": { schema: errorSchema } } } : { description };
  }
  operation.responses = responses;
}
