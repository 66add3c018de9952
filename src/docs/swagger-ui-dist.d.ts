// Imported `with { type: "file" }` (src/routes/docs.ts): Bun embeds the file and gives its path.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const path: string;
  export default path;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const path: string;
  export default path;
}
