// Load-time rewrite of a decoder's self-attention into com.microsoft GroupQueryAttention, so that a decode step
// stops copying the whole cache. The export computes, per layer, present = Concat(past, new) and attends over it:
// every step reads and writes every row's entire cache (528 MB per step for 8 rows at 896 positions of GPT-2 small).
// GroupQueryAttention takes the cache as a buffer with room beyond the positions in use: when its past and present
// are the same memory (the engine hands ONNX Runtime one buffer for both through the C API), its CPU kernel writes
// only the new positions and attends over the first `total_sequence_length` positions in place. Given a past exactly
// as wide as the positions in use it behaves like the Concat, so the rewritten graph serves both ways.
//
// What is matched, per layer (all layers or none; anything else leaves the graph as it is):
//   present.i.key   = Concat(past_key_values.i.key, k, axis 2)      k, v, q: [batch, heads, seq, head_dim]
//   present.i.value = Concat(past_key_values.i.value, v, axis 2)
//   scores = MatMul(q, Transpose(present.i.key) [0,1,3,2]), key heads possibly repeated (Unsqueeze, Expand, Reshape)
//   probs  = Softmax(scores scaled by constants, plus masks: Add / Where), over the last axis
//   ctx    = MatMul(probs, present.i.value, value heads possibly repeated)
// The masks become GroupQueryAttention's own causal rule plus an additive bias built once from attention_mask (0
// where it is 1, -1e9 where it is 0), so left-padded batches keep their meaning. Rotary embeddings stay where the
// export computes them (q and k arrive rotated).
import { onnx } from "onnx-proto";
import { consumers, int64Initializer, intsAttribute, isDefaultDomain, producers, pruneDeadNodes, scalarFloat, useDomain, type NodeEntry, type OnnxModel } from "./onnx-graph.ts";

const MS_DOMAIN = "com.microsoft";
const P = "gpt3dev_rewrite/shared_kv";
const INT = onnx.AttributeProto.AttributeType.INT;
const FLOAT_ATTR = onnx.AttributeProto.AttributeType.FLOAT;
/** Ops that only repeat key/value heads for grouped-query attention (transformers' repeat_kv). */
const REPEAT_OPS = new Set(["Unsqueeze", "Expand", "Reshape"]);

interface LayerMatch {
  index: number;
  keyConcat: NodeEntry;
  valueConcat: NodeEntry;
  q: string;
  scoreMatMul: NodeEntry;
  contextMatMul: NodeEntry;
  scale: number;
}

type Readers = ReturnType<typeof consumers>;

function only(readers: Readers, value: string): { entry: NodeEntry; index: number } | undefined {
  const list = readers.get(value) ?? [];
  return list.length === 1 ? list[0] : undefined;
}

function op(entry: NodeEntry | undefined, type: string): boolean {
  return entry !== undefined && entry.node.opType === type && isDefaultDomain(entry.node);
}

function concatAxis2(entry: NodeEntry | undefined, past: string): entry is NodeEntry {
  if (!op(entry, "Concat") || entry!.node.input?.length !== 2 || entry!.node.input[0] !== past) return false;
  const axis = Number(entry!.node.attribute?.find((a) => a.name === "axis")?.i ?? NaN);
  return axis === 2 || axis === -2;
}

/**
 * Follows the single path from a cache value to the MatMul that reads it as its second input, through head
 * repetition (and for keys the one transpose of the last two axes, and scalar constant factors). Returns that MatMul
 * and the factors met, or undefined when the value is read any other way.
 */
function followCache(model: OnnxModel, readers: Readers, made: Map<string, NodeEntry>, value: string, isKey: boolean) {
  let at = value;
  let transposed = false;
  let scale = 1;
  for (let depth = 0; depth < 8; depth++) {
    const next = only(readers, at);
    if (!next) return undefined;
    const { entry, index } = next;
    const type = entry.node.opType ?? "";
    if (op(entry, "MatMul")) return index === 1 && transposed === isKey ? { matMul: entry, scale } : undefined;
    if (!isDefaultDomain(entry.node)) return undefined;
    if (type === "Transpose" && isKey && !transposed) {
      const perm = intsAttribute(entry.node, "perm");
      if (!perm || perm.join(",") !== "0,1,3,2") return undefined;
      transposed = true;
    } else if (type === "Mul" && isKey && index === 0) {
      const factor = scalarFloat(model, entry.node.input?.[1] ?? "", made.get(entry.node.input?.[1] ?? ""));
      if (factor === undefined) return undefined;
      scale *= factor;
    } else if (!REPEAT_OPS.has(type) || index !== 0) return undefined;
    at = entry.node.output?.[0] ?? "";
  }
  return undefined;
}

