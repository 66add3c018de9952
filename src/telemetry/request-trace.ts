import { wrapRun, type CompletionRun } from "../engine/completion-run.ts";

/**
 * What one HTTP request did, from its arrival to the last byte of its answer: filled in by the request-log plugin
 * (route, status), by the generation path (model, tokens, first token, gaps between tokens) and ended once both the
 * response went out and any stream it carries closed. Holds prompt/completion text only when asked to.
 */
export class RequestTrace {
  readonly started = performance.now();
  route?: string;
  model?: string;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  /** Milliseconds from arrival to the first generated text. */
  ttftMs?: number;
  totalMs?: number;
  /** Seconds between successive texts of the same choice (inter-token latency). */
  readonly tokenGaps: number[] = [];
  /** Only with `captureText` (`--log-prompts`). */
  prompt?: string;
  completion?: string[];
  private holds = 0;
  private responded = false;
  private ended = false;

  constructor(
    readonly id: string,
    readonly method: string,
    readonly path: string,
    readonly captureText: boolean,
    private readonly onEnd: (trace: RequestTrace) => void,
  ) {}

  /** Keeps the trace open past the response (a stream); call the returned function when it closes. */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.maybeEnd();
    };
  }

  /** The response was handed over with this status. */
  respond(status: number): void {
    this.status ??= status;
    this.responded = true;
    this.maybeEnd();
  }

  /** Times the run's output as it is read, and takes its token counts when it ends. */
  observe(run: CompletionRun): CompletionRun {
    this.model = run.modelId;
    this.promptTokens = run.promptTokens;
    const trace = this;
    const lastText = new Map<number, number>();
    const settle = () => {
      trace.completionTokens = run.completionTokens;
      trace.cachedTokens = run.cachedTokens ?? 0;
    };
    async function* events() {
      try {
        for await (const event of run.events()) {
          if (event.kind === "text" && event.text !== "") {
            const now = performance.now();
            trace.ttftMs ??= now - trace.started;
            const previous = lastText.get(event.index);
            if (previous !== undefined) trace.tokenGaps.push((now - previous) / 1000);
            lastText.set(event.index, now);
            if (trace.captureText) (trace.completion ??= [])[event.index] = (trace.completion[event.index] ?? "") + event.text;
          }
          yield event;
        }
      } finally {
        settle();
      }
    }
    return wrapRun(run, events, () => {
      run.close();
      settle();
    });
  }

  private maybeEnd(): void {
    if (this.ended || !this.responded || this.holds > 0) return;
    this.ended = true;
    this.totalMs = performance.now() - this.started;
    this.onEnd(this);
  }
}

const traces = new WeakMap<Request, RequestTrace>();

export function startTrace(request: Request, captureText: boolean, onEnd: (trace: RequestTrace) => void): RequestTrace {
  const { pathname } = new URL(request.url);
  const trace = new RequestTrace(`req-${crypto.randomUUID().replaceAll("-", "")}`, request.method, pathname, captureText, onEnd);
  traces.set(request, trace);
  return trace;
}

/** The trace of a request, when the request-log plugin is mounted. */
export function traceOf(request: Request): RequestTrace | undefined {
  return traces.get(request);
}
