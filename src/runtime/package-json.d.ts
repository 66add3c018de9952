// transformers.js's "exports" map does not list its package.json; Bun resolves it anyway, TypeScript needs telling.
declare module "@huggingface/transformers/package.json" {
  const manifest: { version: string };
  export default manifest;
}