/** From the scores MatMul to the softmax and the MatMul by values: scale factors and masks only. */
function followScores(model: OnnxModel, readers: Readers, made: Map<string, NodeEntry>, scores: NodeEntry) {
  let at = scores.node.output?.[0] ?? "";
  let scale = 1;
  let softmax = false;
  for (let depth = 0; depth < 8; depth++) {
    const next = only(readers, at);
    if (!next || !isDefaultDomain(next.entry.node)) return undefined;
    const { entry, index } = next;
    const type = entry.node.opType ?? "";
    if (softmax) return type === "MatMul" && index === 0 ? { matMul: entry, scale } : undefined;
    const other = entry.node.input?.[1 - index] ?? "";
    if (type === "Mul" || type === "Div") {
      const factor = scalarFloat(model, other, made.get(other));
      if (factor === undefined || (type === "Div" && index !== 0)) return undefined;
      scale *= type === "Mul" ? factor : 1 / factor;
    } else if (type === "Softmax") {
      const axis = Number(entry.node.attribute?.find((a) => a.name === "axis")?.i ?? -1);
      if (axis !== -1 && axis !== 3) return undefined;
      softmax = true;
    } else if (type === "Where") {
      if (index === 0) return undefined; // the scores are the value kept where the mask allows
    } else if (type !== "Add") return undefined;
    at = entry.node.output?.[0] ?? "";
  }
  return undefined;
}

function matchLayer(model: OnnxModel, readers: Readers, made: Map<string, NodeEntry>, index: number): LayerMatch | undefined {
  const keyConcat = made.get(`present.${index}.key`);
  const valueConcat = made.get(`present.${index}.value`);
  if (!concatAxis2(keyConcat, `past_key_values.${index}.key`) || !concatAxis2(valueConcat, `past_key_values.${index}.value`)) return undefined;
  // The present outputs are graph outputs besides the attention's input: one reader each.
  const key = followCache(model, readers, made, `present.${index}.key`, true);
  const value = followCache(model, readers, made, `present.${index}.value`, false);
  if (!key || !value) return undefined;
  const scores = followScores(model, readers, made, key.matMul);
  if (!scores || scores.matMul !== value.matMul) return undefined;
  const q = key.matMul.node.input?.[0];
  if (!q) return undefined;
  return { index, keyConcat, valueConcat, q, scoreMatMul: key.matMul, contextMatMul: value.matMul, scale: key.scale * scores.scale };
}

function node(name: string, opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = [], domain?: string): NodeEntry {
  return { node: { name, opType, input, output, attribute, ...(domain ? { domain } : {}) } };
}

