import { toOpenAIError } from "../errors.ts";

const encoder = new TextEncoder();

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Tells nginx and similar proxies not to buffer the stream.
  "x-accel-buffering": "no",
};

/** How one protocol frames its events: each object, a failure mid-stream, and the end of the stream. */
export interface SseFraming {
  frame(value: object): string;
  error(error: unknown): string;
  end: string;
}

/** OpenAI's chat and text completions: `data: {json}` events, then `data: [DONE]`. */
export const openAIFraming: SseFraming = {
  frame: (value) => `data: ${JSON.stringify(value)}\n\n`,
  error: (error) => `data: ${JSON.stringify(toOpenAIError(error).toBody())}\n\n`,
  end: "data: [DONE]\n\n",
};

/**
 * The newer protocols name each event after its `type` field (`event: <type>`), with no end marker. `numbered`:
 * every event, the error one included, gets the stream's next `sequence_number` (OpenAI Responses).
 */
export function typedEventFraming(
  error: (error: unknown) => { type: string },
  options: { numbered?: boolean } = {},
): () => SseFraming {
  return () => {
    let next = 0;
    const frame = (value: object) => {
      const event = options.numbered ? { ...value, sequence_number: next++ } : value;
      return `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`;
    };
    return { frame, error: (e) => frame(error(e)), end: "" };
  };
}

/**
 * Frames objects as a stream of server-sent events. A failure mid-stream becomes one error event. `onClose` runs
 * exactly once: when the stream ends or the client goes away.
 */
export function sseResponse(chunks: AsyncGenerator<object>, onClose: () => void, framing: SseFraming = openAIFraming): Response {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    onClose();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) {
          if (framing.end) controller.enqueue(encoder.encode(framing.end));
          controller.close();
          close();
          return;
        }
        controller.enqueue(encoder.encode(framing.frame(next.value)));
      } catch (error) {
        controller.enqueue(encoder.encode(framing.error(error)));
        controller.close();
        close();
      }
    },
    async cancel() {
      close();
      await chunks.return(undefined);
    },
  });
  return new Response(stream, { headers: SSE_HEADERS });
}
