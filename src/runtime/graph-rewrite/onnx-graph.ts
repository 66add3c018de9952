// An ONNX model seen through its protobuf envelope: the graph's nodes and inputs/outputs decoded (small), its
// initializers summarised (name, type, dims) and left as byte ranges of the file. A rewrite edits the node list and
// the declarations; `encodeModel` writes the result as a list of byte chunks, the untouched weights being slices of
// the source, so rewriting a 500 MB model never holds a second copy of it in memory.
import { onnx } from "onnx-proto";
import { externalize, type DataFile } from "./external-data.ts";
import { rawData, TransposeScratch, transposedTensor } from "./transposed-weights.ts";
import { fields, lengthDelimited, lengthPrefix, readInts, readVarint, utf8, type Field } from "./protobuf.ts";

// Field numbers of onnx.proto (ModelProto, GraphProto, TensorProto).
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const MODEL_OPSET = 8;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_DIMS = 1;
const TENSOR_TYPE = 2;
const TENSOR_NAME = 8;
const TENSOR_EXTERNAL = 13;
const TENSOR_LOCATION = 14;

export interface Initializer {
  name: string;
  dataType: number;
  dims: number[];
  /** Files (relative to the model) holding its data when it is stored outside the model file. */
  externalFiles: string[];
  /** Where its data starts in that file. */
  externalOffset?: number;
  /** Where the TensorProto is in the source (small ones are decoded to read their values). */
  field: Field;
}

/** A node of the graph; `field` is where its bytes are in the source while it is unchanged. */
export interface NodeEntry {
  node: onnx.INodeProto;
  field?: Field;
}

export interface OnnxModel {
  bytes: Uint8Array;
  /** ModelProto.ir_version: from 4 on, an initializer also declared as a graph input is not a constant to ORT. */
  irVersion: number;
  /** Default-domain opset and every other domain's version. */
  opsets: Map<string, number>;
  nodes: NodeEntry[];
  initializers: Map<string, Initializer>;
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  // Edits, written by encodeModel.
  addedInitializers: onnx.ITensorProto[];
  addedInputs: onnx.IValueInfoProto[];
  addedOpsets: onnx.IOperatorSetIdProto[];
  changedOutputs: Set<string>;
  /** 2-D initializers (raw data, 2- or 4-byte values) to write transposed: dims swapped, values moved to match. */
  transposed: Set<string>;
  /** Initializers written to the data file whatever their size (a table the engine reads rows of by offset). */
  external: Set<string>;
  /** Where things are in the source. */
  layout: { model: Field[]; graph: Field; graphFields: Field[] };
}

function readInitializer(bytes: Uint8Array, f: Field): Initializer {
  const init: Initializer = { name: "", dataType: 0, dims: [], externalFiles: [], field: f };
  let external = false;
  for (const t of fields(bytes, f.body, f.end)) {
    if (t.field === TENSOR_NAME) init.name = utf8(bytes, t);
    else if (t.field === TENSOR_TYPE) init.dataType = readVarint(bytes, t.body)[0];
    else if (t.field === TENSOR_DIMS) init.dims.push(...readInts(bytes, t));
    else if (t.field === TENSOR_LOCATION) external = readVarint(bytes, t.body)[0] === 1;
    else if (t.field === TENSOR_EXTERNAL) {
      const entry = onnx.StringStringEntryProto.decode(bytes.subarray(t.body, t.end));
      if (entry.key === "location") init.externalFiles.push(entry.value);
      else if (entry.key === "offset") init.externalOffset = Number(entry.value);
    }
  }
  if (!external) init.externalFiles = [];
  return init;
}

/** Reads the envelope of an ONNX model held in `bytes` (typically the mapped file). */
export function readModel(bytes: Uint8Array): OnnxModel {
  const model = [...fields(bytes)];
  const graph = model.find((f) => f.field === MODEL_GRAPH);
  if (!graph) throw new Error("not an ONNX model: no graph");
  const opsets = new Map<string, number>();
  for (const f of model) {
    if (f.field !== MODEL_OPSET) continue;
    const id = onnx.OperatorSetIdProto.decode(bytes.subarray(f.body, f.end));
    opsets.set(id.domain === "ai.onnx" ? "" : id.domain, Number(id.version));
  }
  const graphFields = [...fields(bytes, graph.body, graph.end)];
  const ir = model.find((f) => f.field === MODEL_IR_VERSION);
  const result: OnnxModel = {
    bytes,
    irVersion: ir ? readVarint(bytes, ir.body)[0] : 0,
    opsets,
    nodes: [],
    initializers: new Map(),
    inputs: [],
    outputs: [],
    addedInitializers: [],
    addedInputs: [],
    addedOpsets: [],
    changedOutputs: new Set(),
    transposed: new Set(),
    external: new Set(),
    layout: { model, graph, graphFields },
  };
  for (const f of graphFields) {
    const body = bytes.subarray(f.body, f.end);
    if (f.field === GRAPH_NODE) result.nodes.push({ node: onnx.NodeProto.decode(body), field: f });
    else if (f.field === GRAPH_INITIALIZER) {
      const init = readInitializer(bytes, f);
      result.initializers.set(init.name, init);
    } else if (f.field === GRAPH_INPUT) result.inputs.push(onnx.ValueInfoProto.decode(body));
    else if (f.field === GRAPH_OUTPUT) result.outputs.push(onnx.ValueInfoProto.decode(body));
  }
  return result;
}

