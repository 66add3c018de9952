import { Elysia } from "elysia";

/** Liveness for load balancers and probes; never touches models. */
export const healthRoutes = () =>
  new Elysia({ name: "health" })
    .get("/healthz", () => ({ status: "ok" }))
    .get("/health", () => ({ status: "ok" }));
