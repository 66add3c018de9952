import { toOpenAIError } from "../errors.ts";

const encoder = new TextEncoder();

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Tells nginx and similar proxies not to buffer the stream.
  "x-accel-buffering": "no",
};

/**
 * Frames objects as OpenAI does (`data: {json}\n\n` … `data: [DONE]\n\n`). A failure mid-stream becomes one error
 * frame. `onClose` runs exactly once: when the stream ends or the client goes away.
 */
export function sseResponse(chunks: AsyncGenerator<object>, onClose: () => void): Response {
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
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
          close();
          return;
        }
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(next.value)}\n\n`));
      } catch (error) {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(toOpenAIError(error).toBody())}\n\n`));
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
