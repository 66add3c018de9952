// These packages' "exports" maps do not list their package.json; Bun resolves it anyway, TypeScript needs telling.
declare module "@huggingface/transformers/package.json" {
  const manifest: { version: string };
  export default manifest;
}
declare module "@huggingface/tokenizers/package.json" {
  const manifest: { version: string };
  export default manifest;
}
declare module "@huggingface/jinja/package.json" {
  const manifest: { version: string };
  export default manifest;
}
