// --tied-head: GPT-2's LM head with a packed copy of its embedding table (auto) and sharing
// the table (`shared`) answer exactly as transformers.js does on the same file, and the listing says which is served.
import { beforeAll, expect, it } from "bun:test";
import { join } from "node:path";
import { referenceCompletions } from "../formats/reference.ts";
import { REPO_ROOT } from "./harness.ts";
import { describeEachMode, jsonOf } from "./suite.ts";

const PROMPTS = ["The morning was cold and", "She opened the door"];
const MAX_TOKENS = 12;
let expected: { text: string }[] = [];

beforeAll(async () => {
  expected = await referenceCompletions(join(REPO_ROOT, "models", "tiny-gpt2"), "fp32", PROMPTS, MAX_TOKENS);
});

// Without a cache folder nothing is rewritten: ONNX Runtime packs the head.
for (const [form, args] of [["packed", []], ["shared", ["--tied-head", "shared"]], ["packed", ["--cache-dir", "none"]]] as const) {
  describeEachMode(
    `tied LM head ${form} (${args.length > 0 ? args.join(" ") : "auto"})`,
    (ctx) => {
      it("completes greedily as transformers.js does, and lists the head's form with the model's memory", async () => {
        for (const [i, prompt] of PROMPTS.entries()) {
          const completion = await ctx().client.completions.create({ model: "tiny-gpt2", prompt, max_tokens: MAX_TOKENS, temperature: 0 });
          expect({ prompt, text: completion.choices[0]!.text }).toEqual({ prompt, text: expected[i]!.text });
        }
        const listed = (await jsonOf(await fetch(`${ctx().server.baseURL}/v1/models/tiny-gpt2`))) as { memory?: { tied_head?: string } };
        expect(listed.memory?.tied_head).toBe(form);
        // A model without a tied head says nothing about one.
        await ctx().client.completions.create({ model: "tiny-llama", prompt: PROMPTS[0]!, max_tokens: 1 });
        const llama = (await jsonOf(await fetch(`${ctx().server.baseURL}/v1/models/tiny-llama`))) as { memory?: Record<string, unknown> };
        expect(llama.memory).toBeDefined();
        expect(llama.memory?.tied_head).toBeUndefined();
      });
    },
    { args: [...args] },
  );
}
