import { ChatTemplateMissingError, ContextLengthError, InvalidInputError } from "./errors.ts";
import { generateSequence, prefill, type FinishReason } from "./generator.ts";
import type { Lease } from "./model-cache.ts";
import type { TextModel } from "./text-model.ts";
import type { ChatMessage } from "./tokenizer.ts";

interface GenerationOptions {
  model: string;
  /** Undefined: as many as fit in the context. */
  maxTokens?: number;
  n: number;
  temperature: number;
  topP: number;
  seed?: number;
  stop: readonly string[];
  signal?: AbortSignal;
}

/**
 * A generation request in engine terms (the HTTP layer converts the wire request once): raw prompts (text or token
 * ids) for text completions, or a conversation rendered with the model's chat template.
 */
export type CompletionRequest = GenerationOptions &
  (
    | { prompts: ReadonlyArray<string | readonly number[]>; messages?: undefined }
    | { messages: readonly ChatMessage[]; prompts?: undefined }
  );

export type CompletionEvent =
  | { kind: "text"; index: number; text: string }
  | { kind: "finish"; index: number; reason: FinishReason };

/** A validated request, ready to generate: prompt tokens are known before any output is produced. */
export interface CompletionRun {
  readonly modelId: string;
  readonly promptTokens: number;
  /** Valid once `events()` has finished. */
  readonly completionTokens: number;
  /** Choice `i * n + j` is the j-th sample of prompt i, as OpenAI numbers them. Releases the model when done. */
  events(): AsyncGenerator<CompletionEvent>;
  /** Releases the model without generating (or after); safe to call more than once. */
  close(): void;
}

export function prepareCompletion(lease: Lease<TextModel>, request: CompletionRequest): CompletionRun {
  const model = lease.model;
  let prompts: number[][];
  try {
    prompts = request.messages
      ? [renderChat(model, request.messages)]
      : request.prompts.map((prompt) => tokenizePrompt(model, prompt));
  } catch (error) {
    lease.done();
    throw error;
  }
  const longest = Math.max(...prompts.map((ids) => ids.length));
  const maxTokens = request.maxTokens ?? model.contextLength - longest;
  if (longest + maxTokens > model.contextLength || maxTokens < 1) {
    lease.done();
    throw new ContextLengthError(model.contextLength, longest, request.maxTokens ?? 1, request.messages ? "messages" : "prompt");
  }
  let completionTokens = 0;
  return {
    modelId: model.spec.id,
    promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0),
    get completionTokens() {
      return completionTokens;
    },
    close: () => lease.done(),
    async *events() {
      try {
        for (const [p, userIds] of prompts.entries()) {
          const ids = userIds.length > 0 ? userIds : startIds(model);
          const start = await prefill(model, ids);
          for (let j = 0; j < request.n; j++) {
            const index = p * request.n + j;
            const sampling = {
              temperature: request.temperature,
              topP: request.topP,
              seed: request.seed === undefined ? undefined : request.seed + index,
            };
            const sequence = generateSequence(model, ids, start, { maxTokens, sampling, stop: request.stop }, request.signal);
            for await (const event of sequence) {
              if (event.kind === "text") yield { kind: "text", index, text: event.text };
              else {
                completionTokens += event.completionTokens;
                yield { kind: "finish", index, reason: event.reason };
              }
            }
            if (request.signal?.aborted) return;
          }
        }
      } finally {
        lease.done();
      }
    },
  };
}

export function renderChat(model: TextModel, messages: readonly ChatMessage[]): number[] {
  const template = model.spec.chatTemplate;
  if (!model.tokenizer.hasChatTemplate(template)) throw new ChatTemplateMissingError(model.spec.id);
  return model.tokenizer.renderChat(messages, template);
}

export function tokenizePrompt(model: TextModel, prompt: string | readonly number[], field = "prompt"): number[] {
  if (typeof prompt === "string") return model.tokenizer.encode(prompt);
  const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize);
  if (bad !== undefined) {
    throw new InvalidInputError(`Token id ${bad} is out of range for this model's vocabulary (size ${model.vocabSize}).`, field);
  }
  return [...prompt];
}

/** An empty prompt is conditioned on the start-of-text token, as GPT-2-style models were trained. */
function startIds(model: TextModel): number[] {
  const first = model.eosIds.values().next();
  return first.done ? [0] : [first.value];
}
