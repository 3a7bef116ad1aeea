/**
 * A model's reference profile on a training set larger than the profile
 * keeps whole: quantiles (checked against numpy on the same rows), category
 * counts (against pandas), the predictions' quantiles, and a size bound that
 * does not grow with the rows.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ingestFile from "../../nodes/ingest-file";
import predict from "../../nodes/predict";
import trainLinear from "../../nodes/train-linear";
import trainTree from "../../nodes/train-tree";
import type { PortValue, TableValue } from "../engine/ports";
import { createTestProject, type TestProject } from "../engine/testing";
import type { AnyDagwoodModel } from "../ml/model";
import { computeDrift } from "./drift";
import { parseReferenceProfile, profileReference, type StoredReferenceProfile } from "./reference";
import { PROFILE_QUANTILES } from "./types";

const FLIGHTS = resolve(import.meta.dirname, "../../node_modules/vega-datasets/data/flights-20k.json");
/** 5 columns of 20,000 rows: at most 1,001 quantiles or 1,000 counts each. */
const MAX_BYTES = 120_000;

/**
 * numpy's figures of the same rows: per numeric column the two empirical
 * quantiles at each level q (the left- and right-continuous inverses of the
 * CDF, s[ceil(qn) - 1] and s[floor(qn)], computed in exact integers; they
 * differ only where qn is a whole number), std, min, max and value counts;
 * pandas' value counts of the text columns.
 */
