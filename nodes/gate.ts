import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { ensureProjectVersionFiles } from "../app/artifacts/version-files";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";
import type { TableValue } from "../app/engine/ports";
import { asModel } from "../app/ml/model";
import { ALIAS_NAME, MODEL_NAME, type ModelVersion } from "../app/store/types";
import type { ChampionCheck, EvaluationReport } from "../app/values/evaluation";
import { metricDirection } from "../app/values/metric-direction";
import evaluate from "./evaluate";

const OPS = {
  ">=": (a: number, b: number) => a >= b,
  ">": (a: number, b: number) => a > b,
  "<=": (a: number, b: number) => a <= b,
  "<": (a: number, b: number) => a < b,
} as const;

type Op = keyof typeof OPS;

const params = z.object({
  metric: z
    .string()
    .min(1)
    .describe('The metric to check, a name in the report\'s metrics (e.g. "accuracy", "roc_auc", "rmse")')
    .meta({ order: 1 }),
  op: z
    .enum(Object.keys(OPS) as [Op, ...Op[]])
    .default(">=")
    .describe("How the metric must compare with the threshold to pass")
    .meta({ order: 2 }),
  threshold: z.number().optional().describe("The value the metric is compared with").meta({ order: 3 }),
  champion: z
    .object({
      model: z.string().regex(MODEL_NAME, "a registered model's name").describe("The registered model"),
      alias: z
        .string()
        .regex(ALIAS_NAME, "an alias: a letter, then letters, digits, _ -")
        .default("champion")
        .describe("The alias of the version to beat"),
      margin: z
        .number()
        .min(0)
        .default(0)
        .describe("How much better than the champion the metric must be (0: at least as good)"),
    })
    .optional()
    .describe(
      "Also require the metric to be at least as good as the registered version under this alias, scored on the same data (connect it to the data input)",
    )
    .meta({ order: 4 }),
});
type GateParams = z.output<typeof params>;

/**
 * The value as a reader wants it (4 significant digits), unless rounding
 * would flip the comparison, as "0.94996 is not >= 0.95" would read "0.95".
 */
function shown(value: number, op: Op, threshold: number): string {
  const short = Number(value.toPrecision(4));
  return OPS[op](short, threshold) === OPS[op](value, threshold) ? String(short) : String(value);
}

/**
 * Scores the champion with evaluate's own code on `data`, with the options the
 * report was made with (positive class, threshold, groups), so both numbers
 * mean the same thing.
 */
async function championValue(
  ctx: BlockContext,
  version: ModelVersion,
  data: TableValue,
  report: Partial<EvaluationReport>,
  metric: string,
): Promise<number> {
  let native: unknown;
  try {
    // A champion registered on another machine of a shared store: its files come from the artifact location.
    await ensureProjectVersionFiles(ctx.projectDir, version);
    native = JSON.parse(await readFile(resolve(ctx.projectDir, version.nativePath), "utf8"));
  } catch (e) {
    throw new BlockError(
      `Cannot read the champion ${version.name} v${version.version} from the registry (${version.nativePath}): ${(e as Error).message}. Restore the registry folder, or move the alias to a version that is there.`,
    );
  }
  const model = asModel(native);
  // Its parity is checked on the registry's copy of the ONNX file, not on the training run's.
  if (model.onnx) model.onnx = { ...model.onnx, file: version.onnxPath };
  const quiet: BlockContext = {
    ...ctx,
    progress: () => undefined,
    metric: () => undefined,
    log: (message, level) => ctx.log(`Champion v${version.version}: ${message}`, level),
  };
  const groups = report.groups;
  const options = evaluate.params.parse({
    ...(groups ? { groupBy: groups.columns ?? [groups.column] } : {}),
    // The gaps are compared, not their intervals: the champion needs no bootstrap.
    ...(groups
      ? {
          bootstrapResamples: 0,
          ...(groups.conventions ? { fairnessConventions: groups.conventions } : {}),
          ...(groups.minGroupSize !== undefined ? { minGroupSize: groups.minGroupSize } : {}),
          ...(groups.smallGroups ? { smallGroups: groups.smallGroups } : {}),
        }
      : {}),
    ...(report.positiveClass !== undefined ? { positiveClass: String(report.positiveClass) } : {}),
    ...(report.threshold !== undefined ? { threshold: report.threshold } : {}),
  });
  const out = await evaluate.run(
    quiet,
    { model: { type: "model", data: model, fingerprint: version.modelFingerprint }, data },
    options,
  );
  const scored = (out.report as { data: EvaluationReport }).data;
  if (typeof report.rows === "number" && scored.rows !== report.rows) {
    throw new BlockError(
      `The data input has ${scored.rows} labelled rows, but the report was evaluated on ${report.rows}: the champion must be scored on the same test data. Connect "data" to the table the evaluate node read.`,
    );
  }
  const value = scored.metrics[metric];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new BlockError(
      `The champion ${version.name} v${version.version} has no ${metric} on this data (${JSON.stringify(value ?? null)}; it is a ${version.task} ${version.estimator} model). Compare on a metric both models have.`,
    );
  }
  return value;
}

