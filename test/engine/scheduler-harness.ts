// Drives a Scheduler over the fake model: submits requests and reads their output back as token ids.
import type { TokenDecoder } from "../../src/engine/detokenizer.ts";
import type { ChoiceEvent, SchedulerOptions } from "../../src/engine/generation-job.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import type { SequenceParams } from "../../src/engine/sequence.ts";
import { EOS, FakeModel, idsOf, letters } from "./fake-model.ts";

export const FAKE_MODEL_ID = "fake-model";

export const OPTIONS: SchedulerOptions = { maxBatch: 8, maxQueue: 64, prefillChunk: 256 };

export interface Request {
  prompts: number[][];
  n?: number;
  params?: Partial<SequenceParams>;
}

export interface Outcome {
  /** Generated ids per choice, read back from the letters the fake tokenizer writes. */
  ids: number[][];
  finish: string[];
  tokens: number;
  /** Prompt tokens the scheduler took from its prefix cache. */
  cached: number;
  events: ChoiceEvent[];
}

export function params(p: Partial<SequenceParams> = {}): SequenceParams {
  return { maxTokens: 6, stop: [], ...p, sampling: { temperature: 0, topP: 1, ...p.sampling } };
}

/** Submits a request and collects its output; `onEvents` may cancel it. */
export function submit(
  scheduler: Scheduler<any>,
  request: Request,
  onEvents?: (events: ChoiceEvent[], cancel: () => void) => void,
): Promise<Outcome> {
  const n = request.n ?? 1;
  const choices = request.prompts.flatMap((_, p) =>
    Array.from({ length: n }, (_, j) => {
      const base = params(request.params);
      const seed = base.sampling.seed === undefined ? undefined : BigInt(base.sampling.seed) + BigInt(p * n + j);
      return { prompt: p, params: { ...base, sampling: { ...base.sampling, seed } } };
    }),
  );
  return new Promise((resolve, reject) => {
    const outcome: Outcome = { ids: choices.map(() => []), finish: [], tokens: 0, cached: 0, events: [] };
    let cancel = () => {};
    const handle = scheduler.submit({
      prompts: request.prompts,
      choices,
      sink: {
        events(events) {
          outcome.events.push(...events);
          for (const e of events) {
            if (e.kind === "text") outcome.ids[e.index]!.push(...idsOf(e.text));
            else outcome.finish[e.index] = e.reason;
          }
          onEvents?.(events, cancel);
        },
        done(tokens, cached = 0) {
          outcome.tokens = tokens;
          outcome.cached = cached;
          resolve(outcome);
        },
        fail: reject,
      },
    });
    cancel = handle.cancel;
  });
}

export const prompt = (length: number, start = 2) => Array.from({ length }, (_, i) => start + ((i * 7) % 30));

export function scheduler(options: Partial<SchedulerOptions> = {}, model = new FakeModel(), tokenizer: TokenDecoder = letters) {
  return { model, scheduler: new Scheduler(model, tokenizer, new Set([EOS]), { ...OPTIONS, ...options }, FAKE_MODEL_ID) };
}

export async function alone(request: Request, options: Partial<SchedulerOptions> = {}, model = new FakeModel()): Promise<Outcome> {
  return submit(scheduler({ ...options, maxBatch: 1 }, model).scheduler, request);
}

