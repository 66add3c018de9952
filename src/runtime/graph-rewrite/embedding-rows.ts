// Token embeddings read by the runtime instead of gathered by the graph. A decoder looks up each token's row of its
// embedding table with a Gather by `input_ids`. ONNX Runtime maps the table from the data file, and every row a
// token reads makes a region around it resident in the process (the kernel maps file pages by the block it cached
// them in: 1 MiB per token on this project's machine, 64 KiB fault-around on older kernels), so under traffic the
// whole table fills into the server's RSS: GPT-2 small's fp32 table is 147 MiB, which the packed LM head already
// holds in its own form. An fp16 file's table behind a Cast is worse: ONNX Runtime folds the Cast into an fp32 copy
// of the whole table at load, in the process's own memory.
//
// The rewrite removes the Gather (and such a Cast when nothing else reads it) and declares a graph input,
// `token_embeddings` [batch, sequence, width] in the table's own type, read where the Gather's output was (widened by
// the same Cast for an fp16 table); the runtime reads the rows from the data file with pread
// (src/runtime/embedding-rows.ts): page cache, which the kernel reclaims first, not the process's memory. The table
// is written to the data file whatever its size; other readers of it (a tied LM head) keep reading it as before.
import { onnx } from "onnx-proto";
import { consumers, isDefaultDomain, producers, type Initializer, type NodeEntry, type OnnxModel } from "./onnx-graph.ts";
import { rawData } from "./transposed-weights.ts";

/** The graph input the rows are fed through. */
export const TOKEN_EMBEDDINGS_INPUT = "token_embeddings";

const T = onnx.TensorProto.DataType;
/** Bytes per value of the table types rows are read in. */
export const ROW_VALUE_BYTES: ReadonlyMap<number, number> = new Map([
  [T.FLOAT, 4],
  [T.FLOAT16, 2],
  [T.INT8, 1],
  [T.UINT8, 1],
]);

/** The table the runtime reads rows of: its initializer's name, element type and shape. */
export interface EmbeddingTable {
  name: string;
  dataType: number;
  rows: number;
  width: number;
}

/** The Gather of table rows by `input_ids`, and the Cast between table and Gather when the file has one. */
function findLookup(model: OnnxModel): { gather: NodeEntry; cast?: NodeEntry; table: Initializer } | undefined {
  if (!model.inputs.some((i) => i.name === "input_ids")) return undefined;
  const gathers = (consumers(model.nodes).get("input_ids") ?? []).filter(
    ({ entry: { node }, index }) => index === 1 && node.opType === "Gather" && isDefaultDomain(node),
  );
  if (gathers.length !== 1) return undefined;
  const gather = gathers[0]!.entry;
  const axis = gather.node.attribute?.find((a) => a.name === "axis");
  if (axis && Number(axis.i) !== 0) return undefined;
  let source = gather.node.input?.[0] ?? "";
  const cast = producers(model.nodes).get(source);
  const isCast = cast !== undefined && cast.node.opType === "Cast" && isDefaultDomain(cast.node);
  if (isCast) source = cast.node.input?.[0] ?? "";
  else if (cast) return undefined;
  const table = model.initializers.get(source);
  if (!table || table.dims.length !== 2 || !ROW_VALUE_BYTES.has(table.dataType) || table.externalFiles.length > 0) return undefined;
  if (rawData(model.bytes, table.field.body, table.field.end) === undefined) return undefined;
  return { gather, cast: isCast ? cast : undefined, table };
}

/** Replaces the embedding Gather by the `token_embeddings` input; returns the table whose rows it takes. */
export function readEmbeddingRows(model: OnnxModel): EmbeddingTable | undefined {
  const found = findLookup(model);
  if (!found || model.inputs.some((i) => i.name === TOKEN_EMBEDDINGS_INPUT)) return undefined;
  const { gather, cast, table } = found;
  const output = gather.node.output![0]!;
  // The rows, in the table's type, become the Gather's output: through the file's own Cast when it widened the table.
  const replacement: onnx.INodeProto = cast
    ? { name: `${gather.node.name ?? "embedding"}/rows_cast`, opType: "Cast", input: [TOKEN_EMBEDDINGS_INPUT], output: [output], attribute: cast.node.attribute }
    : { name: `${gather.node.name ?? "embedding"}/rows`, opType: "Identity", input: [TOKEN_EMBEDDINGS_INPUT], output: [output] };
  model.nodes.splice(model.nodes.indexOf(gather), 1, { node: replacement });
  if (cast && !consumers(model.nodes).has(cast.node.output![0]!)) model.nodes.splice(model.nodes.indexOf(cast), 1);
  const [rows, width] = [table.dims[0]!, table.dims[1]!];
  model.addedInputs.push({
    name: TOKEN_EMBEDDINGS_INPUT,
    type: { tensorType: { elemType: table.dataType, shape: { dim: [{ dimParam: "batch_size" }, { dimParam: "sequence_length" }, { dimValue: width }] } } },
  });
  model.external.add(table.name);
  return { name: table.name, dataType: table.dataType, rows, width };
}
