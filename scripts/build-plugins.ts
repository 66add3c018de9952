/**
 * Bun build plugins that make transformers.js + onnxruntime-node work inside
 * one `bun build --compile` executable. Each rewrite checks that the code it
 * patches is still there and fails the build loudly after an upgrade changes it.
 *
 * 1. transformers.js loads onnxruntime-node through
 *    `createRequire(import.meta.url)("onnxruntime-node")`, which the bundler
 *    does not follow: it becomes a static import of the bundled module (the
 *    same instance src/runtime/onnx.ts imports).
 * 2. `sharp` (image decoding, native) resolves to src/runtime/sharp-stub.ts.
 * 3. onnxruntime-node's `require("../bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node")`
 *    is not embedded: the executable loads `onnxruntime_binding.node` from its own
 *    folder, where build.ts copies it with `libonnxruntime.so.1` (found through the
 *    binding's RUNPATH `$ORIGIN`). Nothing is extracted to $TMPDIR.
 */
import type { BunPlugin } from "bun";
import { resolve } from "node:path";

const SHARP_STUB = resolve(import.meta.dir, "../src/runtime/sharp-stub.ts");

/** File names the executable expects beside itself. */
export const ORT_BINDING_FILE = "onnxruntime_binding.node";

const TRANSFORMERS_FILE = /[\\/]@huggingface[\\/]transformers[\\/]dist[\\/]transformers\.node(\.min)?\.mjs$/;
const ORT_REQUIRE = /\b([\w$]+)\(\s*["']onnxruntime-node["']\s*\)/g;

const ORT_BINDING_JS = /[\\/]onnxruntime-node[\\/]dist[\\/]binding\.js$/;
const ORT_BINDING_REQUIRE =
  /require\(\s*`\.\.\/bin\/napi-v\d+\/\$\{process\.platform\}\/\$\{process\.arch\}\/onnxruntime_binding\.node`\s*\)/g;

// Runs inside the executable, in place of the binding require (CommonJS module).
const LOAD_BINDING_BESIDE_EXECUTABLE = `(() => {
  const { dirname, join } = require("node:path");
  const { existsSync, realpathSync } = require("node:fs");
  const file = join(dirname(realpathSync(process.execPath)), ${JSON.stringify(ORT_BINDING_FILE)});
  if (!existsSync(file)) {
    throw new Error("ONNX Runtime binding not found: " + file +
      " (${ORT_BINDING_FILE} and libonnxruntime.so.1 must sit beside the executable)");
  }
  const mod = { exports: {} };
  try {
    process.dlopen(mod, file);
  } catch (err) {
    throw new Error("Cannot load the ONNX Runtime binding " + file + ": " +
      (err && err.message) + " (libonnxruntime.so.1 must sit beside it)");
  }
  return mod.exports;
})()`;

function replaceExactlyOnce(
  source: string,
  pattern: RegExp,
  replacement: string,
  what: string,
  file: string,
): string {
  const count = source.match(pattern)?.length ?? 0;
  if (count !== 1) {
    throw new Error(
      `build plugin: expected exactly one ${what} in ${file}, found ${count}. ` +
        "A dependency upgrade changed the code this build patches: update scripts/build-plugins.ts.",
    );
  }
  return source.replace(pattern, replacement);
}

export interface BuildPlugins {
  plugins: BunPlugin[];
  /** Throws unless every rewrite ran (the patched files were part of the bundle). */
  assertApplied(): void;
}

export function createBuildPlugins(): BuildPlugins {
  const applied = { transformersOrt: false, ortBinding: false };

  const transformersOrt: BunPlugin = {
    name: "transformers-static-onnxruntime-node",
    setup(build) {
      build.onLoad({ filter: TRANSFORMERS_FILE }, async ({ path }) => {
        const source = await Bun.file(path).text();
        const patched = replaceExactlyOnce(
          source,
          ORT_REQUIRE,
          "__gpt3dev_onnxruntime_node",
          'run-time lookup `<require>("onnxruntime-node")`',
          path,
        );
        applied.transformersOrt = true;
        return {
          contents: `import __gpt3dev_onnxruntime_node from "onnxruntime-node";\n${patched}`,
          loader: "js",
        };
      });
    },
  };

  const sharpStub: BunPlugin = {
    name: "sharp-stub",
    setup(build) {
      build.onResolve({ filter: /^sharp$/ }, () => ({ path: SHARP_STUB }));
    },
  };

  const ortBinding: BunPlugin = {
    name: "onnxruntime-binding-beside-executable",
    setup(build) {
      build.onLoad({ filter: ORT_BINDING_JS }, async ({ path }) => {
        const source = await Bun.file(path).text();
        const patched = replaceExactlyOnce(
          source,
          ORT_BINDING_REQUIRE,
          LOAD_BINDING_BESIDE_EXECUTABLE,
          "require of ../bin/napi-v*/${platform}/${arch}/onnxruntime_binding.node",
          path,
        );
        applied.ortBinding = true;
        return { contents: patched, loader: "js" };
      });
    },
  };

  return {
    plugins: [transformersOrt, sharpStub, ortBinding],
    assertApplied() {
      const missing = Object.entries(applied)
        .filter(([, done]) => !done)
        .map(([name]) => name);
      if (missing.length > 0) {
        throw new Error(
          `build plugin: rewrite(s) not applied: ${missing.join(", ")}. ` +
            "The patched files were not in the bundle (module layout changed?): update scripts/build-plugins.ts.",
        );
      }
    },
  };
}
