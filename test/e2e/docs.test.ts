import { expect, it } from "bun:test";
import { describeEachMode } from "./suite.ts";

// The compiled executable must carry the docs with it: Swagger UI's files are embedded, not read from node_modules.
describeEachMode("API docs", (ctx) => {
  it("serves /openapi.json for every route and /docs with Swagger UI from inside the server", async () => {
    const base = ctx().server.baseURL;
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, object> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toContain("/v1/chat/completions");
    expect(await (await fetch(`${base}/docs`)).text()).toContain("SwaggerUIBundle(");
    const bundle = await fetch(`${base}/docs/swagger-ui-bundle.js`);
    expect(bundle.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await bundle.text()).toBe(await Bun.file(require.resolve("swagger-ui-dist/swagger-ui-bundle.js")).text());
  });
});
