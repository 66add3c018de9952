import type { ModelSpec } from "./registry.ts";

/** What runtime/speech-models.ts loads for a speech model: the sessions and processors, released together. */
export interface SpeechRuntime {
  dispose(): Promise<void>;
}

/**
 * The part every speech model (recognition, synthesis) shares: its registry entry and the runtime that holds its
 * sessions and processors. Each subclass loads its own runtime and says what it does with it.
 */
export abstract class SpeechModelBase<Runtime extends SpeechRuntime> {
  protected constructor(
    readonly spec: ModelSpec,
    protected readonly runtime: Runtime,
  ) {}

  release(): Promise<void> {
    return this.runtime.dispose();
  }
}
