// transformers.js as the reference for the format and family fixtures: greedy generation on the same files the
// server loads, decoded to the text a completion returns.
import { AutoModelForCausalLM, AutoTokenizer, env } from "@huggingface/transformers";

env.allowRemoteModels = false;
env.allowLocalModels = true;

/** Greedy completions of `prompts` (each alone) by transformers.js with `dtype`, as token ids and text. */
export async function referenceCompletions(dir: string, dtype: string, prompts: readonly string[], maxTokens: number) {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype, local_files_only: true } as never);
  try {
    const results: { ids: number[]; text: string }[] = [];
    for (const prompt of prompts) {
      const inputs = tokenizer(prompt);
      const promptLength = (inputs.input_ids.dims as number[])[1]!;
      const output = (await model.generate({ ...inputs, max_new_tokens: maxTokens, do_sample: false } as never)) as {
        data: BigInt64Array;
      };
      const ids = Array.from(output.data.slice(promptLength), Number);
      results.push({ ids, text: tokenizer.decode(ids, { skip_special_tokens: true }) });
    }
    return results;
  } finally {
    await model.dispose();
  }
}