/** Files the model's initializers are stored in besides the model file itself. */
export function externalFiles(model: OnnxModel): string[] {
  return [...new Set([...model.initializers.values()].flatMap((i) => i.externalFiles))];
}

/**
 * The edited model as chunks to write in order: unchanged nodes and every weight are slices of the source. With
 * `data`, large weights go to that data file instead, page-aligned (src/runtime/graph-rewrite/external-data.ts).
 */
export function encodeModel(model: OnnxModel, data?: DataFile): Uint8Array[] {
  const { bytes, layout } = model;
  const graph: Uint8Array[] = [];
  const slice = (f: Field) => bytes.subarray(f.start, f.end);
  let nodesWritten = false;
  const transposed = new Map([...model.transposed].map((name) => [model.initializers.get(name)!.field.start, model.initializers.get(name)!]));
  const scratch = new TransposeScratch();
  const external = new Set([...model.external].map((name) => model.initializers.get(name)!.field.start));
  for (const f of layout.graphFields) {
    if (f.field === GRAPH_NODE) {
      if (nodesWritten) continue;
      nodesWritten = true;
      for (const entry of model.nodes) {
        graph.push(entry.field ? slice(entry.field) : lengthDelimited(GRAPH_NODE, onnx.NodeProto.encode(entry.node).finish()));
      }
    } else if (f.field === GRAPH_OUTPUT) {
      const info = onnx.ValueInfoProto.decode(bytes.subarray(f.body, f.end));
      const changed = model.changedOutputs.has(info.name) ? model.outputs.find((o) => o.name === info.name) : undefined;
      graph.push(changed ? lengthDelimited(GRAPH_OUTPUT, onnx.ValueInfoProto.encode(changed).finish()) : slice(f));
    } else if (f.field === GRAPH_INITIALIZER && transposed.has(f.start)) {
      graph.push(lengthDelimited(GRAPH_INITIALIZER, writeTransposed(bytes, transposed.get(f.start)!, data && { file: data, scratch })));
    } else if (f.field === GRAPH_INITIALIZER && data) {
      const moved = externalize(bytes, f, data, external.has(f.start) ? 1 : undefined);
      graph.push(moved ? lengthDelimited(GRAPH_INITIALIZER, moved) : slice(f));
    } else graph.push(slice(f));
  }
  for (const t of model.addedInitializers) graph.push(lengthDelimited(GRAPH_INITIALIZER, onnx.TensorProto.encode(t).finish()));
  for (const v of model.addedInputs) graph.push(lengthDelimited(GRAPH_INPUT, onnx.ValueInfoProto.encode(v).finish()));
  const graphLength = graph.reduce((n, c) => n + c.length, 0);
  const out: Uint8Array[] = [];
  for (const f of layout.model) {
    if (f.field === MODEL_GRAPH) out.push(lengthPrefix(MODEL_GRAPH, graphLength), ...graph);
    else out.push(slice(f));
  }
  for (const o of model.addedOpsets) out.push(lengthDelimited(MODEL_OPSET, onnx.OperatorSetIdProto.encode(o).finish()));
  return out;
}

function writeTransposed(bytes: Uint8Array, init: Initializer, data: { file: DataFile; scratch: TransposeScratch } | undefined): Uint8Array {
  const raw = rawData(bytes, init.field.body, init.field.end);
  const size = ELEMENT_BYTES.get(init.dataType);
  if (!raw || !size || init.dims.length !== 2) throw new Error(`initializer ${init.name} cannot be stored transposed`);
  return transposedTensor(init.name, init.dataType, [init.dims[0]!, init.dims[1]!], raw, size, data);
}

