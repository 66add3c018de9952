import { afterAll, describe, expect, it } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/engine/engine.ts";
import { ModelRegistry } from "../../src/engine/registry.ts";
import { appFromFlags, MODELS_DIR, post } from "./app.ts";

/** tiny-llama adds no special token of its own; this copy's tokenizer puts <|im_start|> before every text. */
function withBosTokenizer(): { dir: string; bos: number } {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-bos-"));
  cpSync(join(MODELS_DIR, "tiny-llama"), join(dir, "bos-llama"), { recursive: true });
  const file = join(dir, "bos-llama", "tokenizer.json");
  const tokenizer = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> & { added_tokens: { id: number; content: string }[] };
  const id = tokenizer.added_tokens.find((t) => t.content === "<|im_start|>")!.id;
  const bos = { SpecialToken: { id: "<|im_start|>", type_id: 0 } };
  tokenizer.post_processor = {
    type: "TemplateProcessing",
    single: [bos, { Sequence: { id: "A", type_id: 0 } }],
    pair: [bos, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { "<|im_start|>": { id: "<|im_start|>", ids: [id], tokens: ["<|im_start|>"] } },
  };
  writeFileSync(file, JSON.stringify(tokenizer));
  return { dir, bos: id };
}

describe("POST /tokenize add_special_tokens", () => {
  const { dir, bos } = withBosTokenizer();
  const engine = new Engine({ registry: new ModelRegistry({ modelsDir: dir }), maxLoadedModels: 1, intraOpThreads: 1 });
  const app = appFromFlags([], {}, { engine });
  afterAll(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tokenize = async (body: Record<string, unknown>) => {
    const response = await app.handle(post("/tokenize", { model: "bos-llama", prompt: "hi there", ...body }));
    expect(response.status).toBe(200);
    return ((await response.json()) as { tokens: number[] }).tokens;
  };

  it("adds the tokenizer's special tokens by default and leaves them out when asked", async () => {
    const withSpecial = await tokenize({});
    const without = await tokenize({ add_special_tokens: false });
    expect(without.length).toBeGreaterThan(0);
    expect(without).not.toContain(bos);
    expect(withSpecial).toEqual([bos, ...without]);
  });
});
