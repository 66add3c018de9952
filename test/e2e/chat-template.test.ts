import { expect, it } from "bun:test";
import { describeEachMode, errorOf, jsonOf } from "./suite.ts";

interface Tokenized {
  count: number;
  tokens: number[];
}

const messages = [{ role: "user", content: "hello there" }];
const THINKING = "{% if enable_thinking %}<think>{{ messages[0].content }}{% else %}{{ messages[0].content }}{% endif %}";

describeEachMode("per-request chat_template and chat_template_kwargs", (ctx) => {
  const tokens = async (body: Record<string, unknown>) => {
    const response = await ctx().post("/tokenize", { model: "tiny-llama", ...body });
    expect(response.status).toBe(200);
    return jsonOf<Tokenized>(response);
  };
  const plain = (prompt: string) => tokens({ prompt, add_special_tokens: false });

  it("renders the conversation with the request's template: the exact prompt tokens change", async () => {
    const chat_template = "SAY: {% for m in messages %}{{ m.content }}{% endfor %}";
    const own = await tokens({ messages });
    const overridden = await tokens({ messages, chat_template });
    expect(overridden.tokens).toEqual((await plain("SAY: hello there")).tokens);
    expect(overridden.tokens).not.toEqual(own.tokens);
    // The same override on the chat route: usage counts the overridden prompt, and the SDK passes the field through.
    const chat = await ctx().client.chat.completions.create({ model: "tiny-llama", messages, max_tokens: 1, chat_template } as never);
    expect((chat as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(overridden.count);
    const without = await ctx().client.chat.completions.create({ model: "tiny-llama", messages: messages as never, max_tokens: 1 });
    expect(without.usage!.prompt_tokens).toBe(own.count);
  });

  it("passes chat_template_kwargs into the template (enable_thinking)", async () => {
    const on = await tokens({ messages, chat_template: THINKING, chat_template_kwargs: { enable_thinking: true } });
    const off = await tokens({ messages, chat_template: THINKING, chat_template_kwargs: { enable_thinking: false } });
    expect(on.tokens).toEqual((await plain("<think>hello there")).tokens);
    expect(off.tokens).toEqual((await plain("hello there")).tokens);
    const response = await ctx().post("/v1/chat/completions", {
      model: "tiny-llama", messages, max_tokens: 1, chat_template: THINKING, chat_template_kwargs: { enable_thinking: true },
    });
    expect(response.status).toBe(200);
    expect((await jsonOf<{ usage: { prompt_tokens: number } }>(response)).usage.prompt_tokens).toBe(on.count);
  });

  it("answers 400 naming chat_template and Jinja's error when the template does not render", async () => {
    for (const [chat_template, says] of [
      ["{% if %}", "Unexpected"],
      ["{{ raise_exception('no system prompt allowed') }}", "no system prompt allowed"],
    ] as const) {
      for (const path of ["/v1/chat/completions", "/tokenize"]) {
        const extra = path === "/tokenize" ? {} : { max_tokens: 1 };
        const response = await ctx().post(path, { model: "tiny-llama", messages, chat_template, ...extra });
        expect(response.status).toBe(400);
        const error = await errorOf(response);
        expect(error.param).toBe("chat_template");
        expect(error.code).toBe("invalid_chat_template");
        expect(error.message).toContain(says);
      }
    }
  });

  it("refuses variables that would replace what the server gives the template", async () => {
    const response = await ctx().post("/v1/chat/completions", {
      model: "tiny-llama", messages, max_tokens: 1, chat_template_kwargs: { messages: [] },
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).param).toBe("chat_template_kwargs.messages");
  });

  it("leaves the model's own template's output unchanged by variables it does not read", async () => {
    const own = await tokens({ messages });
    const withKwargs = await tokens({ messages, chat_template_kwargs: { enable_thinking: true, bos_token: "<b>" } });
    expect(withKwargs.tokens).toEqual(own.tokens);
  });

  it("leaves /v1/responses and /v1/messages refusing the field by name", async () => {
    const responses = await ctx().post("/v1/responses", { model: "tiny-llama", input: "hi", max_output_tokens: 1, chat_template: "x" });
    expect(responses.status).toBe(400);
    expect((await errorOf(responses)).param).toBe("chat_template");
    const anthropic = await ctx().post("/v1/messages", { model: "tiny-llama", messages, max_tokens: 1, chat_template: "x" });
    expect(anthropic.status).toBe(400);
    expect(JSON.stringify(await anthropic.json())).toContain("chat_template");
  });
});