/** Bytes per value of the element types a transposed initializer may have. */
const ELEMENT_BYTES = new Map<number, 2 | 4>([
  [onnx.TensorProto.DataType.FLOAT16, 2],
  [onnx.TensorProto.DataType.FLOAT, 4],
]);

/** Whether the initializer can be written transposed (its values are raw data of a type transposition handles). */
export function canTranspose(model: OnnxModel, init: Initializer): boolean {
  return init.dims.length === 2 && ELEMENT_BYTES.has(init.dataType) && init.externalFiles.length === 0 && rawData(model.bytes, init.field.body, init.field.end) !== undefined;
}

/**
 * Declares an initializer as a graph input too (with `dims`, its shape as written), so ONNX Runtime neither
 * constant-folds nor pre-packs it: one copy in memory, read by every node as it is. No effect before IR version 4,
 * where every initializer is a constant.
 */
export function declareAsInput(model: OnnxModel, init: Initializer, dims: readonly number[] = init.dims): boolean {
  if (model.irVersion < 4 || model.inputs.some((i) => i.name === init.name) || model.addedInputs.some((i) => i.name === init.name)) return false;
  model.addedInputs.push({ name: init.name, type: { tensorType: { elemType: init.dataType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  return true;
}

/** Which node reads which value: value name → nodes with the input index. */
export function consumers(nodes: readonly NodeEntry[]): Map<string, { entry: NodeEntry; index: number }[]> {
  const map = new Map<string, { entry: NodeEntry; index: number }[]>();
  for (const entry of nodes) {
    entry.node.input?.forEach((name, index) => {
      if (!name) return;
      const list = map.get(name) ?? [];
      list.push({ entry, index });
      map.set(name, list);
    });
  }
  return map;
}

/** Which node writes which value. */
export function producers(nodes: readonly NodeEntry[]): Map<string, NodeEntry> {
  const map = new Map<string, NodeEntry>();
  for (const entry of nodes) for (const out of entry.node.output ?? []) if (out) map.set(out, entry);
  return map;
}

export function isDefaultDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === "ai.onnx";
}

/** Declares an operator set domain (version 1) the model does not import yet. */
export function useDomain(model: OnnxModel, domain: string): void {
  if (model.opsets.has(domain)) return;
  model.opsets.set(domain, 1);
  model.addedOpsets.push({ domain, version: 1 });
}

/**
 * The single float value of a scalar constant: an initializer stored in the model file or a Constant node's value;
 * undefined for anything else (a computed value, several elements, another type).
 */
export function scalarFloat(model: OnnxModel, name: string, producer: NodeEntry | undefined): number | undefined {
  let tensor: onnx.ITensorProto | undefined;
  const init = model.initializers.get(name);
  if (init && init.externalFiles.length === 0 && init.dims.every((d) => d === 1)) {
    tensor = onnx.TensorProto.decode(model.bytes.subarray(init.field.body, init.field.end));
  } else if (producer?.node.opType === "Constant" && isDefaultDomain(producer.node)) {
    tensor = producer.node.attribute?.find((a) => a.name === "value")?.t ?? undefined;
  }
  if (!tensor || (tensor.dims ?? []).some((d) => Number(d) !== 1)) return undefined;
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (tensor.floatData && tensor.floatData.length === 1) return tensor.floatData[0];
  const raw = tensor.rawData;
  if (raw && raw.length === 4) return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true);
  return undefined;
}

/** Removes nodes none of whose outputs is read by another node or is a graph output, until none is left. */
export function pruneDeadNodes(model: OnnxModel): number {
  const outputs = new Set(model.outputs.map((o) => o.name));
  let removed = 0;
  for (;;) {
    const read = consumers(model.nodes);
    const dead = model.nodes.filter((e) => !(e.node.output ?? []).some((o) => o && (read.has(o) || outputs.has(o))));
    if (dead.length === 0) return removed;
    const gone = new Set(dead);
    model.nodes = model.nodes.filter((e) => !gone.has(e));
    removed += dead.length;
  }
}

/** A node's attribute of type INTS, or undefined. */
export function intsAttribute(node: onnx.INodeProto, name: string): number[] | undefined {
  const attr = node.attribute?.find((a) => a.name === name);
  return attr?.ints?.map(Number);
}

/** An int64 initializer with the given values (little-endian raw data). */
export function int64Initializer(name: string, values: readonly bigint[], dims: number[]): onnx.ITensorProto {
  return {
    name,
    dataType: onnx.TensorProto.DataType.INT64,
    dims,
    rawData: new Uint8Array(BigInt64Array.from(values).buffer),
  };
}
