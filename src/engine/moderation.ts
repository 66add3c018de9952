/**
 * Moderation in engine terms: the categories a classifier's labels are mapped onto (OpenAI's moderation taxonomy),
 * the registry's settings for a moderation model, and how raw classifier logits become category scores and flags.
 * Pure functions: src/engine/classifier.ts runs the model.
 */

/** The taxonomy labels are mapped onto: OpenAI's moderation categories, in its order. */
export const MODERATION_CATEGORIES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/instructions",
  "self-harm/intent",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
] as const;
export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

export function isModerationCategory(name: string): name is ModerationCategory {
  return (MODERATION_CATEGORIES as readonly string[]).includes(name);
}

export const DEFAULT_THRESHOLD = 0.5;

/** A moderation model's registry settings. */
export interface ModerationSettings {
  /** Classifier label → category; a label that is itself a category name maps to it unless listed here. */
  categories?: Readonly<Record<string, ModerationCategory | null>>;
  /** Score at or above which a category is flagged (default 0.5). */
  thresholds?: Readonly<Partial<Record<ModerationCategory, number>>>;
}

/** How a classifier's outputs are read: its labels by output index, and whether labels exclude each other. */
export interface ClassifierHead {
  labels: readonly string[];
  /** config.json's problem_type "multi_label_classification": independent sigmoids; otherwise one softmax. */
  multiLabel: boolean;
}

/** One input's verdict: a score per category the model covers, and which of them reach their threshold. */
export interface ModerationVerdict {
  scores: Partial<Record<ModerationCategory, number>>;
  flags: Partial<Record<ModerationCategory, boolean>>;
  flagged: boolean;
}

/** For each output index, the category it counts towards (or none). */
export function labelCategories(head: ClassifierHead, settings: ModerationSettings = {}): (ModerationCategory | undefined)[] {
  return head.labels.map((label) => {
    const mapped = settings.categories?.[label];
    if (mapped !== undefined) return mapped ?? undefined;
    return isModerationCategory(label) ? label : undefined;
  });
}

/** Probabilities as transformers.js's text-classification pipeline computes them (sigmoid or softmax by problem_type). */
export function probabilities(logits: ArrayLike<number>, multiLabel: boolean): number[] {
  const values = Array.from(logits);
  if (multiLabel) return values.map((x) => 1 / (1 + Math.exp(-x)));
  const max = Math.max(...values);
  const exps = values.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Scores per category (the highest of the labels mapped to it) and flags against the thresholds. */
export function verdictOf(logits: ArrayLike<number>, head: ClassifierHead, settings: ModerationSettings = {}): ModerationVerdict {
  const probs = probabilities(logits, head.multiLabel);
  const categories = labelCategories(head, settings);
  const scores: ModerationVerdict["scores"] = {};
  categories.forEach((category, i) => {
    if (category === undefined) return;
    scores[category] = Math.max(scores[category] ?? 0, probs[i]!);
  });
  const flags: ModerationVerdict["flags"] = {};
  for (const [category, score] of Object.entries(scores) as [ModerationCategory, number][]) {
    flags[category] = score >= (settings.thresholds?.[category] ?? DEFAULT_THRESHOLD);
  }
  return { scores, flags, flagged: Object.values(flags).some(Boolean) };
}

/** Checks a registry entry's `categories` and `thresholds` (messages name the key); throws on the first fault. */
export function moderationSettingsOf(categories: unknown, thresholds: unknown, where: string): ModerationSettings | undefined {
  const settings: { categories?: Record<string, ModerationCategory | null>; thresholds?: Partial<Record<ModerationCategory, number>> } = {};
  const names = MODERATION_CATEGORIES.join(", ");
  if (categories !== undefined) {
    if (typeof categories !== "object" || categories === null || Array.isArray(categories)) {
      throw new Error(`${where}: 'categories' must map classifier labels to moderation categories`);
    }
    for (const [label, category] of Object.entries(categories)) {
      if (category !== null && (typeof category !== "string" || !isModerationCategory(category))) {
        throw new Error(`${where}: categories.${label}: '${String(category)}' is not a moderation category (${names}; or null to ignore the label)`);
      }
    }
    settings.categories = categories as Record<string, ModerationCategory | null>;
  }
  if (thresholds !== undefined) {
    if (typeof thresholds !== "object" || thresholds === null || Array.isArray(thresholds)) {
      throw new Error(`${where}: 'thresholds' must map moderation categories to numbers from 0 to 1`);
    }
    for (const [category, value] of Object.entries(thresholds)) {
      if (!isModerationCategory(category)) throw new Error(`${where}: thresholds.${category}: not a moderation category (${names})`);
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) throw new Error(`${where}: thresholds.${category} must be a number from 0 to 1`);
    }
    settings.thresholds = thresholds as Partial<Record<ModerationCategory, number>>;
  }
  return Object.keys(settings).length > 0 ? settings : undefined;
}
