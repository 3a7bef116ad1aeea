/**
 * Drift against Evidently's own code on SciPy (evidently_peer.py, a copy of
 * Evidently's stattests on the same data), to 1e-6, on real data with a
 * shifted copy: both sides of the 1,000-row switch, binary columns, missing
 * values, constant columns, empty current data, a missing column.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ident } from "../data/sql";
import { createTestProject, type TestProject } from "../engine/testing";
import type { DriftReport, DriftTestName } from "../values/drift";
import { computeDrift, DriftInputError } from "./drift";
import type { DriftOptions, DriftTable } from "./types";

const VEGA = resolve(import.meta.dirname, "../../node_modules/vega-datasets/data");
const PEER = resolve(import.meta.dirname, "evidently_peer.py");

/** JSON with NaN and ±Infinity as Python's json reads them. */
function pyJson(v: unknown): string {
  if (typeof v === "number" && !Number.isFinite(v))
    return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  if (Array.isArray(v)) return `[${v.map(pyJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${pyJson(x)}`)
      .join(",")}}`;
  return JSON.stringify(v ?? null);
}

interface PeerResult {
  test: DriftTestName;
  statistic: number | null;
  pValue: number | null;
  refN: number;
  curN: number;
}

let p: TestProject;
beforeAll(async () => {
  p = await createTestProject();
  for (const f of ["penguins.json", "seattle-weather.csv", "cars.json", "flights-20k.json"])
    copyFileSync(join(VEGA, f), join(p.dir, "data", f));
});
afterAll(() => p.close());

const data = (f: string) => `'${join(p.dir, "data", f)}'`;

async function drift(ref: DriftTable, cur: DriftTable, options?: DriftOptions) {
  return computeDrift(p.sql, ref, cur, options);
}

/** Runs Evidently's code on the raw columns of every tested column and compares statistic, p-value, test and counts. */
async function checkAgainstEvidently(
  report: DriftReport,
  ref: DriftTable,
  cur: DriftTable,
  tests: Record<string, DriftTestName> = {},
) {
  const tested = report.columns.filter((c) => c.tested);
  expect(tested.length).toBeGreaterThan(0);
  const raw = async (t: DriftTable, col: string, numeric: boolean) =>
    (
      await p.sql.all(
        `SELECT ${numeric ? `CAST(${ident(col)} AS DOUBLE)` : `CAST(${ident(col)} AS VARCHAR)`} AS v FROM ${ident(t.name)}`,
      )
    ).map((r) => r.v);
  const cases = [];
  for (const c of tested) {
    const numeric = /INT|DOUBLE|FLOAT|DECIMAL|REAL/.test(c.sqlType.reference!);
    cases.push({
      ref: await raw(ref, c.column, numeric),
      cur: await raw(cur, c.column, numeric),
      type: numeric ? "numeric" : "categorical",
      // The peer types columns as numeric/categorical by SQL type; Evidently's own typing is checked on its own below.
      ftype: c.type,
      test: tests[c.column] ?? null,
    });
  }
  const out = JSON.parse(
    execFileSync("/usr/bin/python3", [PEER], {
      input: pyJson(cases.map((x) => ({ ref: x.ref, cur: x.cur, type: x.ftype, test: x.test }))),
      maxBuffer: 1 << 28,
    }).toString(),
  ) as PeerResult[];
  tested.forEach((c, k) => {
    const e = out[k]!;
    const where = `${c.column} (${c.test})`;
    expect(c.test, where).toBe(e.test);
    expect(c.rows, where).toEqual({ reference: e.refN, current: e.curN });
    if (e.pValue !== null) expect(Math.abs(c.pValue! - e.pValue), where).toBeLessThan(1e-6);
    if (e.statistic === null) expect(c.statistic, where).toBeNull();
    else expect(Math.abs(c.statistic! - e.statistic), where).toBeLessThan(1e-6);
  });
  return out;
}

describe("drift against Evidently on SciPy", () => {
  it("penguins (≤ 1,000 rows): KS on measurements, chi-squared on species, island and sex (with missing values)", async () => {
    const ref = await p.table("peng_ref", `SELECT * FROM read_json_auto(${data("penguins.json")})`);
    // A shifted copy: body mass scaled by 1.1, two of three Adelie penguins dropped.
    const cur = await p.table(
      "peng_cur",
      `SELECT * REPLACE ("Body Mass (g)" * 1.1 AS "Body Mass (g)") FROM read_json_auto(${data("penguins.json")})
       WHERE Species <> 'Adelie' OR hash("Beak Length (mm)", "Body Mass (g)", Island) % 3 = 0`,
    );
    const report = await drift(ref, cur);
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(by["Body Mass (g)"]!.test).toBe("ks");
    expect(by["Body Mass (g)"]!.drifted).toBe(true);
    expect(by.Species!.test).toBe("chisquare");
    expect(by.Species!.drifted).toBe(true);
    expect(by.Sex!.missing.reference).toBeGreaterThan(0);
    await checkAgainstEvidently(report, ref, cur);
    // Every test chosen by hand, on the same data.
    const tests: Record<string, DriftTestName> = {
      "Beak Length (mm)": "wasserstein",
      "Beak Depth (mm)": "psi",
      "Flipper Length (mm)": "jensenshannon",
      Island: "psi",
      Species: "jensenshannon",
    };
    await checkAgainstEvidently(await drift(ref, cur, { tests }), ref, cur, tests);
  });

  it("seattle-weather (> 1,000 rows): normed Wasserstein and Jensen-Shannon; PSI and KS chosen", async () => {
    const src = `read_csv_auto(${data("seattle-weather.csv")})`;
    const ref = await p.table("sw_ref", `SELECT * EXCLUDE (date) FROM ${src}`);
    const cur = await p.table(
      "sw_cur",
      `SELECT * EXCLUDE (date) REPLACE (temp_max + 2 AS temp_max) FROM ${src} WHERE weather <> 'sun' OR year(date) % 2 = 0`,
    );
    const report = await drift(ref, cur);
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(by.temp_max!.test).toBe("wasserstein");
    expect(by.temp_max!.drifted).toBe(true);
    expect(by.temp_min!.drifted).toBe(false);
    expect(by.weather!.test).toBe("jensenshannon");
    await checkAgainstEvidently(report, ref, cur);
    const tests: Record<string, DriftTestName> = {
      temp_max: "psi",
      precipitation: "psi",
      weather: "psi",
      wind: "ks",
      temp_min: "ks",
    };
    const chosen = await drift(ref, cur, { tests });
    expect(chosen.columns.find((c) => c.column === "temp_max")!.level).toBe("moderate");
    await checkAgainstEvidently(chosen, ref, cur, tests);
  });

  it("flights: KS's asymptotic p-value (samples over 10,000) and Jensen-Shannon over many categories", async () => {
    const src = `read_json_auto(${data("flights-20k.json")})`;
    const ref = await p.table("fl_ref", `SELECT delay, distance, origin FROM ${src} LIMIT 12000`);
    const cur = await p.table(
      "fl_cur",
      `SELECT delay + 3 AS delay, distance, origin FROM ${src} OFFSET 12000`,
    );
    const tests: Record<string, DriftTestName> = { delay: "ks", distance: "ks" };
    const report = await drift(ref, cur, { tests });
    await checkAgainstEvidently(report, ref, cur, tests);
    await checkAgainstEvidently(await drift(ref, cur), ref, cur);
  });

  it("a small reference against a large current sample: KS's asymptotic p-value (kstwo at n = 119 and 923)", async () => {
    const src = `read_json_auto(${data("cars.json")})`;
    // 120 reference rows, 12,000 current ones (cars repeated with a small jitter): n = round(120·12000/12120) = 119.
    const ref = await p.table(
      "cars_ref",
      `SELECT Horsepower, Acceleration, Weight_in_lbs FROM ${src} WHERE Horsepower IS NOT NULL LIMIT 120`,
    );
    const cur = await p.table(
      "cars_cur",
      `SELECT Horsepower + (r % 7) * 0.5 AS Horsepower, Acceleration * (1 + (r % 3) * 0.01) AS Acceleration, Weight_in_lbs + r % 50 AS Weight_in_lbs
       FROM ${src}, range(30) AS t(r) LIMIT 12000`,
    );
    const report = await drift(ref, cur);
    expect(report.columns.every((c) => c.test === "ks")).toBe(true);
    await checkAgainstEvidently(report, ref, cur);
    const big = await p.table(
      "cars_ref_big",
      `SELECT Horsepower, Acceleration, Weight_in_lbs FROM ${src}, range(3) LIMIT 1000`,
    );
    await checkAgainstEvidently(await drift(big, cur), big, cur);
  });

  it("binary and constant columns, infinities dropped as missing", async () => {
    const ref = await p.table(
      "bin_ref",
      `SELECT i % 2 = 0 AS flag, 7.0 AS constant, CASE WHEN i % 10 = 0 THEN 'inf'::DOUBLE ELSE i * 0.5 END AS x,
              CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS ab
       FROM range(2000) AS t(i)`,
    );
    const cur = await p.table(
      "bin_cur",
      `SELECT i % 3 = 0 AS flag, 7.0 AS constant, CASE WHEN i % 4 = 0 THEN NULL ELSE i * 0.6 END AS x, 'a' AS ab FROM range(800) AS t(i)`,
    );
    const report = await drift(ref, cur);
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(by.x!.missing).toEqual({ reference: 200, current: 200 });
    // A constant numeric column has 1 distinct value: Jensen-Shannon over the value counts (0), not Wasserstein.
    expect(by.constant!.test).toBe("jensenshannon");
    expect(by.constant!.statistic).toBe(0);
    await checkAgainstEvidently(report, ref, cur);
    // Small samples: the z-test for the binary columns; both sides the same single value gives p = 1.
    const small = await p.table("bin_small", "SELECT * FROM bin_ref LIMIT 500");
    const r2 = await drift(small, cur, { tests: { constant: "z" } });
    const by2 = Object.fromEntries(r2.columns.map((c) => [c.column, c]));
    expect(by2.flag!.test).toBe("z");
    expect(by2.ab!.test).toBe("z");
    expect(by2.constant!.pValue).toBe(1);
    await checkAgainstEvidently(r2, small, cur, { constant: "z" });
    // Chi-squared over one category: SciPy's p-value is NaN (no degrees of freedom), so not drifted.
    const one = await drift(small, cur, { tests: { constant: "chisquare" }, columns: ["constant"] });
    expect(one.columns[0]).toMatchObject({ tested: true, statistic: 0, pValue: null, drifted: false });
    expect(one.columns[0]!.reason).toMatch(/undefined here \(a single category\)/);
    // Wasserstein on a constant reference divides by 0.001 (Evidently: max(np.std(reference), 0.001)).
    const w = await drift(small, cur, { tests: { constant: "wasserstein" }, columns: ["constant"] });
    expect(w.columns[0]!.statistic).toBe(0);
    const shifted = await p.table("const_cur", "SELECT 7.001 AS constant FROM range(10)");
    const w2 = await drift(small, shifted, { tests: { constant: "wasserstein" }, columns: ["constant"] });
    expect(w2.columns[0]!.statistic).toBeCloseTo(1, 9);
  });

  it("a category the reference never had: chi-squared's statistic is infinite (null) and its p-value 0, as SciPy's", async () => {
    const ref = await p.table("nc_ref", "SELECT ['a', 'b', 'c'][1 + i % 3] AS k FROM range(300) AS t(i)");
    const cur = await p.table(
      "nc_cur",
      "SELECT ['a', 'b', 'c', 'd'][1 + i % 4] AS k FROM range(200) AS t(i)",
    );
    const r = await drift(ref, cur);
    expect(r.columns[0]).toMatchObject({ test: "chisquare", statistic: null, pValue: 0, drifted: true });
    const peer = await checkAgainstEvidently(r, ref, cur);
    expect(peer[0]).toMatchObject({ statistic: null, pValue: 0 });
  });
});

describe("drift: schema, empty data, verdict, bad input", () => {
  it("reports a missing or retyped column as schema drift, and an empty current table as not tested", async () => {
    const ref = await p.table(
      "s_ref",
      "SELECT i AS a, i * 1.5 AS b, 'x' || (i % 4) AS c, i % 7 AS d FROM range(300) AS t(i)",
    );
    const cur = await p.table("s_cur", "SELECT i AS a, 'text' AS b, i AS extra FROM range(300) AS t(i)");
    const report = await drift(ref, cur);
    const by = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(by.b).toMatchObject({ schema: "retyped", tested: false, drifted: true });
    expect(by.c).toMatchObject({
      schema: "missing",
      tested: false,
      drifted: true,
      sqlType: { reference: "VARCHAR", current: null },
    });
    expect(by.a).toMatchObject({ tested: true, test: "ks", drifted: false, pValue: 1 });
    expect(report.addedColumns).toEqual(["extra"]);
    expect(report).toMatchObject({
      driftedColumns: 3,
      consideredColumns: 4,
      share: 0.75,
      datasetDrift: true,
    });

    const empty = await p.table("s_empty", "SELECT * FROM s_ref LIMIT 0");
    const r = await drift(ref, empty);
    expect(
      r.columns.every((c) => !c.tested && /the current data has 0 non-missing values/.test(c.reason!)),
    ).toBe(true);
    expect(r).toMatchObject({ consideredColumns: 0, share: 0, datasetDrift: false });
    const few = await drift(ref, await p.table("s_few", "SELECT * FROM s_ref LIMIT 5"), { minRows: 30 });
    expect(few.columns[0]!.reason).toMatch(/current data has 5 non-missing values, fewer than 30/);
  });

  it("uses the share threshold, per-column thresholds, and labels target and prediction", async () => {
    const ref = await p.table(
      "v_ref",
      "SELECT i * 1.0 AS x, i * 2.0 AS y, i % 3 AS label, (i % 3) * 1.0 AS pred FROM range(400) AS t(i)",
    );
    const cur = await p.table(
      "v_cur",
      "SELECT i * 1.0 + 60 AS x, i * 2.0 AS y, i % 3 AS label, (i % 3) * 1.0 AS pred FROM range(400) AS t(i)",
    );
    const r = await drift(ref, cur, { target: "label", prediction: "pred", shareThreshold: 0.25 });
    const by = Object.fromEntries(r.columns.map((c) => [c.column, c]));
    expect(by.label).toMatchObject({ role: "target", type: "categorical", test: "chisquare" });
    expect(by.pred).toMatchObject({ role: "prediction", type: "categorical" });
    expect(r).toMatchObject({ driftedColumns: 1, consideredColumns: 4, share: 0.25, datasetDrift: true });
    const strict = await drift(ref, cur, { thresholds: { x: 1e-12 } });
    expect(strict.columns.find((c) => c.column === "x")!.drifted).toBe(false);
  });

  it("types integers with at most 5 distinct values as categorical, as Evidently does", async () => {
    const ref = await p.table(
      "t_ref",
      "SELECT i % 5 AS five, i % 6 AS six, (i % 5) * 1.0 AS float5 FROM range(200) AS t(i)",
    );
    const r = await drift(ref, ref);
    const by = Object.fromEntries(r.columns.map((c) => [c.column, c]));
    expect(by.five).toMatchObject({ type: "categorical", test: "chisquare" });
    expect(by.six).toMatchObject({ type: "numeric", test: "ks" });
    expect(by.float5).toMatchObject({ type: "numeric", test: "chisquare" });
  });

  it("counts distinct values exactly up to 1,000 a side, as numpy.unique does, and reports more as null", async () => {
    // NaN and ±Infinity are missing values; -0 and 0 one value, as for numpy.
    const ref = await p.table(
      "dc_ref",
      `SELECT (i % 1000)::DOUBLE AS k1000, (i % 1001)::DOUBLE AS k1001, (i % 600)::BIGINT AS mix, i * 0.25 AS wide,
              CASE WHEN i % 97 = 0 THEN 'nan'::DOUBLE WHEN i % 89 = 0 THEN '-inf'::DOUBLE WHEN i % 83 = 0 THEN -0.0 ELSE (i % 40)::DOUBLE END AS odd
       FROM range(3000) AS t(i)`,
    );
    const cur = await p.table(
      "dc_cur",
      `SELECT (i % 1000)::DOUBLE AS k1000, (i % 900)::DOUBLE AS k1001, (i % 700 + 300)::BIGINT AS mix, i * 0.5 AS wide,
              CASE WHEN i % 7 = 0 THEN 'inf'::DOUBLE ELSE (i % 45)::DOUBLE - 2 END AS odd
       FROM range(2500) AS t(i)`,
    );
    const r = await drift(ref, cur);
    const columns = ["k1000", "k1001", "mix", "wide", "odd"];
    const read = async (t: DriftTable, c: string) =>
      (await p.sql.all(`SELECT CAST(${ident(c)} AS DOUBLE) AS v FROM ${ident(t.name)}`)).map((x) =>
        x.v === null ? Number.NaN : Number(x.v),
      );
    const input = [];
    for (const c of columns) input.push({ ref: await read(ref, c), cur: await read(cur, c) });
    const numpy = JSON.parse(
      execFileSync(
        "/usr/bin/python3",
        [
          "-c",
          `import json, sys, numpy as np
