/**
 * Build-time replacement for `sharp` (see scripts/build-plugins.ts).
 *
 * transformers.js imports sharp at top level and refuses to load when its
 * default export is falsy. This server is text-only, so the compiled
 * executable gets this stub instead of sharp's native libraries.
 */
function sharp(): never {
  throw new Error("image processing is not supported");
}

export default sharp;
