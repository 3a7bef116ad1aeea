/**
 * Who owns an artifact, what it is for, when it is next reviewed, and whether
 * it is deprecated (with what replaces it). Datasets (dagwood.json
 * `datasets`), pipelines (the pipeline file), suites (`meta.dagwood` in the
 * suite file) and registered models (the registry) all carry these fields.
 */
import { z } from "zod";

/** A calendar date, YYYY-MM-DD. */
export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD, e.g. 2027-03-31")
  // Date.parse takes 2027-02-30 as 2 March: the date must read back as written.
  .refine((s) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return true; // the regex above says what is wrong
    const t = Date.parse(`${s}T00:00:00Z`);
    return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
  }, "not a calendar date: the month is 01-12 and the day exists in it (2027-02-30 does not)");

export const Deprecation = z.strictObject({
  /** Why it is deprecated. */
  reason: z.string().min(1).max(2000),
  /** What to use instead: a dataset name, a pipeline path, a suite path, or a model name. */
  replacement: z.string().max(500).optional(),
  /** When it was deprecated (YYYY-MM-DD). */
  since: IsoDate.optional(),
});
export type Deprecation = z.infer<typeof Deprecation>;

/**
 * The warning for using a deprecated artifact, naming the replacement:
 * `Pipeline "churn" is deprecated (since 2026-11-01): superseded by churn-v2. Use pipelines/churn-v2.dag.json instead.`
 */
export function deprecationNotice(what: string, d: Deprecation): string {
  const since = d.since ? ` (since ${d.since})` : "";
  const reason = d.reason.trim().replace(/[.\s]+$/, "");
  const instead = d.replacement
    ? ` Use ${d.replacement} instead.`
    : " It names no replacement: ask its owner what to use instead.";
  return `${what} is deprecated${since}: ${reason}.${instead}`;
}

export const Governance = z.strictObject({
  owner: z.string().max(200).optional(),
  purpose: z.string().max(2000).optional(),
  /** The date by which the owner reviews it again (YYYY-MM-DD). */
  reviewBy: IsoDate.optional(),
  deprecated: Deprecation.optional(),
});
export type Governance = z.infer<typeof Governance>;

/** The kinds of artifact governance covers. */
export const ArtifactKind = z.enum(["dataset", "pipeline", "suite", "model"]);
export type ArtifactKind = z.infer<typeof ArtifactKind>;

/** What `dagwood governance` (and the Api's `governanceReport`) finds. */
export const GovernanceFindingKind = z.enum(["noOwner", "pastReview", "deprecatedInUse", "personalData"]);
export type GovernanceFindingKind = z.infer<typeof GovernanceFindingKind>;

export const GovernanceFinding = z.strictObject({
  kind: GovernanceFindingKind,
  artifact: z.strictObject({ kind: ArtifactKind, name: z.string(), path: z.string().optional() }),
  /** A sentence that says what is wrong and what to do. */
  message: z.string(),
  /** deprecatedInUse: who still uses it (pipeline paths, model names), and the replacement. */
  usedBy: z.array(z.string()).optional(),
  replacement: z.string().optional(),
  /** personalData: the model's ready versions trained on tagged columns, each with its uses ("email_domain ← email (pii)"). */
  personalData: z.array(z.strictObject({ version: z.number(), uses: z.array(z.string()) })).optional(),
});
export type GovernanceFinding = z.infer<typeof GovernanceFinding>;
