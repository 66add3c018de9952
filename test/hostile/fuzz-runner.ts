import { FUZZ_ROUTES, makeCases, type FuzzCase } from "./fuzz-cases.ts";

export interface FuzzOptions {
  baseURL: string;
  perRoute: number;
  seed: number;
  concurrency: number;
  routes?: readonly string[];
  headers?: Record<string, string>;
}

export interface FuzzReport {
  sent: number;
  ms: number;
  byStatus: Record<string, number>;
  /** Each names the route, the case number (replayable with the same seed) and what went wrong. */
  failures: string[];
}

const REQUEST_TIMEOUT_MS = 60_000;
const decoder = new TextDecoder();

function isEnvelope(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Object.keys(value).join() !== "error") return false;
  const error = (value as { error: Record<string, unknown> }).error;
  return (
    typeof error === "object" &&
    error !== null &&
    Object.keys(error).sort().join() === "code,message,param,type" &&
    typeof error.message === "string" &&
    typeof error.type === "string"
  );
}

/** What is wrong with an answer, or undefined when it is acceptable: 2xx, or 4xx with OpenAI's envelope. */
async function judge(response: Response): Promise<string | undefined> {
  const text = decoder.decode(await response.arrayBuffer());
  if (response.status >= 500) return `status ${response.status}: ${text.slice(0, 200)}`;
  if (response.status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `status ${response.status} without a JSON body: ${text.slice(0, 200)}`;
    }
    return isEnvelope(body) ? undefined : `status ${response.status} without OpenAI's envelope: ${text.slice(0, 200)}`;
  }
  if (response.status !== 200) return `unexpected status ${response.status}`;
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    try {
      JSON.parse(text);
      return undefined;
    } catch {
      return `200 without a JSON body: ${text.slice(0, 200)}`;
    }
  }
  const events = text.split("\n\n").filter(Boolean);
  const last = events.at(-1);
  for (const event of events) {
    if (!event.startsWith("data: ")) return `malformed SSE event: ${event.slice(0, 200)}`;
    const data = event.slice(6);
    if (data === "[DONE]") continue;
    const value = JSON.parse(data) as { error?: { type?: string } };
    if (value.error && (!isEnvelope(value) || value.error.type === "server_error")) return `SSE error frame: ${data.slice(0, 200)}`;
  }
  return last === "data: [DONE]" ? undefined : `stream did not end with [DONE]: ${last?.slice(0, 200)}`;
}

async function send(baseURL: string, c: FuzzCase, headers: Record<string, string>): Promise<Response> {
  const all: Record<string, string> = { ...headers };
  if (c.contentType !== undefined) all["content-type"] = c.contentType;
  return fetch(`${baseURL}${c.route}`, {
    method: "POST",
    headers: all,
    body: c.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** Posts every generated case with bounded concurrency and collects what the server answered. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const routes = options.routes ?? FUZZ_ROUTES;
  function* allJobs() {
    for (const route of routes) {
      let index = 0;
      for (const c of makeCases(route, options.seed, options.perRoute)) yield { c, index: index++ };
    }
  }
  const jobs = allJobs();
  const report: FuzzReport = { sent: 0, ms: 0, byStatus: {}, failures: [] };
  const started = performance.now();
  const worker = async () => {
    for (let job = jobs.next(); !job.done; job = jobs.next()) {
      const { c, index } = job.value;
      let status = "error";
      let problem: string | undefined;
      try {
        const response = await send(options.baseURL, c, options.headers ?? {});
        status = String(response.status);
        problem = await judge(response);
      } catch (error) {
        // A server may answer an oversize body with 413 and close before the client has sent it all.
        problem = c.kind === "oversize" ? undefined : `request failed: ${error instanceof Error ? error.message : error}`;
      }
      report.sent++;
      report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      if (problem) report.failures.push(`${c.route} case ${index} (${c.kind}): ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  report.ms = performance.now() - started;
  return report;
}
