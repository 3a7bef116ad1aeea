/**
 * Date columns in the train blocks: used as their calendar parts by default,
 * computed the same natively and inside the exported ONNX graph (the served
 * model takes epoch milliseconds), and said so in the log and the signature.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, readTestColumns, type TestProject } from "../app/engine/testing";
import type { AnyDagwoodModel } from "../app/ml/model";
import { predictTable } from "../app/ml/model";
import { checkModelParity } from "../app/ml/onnx/parity";
import { ModelSummary } from "../app/values/model";
import { blocks } from "./index";
import predict from "./predict";
import trainGbdt from "./train-gbdt";
import trainLogistic from "./train-logistic";
import trainMlp from "./train-mlp";

const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as AnyDagwoodModel;

/**
 * 700 days from 1940 to 2035 (before and after 1970), a timestamp an hour
 * and a few minutes apart from 1960-02-29 on, some NULL dates, three rows with
 * no target; the label is a function of the weekday and the month only.
 */
const DAYS = `
  SELECT CASE WHEN i % 53 = 7 THEN NULL ELSE DATE '1940-01-01' + (i * 49)::INTEGER END AS day,
         TIMESTAMP '1960-02-29 13:00:00' + to_minutes((i * 4001)::BIGINT) AS seen,
         (i % 10)::DOUBLE AS noise,
         CASE WHEN i IN (5, 6, 9) THEN NULL
              WHEN i % 53 = 7 THEN 'unknown'
              WHEN isodow(DATE '1940-01-01' + (i * 49)::INTEGER) >= 6 THEN 'weekend'
              WHEN month(DATE '1940-01-01' + (i * 49)::INTEGER) IN (12, 1, 2) THEN 'winter'
              ELSE 'other' END AS label
  FROM range(700) t(i)`;

/** Rows the training lacks: leap days before 1970, far dates, NULL and a day before 1900. */
const SCORING = `
  SELECT * FROM (VALUES
    (DATE '1904-02-29', TIMESTAMP '1904-02-29 23:59:59', 1.0),
    (DATE '1900-03-01', TIMESTAMP '1900-02-28 00:00:01', 2.0),
    (DATE '1969-12-31', TIMESTAMP '1969-12-31 23:59:59.999', 3.0),
    (DATE '1970-01-01', TIMESTAMP '1970-01-01 00:00:00', 4.0),
    (DATE '2000-02-29', TIMESTAMP '2000-02-29 12:00:00', 5.0),
    (DATE '2400-02-29', TIMESTAMP '2399-12-31 23:00:00', 6.0),
    (DATE '1583-01-01', TIMESTAMP '1600-02-29 06:30:00', 7.0),
    (NULL, NULL, NULL)
  ) v(day, seen, noise)`;

