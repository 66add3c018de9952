/** The cache of some rows: opaque to the scheduler apart from its size. */
export interface KvShape {
  readonly rows: number;
  readonly width: number;
}

export interface StepOutput<K> {
  /** `rows × vocab` next-token logits (prefill: the last position of its one row). */
  logits: Float32Array;
  kv: K;
}

/** What the scheduler needs from a model; src/engine/decoder.ts is the real one. */
export interface BatchModel<K extends KvShape> {
  readonly vocabSize: number;
  /** False when left padding would change the output: the scheduler then runs one sequence at a time. */
  readonly supportsPadding: boolean;
  emptyKv(): K;
  prefill(ids: readonly number[], past: K): Promise<StepOutput<K>>;
  decode(kv: K, tokens: readonly number[], lengths: readonly number[]): Promise<StepOutput<K>>;
  pack(sources: ReadonlyArray<{ kv: K; row: number; length: number }>): K;
}
