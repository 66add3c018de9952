import { Elysia, t } from "elysia";
import type { Engine } from "../engine/engine.ts";
import type { ModelSpec } from "../engine/registry.ts";
import type { ModelMemory as LoadedMemory } from "../engine/model-host.ts";
import type { Model, ModelMemory, ModelsPage } from "../openai/models.ts";

function toModel(spec: ModelSpec, loaded: Record<string, LoadedMemory>): Model {
  const model: Model = { id: spec.id, object: "model", created: spec.created, owned_by: spec.ownedBy, dtype: spec.dtype, loaded: false };
  const m = loaded[spec.id];
  if (m) {
    model.loaded = true;
    model.memory = toMemory(m);
  }
  return model;
}

function toMemory(m: LoadedMemory): ModelMemory {
  const memory: ModelMemory = { file_bytes: m.fileBytes, loaded_rss_bytes: m.loadRssBytes };
  if (m.kvCacheBytes !== undefined) {
    Object.assign(memory, {
      kv_cache_bytes: m.kvCacheBytes,
      kv_cache_reserved_bytes: m.kvCacheReservedBytes,
      kv_cache_limit_bytes: m.kvCacheLimitBytes,
    });
  }
  if (m.fp16Weights !== undefined) memory.fp16_weights = m.fp16Weights;
  if (m.tiedHead !== undefined) memory.tied_head = m.tiedHead;
  return memory;
}

const params = t.Object({ id: t.String() });

/**
 * Model listings and management. Each model says whether it is loaded (`loaded`) and, when it is, what it costs in
 * memory (`memory`): gpt3dev's additions. `load` loads a model ahead of its first request; `unload` frees it once
 * the requests holding it have finished (as Ollama does), so a generation in flight is never cut short.
 */
export const modelsRoutes = (engine: Engine) =>
  new Elysia({ name: "models" })
    .get("/v1/models", async (): Promise<ModelsPage> => {
      const loaded = await engine.loadedMemory();
      return { object: "list", data: engine.listModels().map((spec) => toModel(spec, loaded)) };
    })
    .get("/v1/models/:id", async ({ params }): Promise<Model> => toModel(engine.getModel(params.id), await engine.loadedMemory()), { params })
    .post(
      "/v1/models/:id/load",
      async ({ params }): Promise<Model> => {
        const spec = engine.getModel(params.id);
        await engine.loadModel(spec.id);
        return toModel(spec, await engine.loadedMemory());
      },
      { params },
    )
    .post(
      "/v1/models/:id/unload",
      async ({ params }): Promise<Model> => {
        const spec = engine.getModel(params.id);
        await engine.unloadModel(spec.id);
        // Unloaded now, even if a request that waited for the unload is already loading it again.
        return toModel(spec, {});
      },
      { params },
    );
