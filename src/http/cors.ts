import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";

/**
 * Cross-origin access for browser clients. With no origins configured the server sends no CORS header at all, so
 * browsers keep their same-origin default.
 */
export function corsPlugin(origins: readonly string[]) {
  if (origins.length === 0) return new Elysia({ name: "cors-off" });
  return cors({
    origin: origins.includes("*") ? "*" : [...origins],
    methods: ["GET", "POST", "OPTIONS"],
    // The openai SDK sends several x-stainless-* headers; echoing what the preflight asks for covers them all.
    allowedHeaders: true,
    exposeHeaders: "retry-after",
    // Keys travel in headers, never cookies: no credentialed requests.
    credentials: false,
    maxAge: 600,
  });
}
