/**
 * The one place the app imports onnxruntime-node from.
 *
 * From source (`bun src/main.ts`) onnxruntime-node loads its native binding from
 * node_modules as usual. In the compiled executable, build.ts rewrites the
 * binding's `require()` (see scripts/build-plugins.ts) so that
 * `onnxruntime_binding.node` is loaded from the folder holding the executable;
 * the binding's RUNPATH is `$ORIGIN`, so `libonnxruntime.so.1` is found beside
 * it and nothing is extracted to $TMPDIR.
 *
 * transformers.js gets this very module instance too (build plugin turns its
 * `createRequire(...)("onnxruntime-node")` into a static import), see
 * src/runtime/transformers.ts.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import * as ort from "onnxruntime-node";

export { ort };

/** The onnxruntime-node version (also the native library's version). */
export const ortVersion: string = ort.env.versions.node ?? ort.env.versions.common;

/** True when running as the `bun build --compile` executable, false from source. */
export function isCompiled(): boolean {
  return Bun.isStandaloneExecutable;
}

/**
 * ONNX Runtime 1.30 on Linux starts Microsoft's telemetry SDK when its
 * environment is created (the first InferenceSession): it writes
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime/*` and `$TMPDIR/.ses`,
 * `$TMPDIR/mat-debug-<pid>.log`, and tries to upload events over HTTPS. The
 * native library reads ORT_DISABLE_TELEMETRY with getenv(), which does not see
 * writes to Bun's `process.env`, so set it in the C environment (unless the
 * user set it) before any session exists.
 */
function disableOrtTelemetry(): void {
  if (process.env.ORT_DISABLE_TELEMETRY !== undefined) return;
  process.env.ORT_DISABLE_TELEMETRY = "1";
  if (process.platform !== "linux") return;
  try {
    const libc = dlopen("libc.so.6", {
      setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
    });
    const name = Buffer.from("ORT_DISABLE_TELEMETRY\0");
    const value = Buffer.from("1\0");
    libc.symbols.setenv(ptr(name), ptr(value), 0);
    libc.close();
  } catch (err) {
    console.warn(`could not disable ONNX Runtime telemetry (set ORT_DISABLE_TELEMETRY=1): ${err}`);
  }
}
disableOrtTelemetry();
