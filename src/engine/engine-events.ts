/**
 * What the engine reports about itself as it works, as plain data (it crosses from the engine worker in a message):
 * the HTTP side turns these into logs and metrics. The engine itself knows nothing of either.
 */
export type EngineEvent =
  /** One batched decode step ran with `rows` sequences. */
  | { kind: "step"; model: string; rows: number }
  /** A model finished loading (or failed to). */
  | { kind: "load"; model: string; ok: boolean; seconds: number; files: LoadedFile[]; bytes: number; error?: string };

export interface LoadedFile {
  /** Relative to the model's folder. */
  path: string;
  bytes: number;
}

export type EngineObserver = (event: EngineEvent) => void;
