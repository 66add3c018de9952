import { Elysia } from "elysia";
import { invalidRequest, OpenAIError, toOpenAIError } from "../errors.ts";
import { parseJsonBody } from "./exact-seed.ts";

/**
 * Bun.serve's own limit answers 413 with an empty body, before the app sees the request; it is set far above the
 * app's limit so that the app answers with OpenAI's envelope, and only guards against a body no reader consumes.
 */
export const SERVE_BODY_BACKSTOP_BYTES = 2 ** 40;

export function bodyTooLarge(maxBytes: number): OpenAIError {
  return new OpenAIError(
    413,
    `The request body is larger than this server accepts (${maxBytes} bytes; --max-body-bytes).`,
    "invalid_request_error",
    null,
    "request_too_large",
  );
}

/** Reads a body of unknown length (chunked) and stops as soon as it passes the limit. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw bodyTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Every POST route takes a JSON object, read as JSON whatever the content type says (curl's `-d` sends
 * application/x-www-form-urlencoded), as llama.cpp and vLLM do. A declared oversize body is refused before a byte of
 * it is read; a body of undeclared length is read up to the limit.
 */
export const bodyLimitPlugin = (maxBytes: number) =>
  new Elysia({ name: "body-limit" })
    .onRequest(({ request }) => {
      const declared = request.headers.get("content-length");
      if (declared !== null && Number(declared) > maxBytes) throw bodyTooLarge(maxBytes);
    })
    .onParse({ as: "global" }, async ({ request }) => {
      if (!request.body) return;
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
