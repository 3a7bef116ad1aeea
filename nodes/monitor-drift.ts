import { readFileSync } from "node:fs";
import { z } from "zod";
import { ArtifactError } from "../app/artifacts/location";
import { ensureProjectVersionFiles } from "../app/artifacts/version-files";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";
import { computeDrift, DriftInputError } from "../app/monitoring/drift";
import {
  parseReferenceProfile,
  profileReference,
  type StoredReferenceProfile,
} from "../app/monitoring/reference";
import type { DriftTable } from "../app/monitoring/types";
import { referenceProfilePath } from "../app/store/registry";
import { ALIAS_NAME, MODEL_NAME, RegistryError } from "../app/store/types";
import { DriftTestName } from "../app/values/drift";

/** `NAME@ALIAS` or `NAME@VERSION`. */
const MODEL_REF = new RegExp(
  `^(${MODEL_NAME.source.replace(/^\^|\$$/g, "")})@(${ALIAS_NAME.source.replace(/^\^|\$$/g, "")}|[1-9]\\d*)$`,
);

function splitRef(text: string): { name: string; ref: string | number } {
  const at = text.lastIndexOf("@");
  const ref = text.slice(at + 1);
  return { name: text.slice(0, at), ref: /^\d+$/.test(ref) ? Number(ref) : ref };
}

/** The registered version's stored reference profile, or a block error saying what to do. */
async function storedProfile(
  ctx: BlockContext,
  text: string,
): Promise<{ version: number; profile: StoredReferenceProfile }> {
  const { name, ref } = splitRef(text);
  let v: ReturnType<typeof ctx.registry.getVersion>;
  try {
    v = ctx.registry.getVersion(name, ref);
  } catch (e) {
    if (e instanceof RegistryError) throw new BlockError(e.message);
    throw e;
  }
  if (!v) {
    const model = ctx.registry.getModel(name);
    if (!model)
      throw new BlockError(`No registered model "${name}". List the models with: dagwood models list`);
    const aliases = Object.keys(model.aliases).sort();
    throw new BlockError(
      typeof ref === "number"
        ? `Model "${name}" has no version ${ref}${model.latestVersion ? ` (its latest is v${model.latestVersion})` : ""}.`
        : `Model "${name}" has no alias "${ref}"${aliases.length ? ` (its aliases: ${aliases.join(", ")})` : " (it has no aliases yet)"}.`,
    );
  }
  try {
    // Registered on another machine of a shared store: its files (the profile among them) come from the artifact location.
    await ensureProjectVersionFiles(ctx.projectDir, v);
  } catch (e) {
    if (e instanceof ArtifactError) throw new BlockError(e.message);
    throw e;
  }
  const file = referenceProfilePath(ctx.projectDir, v);
  if (!file)
    throw new BlockError(
      `${name} v${v.version} has no reference profile: it was registered before Dagwood kept one with each version. Run the pipeline that registered it again with --no-cache to register a version with one, or connect the training data to "reference".`,
    );
  try {
    return { version: v.version, profile: parseReferenceProfile(readFileSync(file, "utf8"), file) };
  } catch (e) {
    throw new BlockError((e as Error).message);
  }
}

