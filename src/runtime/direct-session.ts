/**
 * An ONNX Runtime session driven through the C API (src/runtime/ort-capi.ts) instead of onnxruntime-node's binding,
 * for the one thing the binding cannot do: write a run's outputs into tensors the caller allocated. A decoder's
 * `present.*` outputs are the whole KV cache; the binding copies them into fresh JS buffers after every step (67 MB
 * per token for a GPT-2-small cache at 896 positions), which made decoding at long contexts several times slower than
 * the run itself. Here inputs and outputs are OrtValues over the caller's own typed arrays: nothing is copied in or
 * out. Opened with the same options as createSession (src/runtime/session.ts).
 */
import { CString, ptr, type Pointer } from "bun:ffi";
import { ELEMENT_NAMES, ELEMENT_TYPES, ortCApi, type OrtCApi } from "./ort-capi.ts";
import { sessionConfigEntries, type SessionSettings, type Tensor } from "./session.ts";

/** What the binding reports per input or output (the shape tensorInfo() reads). */
export interface ValueMetadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

const OPTIMIZATION_LEVELS = { disabled: 0, basic: 1, extended: 2, all: 99 } as const;
/** Backing for zero-element tensors, whose own buffers may have no address. */
const EMPTY = new BigUint64Array(1);

export class DirectSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** Null-terminated names, kept referenced for as long as their addresses are handed to Run. */
  private readonly names = new Map<string, { text: Buffer; address: bigint }>();
  private handle: Pointer | null;

  private constructor(
    private readonly api: OrtCApi,
    handle: Pointer,
  ) {
    this.handle = handle;
    this.inputMetadata = this.describe("Input");
    this.outputMetadata = this.describe("Output");
    this.inputNames = this.inputMetadata.map((m) => m.name);
    this.outputNames = this.outputMetadata.map((m) => m.name);
    for (const name of [...this.inputNames, ...this.outputNames]) {
      const text = api.cString(name);
      this.names.set(name, { text, address: BigInt(ptr(text)) });
    }
  }

  /** The C API, or why it cannot be used here (the caller then opens the file with onnxruntime-node). */
  static available(): true | Error {
    const api = ortCApi();
    return api instanceof Error ? api : true;
  }

  /**
   * `save`: ONNX Runtime also writes the graph it optimized to `save.to`, with these extra session entries (what it
   * saves and where: src/runtime/packed-weights.ts).
   */
  static open(path: string, settings: SessionSettings = {}, save?: { to: string; entries: Readonly<Record<string, string>> }): DirectSession {
    const api = ortCApi();
    if (api instanceof Error) throw api;
    const { fn, out, check, cString } = api;
    const options = out((s) => fn.CreateSessionOptions(s));
    try {
      check(fn.SetSessionExecutionMode(options, 0));
      check(fn.SetSessionGraphOptimizationLevel(options, OPTIMIZATION_LEVELS[settings.graphOptimizationLevel ?? "all"]));
      check(fn.SetIntraOpNumThreads(options, settings.intraOpThreads ?? 0));
      check(fn.SetInterOpNumThreads(options, 1));
      check(fn.DisableMemPattern(options));
      check(settings.memoryArena === false ? fn.DisableCpuMemArena(options) : fn.EnableCpuMemArena(options));
      if (settings.warnings === false) check(fn.SetSessionLogSeverityLevel(options, 3));
      for (const [key, value] of Object.entries(sessionConfigEntries(settings))) {
        const [k, v] = [cString(key), cString(value)];
        check(fn.AddSessionConfigEntry(options, ptr(k), ptr(v)));
      }
      if (save) {
        const to = cString(save.to);
        check(fn.SetOptimizedModelFilePath(options, ptr(to)));
        for (const [key, value] of Object.entries(save.entries)) {
          const [k, v] = [cString(key), cString(value)];
          check(fn.AddSessionConfigEntry(options, ptr(k), ptr(v)));
        }
      }
      const file = cString(path);
      return new DirectSession(api, out((s) => fn.CreateSession(api.env, ptr(file), options, s)));
    } finally {
      fn.ReleaseSessionOptions(options);
    }
  }

  /**
   * Runs the graph on `feeds` and writes the named outputs into `outputs`' own data, which must have exactly the
   * shapes the graph produces (ONNX Runtime fails the run otherwise). Only the outputs named are computed.
   */
  async run(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>): Promise<void> {
    // Let messages and timers queued on this thread go first, as onnxruntime-node's run does.
    await new Promise((resolve) => setImmediate(resolve));
    this.runNow(feeds, outputs);
  }

  runNow(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>): void {
    if (!this.handle) throw new Error("the session was released");
    const { fn, check } = this.api;
    const inNames = Object.keys(feeds);
    const outNames = Object.keys(outputs);
    const inValues = new BigUint64Array(inNames.length);
    const outValues = new BigUint64Array(outNames.length);
    const inAddresses = BigUint64Array.from(inNames, (name) => this.nameAddress(name));
    const outAddresses = BigUint64Array.from(outNames, (name) => this.nameAddress(name));
    try {
      inNames.forEach((name, i) => (inValues[i] = this.value(feeds[name]!)));
      outNames.forEach((name, i) => (outValues[i] = this.value(outputs[name]!)));
      check(fn.Run(this.handle, null, ptr(inAddresses), ptr(inValues), inNames.length, ptr(outAddresses), outNames.length, ptr(outValues)));
    } finally {
      for (const value of inValues) if (value) fn.ReleaseValue(Number(value));
      for (const value of outValues) if (value) fn.ReleaseValue(Number(value));
    }
  }

  async release(): Promise<void> {
    if (!this.handle) return;
    this.api.fn.ReleaseSession(this.handle);
    this.handle = null;
  }

  private nameAddress(name: string): bigint {
    const entry = this.names.get(name);
    if (!entry) throw new Error(`the graph has no input or output named '${name}'`);
    return entry.address;
  }

  /** An OrtValue over the tensor's own data (released after the run; the data stays the caller's). */
  private value(tensor: Tensor): bigint {
    const code = ELEMENT_TYPES[tensor.type];
    if (code === undefined) throw new Error(`tensors of type ${tensor.type} are not supported here`);
    const data = tensor.data as unknown as Float32Array;
    const dims = tensor.dims;
    const shape = BigInt64Array.from(dims, (d) => BigInt(d));
    const bytes = data.byteLength;
    const address = bytes === 0 ? ptr(EMPTY) : ptr(data);
    const { fn, out, cpuMemory } = this.api;
    return BigInt(out((s) => fn.CreateTensorWithDataAsOrtValue(cpuMemory, address, bytes, dims.length === 0 ? ptr(EMPTY) : ptr(shape), dims.length, code, s)));
  }

  /** Names, element types and declared shapes (symbolic dimensions by name) of the inputs or outputs. */
  private describe(kind: "Input" | "Output"): ValueMetadata[] {
    const { fn, out, check, takeString, allocator } = this.api;
    const count = new BigUint64Array(1);
    check(fn[`SessionGet${kind}Count`](this.handle, ptr(count)));
    const metadata: ValueMetadata[] = [];
    for (let i = 0; i < Number(count[0]); i++) {
      const name = takeString(out((s) => fn[`SessionGet${kind}Name`](this.handle, i, allocator, s)));
      const typeInfo = out((s) => fn[`SessionGet${kind}TypeInfo`](this.handle, i, s));
      try {
        const info = out((s) => fn.CastTypeInfoToTensorInfo(typeInfo, s));
        if (!info) {
          metadata.push({ name, isTensor: false });
          continue;
        }
        const element = new Int32Array(1);
        check(fn.GetTensorElementType(info, ptr(element)));
        const rank = new BigUint64Array(1);
        check(fn.GetDimensionsCount(info, ptr(rank)));
        const n = Number(rank[0]);
        const dims = new BigInt64Array(Math.max(1, n));
        const symbols = new BigUint64Array(Math.max(1, n));
        if (n > 0) {
          check(fn.GetDimensions(info, ptr(dims), n));
          check(fn.GetSymbolicDimensions(info, ptr(symbols), n));
        }
        const shape = Array.from({ length: n }, (_, d) => {
          const size = Number(dims[d]);
          if (size >= 0) return size;
          const symbol = Number(symbols[d]);
          return symbol ? new CString(symbol as Pointer).toString() : "";
        });
        metadata.push({ name, isTensor: true, type: ELEMENT_NAMES.get(element[0]!) ?? `onnx-type-${element[0]}`, shape });
      } finally {
        fn.ReleaseTypeInfo(typeInfo);
      }
    }
    return metadata;
  }
}
