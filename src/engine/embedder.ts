import { join } from "node:path";
import { createSession, type Session, type SessionSettings } from "../runtime/session.ts";
import { float32Range } from "../runtime/tensor-dtype.ts";
import { loadTokenizer, type ModelTokenizer } from "../runtime/model-tokenizer.ts";
import { encoderLimits, finiteNumber as num, paddedFeeds, passes, specialTokensAround, truncatedIds, type SpecialTokens } from "./encoder-inputs.ts";
import { readJson } from "./model-config.ts";
import { ContextLengthError, InvalidInputError, UnsupportedFormatError } from "./errors.ts";
import { l2Normalize, pool, truncateDimensions, type PoolingMode } from "./pooling.ts";
import { onnxFileFor, type ModelSpec } from "./registry.ts";
import { readSentenceTransformers } from "./sentence-transformers.ts";

export interface EmbedOptions {
  /** Shorten every vector to this width (Matryoshka models only). */
  dimensions?: number;
}

export interface EmbedResult {
  vectors: Float32Array[];
  /** Tokens the model actually read, special tokens included. */
  promptTokens: number;
}

/** An embeddings request in engine terms; each input is text or the model's own token ids. */
export interface EmbeddingRequest extends EmbedOptions {
  model: string;
  inputs: ReadonlyArray<string | readonly number[]>;
}

export interface EmbeddingResult extends EmbedResult {
  modelId: string;
}

interface EncoderFacts extends SpecialTokens {
  width: number;
  vocabSize: number;
  contextLength: number;
  padId: number;
  pooling: PoolingMode;
  normalize: boolean;
  truncate: boolean;
  matryoshka?: true | readonly number[];
}

const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "token_type_ids", "position_ids"]);

/** A loaded encoder (BERT-style) that turns texts into fixed-width vectors. */
export class EmbeddingModel {
  readonly kind = "embeddings" as const;
  private readonly inputNames: ReadonlySet<string>;
  private readonly outputName: string;

