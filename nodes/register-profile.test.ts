import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { copyPenguins, createTestProject, type TestProject } from "../app/engine/testing";
import type { AnyDagwoodModel } from "../app/ml/model";
import { parseReferenceProfile, type StoredReferenceProfile } from "../app/monitoring/reference";
import { REFERENCE_PROFILE_FILE, referenceProfilePath } from "../app/store/registry";
import ingestFile from "./ingest-file";
import predict from "./predict";
import register from "./register";
import split from "./split";
import trainLinear from "./train-linear";
import trainTree from "./train-tree";

/** What the profile file may weigh for penguins (7 columns, ≤ 1,000 values each). */
const PENGUINS_PROFILE_BYTES = 40_000;

/** pandas' own figures for a CSV: per column count, nulls, sorted values or value counts. */
function pandasFigures(csv: string, columns: string[]): Record<string, unknown> {
  const script = `
import json, sys
import pandas as pd
df = pd.read_csv(sys.argv[1])
out = {}
for c in json.loads(sys.argv[2]):
    s = df[c]
    d = {"rows": int(len(s)), "missing": int(s.isna().sum()), "distinct": int(s.nunique())}
    if pd.api.types.is_numeric_dtype(s):
        d["values"] = sorted(float(x) for x in s.dropna())
    else:
        d["frequencies"] = {str(k): int(v) for k, v in s.value_counts().items()}
    out[c] = d
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", script, csv, JSON.stringify(columns)], { encoding: "utf8" }),
  );
}

describe("a registered version's reference profile", () => {
  let p: TestProject;
  let train: TableValue;
  let model: PortValue;
  let profile: StoredReferenceProfile;
  let file: string;

  beforeAll(async () => {
    p = await createTestProject();
    copyPenguins(p);
    const { out } = await p.run(ingestFile, {}, { path: "data/penguins.csv" });
    ({ train } = (await p.run(split, { in: out }, { strategy: "stratified", column: "species" })) as {
      train: TableValue;
    });
    model = (await p.run(trainTree, { train }, { target: "species", maxDepth: 3 })).model!;
    p.upstream = { model: { node: "tree", port: "model" } };
    await p.run(register, { model }, { name: "penguins", alias: "champion" });
    const v = p.metadata().registry.getVersion("penguins", "champion")!;
    file = referenceProfilePath(p.dir, v)!;
    profile = parseReferenceProfile(readFileSync(file, "utf8"), file);
  }, 120_000);
  afterAll(() => p.close());

  it("is stored in the version folder, and is small", () => {
    const v = p.metadata().registry.getVersion("penguins", 1)!;
    expect(file).toBe(join(p.dir, v.nativePath, "..", REFERENCE_PROFILE_FILE));
    expect(statSync(file).size).toBeLessThan(PENGUINS_PROFILE_BYTES);
    expect(profile.target).toBe("species");
    expect(profile.prediction).toBe("prediction");
  });

  it("holds the training table's figures, as pandas reads them", async () => {
    const csv = join(p.dir, "train.csv");
    await p.sql.run(`COPY ${train.name} TO '${csv}' (HEADER)`);
    const inputs = (model as unknown as { data: AnyDagwoodModel }).data.signature.inputs.map((t) => t.name);
    expect(profile.columns.map((c) => c.name)).toEqual([...inputs, "species", "prediction"]);
    const pandas = pandasFigures(csv, [...inputs, "species"]) as Record<
      string,
      {
        rows: number;
        missing: number;
        distinct: number;
        values?: number[];
        frequencies?: Record<string, number>;
      }
    >;
    expect(profile.rows).toBe(pandas.species!.rows);
    for (const c of profile.columns.filter((c) => c.name !== "prediction")) {
      const want = pandas[c.name]!;
      expect({ column: c.name, rows: c.rows, missing: c.missing, distinct: c.distinct }).toEqual({
        column: c.name,
        rows: want.rows,
        missing: want.missing,
        distinct: want.distinct,
      });
      if (want.values) expect(c.values).toEqual(want.values);
      else
        expect(Object.fromEntries(c.frequencies!.map((f) => [String(f.value), f.count]))).toEqual(
          want.frequencies,
        );
    }
  });

  it("holds the model's predictions on the training rows", async () => {
    const scored = (await p.run(predict, { model, data: train })).out;
    const rows = await p.sql.all<{ v: string; n: bigint }>(
      `SELECT CAST(label AS VARCHAR) AS v, count(*) AS n FROM ${(scored as TableValue).name} WHERE species IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    const prediction = profile.columns.find((c) => c.name === "prediction")!;
    expect(prediction.frequencies!.map((f) => [String(f.value), f.count])).toEqual(
      rows.map((r) => [r.v, Number(r.n)]),
    );
  });

  it("keeps a regression model's predictions as numbers", async () => {
    const m = (await p.run(trainLinear, { train }, { target: "body_mass_g" })).model!;
    const info = (m as unknown as { data: AnyDagwoodModel }).data.referenceProfile!;
    expect(existsSync(join(p.dir, info.file))).toBe(true);
    const prof = parseReferenceProfile(readFileSync(join(p.dir, info.file), "utf8"), info.file);
    const pred = prof.columns.find((c) => c.name === "prediction")!;
    expect(pred.type).toBe("numeric");
    const scored = (await p.run(predict, { model: m, data: train })).out as TableValue;
    const r = await p.sql.all<{ v: number[] }>(
      `SELECT list(prediction ORDER BY prediction) AS v FROM ${scored.name} WHERE body_mass_g IS NOT NULL`,
    );
    expect(pred.values!.length).toBe(r[0]!.v.length);
    for (const [i, v] of pred.values!.entries()) expect(v).toBeCloseTo(r[0]!.v[i]!, 9);
  });
});
