import { afterAll, beforeAll, describe, expect } from "bun:test";
import OpenAI from "openai";
import { serverModes, startServer, type RunningServer, type ServerMode, type StartOptions } from "./harness.ts";

export interface ServerContext {
  readonly server: RunningServer;
  readonly client: OpenAI;
  /** Raw fetch against the server, for what the SDK hides (status codes, headers, SSE framing). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * Runs the same end-to-end tests against the server from source and against the compiled binary, each started with
 * `start` (flags, environment).
 */
export function describeEachMode(name: string, body: (ctx: () => ServerContext, mode: ServerMode) => void, start: Omit<StartOptions, "mode"> = {}): void {
  for (const mode of serverModes()) {
    describe(`${name} [${mode}]`, () => {
      let context: ServerContext | undefined;
      beforeAll(async () => {
        const server = await startServer({ ...start, mode });
        const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: "unused", maxRetries: 0 });
        const post = (path: string, payload: unknown, headers: Record<string, string> = {}) =>
          fetch(`${server.baseURL}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: typeof payload === "string" ? payload : JSON.stringify(payload),
          });
        context = { server, client, post };
      });
      afterAll(async () => {
        await context?.server.stop();
      });
      body(() => {
        if (!context) throw new Error("server not started");
        return context;
      }, mode);
    });
  }
}

/** Parses an SSE body into its `data:` payloads, checking OpenAI's framing on the way. */
export function parseSse(text: string): string[] {
  if (!text.endsWith("\n\n")) throw new Error("SSE body does not end with a blank line");
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((event) => {
      if (!event.startsWith("data: ") || event.includes("\n")) throw new Error(`malformed SSE event: ${event}`);
      return event.slice("data: ".length);
    });
}

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Reads an error response, checking it is OpenAI's envelope with exactly its four fields. */
export async function errorOf(response: Response): Promise<ErrorEnvelope["error"]> {
  const body = (await response.json()) as ErrorEnvelope;
  if (Object.keys(body).join() !== "error" || Object.keys(body.error).sort().join() !== "code,message,param,type") {
    throw new Error(`not an OpenAI error envelope: ${JSON.stringify(body)}`);
  }
  return body.error;
}

/** Reads a JSON body whose shape the test then asserts. */
export async function jsonOf<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Checks a 400 answer refusing `model` as one the server cannot serve, with the reason it gives. */
export async function expectNotServable(response: Response, model: string, reason: string): Promise<void> {
  expect(response.status).toBe(400);
  expect(await errorOf(response)).toEqual({
    message: `The model '${model}' cannot be served: ${reason}.`,
    type: "invalid_request_error",
    param: "model",
    code: "model_not_supported",
  });
}
