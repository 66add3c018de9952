import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { errorOf, parseSse } from "../e2e/suite.ts";
import { serverModes, startServer, type RunningServer } from "../e2e/harness.ts";
import { MODELS_DIR } from "../http/app.ts";

/** tiny-gpt2 copied under several names, each damaged in its own way; `healthy` is left intact. */
function makeModelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gpt3dev-faults-"));
  for (const id of ["healthy", "truncated", "garbage", "no-tokenizer"]) cpSync(join(MODELS_DIR, "tiny-gpt2"), join(dir, id), { recursive: true });
  const onnx = (id: string) => join(dir, id, "onnx", "model.onnx");
  truncateSync(onnx("truncated"), 1000);
  writeFileSync(onnx("garbage"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  rmSync(join(dir, "no-tokenizer", "tokenizer.json"));
  cpSync(join(MODELS_DIR, "tiny-gpt2"), join(dir, "nan-logits"), { recursive: true });
  for (const file of ["model.onnx", "model_quantized.onnx"]) poisonFinalNorm(join(dir, "nan-logits", "onnx", file));
  return dir;
}

/** A model that loads and runs but whose logits all come out NaN, as from damaged weights or an fp16 overflow. */
function poisonFinalNorm(path: string): void {
  const model = onnx.ModelProto.decode(readFileSync(path));
  const weight = model.graph!.initializer!.find((t) => t.name === "transformer.ln_f.weight")!;
  weight.rawData = new Uint8Array(new Float32Array(weight.rawData!.length / 4).fill(NaN).buffer);
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
}

function repair(dir: string, id: string): void {
  cpSync(join(MODELS_DIR, "tiny-gpt2"), join(dir, id), { recursive: true, force: true });
}

for (const mode of serverModes()) {
  describe(`damaged model files [${mode}]`, () => {
    let dir: string;
    let server: RunningServer;
    const complete = (model: string) =>
      fetch(`${server.baseURL}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, prompt: "Hello", max_tokens: 2 }),
      });

    beforeAll(async () => {
      dir = makeModelsDir();
      server = await startServer({ mode, args: ["--models-dir", dir, "--max-loaded-models", "8"] });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("answers 5xx naming the model and the cause, while other models keep serving", async () => {
      const causes: Record<string, RegExp> = {
        truncated: /model\.onnx|protobuf|pars|load/i,
        garbage: /model\.onnx|protobuf|pars|load/i,
        "no-tokenizer": /tokenizer\.json|tokenizer/i,
      };
      for (const [id, cause] of Object.entries(causes)) {
        const response = await complete(id);
        expect({ id, status: response.status }).toEqual({ id, status: 500 });
        const error = await errorOf(response);
        expect(error).toMatchObject({ type: "server_error", param: "model", code: "model_load_failed" });
        expect(error.message).toContain(`'${id}'`);
        expect(error.message).toMatch(cause);
        expect(error.message).not.toContain(dir);
        expect((await complete("healthy")).status).toBe(200);
      }
      expect(server.proc.exitCode).toBeNull();
    });

    it("fails a request whose logits are NaN alone, naming the model and the cause, while a stream on another model goes on", async () => {
      const body = (model: string, stream: boolean) =>
        JSON.stringify({ model, prompt: "Once upon a time", max_tokens: 24, temperature: 0, stream });
      const post = (model: string, stream: boolean) =>
        fetch(`${server.baseURL}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body(model, stream) });
      const alone = parseSse(await (await post("healthy", true)).text());
      const healthy = post("healthy", true);
      const [whole, streamed] = await Promise.all([post("nan-logits", false), post("nan-logits", true)]);
      expect(whole.status).toBe(500);
      const error = await errorOf(whole);
      expect(error).toMatchObject({ type: "server_error", code: "generation_failed" });
      expect(error.message).toContain("'nan-logits'");
      expect(error.message).toContain("NaN");
      const frames = parseSse(await streamed.text());
      expect(frames).toHaveLength(1);
      expect(JSON.parse(frames[0]!)).toEqual({ error });
      const next = await healthy;
      expect(next.status).toBe(200);
      expect(parseSse(await next.text()).map((f) => (f === "[DONE]" ? f : JSON.parse(f).choices))).toEqual(
        alone.map((f) => (f === "[DONE]" ? f : JSON.parse(f).choices)),
      );
      expect(server.proc.exitCode).toBeNull();
    });

    it("loads a repaired model on the next request, without a restart", async () => {
      for (const id of ["truncated", "garbage", "no-tokenizer"]) {
        expect((await complete(id)).status).toBe(500);
        repair(dir, id);
        const response = await complete(id);
        expect({ id, status: response.status }).toEqual({ id, status: 200 });
      }
    });
  });
}