function numpyFigures(csv: string, numeric: string[], categorical: string[], levels: number) {
  const script = `
import json, sys
import numpy as np, pandas as pd
df = pd.read_csv(sys.argv[1])
q = np.arange(${levels} + 1) / ${levels}
out = {}
for c in json.loads(sys.argv[2]):
    v = df[c].dropna().to_numpy(dtype=float)
    vals, counts = np.unique(v, return_counts=True)
    s = np.sort(v)
    k = np.arange(${levels} + 1) * len(s)  # q * n, exactly (integers), as q = k / levels
    lo = s[np.maximum(-(-k // ${levels}) - 1, 0)]  # the left-continuous inverse: s[ceil(q n) - 1]
    hi = s[np.minimum(k // ${levels}, len(s) - 1)]  # the right-continuous one: s[floor(q n)]
    out[c] = {"n": int(len(v)), "lo": lo.tolist(), "hi": hi.tolist(),
              "std": float(np.std(v)), "min": float(v.min()), "max": float(v.max()),
              "counts": {repr(float(a)): int(n) for a, n in zip(vals, counts)}}
for c in json.loads(sys.argv[3]):
    out[c] = {str(k): int(n) for k, n in df[c].value_counts().items()}
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync(
      "/usr/bin/python3",
      ["-c", script, csv, JSON.stringify(numeric), JSON.stringify(categorical)],
      { encoding: "utf8", maxBuffer: 1 << 26 },
    ),
  );
}

let p: TestProject;
let train: TableValue;
let model: PortValue;
let profile: StoredReferenceProfile;
let bytes: number;

beforeAll(async () => {
  p = await createTestProject();
  copyFileSync(FLIGHTS, join(p.dir, "data", "flights.json"));
  train = (await p.run(ingestFile, {}, { path: "data/flights.json" })).out as TableValue;
  model = (
    await p.run(trainLinear, { train }, { target: "delay", features: ["distance", "origin", "destination"] })
  ).model!;
  const info = (model as unknown as { data: AnyDagwoodModel }).data.referenceProfile!;
  const text = readFileSync(join(p.dir, info.file), "utf8");
  bytes = Buffer.byteLength(text);
  expect(info.bytes).toBe(bytes);
  profile = parseReferenceProfile(text, info.file);
}, 120_000);
afterAll(() => p.close());

describe("a model's reference profile of 20,000 training rows", () => {
  it("is small: a bound set by the profile's caps, not the rows", () => {
    expect(profile.rows).toBe(20_000);
    expect(bytes).toBeLessThan(MAX_BYTES);
    for (const c of profile.columns) {
      expect(c.values?.length ?? 0).toBeLessThanOrEqual(1000);
      expect(c.frequencies?.length ?? 0).toBeLessThanOrEqual(1000);
      expect(c.quantiles?.length ?? 0).toBeLessThanOrEqual(PROFILE_QUANTILES + 1);
    }
  });

  it("matches numpy and pandas on the training table, the model's predictions included", async () => {
    const scored = (await p.run(predict, { model, data: train })).out as TableValue;
    const csv = join(p.dir, "scored.csv");
    await p.sql.run(
      `COPY (SELECT delay, distance, origin, destination, prediction FROM ${scored.name}) TO '${csv}' (HEADER)`,
    );
    const want = numpyFigures(
      csv,
      ["distance", "delay", "prediction"],
      ["origin", "destination"],
      PROFILE_QUANTILES,
    );
    const by = Object.fromEntries(profile.columns.map((c) => [c.name, c]));
    expect(profile.columns.map((c) => c.name)).toEqual([
      "distance",
      "origin",
      "destination",
      "delay",
      "prediction",
    ]);
    for (const name of ["distance", "delay", "prediction"]) {
      const c = by[name]!;
      const w = want[name];
      expect(c.rows - c.missing).toBe(w.n);
      expect(c.std!).toBeCloseTo(w.std, 6);
      expect(c.min!).toBeCloseTo(w.min, 9);
      expect(c.max!).toBeCloseTo(w.max, 9);
      if (c.frequencies) {
        // At most 1,000 distinct values: their counts, exactly.
        expect(c.distinct).toBeLessThanOrEqual(1000);
        const counts = Object.entries(w.counts as Record<string, number>)
          .map(([v, n]) => [Number(v), n])
          .sort((a, b) => a[0]! - b[0]!);
        expect(c.frequencies.map((f) => [Number(f.value), f.count])).toEqual(
          counts.map(([v, n]) => [expect.closeTo(v!, 9), n]),
        );
      } else {
        // More: the quantile function at 1,001 levels, the inverse of the empirical CDF (numpy's
        // inverted_cdf: s[ceil(q n) - 1]), not the right-continuous one where they differ.
        expect(c.distinct).toBeGreaterThan(1000);
        expect(c.quantiles!.length).toBe(PROFILE_QUANTILES + 1);
        for (const [i, q] of c.quantiles!.entries()) expect(q).toBeCloseTo(w.lo[i], 9);
        expect(w.lo.some((lo: number, i: number) => Math.abs(lo - w.hi[i]) > 1e-6)).toBe(true);
      }
    }
    // Both kinds are exercised.
    expect(profile.columns.some((c) => c.quantiles)).toBe(true);
    expect(profile.columns.some((c) => c.type === "numeric" && c.frequencies)).toBe(true);
    for (const name of ["origin", "destination"])
      expect(Object.fromEntries(by[name]!.frequencies!.map((f) => [String(f.value), f.count]))).toEqual(
        want[name],
      );
  });
});

describe("the profile of a model with date and boolean inputs", () => {
  it("keeps them as the served model receives them: milliseconds since 1970, 0/1", async () => {
    copyFileSync(
      resolve(import.meta.dirname, "../../node_modules/vega-datasets/data/seattle-weather.csv"),
      join(p.dir, "data", "weather.csv"),
    );
    const table = await p.table(
      "weather",
      `SELECT date, precipitation, wind, weather, precipitation > 0 AS wet FROM read_csv_auto('${join(p.dir, "data", "weather.csv")}')`,
    );
    const m = (await p.run(trainTree, { train: table }, { target: "weather", maxDepth: 3 })).model!;
    const info = (m as unknown as { data: AnyDagwoodModel }).data.referenceProfile!;
    const prof = parseReferenceProfile(readFileSync(join(p.dir, info.file), "utf8"), info.file);
    const date = prof.columns.find((c) => c.name === "date")!;
    const wet = prof.columns.find((c) => c.name === "wet")!;
    expect([date.sqlType, date.type, wet.sqlType]).toEqual(["DOUBLE", "numeric", "DOUBLE"]);
    // 1,461 days: more than the profile keeps whole, so quantiles; the first and last days in ms.
    expect(date.quantiles![0]).toBe(Date.UTC(2012, 0, 1));
    expect(date.quantiles!.at(-1)).toBe(Date.UTC(2015, 11, 31));
    const wetDays = await p.sql.one<{ n: bigint }>(`SELECT count(*) AS n FROM ${table.name} WHERE wet`);
    expect(wet.frequencies!.map((f) => [Number(f.value), f.count])).toEqual([
      [0, 1461 - Number(wetDays.n)],
      [1, Number(wetDays.n)],
    ]);
    expect([
      date.sourceType,
      wet.sourceType,
      prof.columns.find((c) => c.name === "wind")!.sourceType,
    ]).toEqual(["DATE", "BOOLEAN", "DOUBLE"]);

    // Against a file's rows (dates as DATE, wet as BOOLEAN): the same types on both sides, as between two
    // tables; the date untested, wet tested as a boolean with the figures of the training table itself.
    const file = await p.table(
      "weather_file",
      `SELECT * EXCLUDE (weather) FROM ${table.name} WHERE year(date) >= 2014`,
    );
    const fromFile = await profileReference(p.sql, prof, file, "ref_file");
    const report = await computeDrift(p.sql, fromFile.reference, file, fromFile);
    const direct = await computeDrift(p.sql, { name: table.name, columns: table.columns }, file, {
      columns: ["date", "precipitation", "wind", "wet"],
    });
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(report.columns.filter((c) => c.schema)).toEqual([]);
    expect(by.date).toMatchObject({
      sqlType: { reference: "DATE", current: "DATE" },
      tested: false,
      reason: "Date and time columns are not tested (Evidently leaves them out of drift).",
    });
    expect(by.wet).toMatchObject({ sqlType: { reference: "BOOLEAN", current: "BOOLEAN" }, tested: true });
    const directWet = direct.columns.find((c) => c.column === "wet")!;
    expect([by.wet!.test, by.wet!.statistic]).toEqual([directWet.test, directWet.statistic]);
    expect(direct.columns.find((c) => c.column === "date")!.reason).toBe(by.date!.reason);
    // The rebuilt reference holds the training dates again.
    expect(
      await p.sql.one(
        `SELECT min(date)::VARCHAR AS lo, max(date)::VARCHAR AS hi, typeof(min(date)) AS t FROM ref_file`,
      ),
    ).toEqual({ lo: "2012-01-01", hi: "2015-12-31", t: "DATE" });

    // Against the serving log's form (milliseconds, 0/1) nothing changes: numbers on both sides.
    const log = await p.table(
      "weather_log",
      `SELECT epoch_ms(date)::DOUBLE AS date, precipitation, wind, wet::DOUBLE AS wet FROM ${file.name}`,
    );
    const fromLog = await profileReference(p.sql, prof, log, "ref_log");
    const logReport = await computeDrift(p.sql, fromLog.reference, log, fromLog);
    const logBy = Object.fromEntries(logReport.columns.map((c) => [c.column, c]));
    expect(logBy.date).toMatchObject({ sqlType: { reference: "DOUBLE", current: "DOUBLE" }, tested: true });
    expect(logBy.wet).toMatchObject({ sqlType: { reference: "DOUBLE", current: "DOUBLE" }, tested: true });

    // A profile written before sourceType was kept: its DOUBLE date still meets a DATE as a date.
    const old = { ...prof, columns: prof.columns.map(({ sourceType: _, ...c }) => c) };
    const fromOld = await profileReference(p.sql, old, file, "ref_old");
    const oldBy = Object.fromEntries(
      (await computeDrift(p.sql, fromOld.reference, file, fromOld)).columns.map((c) => [c.column, c]),
    );
    expect(oldBy.date).toMatchObject({ schema: null, tested: false, sqlType: { reference: "DATE" } });
    // A real retyping is still schema drift.
    const retyped = await p.table(
      "weather_retyped",
      `SELECT date, precipitation::VARCHAR AS precipitation, wind, wet FROM ${file.name}`,
    );
    const fromRetyped = await profileReference(p.sql, prof, retyped, "ref_retyped");
    const retypedBy = Object.fromEntries(
      (await computeDrift(p.sql, fromRetyped.reference, retyped, fromRetyped)).columns.map((c) => [
        c.column,
        c,
      ]),
    );
    expect(retypedBy.precipitation).toMatchObject({ schema: "retyped", drifted: true });
    expect(retypedBy.date!.schema).toBeNull();
  });
});
