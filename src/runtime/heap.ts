import { dlopen, FFIType } from "bun:ffi";

let trim: (() => number) | null | undefined;

/**
 * Gives the C heap's free pages back to the system (glibc `malloc_trim(0)`). ONNX Runtime frees a model's unpacked
 * weights once its kernels have pre-packed them, and the weights it reads through the C heap while loading; glibc
 * keeps such freed chunks mapped, so without this a loaded model's RSS stays at its loading peak. Returns false
 * where there is no glibc (the call is then a no-op).
 */
export function releaseFreeHeap(): boolean {
  if (trim === undefined) {
    try {
      const libc = dlopen(process.platform === "linux" ? "libc.so.6" : "libc.dylib", {
        malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 },
      });
      trim = () => libc.symbols.malloc_trim(0);
    } catch {
      trim = null;
    }
  }
  if (!trim) return false;
  trim();
  return true;
}
