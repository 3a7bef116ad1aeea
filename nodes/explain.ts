import { z } from "zod";
import { BlockError, defineBlock, requireTable } from "../app/engine/block";
import type { TableValue } from "../app/engine/ports";
import { type ColumnRequest, type RawColumn, readColumns, selectRows } from "../app/ml/dataset";
import {
  coefficientImportance,
  DEFAULT_MAX_ROWS,
  partialDependenceInWorkers,
  permutationImportanceInWorkers,
  sampleRows,
  splitGainImportance,
  type Truth,
} from "../app/ml/explain";
import { type asModel, type ClassLabel, isLinearModel, isMlpModel } from "../app/ml/model";
import type { ExplanationReport } from "../app/values/explanation";
import { checkModelData, jsonSafe, requireModel, requireModelColumns } from "./model-blocks";

/** Whatever model kinds asModel accepts (tree ensembles, linear models). */
type Model = ReturnType<typeof asModel>;

const params = z.object({
  seed: z
    .number()
    .int()
    .default(0)
    .describe("Seeds the row sample and the permutations")
    .meta({ order: 4, advanced: true }),
  repeats: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(5)
    .describe("Shuffles per column for permutation importance; the spread is over these")
    .meta({ order: 3, advanced: true }),
  maxRows: z
    .number()
    .int()
    .min(10)
    .default(DEFAULT_MAX_ROWS)
    .describe("Rows sampled (seeded) from the data for every explanation; more is slower and steadier")
    .meta({ order: 2 }),
  topK: z
    .number()
    .int()
    .min(0)
    .max(50)
    .default(3)
    .describe("Partial dependence for this many columns, the most important by permutation")
    .meta({ order: 1 }),
});

function checkColumns(model: Model, data: TableValue): void {
  const columns = data.columns.map((c) => c.name).join(", ");
  requireModelColumns(model, data.columns);
  if (!data.columns.some((c) => c.name === model.target)) {
    throw new BlockError(
      `The data has no column "${model.target}", the model's target: permutation importance measures how much worse the model predicts it when a column is shuffled. Its columns are: ${columns}. Connect labelled rows (e.g. split's test output).`,
    );
  }
}

/** Per row: the class index into the model's classes, -1 when missing or a label the model never saw. */
function classIndexes(target: RawColumn, classes: ClassLabel[]): Int32Array {
  const index = new Map<ClassLabel, number>(classes.map((c, i) => [c, i]));
  if (target.kind === "numeric") {
    return Int32Array.from(target.values, (v) => (Number.isFinite(v) ? (index.get(v) ?? -1) : -1));
  }
  const byCode = target.dictionary.map((s) => index.get(s) ?? -1);
  return Int32Array.from(target.codes, (c) => (c < 0 ? -1 : byCode[c]!));
}

export default defineBlock({
  kind: "explain",
  cpu: true,
  version: 1,
  title: "Explain",
  category: "Evaluate",
  description:
    "Explains a model on labelled rows: permutation importance of every raw column (the increase of log loss for classification, the drop of R² for regression, when the column is shuffled; mean and spread over repeats), split-gain importance for tree models or standardized coefficients for linear ones, and partial dependence on the most important columns. Works on a seeded sample of at most maxRows rows.",
  inputs: {
    model: { type: "model", description: "A trained model" },
    data: { type: "table", description: "Labelled rows: the model's feature columns and its target" },
  },
  outputs: {
    report: {
      type: "report",
      description: "Importances and partial dependence for the UI (kind: explanation)",
    },
  },
  params,
  outputSchema(ctx, inputs) {
    checkModelData(ctx, inputs, true);
    return { report: undefined };
  },
  async run(ctx, inputs, p) {
    const model = requireModel(inputs);
    const data = requireTable(inputs, "data");
    checkColumns(model, data);
    const classes = model.classes ?? [];
    const byName = (name: string) => data.columns.find((c) => c.name === name)!;
    const features: ColumnRequest[] = model.preprocess.features.map((f) => ({
      column: byName(f.name),
      kind: f.kind,
    }));
    // Labels are read as the model's classes were: numbers, or text (booleans and dates too).
    const numericTarget = model.task === "regression" || classes.every((c) => typeof c === "number");
    ctx.progress(0, "Reading the data");
    const table = await readColumns(
      ctx.sql,
      data.name,
      [...features, { column: byName(model.target), kind: numericTarget ? "numeric" : "categorical" }],
      { signal: ctx.signal },
    );
    const target = table.columns.pop()!;

    const labels = model.task === "regression" ? undefined : classIndexes(target, classes);
    const known: number[] = [];
    for (let r = 0; r < table.rows; r++) {
      const ok = labels ? labels[r]! >= 0 : target.kind === "numeric" && Number.isFinite(target.values[r]!);
      if (ok) known.push(r);
    }
    if (known.length === 0) {
      throw new BlockError(
        `No row of the data has a "${model.target}" value the model knows, so permutation importance has nothing to score against. Connect labelled rows.`,
      );
    }
    if (known.length < table.rows) {
      ctx.log(
        `${table.rows - known.length} row(s) have no "${model.target}" value${labels ? " or one the model never saw" : ""} and are left out.`,
        "warn",
      );
    }
    const chosen = Int32Array.from(sampleRows(known.length, p.maxRows, p.seed), (i) => known[i]!);
    if (chosen.length < known.length) {
      ctx.log(`Explaining a sample of ${chosen.length} of ${known.length} rows (maxRows).`);
    }
    const rows = selectRows(table, chosen);
    const truth: Truth = labels
      ? { task: "classification", y: Int32Array.from(chosen, (r) => labels[r]!) }
      : {
          task: "regression",
          y: Float64Array.from(chosen, (r) => (target as Extract<RawColumn, { kind: "numeric" }>).values[r]!),
        };

    ctx.progress(0.05, "Permutation importance");
    // In worker threads (app/ml/work), the same numbers as in this thread.
    const { metric, permutation } = await permutationImportanceInWorkers(model, rows, truth, {
      seed: p.seed,
      repeats: p.repeats,
      signal: ctx.signal,
      onProgress: (f, message) => ctx.progress(0.05 + 0.65 * f, message),
    });
    // A network has no importance of its own: permutation importance speaks for it.
    const linear = isLinearModel(model);
    const trees = !linear && !isMlpModel(model);
    const modelBased = linear
      ? coefficientImportance(model, rows)
      : trees
        ? splitGainImportance(model)
        : null;

    ctx.progress(0.7, "Partial dependence");
    const top = permutation.slice(0, p.topK).map((f) => f.feature);
    const pd = await partialDependenceInWorkers(model, rows, top, {
      signal: ctx.signal,
      onProgress: (f, message) => ctx.progress(0.7 + 0.3 * f, message),
    });

    for (const f of permutation.slice(0, Math.max(p.topK, 10))) {
      if (Number.isFinite(f.mean)) ctx.metric(`importance.${f.feature}`, f.mean);
    }
    const report: ExplanationReport = {
      kind: "explanation",
      task: model.task,
      target: model.target,
      rows: chosen.length,
      availableRows: known.length,
      metric,
      permutation,
      ...(linear && modelBased ? { coefficients: modelBased } : {}),
      ...(trees && modelBased ? { splitGain: modelBased } : {}),
      modelImportance: linear ? "coefficients" : trees ? "splitGain" : "none",
      partialDependence: pd,
      ...(model.task === "regression" ? {} : { classes }),
      model: { estimator: model.estimator, task: model.task, trainedRows: model.trainedRows },
    };
    ctx.progress(1, "Done");
    return { report: { type: "report", data: jsonSafe(report) } };
  },
});
