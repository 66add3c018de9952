import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, defaultModelsDir } from "../config.ts";
import { downloadFile } from "../hub/download.ts";
import { chooseFiles, listRepoFiles, type HubSource } from "../hub/hub-files.ts";
import { Progress } from "./progress.ts";

export const PULL_HELP = `Usage: gpt3dev pull <org/repo> [--revision R] [--dtype D] [--name ID] [--models-dir DIR]

Downloads an ONNX model from the Hugging Face Hub into the models directory: config, tokenizer, generation config,
chat template and the onnx/ graph of the chosen dtype with its external data. An interrupted download resumes where
it stopped; every file is checked against the Hub's sha256 (or git id) before it is moved into place.

  --revision R      branch, tag or commit (default: main)
  --dtype D         fp32, fp16, q8, int8, uint8, q4, q4f16 or bnb4 (default: the one the server would pick)
  --name ID         folder (and model id) to write (default: the repository's name)
  --models-dir DIR  where models live (default: GPT3DEV_MODELS_DIR, else models/ beside the executable)

Environment: HF_TOKEN for gated or private repositories, HF_ENDPOINT for a mirror (default https://huggingface.co).`;

export async function pull(argv: readonly string[], env: Record<string, string | undefined>, out: (text: string) => void, tty: boolean): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        revision: { type: "string" },
        dtype: { type: "string" },
        name: { type: "string" },
        "models-dir": { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`pull: ${error instanceof Error ? error.message : error}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(`${PULL_HELP}\n`);
    return;
  }
  const repo = positionals[0];
  if (positionals.length !== 1 || !repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new ConfigError("pull: expected one repository as <org>/<name>, e.g. gpt3dev pull onnx-community/Qwen2.5-0.5B-Instruct");
  }
  const source: HubSource = {
    endpoint: (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, ""),
    token: env.HF_TOKEN || undefined,
    repo,
    revision: values.revision ?? "main",
  };
  const name = values.name ?? repo.split("/")[1]!;
  const dir = join(values["models-dir"] ?? env.GPT3DEV_MODELS_DIR ?? defaultModelsDir(), name);
  const { dtype, files } = chooseFiles(await listRepoFiles(source), values.dtype, source);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  out(`pulling ${repo}@${source.revision} (${dtype}, ${files.length} files, ${(total / 1024 / 1024).toFixed(1)} MB) into ${dir}\n`);
  const progress = new Progress(tty, out);
  for (const file of files) {
    const part = join(dir, `${file.path}.part`);
    progress.begin(file.path, file.size, existsSync(part) ? statSync(part).size : 0);
    const outcome = await downloadFile(source, file, dir, (p) => progress.update(p));
    progress.end(file.path, outcome, file.size);
  }
  out(`done: ${dir} (model id '${name}')\n`);
}
