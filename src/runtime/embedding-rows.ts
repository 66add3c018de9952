/**
 * Token embedding rows read from a rewritten model's data file with pread, for the `token_embeddings` input the
 * embedding-rows rewrite gives a decoder instead of its Gather (src/runtime/graph-rewrite/embedding-rows.ts): the
 * table stays in the page cache instead of filling into the process's memory as tokens read it.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { onnx } from "onnx-proto";
import { ROW_VALUE_BYTES, TOKEN_EMBEDDINGS_INPUT } from "./graph-rewrite/embedding-rows.ts";
import type { EmbeddingRowsLocation } from "./graph-rewrite/rewrite-cache.ts";
import { ort } from "./onnx.ts";
import { floatTensorOf } from "./tensor-dtype.ts";
import type { Tensor } from "./session.ts";

const T = onnx.TensorProto.DataType;
const TENSOR_TYPES = new Map<number, "float32" | "float16" | "int8" | "uint8">([
  [T.FLOAT, "float32"],
  [T.FLOAT16, "float16"],
  [T.INT8, "int8"],
  [T.UINT8, "uint8"],
]);

export class EmbeddingRows {
  /** The graph input the rows are fed through. */
  readonly input = TOKEN_EMBEDDINGS_INPUT;
  private fd: number | undefined;
  private readonly rowBytes: number;
  private readonly type: "float32" | "float16" | "int8" | "uint8";

  constructor(private readonly table: EmbeddingRowsLocation) {
    const type = TENSOR_TYPES.get(table.dataType);
    const size = ROW_VALUE_BYTES.get(table.dataType);
    if (!type || !size) throw new Error(`embedding rows of ONNX type ${table.dataType} cannot be read`);
    this.type = type;
    this.rowBytes = table.width * size;
    this.fd = openSync(table.file, "r");
  }

  /** The rows of `ids` (laid out as `dims`, [batch, sequence]) as a [batch, sequence, width] tensor. */
  tensor(ids: readonly number[], dims: readonly [number, number]): Tensor {
    if (this.fd === undefined) throw new Error("the embedding rows were closed");
    const { rows, width, offset } = this.table;
    const bytes = new Uint8Array(ids.length * this.rowBytes);
    ids.forEach((id, i) => {
      // Gather's rule: a negative index counts from the end.
      const row = id < 0 ? id + rows : id;
      if (!Number.isInteger(row) || row < 0 || row >= rows) throw new RangeError(`token id ${id} is outside the embedding table (${rows} rows)`);
      const at = i * this.rowBytes;
      const read = readSync(this.fd!, bytes, at, this.rowBytes, offset + row * this.rowBytes);
      if (read !== this.rowBytes) throw new Error(`the embedding table in ${this.table.file} ends before row ${row}`);
    });
    const shape = [dims[0], dims[1], width];
    const { buffer } = bytes;
    switch (this.type) {
      case "float32":
        return floatTensorOf("float32", new Float32Array(buffer), shape);
      case "float16":
        return floatTensorOf("float16", new Uint16Array(buffer), shape);
      case "int8":
        return new ort.Tensor("int8", new Int8Array(buffer), shape);
      case "uint8":
        return new ort.Tensor("uint8", bytes, shape);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
