/**
 * The few functions of ONNX Runtime's C API that src/runtime/direct-session.ts needs, called through bun:ffi on the
 * very library onnxruntime-node has loaded (same file, so the same process-wide OrtEnv and no second copy of the
 * code). Through the C API a run's outputs can be written straight into buffers the caller owns, which
 * onnxruntime-node 1.30 cannot do: its binding copies every output into a new JS buffer after each run.
 *
 * `OrtApi` is a struct of function pointers that only ever grows at its end, so a function's slot number is the same
 * in every release at or after the one that added it; the slots below all exist since ONNX Runtime 1.8 (API 8).
 */
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CFunction, CString, dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { isCompiled } from "./onnx.ts";

const API_VERSION = 8;
const P = FFIType.ptr;
const U64 = FFIType.u64;
const I32 = FFIType.i32;

/** OrtApi slot → argument types (all return an OrtStatus*, null on success, unless noted). */
const SLOTS = {
  GetErrorMessage: [2, [P], P],
  CreateEnv: [3, [I32, P, P]],
  CreateSession: [7, [P, P, P, P]],
  Run: [9, [P, P, P, P, U64, P, U64, P]],
  CreateSessionOptions: [10, [P]],
  SetOptimizedModelFilePath: [11, [P, P]],
  SetSessionExecutionMode: [13, [P, I32]],
  EnableMemPattern: [16, [P]],
  DisableMemPattern: [17, [P]],
  EnableCpuMemArena: [18, [P]],
  DisableCpuMemArena: [19, [P]],
  SetSessionLogSeverityLevel: [22, [P, I32]],
  SetSessionGraphOptimizationLevel: [23, [P, I32]],
  SetIntraOpNumThreads: [24, [P, I32]],
  SetInterOpNumThreads: [25, [P, I32]],
  SessionGetInputCount: [30, [P, P]],
  SessionGetOutputCount: [31, [P, P]],
  SessionGetInputTypeInfo: [33, [P, U64, P]],
  SessionGetOutputTypeInfo: [34, [P, U64, P]],
  SessionGetInputName: [36, [P, U64, P, P]],
  SessionGetOutputName: [37, [P, U64, P, P]],
  CreateTensorWithDataAsOrtValue: [49, [P, P, U64, P, U64, I32, P]],
  CastTypeInfoToTensorInfo: [55, [P, P]],
  GetTensorElementType: [60, [P, P]],
  GetDimensionsCount: [61, [P, P]],
  GetDimensions: [62, [P, P, U64]],
  GetSymbolicDimensions: [63, [P, P, U64]],
  CreateCpuMemoryInfo: [69, [I32, I32, P]],
  AllocatorFree: [76, [P, P]],
  GetAllocatorWithDefaultOptions: [78, [P]],
  ReleaseStatus: [93, [P], FFIType.void],
  ReleaseSession: [95, [P], FFIType.void],
  ReleaseValue: [96, [P], FFIType.void],
  ReleaseTypeInfo: [98, [P], FFIType.void],
  ReleaseSessionOptions: [100, [P], FFIType.void],
  AddSessionConfigEntry: [130, [P, P, P]],
} as const satisfies Record<string, readonly [number, readonly FFIType[], FFIType?]>;

type Api = { -readonly [K in keyof typeof SLOTS]: (...args: unknown[]) => unknown };

/** ONNX element type codes (TensorProto.DataType) of the tensors the engine exchanges, both ways. */
export const ELEMENT_TYPES: Readonly<Record<string, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 };
export const ELEMENT_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ELEMENT_TYPES).map(([name, code]) => [code, name]));

/** Where onnxruntime-node's native library is: beside the executable when compiled, in its package otherwise. */
function libraryPath(): string {
  if (isCompiled()) return join(dirname(realpathSync(process.execPath)), "libonnxruntime.so.1");
  const entry = createRequire(import.meta.url).resolve("onnxruntime-node");
  return join(dirname(entry), "..", "bin", "napi-v6", process.platform, process.arch, "libonnxruntime.so.1");
}

export interface OrtCApi {
  fn: Api;
  env: Pointer;
  /** CPU memory description for tensors over caller-owned buffers. */
  cpuMemory: Pointer;
  allocator: Pointer;
  /** Throws the status's message (and releases it) when `status` is not null. */
  check(status: unknown): void;
  /** Calls `call` with a pointer to an out-parameter slot and returns what it wrote there. */
  out(call: (slot: Pointer) => unknown): Pointer;
  /** A null-terminated copy of `text`, to be kept referenced while the pointer is in use. */
  cString(text: string): Buffer;
  /** Reads a string the default allocator made and frees it. */
  takeString(pointer: Pointer): string;
}

let loaded: OrtCApi | Error | undefined;

/** The C API, loaded once per thread; an Error (never thrown) when this platform or library does not allow it. */
export function ortCApi(): OrtCApi | Error {
  if (!loaded) {
    try {
      loaded = load();
    } catch (error) {
      loaded = error instanceof Error ? error : new Error(String(error));
    }
  }
  return loaded;
}

function load(): OrtCApi {
  if (process.platform !== "linux") throw new Error(`the ONNX Runtime C API path is built for Linux, not ${process.platform}`);
  const lib = dlopen(libraryPath(), { OrtGetApiBase: { args: [], returns: P } });
  const base = lib.symbols.OrtGetApiBase();
  if (!base) throw new Error("OrtGetApiBase returned null");
  const getApi = CFunction({ ptr: read.ptr(base, 0) as unknown as Pointer, args: [FFIType.u32], returns: P });
  const table = getApi(API_VERSION) as Pointer | null;
  if (!table) throw new Error(`ONNX Runtime does not offer C API version ${API_VERSION}`);
  const fn = {} as Api;
  for (const [name, [slot, args, returns]] of Object.entries(SLOTS) as [keyof Api, readonly [number, readonly FFIType[], FFIType?]][]) {
    const address = read.ptr(table, slot * 8) as unknown as Pointer;
    fn[name] = CFunction({ ptr: address, args: [...args], returns: returns ?? P }) as unknown as (...args: unknown[]) => unknown;
  }
  const slot = new BigUint64Array(1);
  const slotPtr = ptr(slot);
  const check = (status: unknown): void => {
    if (!status) return;
    const message = new CString(fn.GetErrorMessage(status) as Pointer).toString();
    fn.ReleaseStatus(status);
    throw new Error(message);
  };
  const out = (call: (slot: Pointer) => unknown): Pointer => {
    slot[0] = 0n;
    check(call(slotPtr));
    return Number(slot[0]) as Pointer;
  };
  const cString = (text: string): Buffer => Buffer.from(`${text}\0`, "utf8");
  const logId = cString("gpt3dev");
  const env = out((s) => fn.CreateEnv(2, ptr(logId), s));
  const cpuMemory = out((s) => fn.CreateCpuMemoryInfo(0, 0, s));
  const allocator = out((s) => fn.GetAllocatorWithDefaultOptions(s));
  const takeString = (pointer: Pointer): string => {
    const text = new CString(pointer).toString();
    check(fn.AllocatorFree(allocator, pointer));
    return text;
  };
  return { fn, env, cpuMemory, allocator, check, out, cString, takeString };
}
