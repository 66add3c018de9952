import { OutputConstraints } from "./constraints/output-constraints.ts";
import type { OutputFormat, ToolSet } from "./constraints/structured-request.ts";
import { ConstraintSourceError } from "./constraints/tool-call-grammar.ts";
import { ChatTemplateMissingError, ContextLengthError, InvalidInputError, OutputConstraintError, TemplateRenderError } from "./errors.ts";
import type { GenerationJob } from "./generation-job.ts";
import { choiceSeed } from "./rng.ts";
import type { SamplingParams } from "./sampler.ts";
import type { TextModel } from "./text-model.ts";
import type { ChatMessage } from "./tokenizer.ts";

export type { CompletionEvent, CompletionFinishReason, CompletionRun } from "./completion-run.ts";

/** Sampling as the sampler takes it (logit-bias ids are checked against the model's vocabulary here). */
interface GenerationOptions extends Omit<SamplingParams, "seed"> {
  model: string;
  /** Undefined: as many as fit in the context. */
  maxTokens?: number;
  n: number;
  /** The request's 64-bit seed; each choice draws from its own stream derived from it. */
  seed?: bigint;
  stop: readonly string[];
  /** What the output must be (JSON, a schema); plain text when absent. */
  format?: OutputFormat;
  /** Tools the model may (or must) call; chat requests only. */
  tools?: ToolSet;
  /** Report each token's log-probability with this many alternatives; absent: none. */
  logprobs?: number;
  /** Output each prompt before its choices' text (with its logprobs when `logprobs` is set); allows maxTokens 0. */
  echo?: boolean;
  /** Aborting stops the generation (client gone, deadline passed). */
  signal?: AbortSignal;
}

/**
 * A generation request in engine terms (the HTTP layer converts the wire request once): raw prompts (text or token
 * ids) for text completions, or a conversation rendered with the model's chat template.
 */
export type CompletionRequest = GenerationOptions &
  (
    | { prompts: ReadonlyArray<string | readonly number[]>; messages?: undefined }
    | { messages: readonly ChatMessage[]; template?: ChatTemplateChoice; prompts?: undefined }
  );

/** Per request: a template to render this conversation with instead of the model's, and variables it may read. */
export interface ChatTemplateChoice {
  /** Jinja source, as in tokenizer_config.json's chat_template. */
  source?: string;
  /** Extra names the template sees (e.g. `enable_thinking`). */
  variables?: Readonly<Record<string, unknown>>;
}

export interface CompletionPlan {
  job: Omit<GenerationJob, "sink">;
  promptTokens: number;
}

/**
 * Tokenizes and checks a request, and lays it out for the scheduler: one choice per prompt and sample, and one prefill
 * per distinct prompt (the `n` samples of a prompt, and repeated prompts, share it). Throws before any output when
 * the request cannot be served.
 */
