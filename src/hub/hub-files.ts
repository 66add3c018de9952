import { listFiles, type ListFileEntry } from "@huggingface/hub";
import { DTYPES, isDtype, onnxFilesFor, type Dtype } from "../engine/model-files.ts";

/** Where the Hub is and who asks: HF_ENDPOINT and HF_TOKEN, as the Hub's own tools read them. */
export interface HubSource {
  endpoint: string;
  token?: string;
  repo: string;
  revision: string;
}

/** One file to fetch, with what the Hub says it must be. */
export interface HubFile {
  path: string;
  size: number;
  /** sha256 of the content (LFS / Xet files), else undefined. */
  sha256?: string;
  /** Git blob id (sha1 of "blob <size>\0" + content), for files stored in git itself. */
  gitOid?: string;
}

export class HubError extends Error {}

/** The top-level files a model folder needs besides its graph (config, tokenizer, generation defaults, template). */
const SIDE_FILES = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.(jinja|json)|preprocessor_config\.json)$/;

export async function listRepoFiles(source: HubSource): Promise<ListFileEntry[]> {
  const entries: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({
      repo: source.repo,
      revision: source.revision,
      recursive: true,
      hubUrl: source.endpoint,
      accessToken: source.token,
    })) {
      if (entry.type === "file") entries.push(entry);
    }
  } catch (error) {
    throw explain(error, source);
  }
  return entries;
}

/** Picks the config, tokenizer and the ONNX graph of `dtype` (with its external data files); the default dtype as the server would choose. */
export function chooseFiles(entries: readonly ListFileEntry[], dtype: string | undefined, source: HubSource): { dtype: Dtype; files: HubFile[] } {
  const paths = new Set(entries.map((e) => e.path));
  // A Whisper export is an encoder and a merged decoder per dtype; every other family one graph.
  const graphsOf = (d: Dtype) => onnxFilesFor(whisperLayout(paths) ? "speech-recognition" : "text-generation", d).map((file) => `onnx/${file}`);
  const present = DTYPES.filter((d) => graphsOf(d).every((graph) => paths.has(graph)));
  if (!paths.has("config.json")) throw new HubError(`${source.repo}@${source.revision} has no config.json: not a model repository gpt3dev can serve`);
  if (dtype !== undefined && !isDtype(dtype)) throw new HubError(`--dtype: unknown dtype '${dtype}' (known: ${DTYPES.join(", ")})`);
  const chosen = (dtype as Dtype | undefined) ?? present[0];
  if (chosen === undefined || !present.includes(chosen)) {
    const what = present.length > 0 ? `it has ${present.join(", ")}` : "it has no onnx/*.onnx file transformers.js loads";
    throw new HubError(`${source.repo}@${source.revision} has no ${dtype ?? "ONNX"} graph (${what}); pick one with --dtype`);
  }
  const graphs = graphsOf(chosen);
  const wanted = entries.filter(
    (e) => SIDE_FILES.test(e.path) || graphs.some((graph) => e.path === graph || e.path === `${graph}_data` || e.path.startsWith(`${graph}_data_`)),
  );
  // Small files first, the graphs' external data last: an interrupted pull leaves a usable partial at the end.
  const rank = (path: string) => (graphs.includes(path) ? 1 : graphs.some((graph) => path.startsWith(graph)) ? 2 : 0);
  wanted.sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
  return {
    dtype: chosen,
    files: wanted.map((e) => ({ path: e.path, size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid, gitOid: e.lfs ? undefined : e.oid })),
  };
}

/** The repository holds Whisper's pair of graphs (onnx/encoder_model*.onnx and onnx/decoder_model_merged*.onnx). */
function whisperLayout(paths: ReadonlySet<string>): boolean {
  return DTYPES.some((d) => onnxFilesFor("speech-recognition", d).every((file) => paths.has(`onnx/${file}`)));
}

/** The Hub's answer, or the network's silence, said plainly. */
export function explain(error: unknown, source: HubSource): Error {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403) {
    return new HubError(`${source.repo} is gated or private (HTTP ${status}): accept its terms on the Hub and set HF_TOKEN to a token that can read it`);
  }
  if (status === 404) return new HubError(`${source.repo}@${source.revision}: no such repository or revision on ${source.endpoint}`);
  if (status !== undefined) return new HubError(`${source.endpoint} answered HTTP ${status}: ${(error as Error).message}`);
  const cause = error instanceof Error ? error.message : String(error);
  return new HubError(`cannot reach the Hugging Face Hub at ${source.endpoint} (${cause}); check the network, or set HF_ENDPOINT to a mirror`);
}
