// Half weights: an fp16 file's matrix weights stay fp16 in memory, and the multiplications read them without a
// per-run packing pass.
//
// ONNX Runtime has no fp16 matrix kernels on x86 CPUs: it widens each weight to fp32 once at load (the Cast an fp16
// export or its own cast insertion puts before a MatMul is constant-folded), so the weights take twice the file. A
// weight declared as a graph input is a value rather than a constant: nothing folds it, and each run widens it as it
// multiplies (one matrix at a time, in the arena). Widened that way, `x · W` (W: K × N) would leave MLAS to pack W's
// fp32 copy into panels on every run with more than one row, a second pass over every weight per step. So the rewrite
// also stores W transposed (N × K) and computes the product transposed, `(Wᵀ · xᵀ)ᵀ`: the weight is then the left
// operand, which MLAS reads in place (and, for one row, as a matrix-vector product); only the few activation rows are
// packed. Per multiplication:
//
//   columns = Reshape(Transpose(Reshape(x, [-1, K])), [K, -1])      (once per x, shared by q/k/v and gate/up)
//   product = MatMul(Cast(Wᵀ), columns);  y = Reshape(Transpose(product), shape(x)[:-1] ++ [N])
//
// The values are those of `x · W` up to the order float sums are taken in (test/runtime/half-weights.test.ts);
// bench/README.md ("ninth round") has the speed. A tied LM head's table, already laid out as Wᵀ, is multiplied in the
// same form (rewrites.ts).
import { onnx } from "onnx-proto";
import { canTranspose, consumers, declareAsInput, int64Initializer, isDefaultDomain, type Initializer, type NodeEntry, type OnnxModel } from "./onnx-graph.ts";

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const PREFIX = "gpt3dev_rewrite/half_weights";

type Reader = { entry: NodeEntry; index: number };

/** A MatMul that multiplies by a kept weight (input 1: the weight itself or its Cast to float), with the weight's shape. */
export interface Multiplication {
  entry: NodeEntry;
  k: number;
  n: number;
  /** The MatMul reads the fp16 weight itself, so its input and output are fp16 too (converters' float16 form). */
  half: boolean;
}

const isWeightOfMatMul = ({ entry: { node }, index }: Reader): boolean => isDefaultDomain(node) && node.opType === "MatMul" && index === 1;

/**
 * The MatMuls reading `init` as their weight, directly or through a Cast to float whose output only MatMuls read as
 * their weight; undefined when anything else reads it (an embedding's Gather, a Gemm, a Transpose) or when it or its
 * Cast is a graph output (whose shape the transposition would change).
 */
function weightReaders(init: Initializer, readers: Map<string, Reader[]>, outputs: ReadonlySet<string>): { entry: NodeEntry; half: boolean }[] | undefined {
  if (outputs.has(init.name)) return undefined;
  const uses = readers.get(init.name) ?? [];
  const out: { entry: NodeEntry; half: boolean }[] = [];
  for (const use of uses) {
    const node = use.entry.node;
    if (isWeightOfMatMul(use)) out.push({ entry: use.entry, half: true });
    else if (isDefaultDomain(node) && node.opType === "Cast" && Number(node.attribute?.find((a) => a.name === "to")?.i) === FLOAT && node.output?.length === 1) {
      const castReaders = readers.get(node.output[0]!) ?? [];
      if (outputs.has(node.output[0]!) || castReaders.length === 0 || !castReaders.every(isWeightOfMatMul)) return undefined;
      out.push(...castReaders.map((r) => ({ entry: r.entry, half: false })));
    } else return undefined;
  }
  return uses.length > 0 ? out : undefined;
}

/**
 * Keeps every 2-D fp16 initializer that only MatMuls read as their weight (directly, or through a Cast to float) fp16
 * in memory and transposed, each of those MatMuls computing its product transposed (see above). Returns whether
 * anything changed.
 */
export function keepHalfWeights(model: OnnxModel): boolean {
  // Slice with its bounds as inputs (opset 10); an overridable initializer (IR 4).
  if (model.irVersion < 4 || (model.opsets.get("") ?? 0) < 10) return false;
  const readers = consumers(model.nodes);
  const outputs = new Set(model.outputs.map((o) => o.name ?? ""));
  const multiplications = new Map<NodeEntry, Multiplication>();
  for (const init of model.initializers.values()) {
    if (init.dataType !== FLOAT16 || !canTranspose(model, init)) continue;
    const entries = weightReaders(init, readers, outputs);
    if (!entries) continue;
    const [k, n] = init.dims as [number, number];
    if (!declareAsInput(model, init, [n, k])) continue;
    model.transposed.add(init.name);
    for (const { entry, half } of entries) multiplications.set(entry, { entry, k, n, half });
  }
  if (multiplications.size === 0) return false;
  rewriteMultiplications(model, multiplications, PREFIX);
  return true;
}

