import { Elysia } from "elysia";
import type { CompletionEvent, CompletionFinishReason, CompletionRun } from "../engine/completions.ts";
import type { Engine } from "../engine/engine.ts";
import type { TokenLogprob } from "../engine/token-logprobs.ts";
import type { Limits } from "../config.ts";
import { inRoute, invalidRequest, unsupportedParameter } from "../errors.ts";
import { exactSeedOf } from "../http/exact-seed.ts";
import {
  CompletionCreateParams,
  type Completion,
  type CompletionChoice,
  type FinishReason,
} from "../openai/completions.ts";
import { toEngineSampling, usageOf } from "./generation-params.ts";
import { envelope, exchangeOf, serveGeneration, type Head } from "./generation-response.ts";
import { checkCompletionLimits } from "./limits.ts";
import { meanLogprob, toCompletionLogprobs } from "./logprobs-format.ts";
import { listParamOf } from "./param-names.ts";

const DEFAULT_MAX_TOKENS = 16;

export const completionsRoutes = (engine: Engine, limits: Limits) =>
  new Elysia({ name: "completions" }).post(
    "/v1/completions",
    ({ body, request, server }) => {
      refuseUnsupported(body);
      checkCompletionLimits(body, limits);
      const sampling = toEngineSampling(body, exactSeedOf(request));
      const prompts = toPromptList(body.prompt);
      const maxTokens = body.max_tokens ?? DEFAULT_MAX_TOKENS;
      const n = sampling.n;
      const bestOf = Math.max(n, body.best_of ?? n);
      const shown = body.logprobs != null;
      // best_of ranks candidates by their tokens' mean logprob, so it needs them even when they are not returned.
      const logprobs = body.logprobs ?? (bestOf > n ? 0 : undefined);
      const echo = body.echo === true;
      const promptParam = listParamOf("prompts", "prompt", prompts === body.prompt);
      return serveGeneration(
        exchangeOf({ request, server }, body, limits.requestTimeoutSeconds),
        (signal) =>
          inRoute(engine.createCompletion({ ...sampling, n: bestOf, model: body.model, prompts, maxTokens, echo, logprobs, signal }), {
            route: "/v1/completions",
            paramOf: (argument) => (argument === "logitBias" ? "logit_bias" : promptParam(argument)),
          }),
        {
          idPrefix: "cmpl-",
          collect: async (run, head) => {
            const candidates = await collect(run, bestOf * prompts.length, shown);
            const choices = bestOf > n ? pickBest(candidates, n, bestOf) : candidates.map((c) => c.choice);
            return { ...envelope(head, "text_completion"), choices, usage: usageOf(run) };
          },
          chunks: (run, head, includeUsage) => streamChunks(run, head, includeUsage, shown),
        },
      );
    },
    { body: CompletionCreateParams },
  );

function refuseUnsupported(body: CompletionCreateParams): void {
  if (body.suffix) throw unsupportedParameter("suffix");
  const n = body.n ?? 1;
  if (body.best_of != null && body.best_of < n) throw invalidRequest("'best_of' must be greater than or equal to 'n'.", "best_of");
  if (body.best_of != null && body.best_of > n && body.stream) {
    throw invalidRequest("'best_of' greater than 'n' cannot be streamed: the best candidates are known only at the end.", "best_of");
  }
  if (body.max_tokens === 0 && body.echo !== true) {
    throw invalidRequest("'max_tokens' 0 only scores a prompt, which needs 'echo': true.", "max_tokens");
  }
}

function toPromptList(prompt: CompletionCreateParams["prompt"]): Array<string | number[]> {
  if (typeof prompt === "string") return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === "number") return [prompt as number[]];
  return prompt as string[] | number[][];
}

interface Candidate {
  choice: CompletionChoice;
  /** Logprobs of the generated tokens (echoed prompt tokens aside), which best_of ranks by. */
  generated: TokenLogprob[];
  offset: number;
}

async function collect(run: CompletionRun, count: number, shown: boolean): Promise<Candidate[]> {
  const candidates: Candidate[] = Array.from({ length: count }, (_, index) => ({
    choice: { text: "", index, logprobs: null, finish_reason: null },
    generated: [],
    offset: 0,
  }));
  for await (const event of run.events()) {
    const candidate = candidates[event.index];
    if (!candidate) continue;
    const { choice } = candidate;
    if (event.kind === "finish") {
      choice.finish_reason = textFinishReason(event.reason);
      continue;
    }
    if (event.kind !== "text") continue;
    choice.text += event.text;
    if (!event.logprobs) continue;
    if (!event.prompt) candidate.generated.push(...event.logprobs);
    if (!shown) continue;
    const { logprobs, offset } = toCompletionLogprobs(event.logprobs, candidate.offset);
    candidate.offset = offset;
    const all = (choice.logprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] });
    all.tokens.push(...logprobs.tokens);
    all.token_logprobs.push(...logprobs.token_logprobs);
    all.top_logprobs.push(...logprobs.top_logprobs);
    all.text_offset.push(...logprobs.text_offset);
  }
  return candidates;
}

/** Per prompt, the `n` of its `bestOf` candidates with the highest mean token logprob, best first, renumbered. */
function pickBest(candidates: readonly Candidate[], n: number, bestOf: number): CompletionChoice[] {
  const picked: CompletionChoice[] = [];
  for (let p = 0; p * bestOf < candidates.length; p++) {
    const ranked = candidates
      .slice(p * bestOf, (p + 1) * bestOf)
      .map((c) => ({ c, score: meanLogprob(c.generated) }))
      .sort((a, b) => b.score - a.score || a.c.choice.index - b.c.choice.index);
    ranked.slice(0, n).forEach(({ c }, j) => picked.push({ ...c.choice, index: p * n + j }));
  }
  return picked;
}

async function* streamChunks(run: CompletionRun, head: Head, includeUsage: boolean, shown: boolean): AsyncGenerator<Completion> {
  const usage = includeUsage ? { usage: null } : {};
  const offsets = new Map<number, number>();
  const logprobsOf = (event: CompletionEvent): CompletionChoice["logprobs"] => {
    if (!shown || event.kind !== "text" || !event.logprobs) return null;
    const { logprobs, offset } = toCompletionLogprobs(event.logprobs, offsets.get(event.index) ?? 0);
    offsets.set(event.index, offset);
    return logprobs;
  };
  const chunk = (event: CompletionEvent): Completion => ({
    ...envelope(head, "text_completion"),
    choices: [
      {
        text: event.kind === "text" ? event.text : "",
        index: event.index,
        logprobs: logprobsOf(event),
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