out = []
for c in json.loads(sys.stdin.read()):
    r, k = (np.array(c[s], dtype=float) for s in ("ref", "cur"))
    r, k = r[np.isfinite(r)], k[np.isfinite(k)]
    out.append([len(np.unique(r)), len(np.unique(k)), len(np.unique(np.concatenate([r, k]))), len(r), len(k)])
print(json.dumps(out))`,
        ],
        { input: pyJson(input), maxBuffer: 1 << 26 },
      ).toString(),
    ) as number[][];
    columns.forEach((c, k) => {
      const [refDistinct, curDistinct, both, refN, curN] = numpy[k]!;
      const col = r.columns.find((x) => x.column === c)!;
      expect(col.rows, c).toEqual({ reference: refN, current: curN });
      expect(col.distinct, c).toBe(refDistinct! <= 1000 && curDistinct! <= 1000 ? both : null);
    });
    expect(r.columns.map((c) => c.distinct)).toEqual([1000, null, 1000, null, 45]);
  });

  it("leaves the session usable when a test is refused after other columns were read", async () => {
    const ref = await p.table(
      "mid_ref",
      "SELECT i * 1.0 AS a, 'x' || (i % 3) AS b, i * 2.0 AS c, i * 3.0 AS d FROM range(2000) AS t(i)",
    );
    // a is read and tested, c's values are being read ahead, when b's test is refused.
    await expect(drift(ref, ref, { tests: { b: "wasserstein" } })).rejects.toThrow(
      /Test "wasserstein" needs a numeric column; "b" is VARCHAR/,
    );
    expect(await p.sql.one("SELECT count(*) AS n FROM mid_ref")).toEqual({ n: 2000 });
    const again = await drift(ref, ref);
    expect(again.columns.map((c) => [c.column, c.test, c.statistic])).toEqual([
      ["a", "wasserstein", 0],
      ["b", "jensenshannon", 0],
      ["c", "wasserstein", 0],
      ["d", "wasserstein", 0],
    ]);
  });

  it("rejects unknown columns and tests that do not fit the column, saying what to do", async () => {
    const ref = await p.table("e_ref", "SELECT 1 AS a, 'x' AS b");
    await expect(drift(ref, ref, { columns: ["nope"] })).rejects.toThrow(
      /"nope" is not a column of the reference; its columns are a, b/,
    );
    await expect(drift(ref, ref, { tests: { b: "ks" } })).rejects.toThrow(DriftInputError);
    await expect(drift(ref, ref, { tests: { b: "ks" } })).rejects.toThrow(
      /needs a numeric column.*Use chisquare/,
    );
    await expect(drift(ref, ref, { tests: { zz: "ks" } })).rejects.toThrow(
      /"zz", which is not a column tested/,
    );
  });
});
