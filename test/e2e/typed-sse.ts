/** A typed SSE event: its `event:` name and its parsed `data:` payload. */
export interface TypedEvent {
  event: string;
  data: { type: string; [key: string]: unknown };
}

/**
 * Parses the SSE body of the Responses and Messages APIs (`event: <type>\ndata: {json}\n\n`), checking the framing
 * on the way: every event is named after its payload's `type`, and there is no `[DONE]` marker.
 */
export function parseTypedSse(text: string): TypedEvent[] {
  if (!text.endsWith("\n\n")) throw new Error("SSE body does not end with a blank line");
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((block) => {
      const match = /^event: ([a-z_.]+)\ndata: (\{.*\})$/.exec(block);
      if (!match) throw new Error(`malformed SSE event: ${block}`);
      const data = JSON.parse(match[2]!) as TypedEvent["data"];
      if (data.type !== match[1]) throw new Error(`event name ${match[1]} differs from its type ${data.type}`);
      return { event: match[1]!, data };
    });
}

/**
 * The deltas of a Messages stream that holds exactly one content block, after checking Anthropic's event order:
 * message_start, ping, the block's start, its deltas, its stop, message_delta, message_stop.
 */
export function singleBlockDeltas<D>(events: TypedEvent["data"][]): D[] {
  const deltas = events.filter((e) => e.type === "content_block_delta");
  const expected = [
    "message_start",
    "ping",
    "content_block_start",
    ...deltas.map(() => "content_block_delta"),
    "content_block_stop",
    "message_delta",
    "message_stop",
  ];
  const types = events.map((e) => e.type);
  if (JSON.stringify(types) !== JSON.stringify(expected)) throw new Error(`unexpected Messages event order: ${types.join(", ")}`);
  return deltas.map((e) => e.delta as D);
}
