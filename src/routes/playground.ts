import { Elysia } from "elysia";
import { PLAYGROUND_PAGE } from "../playground/page.ts";

/** The page itself holds no data: it opens without a key, and asks for one when the server has keys. */
export const PLAYGROUND_PUBLIC_PATHS = ["/"];

export const playgroundRoutes = () =>
  new Elysia({ name: "playground" }).get(
    "/",
    () => new Response(PLAYGROUND_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
    { detail: { hide: true } },
  );
