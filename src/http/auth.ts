import { Elysia } from "elysia";
import { OpenAIError } from "../errors.ts";
import type { ApiKeys } from "./api-keys.ts";

/** Load balancers and probes must reach these without a key. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/healthz"]);

/**
 * Every key the request offers: a Bearer token and an x-api-key header. Another Authorization scheme (Basic, sent by
 * some proxies) is no key at all, so it does not hide a valid x-api-key.
 */
function presentedKeys(headers: Headers): string[] {
  const keys: string[] = [];
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization")?.trim() ?? "")?.[1]?.trim();
  if (bearer) keys.push(bearer);
  const header = headers.get("x-api-key")?.trim();
  if (header) keys.push(header);
  return keys;
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const end = url.indexOf("?", start);
  return end === -1 ? url.slice(start) : url.slice(start, end);
}

/**
 * Refuses every request without a valid key, except health checks and CORS preflights (browsers never send
 * credentials on a preflight). Closed by default: paths that match no route also need a key, so nothing about the
 * server's surface is told to a client without one.
 */
export const authPlugin = (keys: ApiKeys, alsoOpen: readonly string[] = []) =>
  new Elysia({ name: "auth" }).onRequest(({ request }) => {
    if (!keys.required || request.method === "OPTIONS") return;
    const path = pathOf(request.url);
    if (OPEN_PATHS.has(path) || alsoOpen.includes(path)) return;
    if (presentedKeys(request.headers).some((key) => keys.accepts(key))) return;
    const sent = request.headers.has("authorization") || request.headers.has("x-api-key");
    throw new OpenAIError(
      401,
      sent
        ? "Incorrect API key provided. You can find the keys in the server's --api-key, API_KEYS or --api-key-file."
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using " +
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY) or in an x-api-key header.",
      "invalid_request_error",
      null,
      "invalid_api_key",
    );
  });
