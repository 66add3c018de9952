import { Elysia } from "elysia";
import type { Metrics } from "../telemetry/metrics.ts";

/** Prometheus scrapes this; it needs an API key like every route when keys are set, unless --metrics-public. */
export const metricsRoutes = (metrics: Metrics) =>
  new Elysia({ name: "metrics" }).get(
    "/metrics",
    async () => new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } }),
  );
