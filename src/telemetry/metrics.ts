import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineEvent } from "../engine/engine-events.ts";
import type { EngineStats } from "../engine/model-host.ts";
import type { RequestTrace } from "./request-trace.ts";

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const LOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320];

/**
 * The server's Prometheus metrics. HTTP figures are recorded from request traces; engine figures arrive as plain
 * events from the engine worker (steps, model loads) or are read from its stats when scraped (queue, running rows).
 */
export class Metrics {
  readonly registry = new Registry();
  private engineStats: () => Promise<EngineStats | undefined> = async () => undefined;

  private readonly requests = new Counter({
    name: "gpt3dev_requests_total",
    help: "HTTP requests answered, by route pattern, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });
  private readonly requestSeconds = new Histogram({
    name: "gpt3dev_request_duration_seconds",
    help: "Time from a request's arrival to the end of its answer (streams included)",
    labelNames: ["route"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly promptTokens = new Counter({
    name: "gpt3dev_prompt_tokens_total",
    help: "Prompt tokens of generation requests",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  private readonly generationTokens = new Counter({
    name: "gpt3dev_generation_tokens_total",
    help: "Tokens generated (completion tokens of every choice)",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  private readonly cachedTokens = new Counter({
    name: "gpt3dev_cached_prompt_tokens_total",
    help: "Prompt tokens served from a prefix cache instead of being prefilled",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: "gpt3dev_time_to_first_token_seconds",
    help: "Time from a generation request's arrival to its first generated text",
    labelNames: ["model"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly interToken = new Histogram({
    name: "gpt3dev_inter_token_latency_seconds",
    help: "Time between successive texts of one choice, as the HTTP side receives them",
    labelNames: ["model"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: "gpt3dev_batch_size",
    help: "Sequences decoded together in one batched decode step",
    labelNames: ["model"] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly loads = new Counter({
    name: "gpt3dev_model_loads_total",
    help: "Model loads, by model and result (ok or error)",
    labelNames: ["model", "result"] as const,
    registers: [this.registry],
  });
  private readonly loadSeconds = new Histogram({
    name: "gpt3dev_model_load_seconds",
    help: "Time one model load took (sessions and tokenizer)",
    labelNames: ["model"] as const,
    buckets: LOAD_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    new Gauge({
      name: "gpt3dev_queue_depth",
      help: "Requests waiting for a place in a model's batch",
      labelNames: ["model"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const stats = await metrics.engineStats();
        for (const [model, s] of Object.entries(stats?.models ?? {})) this.set({ model }, s.queued);
      },
    });
    new Gauge({
      name: "gpt3dev_running_sequences",
      help: "Sequences in a model's batch or being prefilled",
      labelNames: ["model"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const stats = await metrics.engineStats();
        for (const [model, s] of Object.entries(stats?.models ?? {})) this.set({ model }, s.rows + s.prefilling);
      },
    });
    new Gauge({
      name: "gpt3dev_loaded_models",
      help: "Models loaded (or loading) in the engine",
      registers: [this.registry],
      async collect() {
        this.set((await metrics.engineStats())?.loaded.length ?? 0);
      },
    });
  }

  /** Where scrapes read the engine's gauges from; undefined while no engine runs (a scrape never starts one). */
  readEngineStats(read: () => Promise<EngineStats | undefined>): void {
    this.engineStats = async () => read().catch(() => undefined);
  }

  recordRequest(trace: RequestTrace): void {
    const route = trace.route ?? "unmatched";
    this.requests.inc({ route, method: trace.method, status: String(trace.status ?? 0) });
    if (trace.totalMs !== undefined) this.requestSeconds.observe({ route }, trace.totalMs / 1000);
    const model = trace.model;
    if (model === undefined || trace.promptTokens === undefined) return;
    this.promptTokens.inc({ model }, trace.promptTokens);
    this.generationTokens.inc({ model }, trace.completionTokens ?? 0);
    this.cachedTokens.inc({ model }, trace.cachedTokens ?? 0);
    if (trace.ttftMs !== undefined) this.ttft.observe({ model }, trace.ttftMs / 1000);
    for (const gap of trace.tokenGaps) this.interToken.observe({ model }, gap);
  }

  recordEngine(event: EngineEvent): void {
    if (event.kind === "step") this.batchSize.observe({ model: event.model }, event.rows);
    else {
      this.loads.inc({ model: event.model, result: event.ok ? "ok" : "error" });
      if (event.ok) this.loadSeconds.observe({ model: event.model }, event.seconds);
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
