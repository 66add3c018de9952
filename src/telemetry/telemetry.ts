import type { EngineEvent } from "../engine/engine-events.ts";
import { Logger } from "./logger.ts";
import { Metrics } from "./metrics.ts";
import type { RequestTrace } from "./request-trace.ts";

const round = (value: number | undefined, digits = 1) => (value === undefined ? undefined : Number(value.toFixed(digits)));

const QUIET_ROUTES = new Set(["/health", "/healthz", "/metrics"]);

/** Logs and metrics together: where request traces end and engine events arrive. */
export class Telemetry {
  readonly metrics = new Metrics();

  constructor(readonly logger: Logger = new Logger()) {}

  /** Hand this to the Engine: it is called with every event the engine worker reports. */
  readonly observeEngine = (event: EngineEvent): void => {
    this.metrics.recordEngine(event);
    if (event.kind !== "load") return;
    const fields = {
      model: event.model,
      seconds: round(event.seconds, 3),
      bytes: event.bytes,
      files: event.files.map((f) => `${f.path}:${f.bytes}`).join(","),
    };
    if (event.ok) this.logger.info("model loaded", fields);
    else this.logger.warn("model load failed", { ...fields, error: event.error });
  };

  requestEnded(trace: RequestTrace): void {
    this.metrics.recordRequest(trace);
    // Probes and scrapes arrive every few seconds: their lines only at debug level.
    const level = trace.route && QUIET_ROUTES.has(trace.route) && trace.status === 200 ? "debug" : "info";
    this.logger.log(level, "request", {
      id: trace.id,
      method: trace.method,
      path: trace.path,
      route: trace.route,
      model: trace.model,
      status: trace.status,
      prompt_tokens: trace.promptTokens,
      completion_tokens: trace.completionTokens,
      cached_tokens: trace.cachedTokens,
      ttft_ms: round(trace.ttftMs),
      total_ms: round(trace.totalMs),
      ...(this.logger.prompts ? { prompt: trace.prompt, completion: trace.completion?.join("\u241e") } : {}),
    });
  }
}