/** Replaces each MatMul with its transposed form, the nodes shared by one input written before its first reader. */
export function rewriteMultiplications(model: OnnxModel, multiplications: Map<NodeEntry, Multiplication>, prefix: string): void {
  const name = (s: string) => `${prefix}/${s}`;
  const constants = new Set<string>();
  const constant = (label: string, values: bigint[]): string => {
    const id = name(label);
    if (!constants.has(id)) {
      constants.add(id);
      model.addedInitializers.push(int64Initializer(id, values, [values.length]));
    }
    return id;
  };
  const inputs = new Map<string, { columns: string; leading: string; shapes: Map<number, string> }>();
  const nodes: NodeEntry[] = [];
  let count = 0;
  for (const entry of model.nodes) {
    const m = multiplications.get(entry);
    if (!m) {
      nodes.push(entry);
      continue;
    }
    const [x, weight] = entry.node.input as [string, string];
    const output = entry.node.output![0]!;
    let shared = inputs.get(x);
    if (!shared) {
      const id = `input${inputs.size}`;
      shared = { columns: name(`${id}/columns`), leading: name(`${id}/leading`), shapes: new Map() };
      inputs.set(x, shared);
      // fp16 activations are multiplied in float32, as ONNX Runtime's cast insertion does for a float16 MatMul.
      const wide = m.half ? name(`${id}/float`) : x;
      if (m.half) nodes.push(cast(x, wide, FLOAT));
      nodes.push(
        node("Reshape", [wide, constant(`rows_of_${m.k}`, [-1n, BigInt(m.k)])], name(`${id}/rows`)),
        node("Transpose", [name(`${id}/rows`)], name(`${id}/transposed`), [perm([1, 0])]),
        // The same shape again: without it ONNX Runtime folds the Transpose into the MatMul (FusedMatMul, transB),
        // which multiplies one row by packing it 16 wide instead of reading it as a vector.
        node("Reshape", [name(`${id}/transposed`), constant(`columns_of_${m.k}`, [BigInt(m.k), -1n])], shared.columns),
      );
      // All of x's dimensions but the last: Shape takes the range itself from opset 15.
      if ((model.opsets.get("") ?? 0) >= 15) nodes.push(node("Shape", [x], shared.leading, [{ name: "end", type: onnx.AttributeProto.AttributeType.INT, i: -1 }]));
      else nodes.push(node("Shape", [x], name(`${id}/shape`)), node("Slice", [name(`${id}/shape`), constant("zero", [0n]), constant("minus_one", [-1n])], shared.leading));
    }
    let shape = shared.shapes.get(m.n);
    if (!shape) {
      shape = `${shared.leading}_${m.n}`;
      shared.shapes.set(m.n, shape);
      nodes.push(node("Concat", [shared.leading, constant(`dim_${m.n}`, [BigInt(m.n)])], shape, [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }]));
    }
    const id = `product${count++}`;
    let factor = weight;
    if (m.half) {
      factor = name(`${id}/weight`);
      nodes.push(cast(weight, factor, FLOAT));
    }
    const product = m.half ? name(`${id}/float`) : output;
    nodes.push(
      node("MatMul", [factor, shared.columns], name(`${id}/columns`), [], entry.node.name ?? undefined),
      node("Transpose", [name(`${id}/columns`)], name(`${id}/rows`), [perm([1, 0])]),
      node("Reshape", [name(`${id}/rows`), shape], product),
    );
    if (m.half) nodes.push(cast(product, output, FLOAT16));
  }
  model.nodes = nodes;
}

function node(opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = [], label?: string): NodeEntry {
  return { node: { name: label ?? `${PREFIX}/${output}`, opType, input, output: [output], attribute } };
}

function cast(input: string, output: string, to: number): NodeEntry {
  return node("Cast", [input], output, [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: to }]);
}

function perm(values: number[]): onnx.IAttributeProto {
  return { name: "perm", type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
