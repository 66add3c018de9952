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
