// Graph rewrites applied when a decoder loads, each a no-op on exports that do not have its pattern:
//
// - tied LM head: GPT-2-style exports compute logits as MatMul(x, Transpose(wte)) with `wte` also read by the
//   embedding Gather. ONNX Runtime constant-folds the Transpose into a second, transposed copy of the table (147 MiB
//   for GPT-2 small in fp32) and pre-packs it. The rewrite multiplies by `wte` itself as the left operand of the
//   product computed transposed, `(wte · xᵀ)ᵀ` (half-weights.ts's form): MLAS reads the table in place, as a vector
//   product for one row and packing only the rows for more. The table is also declared as a graph input (an
//   overridable initializer, IR version 4 on): ONNX Runtime then treats it as a value, not a constant, and neither
//   folds nor pre-packs it. Callers never feed it (ORT lists it in no `inputNames`). `packedHead` leaves the head as
//   it is, for ONNX Runtime to keep its pre-packed copy (the engine's `--tied-head`; bench/README.md, tenth round).
// - shared KV attention: self-attention as com.microsoft GroupQueryAttention over a cache buffer with room, extended
//   in place (src/runtime/graph-rewrite/shared-kv-attention.ts).
// - half weights (when asked for): an fp16 file's matrix weights stay fp16 in memory, stored transposed, and each
//   run widens them as it multiplies (src/runtime/graph-rewrite/half-weights.ts).
// - embedding rows (when asked for): the token embedding Gather replaced by an input the runtime fills with rows it
//   reads from the data file, so the table does not fill into the process's memory (embedding-rows.ts).
// - last logits: exports without a `num_logits_to_keep` input compute the LM head for every position of a prompt
//   (8 rows × 256 positions × 50,257 floats is 411 MB). The rewrite adds that input, with Optimum's meaning (keep the
//   last n positions; 0 keeps all), and slices the LM head's input to those positions before the multiplication.
import { onnx } from "onnx-proto";
import { readEmbeddingRows, type EmbeddingTable } from "./embedding-rows.ts";
import { keepHalfWeights, rewriteMultiplications, type Multiplication } from "./half-weights.ts";
import { shareKvAttention, type AttentionShape } from "./shared-kv-attention.ts";
import { consumers, declareAsInput, int64Initializer, intsAttribute, isDefaultDomain, type Initializer, type NodeEntry, type OnnxModel } from "./onnx-graph.ts";

export type RewriteName = "tied-lm-head" | "last-logits" | "shared-kv-attention" | "half-weights" | "embedding-rows";

export interface RewriteOptions {
  /** The head count: rewrite self-attention into GroupQueryAttention over a cache extended in place. */
  attention?: AttentionShape;
  /** Keep an fp16 file's matrix weights fp16 in memory, widened at each run (src/runtime/graph-rewrite/half-weights.ts). */
  halfWeights?: boolean;
  /** Leave a tied head as it is: ONNX Runtime then keeps a pre-packed copy of the table for it (faster, the table twice). */
  packedHead?: boolean;
  /** Feed token embeddings as rows the runtime reads from the data file (embedding-rows.ts). */
  embeddingRows?: boolean;
}

