/**
 * A fingerprint of what decides the ids a byte-level BPE tokenizer (GPT-2 style) gives a text: its vocabulary by id,
 * its merges in rank order, its added tokens and the options of its pre-tokenizer and model, read from tokenizer.json.
 * Two tokenizers with the same fingerprint encode every text alike, whatever else their files say (formatting, the
 * order of keys, fields that do not change ids). Undefined for any other kind of tokenizer, or options this does not
 * know to be neutral: such tokenizers are told apart some other way (src/engine/openai-encoding.ts).
 */

interface TokenizerJson {
  normalizer?: unknown;
  pre_tokenizer?: { type?: unknown; add_prefix_space?: unknown; use_regex?: unknown } | null;
  model?: {
    type?: unknown;
    vocab?: unknown;
    merges?: unknown;
    dropout?: unknown;
    unk_token?: unknown;
    continuing_subword_prefix?: unknown;
    end_of_word_suffix?: unknown;
    fuse_unk?: unknown;
    byte_fallback?: unknown;
    ignore_merges?: unknown;
  };
  added_tokens?: unknown;
}

const none = (value: unknown) => value === undefined || value === null || value === "" || value === false;

/** The parts of one merge, from either form tokenizer.json writes ("a b", or ["a", "b"]). */
function mergeParts(merge: unknown): [string, string] | undefined {
  if (typeof merge === "string") {
    const space = merge.indexOf(" ");
    return space > 0 && merge.indexOf(" ", space + 1) < 0 ? [merge.slice(0, space), merge.slice(space + 1)] : undefined;
  }
  if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string") return [merge[0], merge[1]];
  return undefined;
}

export function byteLevelBpeFingerprint(json: TokenizerJson): string | undefined {
  const { pre_tokenizer: pre, model } = json;
  if (!none(json.normalizer) || !pre || pre.type !== "ByteLevel" || pre.add_prefix_space !== false || pre.use_regex === false) return undefined;
  if (!model || model.type !== "BPE" || typeof model.vocab !== "object" || model.vocab === null || !Array.isArray(model.merges)) return undefined;
  const neutral = [model.dropout, model.unk_token, model.continuing_subword_prefix, model.end_of_word_suffix, model.fuse_unk, model.byte_fallback, model.ignore_merges];
  if (!neutral.every(none)) return undefined;
  const vocab = model.vocab as Record<string, unknown>;
  const byId: string[] = [];
  for (const token in vocab) {
    const id = vocab[token];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || byId[id] !== undefined) return undefined;
    byId[id] = token;
  }
  // Length-prefixed fields, hashed in batches (GPT-2's 100,000 fields: about 20-40 ms with the vocabulary's walk).
  const hasher = new Bun.CryptoHasher("sha256");
  let batch = "";
  const field = (text: string) => {
    batch += text.length + ":" + text;
    if (batch.length > 1 << 16) {
      hasher.update(batch);
      batch = "";
    }
  };
  field(`vocab ${byId.length}`);
  for (let id = 0; id < byId.length; id++) {
    const token = byId[id];
    if (token === undefined) return undefined;
    field(token);
  }
  field(`merges ${model.merges.length}`);
  for (const merge of model.merges) {
    const parts = mergeParts(merge);
    if (!parts) return undefined;
    field(parts[0]);
    field(parts[1]);
  }
  const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  field(`added ${added.length}`);
  for (const token of added as Array<Record<string, unknown>>) {
    // Without a normalizer, `normalized` changes nothing.
    field(JSON.stringify([token.id, token.content, token.special === true, token.lstrip === true, token.rstrip === true, token.single_word === true]));
  }
  return hasher.update(batch).digest("hex");
}
