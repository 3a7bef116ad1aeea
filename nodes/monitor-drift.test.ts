import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { copyPenguins, createTestProject, type TestProject } from "../app/engine/testing";
import { referenceProfilePath } from "../app/store/registry";
import type { DriftReport } from "../app/values/drift";
import ingestFile from "./ingest-file";
import monitorDrift from "./monitor-drift";
import predict from "./predict";
import register from "./register";
import split from "./split";
import trainTree from "./train-tree";

describe("monitor.drift", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("writes a drift report and the drift metrics", async () => {
    const reference = await p.table(
      "ref",
      "SELECT i * 0.5 AS x, i % 4 AS k, CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS c FROM range(2000) AS t(i)",
    );
    const current = await p.table(
      "cur",
      "SELECT i * 0.5 + 300 AS x, i % 4 AS k, 'a' AS c FROM range(1500) AS t(i)",
    );
    const out = await p.run(monitorDrift, { reference, current }, { prediction: "k" });
    const report = (out.report as { data: DriftReport }).data;
    expect(report.kind).toBe("drift");
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(by.x).toMatchObject({ test: "wasserstein", drifted: true, pValue: null, threshold: 0.1 });
    expect(by.k).toMatchObject({ role: "prediction", test: "jensenshannon", drifted: false });
    expect(by.c).toMatchObject({ test: "jensenshannon", drifted: true });
    expect(report).toMatchObject({ driftedColumns: 2, consideredColumns: 3, datasetDrift: true });
    const metrics = Object.fromEntries(p.metrics.map((m) => [m.name, m.value]));
    expect(metrics).toEqual({ drifted_columns: 2, drift_share: 2 / 3, dataset_drift: 1 });
  });

  it("reports schema drift as a warning, and bad params as a block error", async () => {
    const reference = await p.table("r2", "SELECT i AS a, i AS b FROM range(50) AS t(i)");
    const current = await p.table("c2", "SELECT i AS a FROM range(50) AS t(i)");
    const out = await p.run(monitorDrift, { reference, current }, {});
    expect((out.report as { data: DriftReport }).data.columns[1]).toMatchObject({
      column: "b",
      schema: "missing",
    });
    expect(p.logs.some((l) => l.level === "warn" && /b: The column is missing/.test(l.message))).toBe(true);
    await expect(p.run(monitorDrift, { reference, current }, { columns: ["zz"] })).rejects.toThrow(
      /"zz" is not a column of the reference/,
    );
    await expect(p.run(monitorDrift, { reference, current }, { tests: { a: "t-test" } })).rejects.toThrow(
      /tests/,
    );
    await expect(p.run(monitorDrift, { reference }, {})).rejects.toThrow(/"current" is not connected/);
  });
});

describe("monitor.drift with a registered version's reference profile (param model)", () => {
  let p: TestProject;
  let model: PortValue;
  let train: TableValue;
  let all: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    copyPenguins(p);
    const { out } = await p.run(ingestFile, {}, { path: "data/penguins.csv" });
    all = out as TableValue;
    // Seed 3 puts the one "." sex in the training rows: Evidently's chi-squared takes a category the
    // reference lacks as drift (its expected count is 0), which is not what this test is about.
    ({ train } = (await p.run(
      split,
      { in: out },
      { strategy: "stratified", column: "species", seed: 3 },
    )) as {
      train: TableValue;
    });
    model = (await p.run(trainTree, { train }, { target: "species", maxDepth: 3 })).model!;
    p.upstream = { model: { node: "tree", port: "model" } };
    await p.run(register, { model }, { name: "penguins", alias: "champion" });
  }, 60_000);
  afterEach(() => p.close());

  it("gives the report the training table gives as the reference", async () => {
    const current = await p.table(
      "shifted",
      `SELECT * REPLACE (body_mass_g * 1.5 AS body_mass_g) FROM ${all.name}`,
    );
    const fromModel = (await p.run(monitorDrift, { current }, { model: "penguins@champion" })).report as {
      data: DriftReport;
    };
    // The training table itself, with the same columns (the target tested as one; the file has no predictions).
    const fromTable = (await p.run(monitorDrift, { reference: train, current }, { target: "species" }))
      .report as { data: DriftReport };
    // The same report, column for column (the profile lists the target after the inputs).
    const byName = (r: DriftReport) => ({
      ...r,
      columns: [...r.columns].sort((a, b) => a.column.localeCompare(b.column)),
    });
    expect(byName(fromModel.data)).toEqual(byName(fromTable.data));
    expect(fromModel.data.columns.filter((c) => c.drifted).map((c) => c.column)).toEqual(["body_mass_g"]);
    expect(
      p.logs.some((l) => /Reference: penguins@champion \(v1's reference profile, \d+ rows\)/.test(l.message)),
    ).toBe(true);
  });

  it("tests the model's predictions against a scored table's under the name given", async () => {
    const scored = (await p.run(predict, { model, data: train })).out as TableValue;
    const out = (await p.run(monitorDrift, { current: scored }, { model: "penguins@1", prediction: "label" }))
      .report as { data: DriftReport };
    const pred = out.data.columns.find((c) => c.role === "prediction")!;
    // The same rows, scored by the same model: the very same predictions.
    expect(pred).toMatchObject({ column: "label", tested: true, drifted: false, pValue: 1 });
  });

  it("refuses both references, neither, an unknown model or alias, and a version without a profile", async () => {
    const current = await p.table("cur", "SELECT 1 AS body_mass_g");
    await expect(
      p.run(monitorDrift, { reference: train, current }, { model: "penguins@champion" }),
    ).rejects.toThrow(
      /Give one reference: the "reference" input or param model \(penguins@champion\), not both/,
    );
    await expect(p.run(monitorDrift, { current }, {})).rejects.toThrow(
      /No reference: connect the training data to "reference", or set param model/,
    );
    await expect(p.run(monitorDrift, { current }, { model: "walrus@champion" })).rejects.toThrow(
      /No registered model "walrus"/,
    );
    await expect(p.run(monitorDrift, { current }, { model: "penguins@prod" })).rejects.toThrow(
      /Model "penguins" has no alias "prod" \(its aliases: champion\)/,
    );
    await expect(p.run(monitorDrift, { current }, { model: "penguins@7" })).rejects.toThrow(
      /Model "penguins" has no version 7 \(its latest is v1\)/,
    );
    await expect(p.run(monitorDrift, { current }, { model: "penguins" })).rejects.toThrow(
      /NAME@ALIAS or NAME@VERSION/,
    );
    const v = p.metadata().registry.getVersion("penguins", 1)!;
    rmSync(referenceProfilePath(p.dir, v)!);
    await expect(p.run(monitorDrift, { current }, { model: "penguins@champion" })).rejects.toThrow(
      /penguins v1 has no reference profile: it was registered before Dagwood kept one with each version\. Run the pipeline that registered it again with --no-cache/,
    );
  });

  it("keys its cache on the version the alias points at", async () => {
    const before = await p.fingerprint(monitorDrift, { model: "penguins@champion" });
    const other = (await p.run(trainTree, { train }, { target: "species", maxDepth: 2 })).model!;
    await p.run(register, { model: other }, { name: "penguins", alias: "champion" });
    expect(await p.fingerprint(monitorDrift, { model: "penguins@champion" })).not.toBe(before);
  });
});
