import { describe, expect, it } from "bun:test";
import { createRun, type CompletionEvent } from "../../src/engine/completion-run.ts";
import type { CompletionRequest } from "../../src/engine/completions.ts";
import type { Engine } from "../../src/engine/engine.ts";
import { parseSse } from "../e2e/suite.ts";
import { parseTypedSse } from "../e2e/typed-sse.ts";
import { appFromFlags, post } from "./app.ts";

/** What the scripted engine answers: these events, then done (or a failure mid-stream). */
interface Script {
  events: CompletionEvent[];
  fail?: Error;
}

/** An engine that records the engine-level request it is given and plays a script back, so routes are tested alone. */
function scriptedApp(script: Script) {
  const requests: CompletionRequest[] = [];
  const engine = {
    async createCompletion(request: CompletionRequest) {
      const { signal, ...recorded } = request;
      requests.push(recorded as CompletionRequest);
      const { run, feed } = createRun({ modelId: request.model, systemFingerprint: "fp_scripted", promptTokens: 5 }, () => {}, signal);
      queueMicrotask(() => {
        feed.events(script.events);
        if (script.fail) feed.fail(script.fail);
        else feed.done(script.events.filter((e) => e.kind === "text").length);
      });
      return run;
    },
  } as unknown as Engine;
  return { app: appFromFlags([], {}, { engine }), requests };
}

type Json = Record<string, any>;

const HELLO: Script = {
  events: [
    { kind: "text", index: 0, text: "Hello" },
    { kind: "text", index: 0, text: " world" },
    { kind: "finish", index: 0, reason: "stop" },
  ],
};

describe("chat-shaped protocols over one chat path", () => {
  it("build the same engine request as /v1/chat/completions for the same conversation", async () => {
    const { app, requests } = scriptedApp(HELLO);
    const user = "Say something.";
    await app.handle(
      post("/v1/chat/completions", {
        model: "m",
        messages: [
          { role: "developer", content: "Be terse." },
          { role: "user", content: user },
          { role: "assistant", content: "Hi." },
          { role: "user", content: "More." },
        ],
        max_tokens: 7,
        temperature: 0.5,
        top_p: 0.9,
      }),
    );
    await app.handle(
      post("/v1/responses", {
        model: "m",
        instructions: "Be terse.",
        input: [
          { role: "user", content: [{ type: "input_text", text: user }] },
          { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hi.", annotations: [] }] },
          { role: "user", content: "More." },
        ],
        max_output_tokens: 7,
        temperature: 0.5,
        top_p: 0.9,
      }),
    );
    await app.handle(
      post("/v1/messages", {
        model: "m",
        system: [{ type: "text", text: "Be terse." }],
        messages: [
          { role: "user", content: [{ type: "text", text: user }] },
          { role: "assistant", content: "Hi." },
          { role: "user", content: "More." },
        ],
        max_tokens: 7,
        temperature: 0.5,
        top_p: 0.9,
      }),
    );
    expect(requests).toHaveLength(3);
    const topK = { model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 3, top_k: 5 };
    await app.handle(post("/v1/chat/completions", topK));
    await app.handle(post("/v1/messages", topK));
    expect(requests[4]).toEqual(requests[3]!);
    expect(requests[3]).toMatchObject({ topK: 5 });
    expect(requests[1]).toEqual(requests[0]!);
    expect(requests[2]).toEqual(requests[0]!);
    expect(requests[0]).toMatchObject({ maxTokens: 7, temperature: 0.5, topP: 0.9, n: 1, stop: [] });
  });

  it("pass Anthropic's stop_sequences as chat's stop, and report the one that matched", async () => {
    const events: CompletionEvent[] = [
      { kind: "text", index: 0, text: "Hi" },
      { kind: "finish", index: 0, reason: "stop", stopSequence: "END" },
    ];
    const { app, requests } = scriptedApp({ events });
    const base = { model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 5 };
    const response = await app.handle(post("/v1/messages", { ...base, stop_sequences: ["", "END"] }));
    expect(await response.json()).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END" });
    expect(requests[0]!.stop).toEqual(["END"]);
  });

  it("map a natural end to Responses' completed and Anthropic's end_turn", async () => {
    const { app } = scriptedApp(HELLO);
    const response = (await (await app.handle(post("/v1/responses", { model: "m", input: "x" }))).json()) as Json;
    expect(response).toMatchObject({ status: "completed", incomplete_details: null });
    expect(response.output[0]).toMatchObject({ status: "completed", content: [{ text: "Hello world" }] });
    const body = { model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 5 };
    const message = (await (await app.handle(post("/v1/messages", body))).json()) as Json;
    expect(message).toMatchObject({ stop_reason: "end_turn", stop_sequence: null, content: [{ type: "text", text: "Hello world" }] });
    expect(message.usage).toMatchObject({ input_tokens: 5, output_tokens: 2 });
  });

  it("end a stream that fails midway with each protocol's own error event", async () => {
    const failing: Script = { events: [{ kind: "text", index: 0, text: "Hel" }], fail: new Error("boom") };
    const responses = await scriptedApp(failing).app.handle(post("/v1/responses", { model: "m", input: "x", stream: true }));
    const events = parseTypedSse(await responses.text()).map((e) => e.data);
    expect(events.at(-1)).toEqual({
      type: "error",
      code: null,
      message: "The server had an error while processing your request.",
      param: null,
      sequence_number: events.length - 1,
    });
    expect(events.at(-2)).toMatchObject({ type: "response.output_text.delta", delta: "Hel" });

    const messages = await scriptedApp(failing).app.handle(
      post("/v1/messages", { model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 5, stream: true }),
    );
    const anthropic = parseTypedSse(await messages.text()).map((e) => e.data);
    expect(anthropic.at(-1)).toEqual({
      type: "error",
      error: { type: "api_error", message: "The server had an error while processing your request." },
    });

    const chat = await scriptedApp(failing).app.handle(
      post("/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }], stream: true }),
    );
    expect(JSON.parse(parseSse(await chat.text()).at(-1)!)).toMatchObject({ error: { type: "server_error" } });
  });
});