export interface RewriteResult {
  applied: RewriteName[];
  /** The table whose rows the runtime feeds, with `embeddingRows`. */
  embeddings?: EmbeddingTable;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const PREFIX = "gpt3dev_rewrite";
/** Names of the input that limits logits to the last positions, as exports spell it. */
export const LOGITS_TO_KEEP_INPUTS = ["num_logits_to_keep", "logits_to_keep"] as const;

/** A Transpose of an fp32 table that other nodes also read, whose output only MatMuls read as their weight. */
interface TiedHead {
  transpose: NodeEntry;
  table: Initializer;
  heads: NodeEntry[];
}

/** The tied heads of the graph: MatMul(x, Transpose(W)) with W a 2-D fp32 initializer that other nodes also read. */
function tiedHeads(model: OnnxModel): TiedHead[] {
  const readers = consumers(model.nodes);
  const found: TiedHead[] = [];
  for (const entry of model.nodes) {
    const t = entry.node;
    if (t.opType !== "Transpose" || !isDefaultDomain(t)) continue;
    const w = model.initializers.get(t.input?.[0] ?? "");
    if (!w || w.dims.length !== 2 || w.dataType !== FLOAT) continue;
    const perm = intsAttribute(t, "perm");
    if (perm && !(perm[0] === 1 && perm[1] === 0)) continue;
    const uses = readers.get(t.output?.[0] ?? "") ?? [];
    if (uses.length === 0 || !uses.every((u) => u.index === 1 && u.entry.node.opType === "MatMul" && isDefaultDomain(u.entry.node))) continue;
    // Only a table read elsewhere is duplicated by folding; a lone weight is just stored transposed once.
    if ((readers.get(w.name) ?? []).length < 2) continue;
    found.push({ transpose: entry, table: w, heads: uses.map((u) => u.entry) });
  }
  return found;
}

/**
 * Bytes of the tables a tied head reads: what ONNX Runtime's pre-packed copy for the head adds when the head is not
 * rewritten to share the table (`--tied-head packed`).
 */
export function tiedTableBytes(model: OnnxModel): number {
  return tiedHeads(model).reduce((sum, { table }) => sum + table.dims[0]! * table.dims[1]! * 4, 0);
}

/**
 * MatMul(x, Transpose(W)) with W an fp32 initializer that other nodes also read → the product computed transposed with
 * W itself as the left operand, `(W · xᵀ)ᵀ` (half-weights.ts's form): MLAS reads W in place, as a vector product for
 * one row and with only the rows packed for more.
 */
export function shareTiedHead(model: OnnxModel): boolean {
  const found = tiedHeads(model);
  const multiplications = new Map<NodeEntry, Multiplication>();
  for (const { transpose, table, heads } of found) {
    for (const m of heads) {
      m.node = { ...m.node, input: [m.node.input![0]!, table.name] };
      m.field = undefined;
      multiplications.set(m, { entry: m, k: table.dims[1]!, n: table.dims[0]!, half: false });
    }
    model.nodes.splice(model.nodes.indexOf(transpose), 1);
    declareAsInput(model, table);
  }
  if (multiplications.size > 0) rewriteMultiplications(model, multiplications, `${PREFIX}/tied_head`);
  return found.length > 0;
}

const HEAD_OPS = new Set(["MatMul", "FusedMatMul", "MatMulInteger", "MatMulNBits"]);
const ELEMENTWISE = new Set(["Identity", "Add", "Sub", "Mul", "Div", "Cast", "Tanh"]);

/** The node computing the LM head: found from `logits` back through element-wise ops (bias, casts, scales). */
function findHead(model: OnnxModel): NodeEntry | undefined {
  const producer = new Map<string, NodeEntry>();
  for (const entry of model.nodes) for (const out of entry.node.output ?? []) producer.set(out, entry);
  const search = (value: string, depth: number): NodeEntry | undefined => {
    const entry = producer.get(value);
    if (!entry || depth > 6) return undefined;
    if (HEAD_OPS.has(entry.node.opType ?? "")) return entry;
    if (!ELEMENTWISE.has(entry.node.opType ?? "")) return undefined;
    for (const input of entry.node.input ?? []) {
      const found = search(input, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return search("logits", 0);
}

/** Adds `num_logits_to_keep` (keep the last n positions, 0 = all) and slices the LM head's input to them. */
export function keepLastLogits(model: OnnxModel): boolean {
  const inputNames = new Set(model.inputs.map((i) => i.name));
  if (LOGITS_TO_KEEP_INPUTS.some((name) => inputNames.has(name))) return false;
  if ((model.opsets.get("") ?? 0) < 10) return false; // Slice takes its bounds as inputs from opset 10
  const logits = model.outputs.find((o) => o.name === "logits");
  const shape = logits?.type?.tensorType?.shape?.dim;
  if (!logits || !shape || shape.length !== 3) return false;
  const head = findHead(model);
  if (!head) return false;
  const x = head.node.input?.[0];
  if (!x) return false;
  const keep = LOGITS_TO_KEEP_INPUTS[0];
  const n = (s: string) => `${PREFIX}/last_logits/${s}`;
  model.addedInputs.push({ name: keep, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } } });
  model.addedInitializers.push(
    int64Initializer(n("one"), [1n], [1]),
    int64Initializer(n("end"), [9223372036854775807n], [1]),
  );
  const sliced: NodeEntry[] = [
    { node: { name: n("neg"), opType: "Neg", input: [keep], output: [n("start_scalar")] } },
    { node: { name: n("start"), opType: "Reshape", input: [n("start_scalar"), n("one")], output: [n("start")] } },
    { node: { name: n("slice"), opType: "Slice", input: [x, n("start"), n("end"), n("one")], output: [n("hidden")] } },
  ];
  head.node.input = [n("hidden"), ...head.node.input!.slice(1)];
  head.field = undefined;
  model.nodes.splice(model.nodes.indexOf(head), 0, ...sliced);
  shape[1] = { dimParam: "logits_positions" };
  model.changedOutputs.add("logits");
  return true;
}

/** Applies every rewrite whose pattern the model has (and that `options` asks for); returns those applied. */
export function rewriteDecoder(model: OnnxModel, options: RewriteOptions = {}): RewriteResult {
  const applied: RewriteName[] = [];
  // The head is found from the logits back to its MatMul: before the tied head's own rewrite reshapes its output.
  const lastLogits = keepLastLogits(model);
  if (!options.packedHead && shareTiedHead(model)) applied.push("tied-lm-head");
  if (lastLogits) applied.push("last-logits");
  if (options.attention && shareKvAttention(model, options.attention)) applied.push("shared-kv-attention");
  if (options.halfWeights && keepHalfWeights(model)) applied.push("half-weights");
  // After the tied head's rewrite, which finds the table by its two readers.
  const embeddings = options.embeddingRows ? readEmbeddingRows(model) : undefined;
  if (embeddings) applied.push("embedding-rows");
  return { applied, embeddings };
}
