import type { RunFeed } from "./completion-run.ts";
import { planCompletion, type CompletionRequest } from "./completions.ts";
import { systemFingerprint } from "./fingerprint.ts";
import { ModelHost, type EngineSettings, type ModelLoaders } from "./model-host.ts";
import type { ModelSpec } from "./registry.ts";
import type { EngineObserver } from "./engine-events.ts";
import { TextModel } from "./text-model.ts";
import { detokenizeWith, tokenizeWith, type TokenizeRequest, type TokenizeResult } from "./tokenize.ts";

export interface StartedCompletion {
  modelId: string;
  systemFingerprint: string;
  promptTokens: number;
  cancel(): void;
}

const GENERATION_LOADERS: ModelLoaders = {
  "text-generation": (spec, settings) => TextModel.load(spec, settings.session, settings.scheduler, { fp16Weights: settings.fp16Weights, tiedHead: settings.tiedHead }),
};

/**
 * The generation worker's host (src/engine/generation-worker.ts): text models only, each with its scheduler, and
 * what is asked of them: completions, tokenizing and detokenizing.
 */
export class GenerationHost extends ModelHost {
  constructor(specs: readonly ModelSpec[], settings: EngineSettings, observe?: EngineObserver) {
    super(specs, settings, GENERATION_LOADERS, observe);
  }

  /**
   * Loads the model if needed, tokenizes and queues the request; throws (before any output) when it cannot be
   * served, QueueFullError included. Output and the end of the run go to `feed`; `request.signal` cancels it, and a
   * request cancelled while its model loaded is never queued.
   */
  async startCompletion(request: CompletionRequest, feed: RunFeed): Promise<StartedCompletion> {
    const lease = await this.acquire(request.model, "text-generation");
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      lease.done();
    };
    try {
      const model = lease.model;
      const plan = planCompletion(model, request);
      const started = { modelId: model.spec.id, systemFingerprint: systemFingerprint(model.spec), promptTokens: plan.promptTokens };
      if (request.signal?.aborted) {
        release();
        feed.done(0);
        return { ...started, cancel() {} };
      }
      const handle = model.scheduler.submit({
        ...plan.job,
        sink: {
          events: (events) => feed.events(events),
          done: (tokens, cached) => {
            release();
            feed.done(tokens, cached);
          },
          fail: (error) => {
            release();
            feed.fail(error);
          },
        },
      });
      request.signal?.addEventListener("abort", handle.cancel, { once: true });
      return { ...started, cancel: handle.cancel };
    } catch (error) {
      release();
      throw error;
    }
  }

  tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    return this.withModel(request.model, "text-generation", async (model) => tokenizeWith(model, request));
  }

  detokenize(model: string, tokens: readonly number[]): Promise<string> {
    return this.withModel(model, "text-generation", async (loaded) => detokenizeWith(loaded, tokens));
  }
}
