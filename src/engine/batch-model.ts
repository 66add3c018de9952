/** The cache of some rows: opaque to the scheduler apart from its size. */
export interface KvShape {
  readonly rows: number;
  readonly width: number;
}

export interface StepOutput<K> {
  /** `rows × vocab` next-token logits (prefill: the last position of each row, or every position: LogitPositions). */
  logits: Float32Array;
  kv: K;
}

/** One row of a block with the number of real positions it holds (the last `length` of the block's width). */
export interface RowSource<K> {
  kv: K;
  row: number;
  length: number;
}

/** One prompt's next chunk in a batched prefill, after the positions it has cached already (none: `past` absent). */
export interface PrefillRow<K> {
  ids: readonly number[];
  past?: RowSource<K>;
  /** Positions the whole prompt takes (a model that extends caches in place gives the row room for them at once). */
  room?: number;
}

/**
 * Which positions of a prefill chunk return logits: the last (the next token), or every one (`ids.length × vocab`,
 * for echo with logprobs, which scores each prompt token; the LM head over every position costs more than the rest of
 * a short step, so it is asked for explicitly).
 */
export type LogitPositions = "last" | "all";

/** What the scheduler needs from a model; src/engine/decoder.ts is the real one. */
export interface BatchModel<K extends KvShape> {
  readonly vocabSize: number;
  /** False when left padding would change the output: the scheduler then runs one sequence at a time. */
  readonly supportsPadding: boolean;
  /** False: a prompt chunk after cached positions runs alone, never next to other prompts (default true). */
  readonly batchesResumedPrompts?: boolean;
  /** Cache bytes per position of one sequence (keys and values of every layer); unknown: the budget counts nothing. */
  readonly kvBytesPerPosition?: number;
  emptyKv(): K;
  /** `room`: positions the whole prompt takes (a hint for models that extend caches in place). */
  prefill(ids: readonly number[], past: K, positions?: LogitPositions, room?: number): Promise<StepOutput<K>>;
  /**
   * Several prompts' chunks in one left-padded run; row r of the returned cache holds `past` and `ids` of `rows[r]`,
   * right-aligned. A row with cached positions must have as many ids as the longest row, so that its cache and its new
   * positions stay contiguous. Logits are each row's last position.
   */
  prefillBatch(rows: ReadonlyArray<PrefillRow<K>>): Promise<StepOutput<K>>;
  decode(kv: K, tokens: readonly number[], lengths: readonly number[]): Promise<StepOutput<K>>;
  /** `forDecode`: the block becomes the decode batch's (the model may put it where decode steps write). */
  pack(sources: ReadonlyArray<RowSource<K>>, forDecode?: boolean): K;
  /**
   * A decode step consumes its input: the model may write later steps' caches over it. A decode block that leaves the
   * batch another way (re-packed into a new block) is given back with `retire`; when the batch empties, every buffer
   * kept for decode steps may go (`releaseDecodeBuffers`).
   */
  retire?(kv: K): void;
  releaseDecodeBuffers?(): void;
}
