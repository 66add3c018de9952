import { Elysia } from "elysia";
import { startTrace, traceOf } from "./request-trace.ts";
import type { Telemetry } from "./telemetry.ts";

/** What a request body says about the model and prompt, whatever the protocol. */
function bodyFacts(body: unknown): { model?: string; prompt?: unknown } {
  if (typeof body !== "object" || body === null) return {};
  const fields = body as Record<string, unknown>;
  return {
    model: typeof fields.model === "string" ? fields.model : undefined,
    prompt: fields.messages ?? fields.prompt ?? fields.input,
  };
}

/**
 * One trace per request, from its arrival (before any other hook, so refusals are counted too) to the end of its
 * answer; the app's error handler gives failures their status (`markFailed`). Mount it first.
 */
export const requestLogPlugin = (telemetry: Telemetry) =>
  new Elysia({ name: "request-log" })
    .onRequest(({ request, set }) => {
      const trace = startTrace(request, telemetry.logger.prompts, (ended) => telemetry.requestEnded(ended));
      set.headers["x-request-id"] = trace.id;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, body, responseValue }) => {
      const trace = traceOf(request);
      if (!trace) return;
      trace.route ??= route || undefined;
      const facts = bodyFacts(body);
      trace.model ??= facts.model;
      if (trace.captureText && facts.prompt !== undefined) trace.prompt = JSON.stringify(facts.prompt);
      // Routes that answer without a run (embeddings) still report their usage.
      trace.promptTokens ??= usagePromptTokens(responseValue);
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      trace.respond(status);
    });

function usagePromptTokens(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null || !("usage" in value)) return undefined;
  const usage = (value as { usage: unknown }).usage;
  if (typeof usage !== "object" || usage === null) return undefined;
  const tokens = (usage as Record<string, unknown>).prompt_tokens;
  return typeof tokens === "number" ? tokens : undefined;
}

/** Called by the app's single error mapping with the status it answers. */
export function markFailed(request: Request, status: number, route?: string): void {
  const trace = traceOf(request);
  if (!trace) return;
  trace.status ??= status;
  if (route) trace.route ??= route;
}
