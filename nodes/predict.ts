import type { DuckDBAppender } from "@duckdb/node-api";
import { z } from "zod";
import { duckdb } from "../app/data/native";
import { ident, type SqlSession } from "../app/data/sql";
import { BlockError, defineBlock, requireTable } from "../app/engine/block";
import { readColumns } from "../app/ml/dataset";
import { binaryLabels, decisionParams, positiveClassIndex } from "../app/ml/decision";
import { freeName } from "../app/ml/score-columns";
import { predictInWorkers } from "../app/ml/work/score";
import { checkModelData, requireModel, requireModelColumns } from "./model-blocks";

const params = z.object({ ...decisionParams });

interface OutputColumn {
  name: string;
  sqlType: "DOUBLE" | "VARCHAR";
  /** The value at a row (a number, a string). */
  at: (row: number) => number | string;
  /** The type the column is cast to in the result (labels take the target's type). */
  castTo?: string;
}

/** Longest stretch the append loop holds the event loop. */
const YIELD_MS = 10;

/**
 * Appends the scores, one DuckDB data chunk (2048 rows) at a time, into a
 * temp table keyed by the input's rowid. No per-row SQL.
 */
async function appendScores(
  sql: SqlSession,
  table: string,
  rowid: Float64Array,
  columns: OutputColumn[],
  signal: AbortSignal,
): Promise<void> {
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} (rid BIGINT, ${columns.map((c, i) => `c${i} ${c.sqlType}`).join(", ")})`,
  );
  const appender: DuckDBAppender = await sql.connection.createAppender(table, "main", "temp");
  try {
    const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
    const step = 2048;
    let lastYield = performance.now();
    for (let start = 0; start < rowid.length; start += step) {
      signal.throwIfAborted();
      // The appender is synchronous: let the event loop in every few milliseconds.
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      const end = Math.min(rowid.length, start + step);
      const chunk = duckdb().DuckDBDataChunk.create(types, end - start);
      chunk.setColumnValues(
        0,
        Array.from(rowid.subarray(start, end), (r) => BigInt(r)),
      );
      columns.forEach((c, i) => {
        const values = new Array<number | string>(end - start);
        for (let r = start; r < end; r++) values[r - start] = c.at(r);
        chunk.setColumnValues(i + 1, values);
      });
      appender.appendDataChunk(chunk);
      // Flushed in small batches: one flush of every row at the end holds the event loop for long.
      if (((start / step) & 3) === 3) appender.flushSync();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

export default defineBlock({
  kind: "predict",
  cpu: true,
  version: 2,
  title: "Predict",
  category: "Evaluate",
  description:
    "Scores a table with a trained model: the input columns plus `prediction` (regression), or `label` and one `probability_<class>` column per class (classification). A binary model labels a row positive when its positive-class probability is at least `threshold`, as evaluate scores it. The model's preprocessing is applied to the raw columns.",
  inputs: {
    model: { type: "model", description: "A trained model" },
    data: {
      type: "table",
      description: "Rows to score: the model's feature columns (others are kept as they are)",
    },
  },
  outputs: { out: { type: "table", description: "The input rows with the predictions" } },
  params,
  outputSchema(ctx, inputs) {
    checkModelData(ctx, inputs, false);
    const { model, data } = inputs;
    if (!model || !data) return { out: undefined };
    // The names the run gives its columns: a name the input already has gets a suffix.
    const taken = new Set(data.columns.map((c) => c.name.toLowerCase()));
    if (model.task === "regression") {
      const prediction = { name: freeName("prediction", taken), type: "DOUBLE" };
      return { out: { ...data, columns: [...data.columns, prediction] } };
    }
    if (model.task === "classification" && model.target) {
      const label = { name: freeName("label", taken), type: model.target.type };
      const open = `and probability_<class> (DOUBLE) for each class of "${model.target.name}"`;
      return { out: { ...data, columns: [...data.columns, label], open } };
    }
    const open = "and prediction, or label and probability_<class>, as the model's task turns out";
    return { out: { ...data, open } };
  },
  async run(ctx, inputs, p) {
    const model = requireModel(inputs);
    const data = requireTable(inputs, "data");
    requireModelColumns(model, data.columns);
    // Checked before scoring: a positiveClass that does not apply fails at once.
    const positive = positiveClassIndex(
      model.task,
      model.classes ?? [],
      p.positiveClass,
      (m) => new BlockError(m),
    );
    const requests = model.preprocess.features.map((f) => ({
      column: data.columns.find((c) => c.name === f.name)!,
      kind: f.kind,
    }));
    const table = await readColumns(ctx.sql, data.name, requests, { signal: ctx.signal });
    ctx.progress(0.1, "Scoring");
    // In worker threads (app/ml/work): the engine's event loop stays free while a big table is scored.
    const scores = await predictInWorkers(model, table, {
      signal: ctx.signal,
      noLabels: true,
      onProgress: (done, total) =>
        ctx.progress(0.1 + (0.7 * done) / total, `Scored ${done} of ${total} rows`),
    });
    ctx.progress(0.8, "Writing the predictions");

    const taken = new Set(data.columns.map((c) => c.name.toLowerCase()));
    const outputName = (wanted: string) => {
      const name = freeName(wanted, taken);
      if (name !== wanted)
        ctx.log(`The input already has a column "${wanted}"; the output column is "${name}".`, "warn");
      return name;
    };
    const columns: OutputColumn[] = [];
    if (scores.prediction) {
      const prediction = scores.prediction;
      columns.push({ name: outputName("prediction"), sqlType: "DOUBLE", at: (r) => prediction[r]! });
    } else {
      const classes = model.classes ?? [];
      const { probabilities } = scores as Required<typeof scores>;
      const K = classes.length;
      const labels = classes.map(String);
      let classIndex = scores.classIndex!;
      if (model.task === "binary") {
        // The rule evaluate scores with (app/ml/decision.ts), not the largest probability.
        classIndex = binaryLabels(probabilities, { positive, threshold: p.threshold });
        ctx.log(
          `A row is labelled ${labels[positive]} when its probability of ${labels[positive]} is at least ${p.threshold}.`,
        );
      }
      columns.push({
        name: outputName("label"),
        sqlType: "VARCHAR",
        at: (r) => labels[classIndex[r]!]!,
        castTo: model.targetType,
      });
      classes.forEach((c, k) => {
        columns.push({
          name: outputName(`probability_${c}`),
          sqlType: "DOUBLE",
          at: (r) => probabilities[r * K + k]!,
        });
      });
    }
    const scoresTable = "predict_scores";
    await appendScores(ctx.sql, scoresTable, table.rowid, columns, ctx.signal);
    try {
      const out = ctx.newTable("out");
      const t = ident(data.name);
      const picked = columns.map((c, i) =>
        c.castTo ? `CAST(s.c${i} AS ${c.castTo}) AS ${ident(c.name)}` : `s.c${i} AS ${ident(c.name)}`,
      );
      await ctx.sql.run(
        `CREATE OR REPLACE TABLE ${ident(out)} AS
         SELECT ${t}.*, ${picked.join(", ")}
         FROM ${t} AS ${t} JOIN temp.main.${ident(scoresTable)} AS s ON ${t}.rowid = s.rid
         ORDER BY ${t}.rowid`,
      );
      ctx.metric("rows_scored", table.rows);
      return { out: { type: "table", name: out } };
    } finally {
      await ctx.sql.run(`DROP TABLE IF EXISTS temp.main.${ident(scoresTable)}`);
    }
  },
});
