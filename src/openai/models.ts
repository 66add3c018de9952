import { t } from "elysia";
import { Integer } from "./common.ts";

/** gpt3dev's addition for a loaded model: what it costs in memory (bytes). */
export const ModelMemory = t.Object({
  file_bytes: t.Integer(),
  loaded_rss_bytes: t.Integer(),
  kv_cache_bytes: t.Optional(t.Integer()),
  kv_cache_reserved_bytes: t.Optional(t.Integer()),
  kv_cache_limit_bytes: t.Optional(t.Union([t.Integer(), t.Null()])),
  /** fp16 text models: matrix weights kept fp16 in memory, or widened to fp32 at load (`--fp16-weights`). */
  fp16_weights: t.Optional(t.Union([t.Literal("float16"), t.Literal("float32")])),
  /** Text models with a tied LM head: a packed copy of the embedding table kept for it, or the table shared (`--tied-head`). */
  tied_head: t.Optional(t.Union([t.Literal("packed"), t.Literal("shared")])),
});
export type ModelMemory = typeof ModelMemory.static;

export const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: Integer(),
  owned_by: t.String(),
  /** gpt3dev's extension: the ONNX weight variant served (transformers.js's dtype names: fp32, q8, fp16, q4f16, …). */
  dtype: t.Optional(t.String()),
  /** gpt3dev's extension: whether the model is in memory now (it loads on first use, or with POST /v1/models/{id}/load). */
  loaded: t.Optional(t.Boolean()),
  memory: t.Optional(ModelMemory),
});
export type Model = typeof Model.static;

export const ModelsPage = t.Object({
  object: t.Literal("list"),
  data: t.Array(Model),
});
export type ModelsPage = typeof ModelsPage.static;