export function planCompletion(model: TextModel, request: CompletionRequest): CompletionPlan {
  const constraint = compileConstraint(model, request);
  // What the model is fed: an empty prompt is fed the start-of-text token, and counted as such.
  const prompts = (
    request.messages
      ? [renderChat(model, request.messages, request.tools, request.template)]
      : request.prompts.map((prompt, i) => tokenizePrompt(model, prompt, `prompts[${i}]`))
  ).map((ids) => (ids.length > 0 ? ids : startIds(model)));
  const longest = Math.max(...prompts.map((ids) => ids.length));
  const maxTokens = request.maxTokens ?? model.contextLength - longest;
  const least = request.echo ? 0 : 1;
  if (longest + maxTokens > model.contextLength || maxTokens < least) {
    throw new ContextLengthError(model.contextLength, longest, request.maxTokens ?? 1, request.messages ? "messages" : "prompts");
  }
  for (const [id] of request.logitBias ?? []) {
    if (id >= model.vocabSize) {
      throw new InvalidInputError(`Token id ${id} in the logit bias is out of range for this model's vocabulary (size ${model.vocabSize}).`, "logitBias");
    }
  }
  const distinct = new Map<string, number>();
  const inputs: number[][] = [];
  const promptTexts: string[] = [];
  const choices: CompletionPlan["job"]["choices"][number][] = [];
  prompts.forEach((ids, i) => {
    const key = ids.join(",");
    let prompt = distinct.get(key);
    if (prompt === undefined) {
      prompt = inputs.push(ids) - 1;
      distinct.set(key, prompt);
      if (request.echo && request.prompts) promptTexts.push(echoText(model, request.prompts[i]!));
    }
    for (let j = 0; j < request.n; j++) {
      const index = choices.length;
      const { temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias } = request;
      const seed = request.seed === undefined ? undefined : choiceSeed(request.seed, index);
      const sampling = { temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, seed };
      choices.push({ prompt, params: { maxTokens, sampling, stop: request.stop, logprobs: request.logprobs, echo: request.echo, constraint } });
    }
  });
  const job = { prompts: inputs, choices, ...(request.echo ? { promptTexts } : {}) };
  return { job, promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0) };
}

/** An echoed prompt reads as the client wrote it; token ids read as their text. */
function echoText(model: TextModel, prompt: string | readonly number[]): string {
  return typeof prompt === "string" ? prompt : model.tokenizer.decode(prompt);
}

/**
 * Renders with the request's template, else the registry's, else the model's own. Tools with `none` are not shown
 * to the model. A render failure blames what the request changed: its template, else its variables.
 */
export function renderChat(model: TextModel, messages: readonly ChatMessage[], tools?: ToolSet, choice: ChatTemplateChoice = {}): number[] {
  const template = choice.source ?? model.spec.chatTemplate;
  if (!model.tokenizer.hasChatTemplate(template)) throw new ChatTemplateMissingError(model.spec.id);
  const shown = tools && tools.choice.type !== "none" && tools.tools.length > 0 ? tools.tools : undefined;
  try {
    return model.tokenizer.renderChat(messages, template, shown, choice.variables);
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    const variables = choice.variables !== undefined && Object.keys(choice.variables).length > 0;
    throw new TemplateRenderError(error.reason, choice.source !== undefined ? "template" : variables ? "templateVariables" : "messages");
  }
}

const constraintsByModel = new WeakMap<TextModel, OutputConstraints>();

/** The request's output constraint, compiled (or reused) for this model's vocabulary; undefined for plain text. */
function compileConstraint(model: TextModel, request: CompletionRequest) {
  const format = request.format ?? { type: "text" };
  if (format.type === "text" && (!request.tools || request.tools.choice.type === "none")) return undefined;
  let constraints = constraintsByModel.get(model);
  if (!constraints) {
    constraints = new OutputConstraints(() => model.tokenizer.tokenTexts(model.vocabSize), model.eosIds);
    constraintsByModel.set(model, constraints);
  }
  try {
    return constraints.compile(format, request.tools);
  } catch (error) {
    if (!(error instanceof ConstraintSourceError)) throw error;
    const { keyword, path } = error.error;
    throw new OutputConstraintError(error.message, keyword, path, error.toolIndex);
  }
}

export function tokenizePrompt(model: TextModel, prompt: string | readonly number[], argument: string): number[] {
  if (typeof prompt === "string") return model.tokenizer.encode(prompt);
  const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize);
  if (bad !== undefined) {
    throw new InvalidInputError(
      `token id ${bad} is outside the vocabulary of the model '${model.spec.id}' (ids 0 to ${model.vocabSize - 1})`,
      argument,
    );
  }
  return [...prompt];
}

/** An empty prompt is conditioned on the start-of-text token, as GPT-2-style models were trained. */
function startIds(model: TextModel): number[] {
  const first = model.eosIds.values().next();
  return first.done ? [0] : [first.value];
}