describe("train blocks on date columns", () => {
  let p: TestProject;
  let train: PortValue;
  beforeAll(async () => {
    p = await createTestProject();
    train = await p.table("days", DAYS);
    await p.table("scoring", SCORING);
  });
  afterAll(() => p.close());

  it("uses dates as year, month, day, weekday (and hour) by default, says so, and learns from them", async () => {
    p.logs.length = 0;
    const out = await p.run(trainGbdt, { train }, { target: "label", trees: 30, minSamplesLeaf: 2 });
    const model = modelOf(out.model);
    const day = model.preprocess.features.find((f) => f.name === "day")!;
    const seen = model.preprocess.features.find((f) => f.name === "seen")!;
    expect(day.kind === "numeric" && day.dateParts?.map((d) => d.part)).toEqual([
      "year",
      "month",
      "day",
      "weekday",
    ]);
    expect(seen.kind === "numeric" && seen.dateParts?.map((d) => d.part)).toEqual([
      "year",
      "month",
      "day",
      "weekday",
      "hour",
    ]);
    // Parts, the default, are said in the log, not as a warning (the node shows no badge for them).
    const infos = p.logs.filter((l) => l.level === "info").map((l) => l.message);
    expect(infos).toContain(
      'Date column "day" used as year, month, day, weekday (UTC; weekday 1 = Monday … 7 = Sunday); set dateFeatures to "epoch" to use it as one number.',
    );
    expect(
      infos.some((w) => w.startsWith('Date column "seen" used as year, month, day, weekday, hour')),
    ).toBe(true);
    expect(p.logs.filter((l) => l.level === "warn" && l.message.startsWith("Date column"))).toEqual([]);
    // The signature: the served model still takes epoch milliseconds, and says how it uses them.
    expect(model.signature.inputs.find((i) => i.name === "day")).toEqual({
      name: "day",
      dtype: "FP64",
      shape: [-1, 1],
      sourceType: "DATE",
      unit: "ms since 1970-01-01T00:00:00Z",
      use: "date parts in UTC: year, month, day, weekday (1 = Monday)",
    });
    expect(model.signature.inputs.find((i) => i.name === "noise")?.use).toBe("number");
    // The summary counts what it says: trained rows + rows without a target = the input's rows.
    expect(model.trainedRows).toBe(697);
    expect(model.missingTargetRows).toBe(3);
    expect(model.onnx?.parity).toMatchObject({ rows: 697 + 3, probeRows: 3, labelAgreement: 1 });
    expect(ModelSummary.parse(JSON.parse(JSON.stringify(model)))).toMatchObject({ missingTargetRows: 3 });
    // A label that is a function of weekday and month: the parts make it learnable.
    const rows = await readTestColumns(p, "days", ["day", "seen", "noise", "label"]);
    const predicted = predictTable(model, rows).label!;
    const labels = rows.columns.find((c) => c.name === "label")!;
    let right = 0;
    let counted = 0;
    for (let r = 0; r < rows.rows; r++) {
      const code = labels.kind === "categorical" ? labels.codes[r]! : -1;
      if (code < 0) continue;
      counted++;
      if (predicted[r] === (labels.kind === "categorical" ? labels.dictionary[code] : undefined)) right++;
    }
    expect(right / counted).toBeGreaterThan(0.97);

    // The exported file on rows the training never saw: dates before 1900 and 1970, leap days, NULL.
    const bytes = new Uint8Array(readFileSync(join(p.dir, model.onnx!.file)));
    const scoring = await readTestColumns(p, "scoring", ["day", "seen", "noise"]);
    const parity = await checkModelParity(bytes, model, scoring);
    expect(parity).toMatchObject({ rows: 8, passed: true, labelAgreement: 1 });
    expect(parity.maxAbsDiff).toBeLessThan(1e-12);
    // 2000-02-29 was a Tuesday in winter; 1904-02-29 a Monday.
    expect(parity.onnx.label?.[4]).toBe("winter");
    expect(parity.onnx.label?.[0]).toBe("winter");
  });

  it("keeps a date listed in features as epoch milliseconds unless dateFeatures says parts", async () => {
    p.logs.length = 0;
    const epoch = modelOf(
      (await p.run(trainGbdt, { train }, { target: "label", features: ["day", "noise"], trees: 5 })).model,
    );
    const day = epoch.preprocess.features[0]!;
    expect(day.kind === "numeric" && day.dateParts).toBeUndefined();
    expect(epoch.params.dateFeatures).toBe("epoch");
    expect(epoch.signature.inputs[0]?.use).toBe("one number (epoch milliseconds)");
    expect(p.logs).toContainEqual({
      level: "warn",
      message:
        'Date column "day" used as one number, milliseconds since 1970-01-01 UTC; set dateFeatures to "parts" to use its year, month, day and weekday.',
    });

    p.logs.length = 0;
    const parts = modelOf(
      (
        await p.run(
          trainGbdt,
          { train },
          { target: "label", features: ["day"], dateFeatures: "parts", trees: 5 },
        )
      ).model,
    );
    const partsDay = parts.preprocess.features[0]!;
    expect(partsDay.kind === "numeric" && partsDay.dateParts?.length).toBe(4);
    // Chosen in the pipeline: said, not warned.
    expect(p.logs.filter((l) => /Date column/.test(l.message))).toEqual([
      {
        level: "info",
        message:
          'Date column "day" used as year, month, day, weekday (UTC; weekday 1 = Monday … 7 = Sunday).',
      },
    ]);
  });

  it("every train block takes dateFeatures, as the warning about dates tells the user to set", () => {
    const trains = blocks.filter((b) => b.kind.startsWith("train."));
    expect(trains.length).toBeGreaterThanOrEqual(6);
    for (const block of trains) {
      const parsed = block.params.safeParse({ target: "label", dateFeatures: "epoch" });
      expect(parsed.success, block.kind).toBe(true);
      expect((parsed.data as { dateFeatures?: string }).dateFeatures, block.kind).toBe("epoch");
    }
  });

  it("the MLP uses a date as one number or as its parts, as dateFeatures says", async () => {
    p.logs.length = 0;
    const params = { target: "label", features: ["day", "noise"], hidden: [4], epochs: 1 };
    const epoch = modelOf((await p.run(trainMlp, { train }, { ...params, dateFeatures: "epoch" })).model);
    const day = epoch.preprocess.features.find((f) => f.name === "day")!;
    expect(day.kind === "numeric" && day.dateParts).toBeUndefined();
    expect(epoch.params.dateFeatures).toBe("epoch");
    const parts = modelOf((await p.run(trainMlp, { train }, { ...params, dateFeatures: "parts" })).model);
    const partsDay = parts.preprocess.features.find((f) => f.name === "day")!;
    expect(partsDay.kind === "numeric" && partsDay.dateParts?.map((d) => d.part)).toEqual([
      "year",
      "month",
      "day",
      "weekday",
    ]);
    expect(parts.params.dateFeatures).toBe("parts");
    // Chosen in the pipeline: said, not warned.
    expect(p.logs.filter((l) => /Date column/.test(l.message)).map((l) => l.level)).toEqual(["info", "info"]);
  });

  it("a hyperparameter search fits each fold's date parts on the fold's rows", async () => {
    p.trials.length = 0;
    const out = await p.run(
      trainLogistic,
      { train },
      { target: "label", search: { strategy: "grid", space: { l2: [0.1, 10] }, folds: 2 } },
    );
    expect(p.trials).toHaveLength(2);
    const seen = modelOf(out.model).preprocess.features.find((f) => f.name === "seen")!;
    expect(seen.kind === "numeric" && seen.dateParts?.length).toBe(5);
  });

  it("refuses an unknown dateFeatures value with the choices", async () => {
    await expect(p.run(trainGbdt, { train }, { target: "label", dateFeatures: "days" })).rejects.toThrow(
      /dateFeatures[\s\S]*("parts"|parts)/,
    );
  });

  it("logistic regression: standard-scaled parts, exact ONNX parity on unseen dates, predict agrees", async () => {
    const out = await p.run(trainLogistic, { train }, { target: "label", maxIter: 200 });
    const model = modelOf(out.model);
    const seen = model.preprocess.features.find((f) => f.name === "seen")!;
    expect(seen.kind === "numeric" && seen.dateParts?.every((d) => d.scale?.kind === "standard")).toBe(true);
    expect(model.onnx?.parity.labelAgreement).toBe(1);
    const bytes = new Uint8Array(readFileSync(join(p.dir, model.onnx!.file)));
    const scoring = await readTestColumns(p, "scoring", ["day", "seen", "noise"]);
    const parity = await checkModelParity(bytes, model, scoring);
    expect(parity.passed).toBe(true);
    // Batch predict scores the same rows the same way.
    const scored = await p.run(
      predict,
      { model: out.model, data: await p.table("scoring2", "SELECT * FROM scoring") },
      {},
    );
    const rows = await p.rows(scored.out);
    expect(rows.map((r) => r.label)).toEqual(parity.onnx.label);
  });
});
