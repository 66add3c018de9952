import type { CompletionRun } from "../engine/completions.ts";
import { invalidRequest } from "../errors.ts";
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
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
}

/** The sampling part of an engine request; optional fields are left out at their neutral values. */
export interface EngineSampling {
  n: number;
  temperature: number;
  topP: number;
  topK?: number;
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repetitionPenalty?: number;
  logitBias?: Array<[number, number]>;
  seed?: bigint;
  stop: string[];
}

/** Converts the shared fields once (ranges were checked by the schema); neutral values are left out. */
export function toEngineSampling(body: WireSampling, exactSeed?: bigint): EngineSampling {
  if (body.stream_options != null && body.stream !== true) {
    throw invalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
  }
  const seed = toSeed(body.seed, exactSeed);
  const logitBias = toLogitBias(body.logit_bias);
  const optional = {
    // vLLM's -1 and 0 both mean "off".
    topK: (body.top_k ?? 0) > 0 ? body.top_k! : undefined,
    minP: body.min_p || undefined,
    presencePenalty: body.presence_penalty || undefined,
    frequencyPenalty: body.frequency_penalty || undefined,
    repetitionPenalty: body.repetition_penalty != null && body.repetition_penalty !== 1 ? body.repetition_penalty : undefined,
    logitBias: logitBias.length > 0 ? logitBias : undefined,
    seed,
  };
  const sampling: EngineSampling = { n: body.n ?? 1, temperature: body.temperature ?? 1, topP: body.top_p ?? 1, stop: toStopList(body.stop) };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(sampling, { [key]: value });
  return sampling;
}

/**
 * OpenAI's seed is a signed 64-bit integer. JSON numbers past 2^53 reach JavaScript rounded, so the body parser keeps
 * the seed's own digits (`exactSeed`, see http/exact-seed.ts); values outside the 64-bit range are refused.
 */
function toSeed(seed: number | null | undefined, exactSeed: bigint | undefined): bigint | undefined {
  if (seed == null) return undefined;
  const value = exactSeed ?? BigInt(seed);
  if (value < -(2n ** 63n) || value >= 2n ** 63n) {
    throw invalidRequest("'seed' must be a 64-bit signed integer (-9223372036854775808 … 9223372036854775807).", "seed");
  }
  return value;
}

/** Keys are token ids written in decimal, as OpenAI takes them; whether the id exists is the model's to say. */
function toLogitBias(bias: Record<string, number> | null | undefined): Array<[number, number]> {
  if (bias == null) return [];
  return Object.entries(bias).map(([key, value]) => {
    if (!/^(0|[1-9][0-9]{0,9})$/.test(key)) {
      throw invalidRequest(`Invalid key '${key}' in 'logit_bias': keys must be token ids (non-negative integers).`, "logit_bias");
    }
    return [Number(key), value];
  });
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
