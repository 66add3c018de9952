// A stand-in for the ONNX decoder that the scheduler tests drive: its "cache" is the token ids themselves, left-padded
// with PAD, and its logits depend only on a row's own real tokens, so a row's output cannot depend on its batch unless
// the scheduler mixes rows up. It checks the padding it is given and logs every call. What it cannot show is a real
// kernel's dependence on the batch's shape: test/engine/batch-invariance.test.ts measures that on the ONNX models.
import type { TokenDecoder } from "../../src/engine/detokenizer.ts";
import type { BatchModel, LogitPositions, PrefillRow, RowSource, StepOutput } from "../../src/engine/batch-model.ts";

export const PAD = -1;
export const VOCAB = 40;
export const EOS = 1;

export interface FakeKv {
  rows: number;
  width: number;
  /** rows × width token ids, PAD before each row's real tokens. */
  cells: number[][];
}

export type Call =
  | { op: "prefill"; tokens: number; rows: number }
  | { op: "decode"; rows: number; width: number; fresh: boolean }
  | { op: "pack"; rows: number };

/** Distinct, reversible text per id (a letter per id), so the text shows the exact ids. */
export const letters: TokenDecoder = {
  decode: (ids) => ids.map((id) => String.fromCharCode(65 + id)).join(""),
};

export function idsOf(text: string): number[] {
  return [...text].map((ch) => ch.charCodeAt(0) - 65);
}

export class FakeModel implements BatchModel<FakeKv> {
  readonly vocabSize = VOCAB;
  readonly calls: Call[] = [];
  /** The cache each decode returned last: a decode fed exactly that object re-used the outputs without a copy. */
  private lastOutput: FakeKv | undefined;
  failNextDecode = false;
  /** Rows (their real tokens) whose logits come out NaN, as from a damaged model. */
  nanFor: (row: readonly number[]) => boolean = () => false;
  /** Rows (their real tokens) whose cache cannot be packed. */
  unpackable: (row: readonly number[]) => boolean = () => false;

  constructor(
    readonly supportsPadding = true,
    /** Never sample EOS, so that sequences run to their max_tokens. */
    private readonly avoidEos = true,
  ) {}

  emptyKv(): FakeKv {
    return { rows: 1, width: 0, cells: [[]] };
  }

  async prefill(ids: readonly number[], past: FakeKv, positions: LogitPositions = "last"): Promise<StepOutput<FakeKv>> {
    this.calls.push({ op: "prefill", tokens: ids.length, rows: 1 });
    const row = [...past.cells[0]!, ...ids];
    if (row.includes(PAD)) throw new Error("prefill cache is padded");
    const kv = { rows: 1, width: row.length, cells: [row] };
    if (positions === "last") return { logits: this.logitsFor(row), kv };
    const logits = new Float32Array(ids.length * VOCAB);
    for (let j = 0; j < ids.length; j++) logits.set(this.logitsFor(row.slice(0, past.width + j + 1)), j * VOCAB);
    return { logits, kv };
  }

  /** Checks that every row's cache and new tokens end up contiguous and right-aligned, with PAD only before them. */
  async prefillBatch(rows: ReadonlyArray<PrefillRow<FakeKv>>): Promise<StepOutput<FakeKv>> {
    if (!this.supportsPadding) throw new Error("this model prefills one sequence at a time");
    this.calls.push({ op: "prefill", tokens: rows.reduce((n, r) => n + r.ids.length, 0), rows: rows.length });
    const pasts = rows.map((r) => (r.past ? this.realCells(r.past) : []));
    const pastWidth = Math.max(0, ...pasts.map((p) => p.length));
    const seq = Math.max(...rows.map((r) => r.ids.length));
    const cells = rows.map((r, i) => {
      if (r.ids.length === 0) throw new Error(`row ${i} has no new tokens`);
      const row = [
        ...new Array<number>(pastWidth - pasts[i]!.length).fill(PAD),
        ...pasts[i]!,
        ...new Array<number>(seq - r.ids.length).fill(PAD),
        ...r.ids,
      ];
      const first = row.findIndex((t) => t !== PAD);
      if (row.slice(first).includes(PAD)) throw new Error(`row ${i} has padding between its cached and its new tokens`);
      return row;
    });
    const logits = new Float32Array(rows.length * VOCAB);
    cells.forEach((row, r) => logits.set(this.logitsFor(row.filter((t) => t !== PAD)), r * VOCAB));
    return { logits, kv: { rows: rows.length, width: pastWidth + seq, cells } };
  }

  async decode(kv: FakeKv, tokens: readonly number[], lengths: readonly number[]): Promise<StepOutput<FakeKv>> {
    this.calls.push({ op: "decode", rows: kv.rows, width: kv.width, fresh: kv !== this.lastOutput });
    if (this.failNextDecode) {
      this.failNextDecode = false;
      throw new Error("decode failed");
    }
    if (tokens.length !== kv.rows || lengths.length !== kv.rows) throw new Error("one token and one length per row");
    const cells = kv.cells.map((row, r) => {
      const pad = kv.width - lengths[r]!;
      if (row.length !== kv.width || row.slice(0, pad).some((t) => t !== PAD) || row.slice(pad).includes(PAD)) {
        throw new Error(`row ${r} is not left-padded to ${lengths[r]} real positions`);
      }
      return [...row, tokens[r]!];
    });
    const logits = new Float32Array(kv.rows * VOCAB);
    cells.forEach((row, r) => logits.set(this.logitsFor(row.filter((t) => t !== PAD)), r * VOCAB));
    const out = { rows: kv.rows, width: kv.width + 1, cells };
    this.lastOutput = out;
    return { logits, kv: out };
  }

  pack(sources: ReadonlyArray<RowSource<FakeKv>>): FakeKv {
    this.calls.push({ op: "pack", rows: sources.length });
    const width = Math.max(0, ...sources.map((s) => s.length));
    const cells = sources.map((source) => {
      const real = this.realCells(source);
      if (this.unpackable(real)) throw new Error("cannot pack this row");
      return [...new Array<number>(width - source.length).fill(PAD), ...real];
    });
    return { rows: sources.length, width, cells };
  }

  /** The last `length` cells of a row, which must be real tokens (PAD before them only). */
  private realCells({ kv, row, length }: RowSource<FakeKv>): number[] {
    const cells = kv.cells[row];
    if (!cells || cells.length !== kv.width || length > kv.width) throw new Error(`no row ${row} of ${length} positions`);
    const pad = kv.width - length;
    if (cells.slice(0, pad).some((t) => t !== PAD) || cells.slice(pad).includes(PAD)) {
      throw new Error(`row ${row} is not left-padded to ${length} real positions`);
    }
    return cells.slice(pad);
  }

  decodes(): Extract<Call, { op: "decode" }>[] {
    return this.calls.filter((c): c is Extract<Call, { op: "decode" }> => c.op === "decode");
  }

  /** A smooth distribution that depends on every real token of the row and on its length. */
  private logitsFor(row: readonly number[]): Float32Array {
    let h = row.length * 2654435761;
    for (const t of row) h = Math.imul(h ^ t, 0x9e3779b1) >>> 0;
    const logits = new Float32Array(VOCAB);
    if (this.nanFor(row)) return logits.fill(NaN);
    for (let i = 0; i < VOCAB; i++) logits[i] = Math.sin(h % 1000 + i * 1.7) * 3;
    logits[EOS] = this.avoidEos ? -Infinity : 4;
    return logits;
  }
}