function ints(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

/** seqlens_k, total_sequence_length and the padding bias, computed once from attention_mask and input_ids. */
function sharedInputs(model: OnnxModel): NodeEntry[] {
  const n = (s: string) => `${P}/${s}`;
  model.addedInitializers.push(
    int64Initializer(n("one"), [1n], []),
    int64Initializer(n("zero_1d"), [0n], [1]),
    int64Initializer(n("one_1d"), [1n], [1]),
    int64Initializer(n("two_1d"), [2n], [1]),
    int64Initializer(n("axes12"), [1n, 2n], [2]),
    { name: n("keep"), dataType: onnx.TensorProto.DataType.FLOAT, dims: [], floatData: [0] },
    { name: n("masked"), dataType: onnx.TensorProto.DataType.FLOAT, dims: [], floatData: [-1e9] },
  );
  const INT32 = onnx.TensorProto.DataType.INT32;
  return [
    node(n("mask_shape"), "Shape", ["attention_mask"], [n("mask_shape")]),
    node(n("total64"), "Gather", [n("mask_shape"), n("one")], [n("total64")], [{ name: "axis", type: INT, i: 0 }]),
    node(n("total"), "Cast", [n("total64")], [n("total")], [{ name: "to", type: INT, i: INT32 }]),
    node(n("ids_shape"), "Shape", ["input_ids"], [n("ids_shape")]),
    node(n("batch_dim"), "Slice", [n("ids_shape"), n("zero_1d"), n("one_1d")], [n("batch_dim")]),
    node(n("last64"), "Sub", [n("total64"), n("one")], [n("last64")]),
    node(n("last_1d"), "Unsqueeze", [n("last64"), n("zero_1d")], [n("last_1d")]),
    node(n("last_rows"), "Expand", [n("last_1d"), n("batch_dim")], [n("last_rows")]),
    node(n("seqlens_k"), "Cast", [n("last_rows")], [n("seqlens_k")], [{ name: "to", type: INT, i: INT32 }]),
    node(n("mask4"), "Unsqueeze", ["attention_mask", n("axes12")], [n("mask4")]),
    node(n("mask_bool"), "Cast", [n("mask4")], [n("mask_bool")], [{ name: "to", type: INT, i: onnx.TensorProto.DataType.BOOL }]),
    node(n("bias_rows"), "Where", [n("mask_bool"), n("keep"), n("masked")], [n("bias_rows")]),
    node(n("seq_dim"), "Slice", [n("ids_shape"), n("one_1d"), n("two_1d")], [n("seq_dim")]),
    node(n("bias_shape"), "Concat", [n("one_1d"), n("one_1d"), n("seq_dim"), n("one_1d")], [n("bias_shape")], [{ name: "axis", type: INT, i: 0 }]),
    node(n("bias"), "Expand", [n("bias_rows"), n("bias_shape")], [n("bias")]),
  ];
}

/** The nodes replacing one layer's attention: heads merged for the op, its output split back to what was read. */
function layerNodes(match: LayerMatch, heads: number, kvHeads: number, headDim: number): NodeEntry[] {
  const n = (s: string) => `${P}/${match.index}/${s}`;
  const s = (x: string) => `${P}/${x}`;
  const merged = (from: string, name: string): NodeEntry[] => [
    node(n(`${name}_bsnh`), "Transpose", [from], [n(`${name}_bsnh`)], [ints("perm", [0, 2, 1, 3])]),
    node(n(`${name}_bsd`), "Reshape", [n(`${name}_bsnh`), s("merge_shape")], [n(`${name}_bsd`)]),
  ];
  const ctx = match.contextMatMul.node.output![0]!;
  return [
    ...merged(match.q, "q"),
    ...merged(match.keyConcat.node.input![1]!, "k"),
    ...merged(match.valueConcat.node.input![1]!, "v"),
    node(
      n("attention"),
      "GroupQueryAttention",
      [n("q_bsd"), n("k_bsd"), n("v_bsd"), `past_key_values.${match.index}.key`, `past_key_values.${match.index}.value`, s("seqlens_k"), s("total"), "", "", "", s("bias")],
      [n("out"), `present.${match.index}.key`, `present.${match.index}.value`],
      [
        { name: "num_heads", type: INT, i: heads },
        { name: "kv_num_heads", type: INT, i: kvHeads },
        { name: "scale", type: FLOAT_ATTR, f: match.scale },
      ],
      MS_DOMAIN,
    ),
    node(n("out_bsnh"), "Reshape", [n("out"), s("split_shape")], [n("out_bsnh")]),
    node(n("ctx"), "Transpose", [n("out_bsnh")], [ctx], [ints("perm", [0, 2, 1, 3])]),
  ];
}

export interface AttentionShape {
  /** Query heads (config.json's num_attention_heads / n_head). */
  heads: number;
}

/**
 * Rewrites every layer's attention into GroupQueryAttention when every layer has the pattern above and the cache is
 * float32 with a head size ONNX Runtime's kernel takes (a multiple of 8); returns whether it did.
 */
export function shareKvAttention(model: OnnxModel, shape: AttentionShape): boolean {
  const past = model.inputs.filter((i) => /^past_key_values\.\d+\.key$/.test(i.name ?? ""));
  if (past.length === 0) return false;
  const info = past[0]!.type?.tensorType;
  const dims = info?.shape?.dim ?? [];
  const kvHeads = Number(dims[1]?.dimValue ?? 0);
  const headDim = Number(dims[3]?.dimValue ?? 0);
  if (info?.elemType !== onnx.TensorProto.DataType.FLOAT || kvHeads <= 0 || headDim % 8 !== 0 || shape.heads % kvHeads !== 0) return false;
  const readers = consumers(model.nodes);
  const made = producers(model.nodes);
  const matches: LayerMatch[] = [];
  for (let i = 0; i < past.length; i++) {
    const match = matchLayer(model, readers, made, i);
    if (!match) return false;
    matches.push(match);
  }
  useDomain(model, MS_DOMAIN);
  model.addedInitializers.push(
    int64Initializer(`${P}/merge_shape`, [0n, 0n, -1n], [3]),
    int64Initializer(`${P}/split_shape`, [0n, 0n, BigInt(shape.heads), BigInt(headDim)], [4]),
  );
  const shared = sharedInputs(model);
  const replaced = new Set<NodeEntry>(matches.flatMap((m) => [m.keyConcat, m.valueConcat, m.contextMatMul]));
  const nodes: NodeEntry[] = [...shared];
  for (const entry of model.nodes) {
    const match = matches.find((m) => m.contextMatMul === entry);
    if (match) nodes.push(...layerNodes(match, shape.heads, kvHeads, headDim));
    else if (!replaced.has(entry)) nodes.push(entry);
  }
  model.nodes = nodes;
  pruneDeadNodes(model);
  return true;
}
