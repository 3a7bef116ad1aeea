/**
 * Privacy (issue 19), value types shared by the core, the Api and the renderer: the vocabulary of the scan, the column tags and
 * how they travel, a model's use of personal data, the inference log's
 * policy and erasure. Each part lives beside this file:
 *
 *   scan.ts       what personal data a table holds (DuckDB over a sample)
 *   mask.ts       masked forms of values (j***@e***.com, **** **** **** 4242)
 *   tags.ts       where tags are set and how they follow the lineage
 *   secret.ts     the per-project key tagged values are hashed with
 *   log-policy.ts what the inference log keeps of tagged inputs, retention
 *   erase.ts      `dagwood privacy erase`: a subject's rows out of every store
 */
import { z } from "zod";

/** The kinds of personal data the scan finds. */
export const PII_KINDS = [
  "email",
  "phone",
  "card",
  "iban",
  "ipv4",
  "ipv6",
  "birthdate",
  /** The column's name says it is personal (name, surname, address, ssn, passport, …). */
  "personal_name",
] as const;
export const PiiKind = z.enum(PII_KINDS);
export type PiiKind = z.infer<typeof PiiKind>;

/** One kind found in a column: the share of the sampled non-null values that match, and masked examples. */
export interface KindFound {
  kind: PiiKind;
  /** Matching values / non-null sampled values, 0..1; 1 for a kind found by the column's name alone. */
  share: number;
  /** Up to 3 distinct matching values, masked (mask.ts); for a kind found by name, the column's first values, masked. */
  examples: string[];
  /** "values" when values matched, "name" when the column's name said so (both: "values"). */
  by?: "values" | "name";
}

/** The scan's answer per column (the `--json` shape). */
export interface ColumnScan {
  column: string;
  kinds: KindFound[];
}

/** The scan of one table or file. */
export interface ScanReport {
  /** The file (project-relative) or workspace table scanned. */
  source: string;
  /** Rows in the table, and rows the scan read (a reservoir sample of at most `sampleSize`). */
  rows: number;
  sampled: number;
  /** The sample size asked for, and the seed of the sample (the scan is repeatable). */
  sampleSize: number;
  seed: number;
  /** Every column of the table, in order; `kinds` empty where nothing was found. */
  columns: ColumnScan[];
}

/** The default scan sample: enough that a kind in 1% of rows shows with near certainty. */
export const DEFAULT_SCAN_SAMPLE = 10_000;

/**
 * A tag's name: `pii`, `sensitive`, or the user's own (lower case letters,
 * digits, _ and -, starting with a letter, at most 32).
 */
export const TAG_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const TagName = z.string().regex(TAG_NAME, "a tag: lower-case letters, digits, _ or -, e.g. pii");
/** The tags Dagwood itself treats as personal (masking, hashing in the log, training warnings). */
export const PERSONAL_TAGS: readonly string[] = ["pii", "sensitive"];

/**
 * Where a tag was set: a column of a dataset entry in dagwood.json
 * (`datasets.<name>.columns.<column>.tags`), or an ingest node's
 * `columnTags` param (for database tables and files without an entry).
 */
export type TagOrigin = { dataset: string; column: string } | { node: string; column: string };

/** A tag on a column, and where it came from. */
export interface ColumnTag {
  tag: string;
  origin: TagOrigin;
  /**
   * The derivations from the origin to this column, oldest first: each a node
   * and the column that node made. [] at the origin itself (the ingest node).
   * A column of a transform.sql that selects `lower(email) AS email_domain`
   * has via [{ node: "sql", column: "email_domain" }].
   */
  via: { node: string; column: string }[];
}

/** A model input that carries a personal tag: written on the model version (ModelLineage.personalData). */
export interface PersonalDataUse {
  /** The model's input column (feature). */
  input: string;
  /** Its personal tags (PERSONAL_TAGS and the user's own), with their origins. */
  tags: ColumnTag[];
}

/** "email_domain ← email" for a use, as the node warning, the version page and governance print it. */
export function describeUse(use: PersonalDataUse): string {
  const sources = [...new Set(use.tags.map((t) => t.origin.column))].filter((c) => c !== use.input);
  return sources.length ? `${use.input} ← ${sources.join(", ")}` : use.input;
}

/** What the inference log keeps of a tagged input: a keyed hash (default), nothing, or the value as sent. */
export const LogTaggedAction = z.enum(["hash", "drop", "clear"]);
export type LogTaggedAction = z.infer<typeof LogTaggedAction>;

/** A model's inference-log policy (dagwood.json `privacy`, per model over the project's default). */
export const LogPolicySchema = z.strictObject({
  tagged: LogTaggedAction.default("hash"),
  /** Entries older than this many days are deleted (by the server hourly, and by `dagwood privacy retention`). */
  retentionDays: z.number().int().min(1).max(36500).optional(),
});
export type LogPolicy = z.output<typeof LogPolicySchema>;

/** dagwood.json `privacy`. */
export const PrivacySettingsSchema = z
  .strictObject({
    /** The default policy of every model's inference log. */
    inferenceLog: LogPolicySchema.default({ tagged: "hash" }),
    /** Per model (registry name) overrides of the default. */
    models: z.record(z.string().min(1).max(128), LogPolicySchema).default({}),
    /** The scan's default sample size. */
    scanSample: z.number().int().min(100).max(10_000_000).default(DEFAULT_SCAN_SAMPLE),
  })
  .default({ inferenceLog: { tagged: "hash" }, models: {}, scanSample: DEFAULT_SCAN_SAMPLE });
export type PrivacySettings = z.output<typeof PrivacySettingsSchema>;

/** The policy a model's log follows: its override, else the project's default. */
export function logPolicyFor(settings: PrivacySettings, model: string): LogPolicy {
  return settings.models[model] ?? settings.inferenceLog;
}

/** The audit log's `model` for entries about the project rather than one model (erasures, unmasked exports). */
export const PROJECT_AUDIT_MODEL = "*";
