/**
 * Models saved before date columns had parts (commit 9563505, the last one
 * before them): a DATE or TIMESTAMP feature without `dateParts` is one number,
 * epoch milliseconds. testdata/models-before-date-parts.json holds a gradient
 * boosting and a logistic model trained then on a table with a DATE, a
 * TIMESTAMP (both before and after 1970, some NULL) and a number, with the
 * rows, the predictions and the ONNX file that code made. They must still
 * parse as summaries, score the same and export the same bytes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { ModelSummary } from "../values/model";
import type { ColumnTable } from "./dataset";
import { type AnyDagwoodModel, predictTable } from "./model";
import { exportModel } from "./onnx/model";
import { modelFeeds } from "./onnx/parity";

interface Saved {
  model: AnyDagwoodModel;
  onnx: string;
  label: string[];
  probabilities: number[];
}
const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "testdata", "models-before-date-parts.json"), "utf8"),
) as {
  gbdt: Saved;
  logistic: Saved;
  rows: { rows: number; columns: { name: string; type: string; values: (number | null)[] }[] };
};

const rows: ColumnTable = {
  rows: fixture.rows.rows,
  columns: fixture.rows.columns.map((c) => ({
    name: c.name,
    kind: "numeric",
    type: c.type,
    values: Float64Array.from(c.values, (v) => v ?? Number.NaN),
  })),
};

describe.each(["gbdt", "logistic"] as const)("a %s model saved before date parts", (which) => {
  const saved = fixture[which];

  it("parses as a model summary, its dates being one number each", () => {
    const summary = ModelSummary.parse(saved.model);
    const dates = summary.preprocess.features.filter(
      (f) => f.sourceType === "DATE" || f.sourceType === "TIMESTAMP",
    );
    expect(dates.map((f) => f.name)).toEqual(["day", "seen"]);
    for (const f of dates) expect(f.kind === "numeric" && f.dateParts).toBeUndefined();
  });

  it("scores the same rows as it did, natively and through its saved ONNX file", async () => {
    const now = predictTable(saved.model, rows);
    expect(now.label).toEqual(saved.label);
    expect(Array.from(now.probabilities!)).toEqual(saved.probabilities);
    const session = await ort.InferenceSession.create(Buffer.from(saved.onnx, "base64"));
    try {
      const out = await session.run(modelFeeds(saved.model, rows));
      expect(Array.from(out.label!.data as ArrayLike<string>)).toEqual(saved.label);
      const served = Array.from(out.probabilities!.data as Float64Array);
      served.forEach((p, i) => {
        expect(Math.abs(p - saved.probabilities[i]!)).toBeLessThan(1e-9);
      });
    } finally {
      await session.release();
    }
  });

  it("exports the very bytes it exported then", () => {
    const bytes = exportModel(saved.model as never);
    expect(Buffer.from(bytes).toString("base64")).toBe(saved.onnx);
  });
});