/** Fails unless `value` is at least as good as the champion's by the margin; says how both did. */
async function checkChampion(
  ctx: BlockContext,
  champion: NonNullable<GateParams["champion"]>,
  metric: string,
  value: number,
  report: Partial<EvaluationReport> & { dataFingerprint?: unknown },
  data: TableValue | undefined,
): Promise<ChampionCheck> {
  const { model, alias, margin } = champion;
  const direction = metricDirection(metric);
  if (direction === undefined) {
    throw new BlockError(
      `${metric} is neither better high nor low, so it cannot decide against a champion. Choose a metric such as accuracy, roc_auc or rmse.`,
    );
  }
  const higher = direction === "higher";
  const version = ctx.registry.getVersion(model, alias);
  if (!version) {
    ctx.log(`No champion yet: ${model} has no version under "${alias}", so there is nothing to beat.`);
    return { model, alias, version: null, value: null };
  }
  if (!data) {
    throw new BlockError(
      `To compare with the champion ${model}@${alias} (v${version.version}), connect "data" to the test table the report was evaluated on.`,
    );
  }
  if (typeof report.dataFingerprint === "string" && report.dataFingerprint !== data.fingerprint) {
    throw new BlockError(
      `The data input is not the table the report was evaluated on (fingerprint ${data.fingerprint.slice(0, 12)}, the report's ${report.dataFingerprint.slice(0, 12)}): the champion must be scored on the same test data.`,
    );
  }
  const theirs = await championValue(ctx, version, data, report, metric);
  const needed = higher ? theirs + margin : theirs - margin;
  const beats = higher ? value >= needed : value <= needed;
  const by = margin ? ` by at least ${margin}` : "";
  const comparison = `${metric} ${value.toPrecision(4)} against the champion ${model} v${version.version} (@${alias}) ${theirs.toPrecision(4)}; ${higher ? "higher" : "lower"} is better`;
  if (!beats) throw new BlockError(`Gate failed: ${comparison}, and it must do as well${by}.`);
  ctx.log(`Gate passed: ${comparison}.`);
  return { model, alias, version: version.version, value: theirs };
}

export default defineBlock({
  kind: "gate",
  version: 2,
  title: "Gate",
  category: "Evaluate",
  description:
    "Fails the run unless a metric of the report passes a threshold (e.g. accuracy >= 0.95, or from evaluate with groupBy a fairness gap: demographic_parity_difference, equal_opportunity_difference, false_positive_rate_difference, equalized_odds_difference <= 0.1, or equalized_odds_ratio >= 0.8), and, with champion set, unless it is at least as good as the registered version under an alias (champion/challenger) scored on the same test data. When it passes, the report goes through, with the champion's score added.",
  inputs: {
    report: { type: "report", description: "A report with metrics, e.g. from evaluate" },
    data: {
      type: "table",
      optional: true,
      description: "With champion: the test rows the report was evaluated on, to score the champion",
    },
  },
  outputs: { report: { type: "report", description: "The same report, when the gate passes" } },
  params: params.refine((p) => p.threshold !== undefined || p.champion !== undefined, {
    message: "Set a threshold, a champion to beat, or both",
    path: ["threshold"],
  }),
  async run(ctx, inputs, p) {
    const input = inputs.report;
    if (!input) throw new BlockError('Input "report" is not connected');
    if (input.type !== "report") throw new BlockError(`Input "report" must be a report, got ${input.type}`);
    const data = input.data as { kind?: unknown; metrics?: unknown } | null;
    const metrics = data?.metrics;
    if (!metrics || typeof metrics !== "object") {
      throw new BlockError(
        `The report (kind ${JSON.stringify(data?.kind)}) has no metrics to check. Connect a report that has them, e.g. evaluate's.`,
      );
    }
    const values = metrics as Record<string, unknown>;
    if (!(p.metric in values)) {
      throw new BlockError(
        `The report has no metric "${p.metric}". Its metrics are: ${Object.keys(values).join(", ")}.`,
      );
    }
    const value = values[p.metric];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      const against =
        p.threshold !== undefined ? `be ${p.op} ${p.threshold}` : "be compared with the champion";
      throw new BlockError(
        `Gate failed: ${p.metric} is undefined for this data (${JSON.stringify(value)}), so it cannot ${against}.`,
      );
    }
    if (p.threshold !== undefined) {
      if (!OPS[p.op](value, p.threshold)) {
        throw new BlockError(
          `Gate failed: ${p.metric} ${shown(value, p.op, p.threshold)} is not ${p.op} ${p.threshold}`,
        );
      }
      // With a champion still to beat, meeting the threshold is not yet passing.
      const outcome = p.champion ? "Threshold met" : "Gate passed";
      ctx.log(`${outcome}: ${p.metric} ${shown(value, p.op, p.threshold)} ${p.op} ${p.threshold}`);
    }
    if (!p.champion) return { report: { type: "report", data: input.data } };
    const table = inputs.data ? requireTable(inputs, "data") : undefined;
    const champion = await checkChampion(ctx, p.champion, p.metric, value, data as object, table);
    // Only an evaluation report has metrics to compare a champion on.
    return { report: { type: "report", data: { ...(input.data as EvaluationReport), champion } } };
  },
  // The champion's current version is part of the key: moving the alias re-runs the gate.
  async externalFingerprint(ctx, p) {
    if (!p.champion) return "";
    const { model, alias } = p.champion;
    return `${model}@${alias}=${ctx.resolveAlias(model, alias) ?? "none"}`;
  },
});
