import { Elysia, type AnyElysia } from "elysia";
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { DOCS_PAGE } from "../docs/docs-page.ts";
import { openApiDocument } from "../docs/openapi-document.ts";

/** Pages a browser opens without a key (they hold no data; what they fetch needs one when keys are set). */
export const DOCS_PUBLIC_PATHS = ["/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"];

const hide = { detail: { hide: true } };
const asset = (path: string, type: string) => () =>
  new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });

/**
 * GET /openapi.json (generated from the app's own routes on first request, when every route is registered) and the
 * /docs page with its Swagger UI assets.
 */
export const docsRoutes = (app: () => AnyElysia, version: string) => {
  let document: string | undefined;
  return new Elysia({ name: "docs" })
    .get("/openapi.json", () => {
      document ??= JSON.stringify(openApiDocument(app(), version));
      return new Response(document, { headers: { "content-type": "application/json; charset=utf-8" } });
    })
    .get("/docs", () => new Response(DOCS_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }), hide)
    .get("/docs/swagger-ui-bundle.js", asset(swaggerBundle, "text/javascript; charset=utf-8"), hide)
    .get("/docs/swagger-ui.css", asset(swaggerCss, "text/css; charset=utf-8"), hide);
};
