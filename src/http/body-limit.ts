import { Elysia } from "elysia";
import { invalidRequest, OpenAIError, toOpenAIError } from "../errors.ts";
import { parseJsonBody } from "./exact-seed.ts";

/**
 * Bun.serve's own limit answers 413 with an empty body, before the app sees the request; it is set far above the
 * app's limit so that the app answers with OpenAI's envelope, and only guards against a body no reader consumes.
 */
export const SERVE_BODY_BACKSTOP_BYTES = 2 ** 40;

export function bodyTooLarge(maxBytes: number, flag = "max-body-bytes"): OpenAIError {
  return new OpenAIError(
    413,
    `The request body is larger than this server accepts (${maxBytes} bytes; --${flag}).`,
    "invalid_request_error",
    null,
    "request_too_large",
  );
}

/** Reads a body of unknown length (chunked) and stops as soon as it passes the limit. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number, flag?: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw bodyTooLarge(maxBytes, flag);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const isMultipart = (request: Request) => request.headers.get("content-type")?.toLowerCase().startsWith("multipart/form-data") === true;

/**
 * A multipart form as a plain object: text fields as strings, files as File; a field sent more than once (OpenAI's
 * SDKs send `timestamp_granularities[]` once per value) becomes a list.
 */
async function formFields(bytes: Uint8Array, contentType: string): Promise<Record<string, unknown>> {
  let form: Awaited<ReturnType<Response["formData"]>>;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw invalidRequest("The multipart/form-data body could not be parsed.");
  }
  const fields: Record<string, unknown> = {};
  for (const key of new Set(form.keys())) {
    const values = form.getAll(key);
    fields[key] = values.length === 1 ? values[0] : values;
  }
  return fields;
}

/**
 * Every POST route takes a JSON object, read as JSON whatever the content type says (curl's `-d` sends
 * application/x-www-form-urlencoded), as llama.cpp and vLLM do, except multipart/form-data bodies (audio uploads),
 * which are read as forms up to their own, larger limit. A declared oversize body is refused before a byte of it is
 * read; a body of undeclared length is read up to the limit.
 */
export const bodyLimitPlugin = (maxBytes: number, maxUploadBytes = maxBytes) =>
  new Elysia({ name: "body-limit" })
    .onRequest(({ request }) => {
      const declared = request.headers.get("content-length");
      const [limit, flag] = isMultipart(request) ? [maxUploadBytes, "max-audio-bytes"] : [maxBytes, "max-body-bytes"];
      if (declared !== null && Number(declared) > limit) throw bodyTooLarge(limit, flag);
    })
    .onParse({ as: "global" }, async ({ request }) => {
      if (!request.body) return;
      if (isMultipart(request)) {
        const bytes = request.headers.has("content-length") ? await request.bytes() : await readCapped(request.body, maxUploadBytes, "max-audio-bytes");
        return formFields(bytes, request.headers.get("content-type")!);
      }
      const bytes = request.headers.has("content-length") ? await request.bytes() : await readCapped(request.body, maxBytes);
      const text = new TextDecoder().decode(bytes);
      if (text.trim() === "") throw invalidRequest("The request body is empty: send a JSON object (content-type: application/json).");
      let value: unknown;
      try {
        value = parseJsonBody(text, request);
      } catch {
        throw toOpenAIError(undefined, "PARSE");
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw invalidRequest("The request body must be a JSON object.");
      }
      return value;
    });
