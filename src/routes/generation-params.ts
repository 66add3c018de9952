import type { CompletionRun } from "../engine/completions.ts";
import { invalidRequest, unsupportedParameter } from "../errors.ts";
import type { CompletionUsage } from "../openai/completions.ts";

/** The sampling fields chat and text completions share, as they arrive on the wire. */
export interface WireSampling {
  n?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
}

export interface EngineSampling {
  n: number;
  temperature: number;
  topP: number;
  seed?: bigint;
  stop: string[];
}

/**
 * Converts the shared fields once, refusing (never silently ignoring) values gpt3dev cannot honour yet;
 * neutral values such as `frequency_penalty: 0` are accepted.
 */
export function toEngineSampling(body: WireSampling): EngineSampling {
  if (body.stream_options != null && body.stream !== true) {
    throw invalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
  }
  if (body.frequency_penalty) throw unsupportedParameter("frequency_penalty", "Only 0 is accepted.");
  if (body.presence_penalty) throw unsupportedParameter("presence_penalty", "Only 0 is accepted.");
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw unsupportedParameter("logit_bias");
  return {
    n: body.n ?? 1,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed == null ? undefined : BigInt.asIntN(64, BigInt(body.seed)),
    stop: toStopList(body.stop),
  };
}

function toStopList(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  return list.filter((s) => s.length > 0);
}

export function requestId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll("-", "")}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function usageOf(run: CompletionRun): CompletionUsage {
  return {
    prompt_tokens: run.promptTokens,
    completion_tokens: run.completionTokens,
    total_tokens: run.promptTokens + run.completionTokens,
    prompt_tokens_details: { cached_tokens: run.cachedTokens },
  };
}