export default defineBlock({
  kind: "monitor.drift",
  version: 1,
  title: "Data drift",
  category: "Monitor",
  description:
    "Compares a current table with a reference, column by column, with Evidently's default drift tests (Kolmogorov-Smirnov, chi-squared or a z-test up to 1,000 reference rows; normed Wasserstein or Jensen-Shannon above), and says whether the dataset drifted. The reference is a connected table, or a registered version's reference profile (param model: its training data and its predictions on it).",
  inputs: {
    reference: {
      type: "table",
      optional: true,
      description:
        "The data the model was trained on (or any baseline); leave it unconnected to use param model",
    },
    current: { type: "table", description: "The data to check: recent traffic, a new batch" },
  },
  outputs: {
    report: { type: "report", description: "Per-column tests and the dataset verdict (kind drift)" },
  },
  params: z.object({
    model: z
      .string()
      .regex(MODEL_REF, "a registered version: NAME@ALIAS or NAME@VERSION, e.g. penguins@champion")
      .optional()
      .describe(
        "Instead of the reference input: a registered version (NAME@ALIAS or NAME@VERSION) whose reference profile is the reference",
      )
      .meta({ order: 0 }),
    columns: z
      .array(z.string())
      .default([])
      .describe("Columns to test (empty: every reference column)")
      .meta({ order: 1, picker: "columns" }),
    target: z
      .string()
      .optional()
      .describe("The target column, tested like a feature (target drift)")
      .meta({ order: 2 }),
    prediction: z
      .string()
      .optional()
      .describe("The prediction column, tested like a feature (prediction drift)")
      .meta({ order: 3 }),
    shareThreshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe("The dataset drifts when at least this share of columns drift")
      .meta({ order: 4 }),
    tests: z
      .record(z.string(), DriftTestName)
      .default({})
      .describe(
        "Per column, a test instead of the default: ks, chisquare, z, wasserstein, jensenshannon or psi",
      )
      .meta({ order: 5, advanced: true }),
    thresholds: z
      .record(z.string(), z.number().min(0))
      .default({})
      .describe("Per column, a threshold instead of the test's default (p-values 0.05, distances 0.1)")
      .meta({ order: 6, advanced: true }),
    minRows: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("Fewest non-missing values each side needs for a column to be tested")
      .meta({ order: 7, advanced: true }),
  }),
  // With param model, the version an alias points at is part of the cache key: moving the alias re-runs.
  async externalFingerprint(ctx, params) {
    if (!params.model) return "";
    const { name, ref } = splitRef(params.model);
    return `${name}@${typeof ref === "number" ? ref : (ctx.resolveAlias(name, ref) ?? "none")}`;
  },
  outputSchema(ctx, _inputs, p) {
    // Columns are checked against the reference only: one missing from the current data is schema
    // drift, which the report shows, not a mistake in the params.
    ctx.checkColumns("reference", ["columns"], p.columns);
    return { report: undefined };
  },
  async run(ctx, inputs, params) {
    if (inputs.reference && params.model)
      throw new BlockError(
        `Give one reference: the "reference" input or param model (${params.model}), not both. Disconnect the input or clear the param.`,
      );
    if (!inputs.reference && !params.model)
      throw new BlockError(
        'No reference: connect the training data to "reference", or set param model to a registered version (e.g. penguins@champion) to use its reference profile.',
      );
    const current = requireTable(inputs, "current");
    ctx.progress(0, "Testing columns");
    let reference: DriftTable;
    let options = { columns: params.columns, target: params.target, prediction: params.prediction };
    if (params.model) {
      const stored = await storedProfile(ctx, params.model);
      try {
        const side = await profileReference(ctx.sql, stored.profile, current, ctx.newTable("reference"), {
          ...options,
        });
        reference = side.reference;
        options = { columns: side.columns ?? [], target: side.target, prediction: side.prediction };
      } catch (e) {
        throw new BlockError((e as Error).message);
      }
      ctx.log(
        `Reference: ${params.model} (v${stored.version}'s reference profile, ${stored.profile.rows} rows)`,
      );
    } else reference = requireTable(inputs, "reference");
    let report: Awaited<ReturnType<typeof computeDrift>>;
    try {
      report = await computeDrift(ctx.sql, reference, current, {
        ...options,
        tests: params.tests,
        thresholds: params.thresholds,
        shareThreshold: params.shareThreshold,
        minRows: params.minRows,
      });
    } catch (e) {
      if (e instanceof DriftInputError) throw new BlockError(e.message);
      throw e;
    }
    ctx.metric("drifted_columns", report.driftedColumns);
    ctx.metric("drift_share", report.share);
    ctx.metric("dataset_drift", report.datasetDrift ? 1 : 0);
    for (const c of report.columns.filter((c) => c.schema)) ctx.log(`${c.column}: ${c.reason}`, "warn");
    ctx.log(
      `${report.driftedColumns} of ${report.consideredColumns} columns drifted (${(report.share * 100).toFixed(1)} %): ${report.datasetDrift ? "dataset drift" : "no dataset drift"}`,
    );
    ctx.progress(1);
    return { report: { type: "report", data: report } };
  },
});
