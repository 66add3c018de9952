import { join } from "node:path";
import { createSession, type Session, type SessionSettings } from "../runtime/session.ts";
import { loadTokenizer, type ModelTokenizer } from "../runtime/model-tokenizer.ts";
import { encoderLimits, finiteNumber, paddedFeeds, passes, specialTokensAround, truncatedIds, type SpecialTokens } from "./encoder-inputs.ts";
import { InvalidInputError } from "./errors.ts";
import { readJson } from "./model-config.ts";
import { verdictOf, type ClassifierHead, type ModerationVerdict } from "./moderation.ts";
import { onnxFileFor, type ModelSpec } from "./registry.ts";

/** A moderation request in engine terms: the texts to judge, one verdict each. */
export interface ModerationRequest {
  model: string;
  texts: readonly string[];
}

export interface ModerationResult {
  modelId: string;
  verdicts: ModerationVerdict[];
  /** Tokens the model read, special tokens included (after truncation). */
  promptTokens: number;
}

const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "token_type_ids"]);

/**
 * A loaded sequence classifier (BERT-style encoder with a classification head, `logits` [batch, labels]) serving
 * moderation: its labels (config.json's id2label) are mapped onto moderation categories by the registry's settings.
 * Texts longer than the model's context are cut to it (special tokens kept), as transformers.js's
 * text-classification pipeline truncates them.
 */
export class ModerationModel {
  readonly kind = "moderation" as const;
  private readonly inputNames: ReadonlySet<string>;

  private constructor(
    readonly spec: ModelSpec,
    private readonly session: Session,
    private readonly tokenizer: ModelTokenizer,
    readonly head: ClassifierHead,
    readonly contextLength: number,
    private readonly padId: number,
    private readonly around: SpecialTokens,
  ) {
    this.inputNames = new Set(session.inputNames);
    const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.has(name));
    if (unknown.length > 0 || !this.inputNames.has("input_ids")) {
      throw new Error(`unsupported classifier inputs: ${session.inputNames.join(", ")}`);
    }
    if (!session.outputNames.includes("logits")) throw new Error(`a classifier graph needs a 'logits' output (has ${session.outputNames.join(", ")})`);
  }

  static async load(spec: ModelSpec, settings: SessionSettings = {}): Promise<ModerationModel> {
    const [session, tokenizer] = await Promise.all([createSession(join(spec.dir, "onnx", onnxFileFor(spec.dtype)), settings), loadTokenizer(spec.dir)]);
    const config = readJson(join(spec.dir, "config.json"));
    const head = classifierHead(config);
    const { padId, contextLength } = encoderLimits(config, finiteNumber(config.max_position_embeddings), tokenizer, spec.maxContextTokens);
    if (!Number.isFinite(contextLength)) throw new Error("config.json lacks max_position_embeddings");
    return new ModerationModel(spec, session, tokenizer, head, contextLength, padId, specialTokensAround(tokenizer));
  }

  /** One verdict per text; an empty text is judged as the special tokens alone, as the pipeline does. */
  async classify(texts: readonly string[]): Promise<Omit<ModerationResult, "modelId">> {
    if (texts.length === 0) throw new InvalidInputError("at least one input is needed", "texts");
    const rows = texts.map((text) => this.tokenize(text));
    const logits = new Array<Float32Array>(rows.length);
    for (const group of passes(rows)) {
      const out = await this.forward(group.map((i) => rows[i]!));
      group.forEach((row, k) => (logits[row] = out[k]!));
    }
    return {
      verdicts: logits.map((row) => verdictOf(row, this.head, this.spec.moderation)),
      promptTokens: rows.reduce((sum, ids) => sum + ids.length, 0),
    };
  }

  /** Raw logits per text (tests compare them with transformers.js). */
  async logits(texts: readonly string[]): Promise<Float32Array[]> {
    return this.forward(texts.map((text) => this.tokenize(text)));
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private tokenize(text: string): number[] {
    const ids = this.tokenizer.encode(text);
    return ids.length <= this.contextLength ? ids : truncatedIds(this.tokenizer, text, this.contextLength, this.around);
  }

  private async forward(rows: readonly number[][]): Promise<Float32Array[]> {
    const { feeds, batch } = paddedFeeds(rows, this.padId, this.inputNames);
    const output = (await this.session.run(feeds)).logits;
    const labels = this.head.labels.length;
    if (!output || output.dims.length !== 2 || output.dims[0] !== batch || output.dims[1] !== labels) {
      throw new Error(`classifier logits have shape [${output?.dims.join(", ")}], expected [${batch}, ${labels}]`);
    }
    const data = output.data as Float32Array;
    return rows.map((_, r) => data.slice(r * labels, (r + 1) * labels));
  }
}

/** Labels by output index from config.json's id2label, and whether they are independent (multi-label). */
export function classifierHead(config: Record<string, unknown>): ClassifierHead {
  const id2label = config.id2label;
  if (typeof id2label !== "object" || id2label === null) throw new Error("config.json has no id2label: not a sequence classifier");
  const entries = Object.entries(id2label as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)] as const);
  const labels: string[] = [];
  for (const [index, label] of entries) {
    if (!Number.isInteger(index) || index < 0 || index >= entries.length) throw new Error(`config.json's id2label has a bad index '${index}'`);
    labels[index] = label;
  }
  return { labels, multiLabel: config.problem_type === "multi_label_classification" };
}
