import { Elysia } from "elysia";
import type { CompletionEvent, CompletionFinishReason, CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import type { Limits } from "../config.ts";
import { inRoute, unsupportedParameter } from "../errors.ts";
import {
  CompletionCreateParams,
  type Completion,
  type CompletionChoice,
  type FinishReason,
} from "../openai/completions.ts";
import { toEngineSampling, usageOf } from "./generation-params.ts";
import { envelope, exchangeOf, serveGeneration, type Head } from "./generation-response.ts";
import { checkCompletionLimits } from "./limits.ts";
import { listParamOf } from "./param-names.ts";

const DEFAULT_MAX_TOKENS = 16;

export const completionsRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "completions" }).post(
    "/v1/completions",
    ({ body, request, server }) => {
      refuseUnsupported(body);
      checkCompletionLimits(body, limits);
      const sampling = toEngineSampling(body);
      const prompts = toPromptList(body.prompt);
      const maxTokens = body.max_tokens ?? DEFAULT_MAX_TOKENS;
      return serveGeneration(
        exchangeOf({ request, server }, body, limits.requestTimeoutSeconds),
        (signal) =>
          inRoute(engine.createCompletion({ ...sampling, model: body.model, prompts, maxTokens, signal }), {
            route: "/v1/completions",
            paramOf: listParamOf("prompts", "prompt", prompts === body.prompt),
          }),
        {
          idPrefix: "cmpl-",
          collect: (run, head) => collect(run, head, sampling.n * prompts.length),
          chunks: streamChunks,
        },
      );
    },
    { body: CompletionCreateParams },
  );

function refuseUnsupported(body: CompletionCreateParams): void {
  if (body.echo) throw unsupportedParameter("echo", "Only false is accepted.");
  if (body.logprobs != null) throw unsupportedParameter("logprobs", "Only null is accepted.");
  if (body.suffix) throw unsupportedParameter("suffix");
  if (body.best_of != null && body.best_of !== (body.n ?? 1)) {
    throw unsupportedParameter("best_of", "Only a value equal to 'n' is accepted.");
  }
}

function toPromptList(prompt: CompletionCreateParams["prompt"]): Array<string | number[]> {
  if (typeof prompt === "string") return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === "number") return [prompt as number[]];
  return prompt as string[] | number[][];
}

async function collect(run: CompletionRun, head: Head, choiceCount: number): Promise<Completion> {
  const choices: CompletionChoice[] = Array.from({ length: choiceCount }, (_, index) => ({
    text: "",
    index,
    logprobs: null,
    finish_reason: null,
  }));
  for await (const event of run.events()) {
    const choice = choices[event.index];
    if (!choice) continue;
    if (event.kind === "text") choice.text += event.text;
    else if (event.kind === "finish") choice.finish_reason = textFinishReason(event.reason);
  }
  return { ...envelope(head, "text_completion"), choices, usage: usageOf(run) };
}

async function* streamChunks(run: CompletionRun, head: Head, includeUsage: boolean): AsyncGenerator<Completion> {
  const usage = includeUsage ? { usage: null } : {};
  const chunk = (event: CompletionEvent): Completion => ({
    ...envelope(head, "text_completion"),
    choices: [
      {
        text: event.kind === "text" ? event.text : "",
        index: event.index,
        logprobs: null,
        finish_reason: event.kind === "finish" ? textFinishReason(event.reason) : null,
      },
    ],
    ...usage,
  });
  for await (const event of run.events()) yield chunk(event);
  if (includeUsage) yield { ...envelope(head, "text_completion"), choices: [], usage: usageOf(run) };
}

/** Text completions take no tools, so their choices never finish with "tool_calls". */
function textFinishReason(reason: CompletionFinishReason): FinishReason {
  if (reason === "tool_calls") throw new Error("a text completion finished with tool calls");
  return reason;
}