  private constructor(
    readonly spec: ModelSpec,
    private readonly session: Session,
    private readonly tokenizer: ModelTokenizer,
    private readonly facts: EncoderFacts,
  ) {
    this.inputNames = new Set(session.inputNames);
    // The session's own inputs decide what is fed: BERT exports take token_type_ids, nomic-embed / GTE-style ones do not.
    const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.has(name));
    if (unknown.length > 0) throw new UnsupportedFormatError(`the ONNX graph has inputs gpt3dev cannot feed: ${unknown.join(", ")}`);
    if (!this.inputNames.has("input_ids")) throw new UnsupportedFormatError("the ONNX graph has no 'input_ids' input (not a text encoder export)");
    this.outputName = session.outputNames.includes("last_hidden_state")
      ? "last_hidden_state"
      : (session.outputNames[0] ?? "last_hidden_state");
  }

  static async load(spec: ModelSpec, settings: SessionSettings = {}): Promise<EmbeddingModel> {
    const tokenizer = await loadTokenizer(spec.dir);
    // Config first: a folder refused for its pooling or modules never opens a session.
    const facts = readEncoderFacts(spec, tokenizer);
    const session = await createSession(join(spec.dir, "onnx", onnxFileFor(spec.dtype)), settings);
    try {
      return new EmbeddingModel(spec, session, tokenizer, facts);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** Width of the vectors before any `dimensions` truncation. */
  get width(): number {
    return this.facts.width;
  }

  get contextLength(): number {
    return this.facts.contextLength;
  }

  /** Embeds every input; throws InvalidInputError (naming the argument) before running anything it cannot serve. */
  async embed(inputs: ReadonlyArray<string | readonly number[]>, options: EmbedOptions = {}): Promise<EmbedResult> {
    if (options.dimensions !== undefined) this.checkDimensions(options.dimensions);
    if (inputs.length === 0) throw new InvalidInputError("at least one input is needed", "inputs");
    const rows = inputs.map((input, i) => this.tokenize(input, `inputs[${i}]`));
    const vectors = new Array<Float32Array>(rows.length);
    for (const group of passes(rows)) {
      const pooled = await this.forward(group.map((i) => rows[i]!));
      group.forEach((row, k) => (vectors[row] = this.finish(pooled[k]!, options.dimensions)));
    }
    return { vectors, promptTokens: rows.reduce((sum, ids) => sum + ids.length, 0) };
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private checkDimensions(dimensions: number): void {
    const { matryoshka, width } = this.facts;
    const id = this.spec.id;
    if (!matryoshka) {
      throw new InvalidInputError(`the model '${id}' does not support specifying dimensions`, "dimensions");
    }
    const allowed = matryoshka === true ? undefined : matryoshka;
    const ok = Number.isInteger(dimensions) && dimensions >= 1 && dimensions <= width && (allowed?.includes(dimensions) ?? true);
    if (!ok) {
      const expected = allowed ? `one of ${allowed.join(", ")}` : `an integer from 1 to ${width}`;
      throw new InvalidInputError(`the model '${id}' accepts ${expected}, got ${dimensions}`, "dimensions");
    }
  }

  private tokenize(input: string | readonly number[], argument: string): number[] {
    const { contextLength, truncate, vocabSize } = this.facts;
    let ids: number[];
    if (typeof input === "string") {
      if (input.length === 0) throw new InvalidInputError("an empty string cannot be embedded", argument);
      ids = this.tokenizer.encode(input);
      if (ids.length > contextLength && truncate) ids = truncatedIds(this.tokenizer, input, contextLength, this.facts);
    } else {
      if (input.length === 0) throw new InvalidInputError("an empty token list cannot be embedded", argument);
      const bad = input.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
      if (bad !== undefined) {
        throw new InvalidInputError(`token id ${bad} is outside the vocabulary of the model '${this.spec.id}' (ids 0 to ${vocabSize - 1})`, argument);
      }
      ids = truncate ? input.slice(0, contextLength) : [...input];
    }
    if (ids.length > contextLength) {
      throw new ContextLengthError(contextLength, ids.length, 0, "inputs");
    }
    return ids;
  }

  /** One forward pass over right-padded rows; returns one pooled (not yet normalised) vector per row. */
  private async forward(rows: readonly number[][]): Promise<Float32Array[]> {
    const { feeds, mask, batch, seq } = paddedFeeds(rows, this.facts.padId, this.inputNames);
    const outputs = await this.session.run(feeds);
    const hidden = outputs[this.outputName];
    if (!hidden || hidden.dims.length !== 3 || hidden.dims[2] !== this.facts.width) {
      throw new Error(`encoder output ${this.outputName} has shape [${hidden?.dims.join(", ")}], expected [${batch}, ${seq}, ${this.facts.width}]`);
    }
    // float32 in every export seen so far (fp16 ones keep float32 I/O); a float16 output is converted here.
    const data = float32Range(hidden.data, 0, hidden.data.length);
    return pool(this.facts.pooling, { data, batch, seq, width: this.facts.width }, mask);
  }

  private finish(vector: Float32Array, dimensions: number | undefined): Float32Array {
    if (dimensions !== undefined) return truncateDimensions(vector, dimensions);
    return this.facts.normalize ? l2Normalize(vector) : vector;
  }
}

function readEncoderFacts(spec: ModelSpec, tokenizer: ModelTokenizer): EncoderFacts {
  const config = readJson(join(spec.dir, "config.json"));
  // nomic_bert configs use GPT-2's names (n_embd, n_positions); DistilBERT's dim; others BERT's.
  const width = num(config.hidden_size) ?? num(config.n_embd) ?? num(config.d_model) ?? num(config.dim);
  const vocabSize = num(config.vocab_size);
  const positions = num(config.max_position_embeddings) ?? num(config.n_positions);
  if (width === undefined || vocabSize === undefined || positions === undefined) {
    throw new UnsupportedFormatError("config.json lacks the width (hidden_size, n_embd), vocab_size or the context (max_position_embeddings, n_positions)");
  }
  const { padId, contextLength } = encoderLimits(config, positions, tokenizer, spec.maxContextTokens);
  // sentence-transformers folders say how they were trained to pool (BGE: [CLS]) and whether vectors are normalised.
  const st = readSentenceTransformers(spec.dir);
  const settings = spec.embedding ?? {};
  return {
    width,
    vocabSize,
    contextLength,
    padId,
    pooling: settings.pooling ?? st.pooling ?? "mean",
    // modules.json decides when the folder has one; otherwise unit vectors, as OpenAI's embeddings are.
    normalize: settings.normalize ?? st.normalize ?? true,
    truncate: settings.truncate ?? false,
    matryoshka: settings.matryoshkaDimensions,
    ...specialTokensAround(tokenizer),
  };
}
