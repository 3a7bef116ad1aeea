import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import type { ColumnProfile, ProfileReport } from "../app/values/profile";
import profile from "./analyze-profile";

const DAY = 86_400_000;
const JAN_1_2020 = Date.UTC(2020, 0, 1);

describe("analyze.profile", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const reportOf = (out: Record<string, PortValue>) => {
    const r = out.report;
    if (r?.type !== "report") throw new Error("no report");
    return r.data as ProfileReport;
  };
  const column = (report: ProfileReport, name: string): ColumnProfile => {
    const c = report.columns.find((x) => x.name === name);
    if (!c) throw new Error(`no column ${name}`);
    return c;
  };

  // Quoted and spaced names on purpose: every query must quote them.
  const MIXED = `SELECT * FROM (VALUES
    (1, 2.0, 'a', true, DATE '2020-01-01', NULL::INTEGER, 5, 9),
    (2, 4.0, 'b', false, DATE '2020-01-03', NULL, 5, 8),
    (3, 6.0, 'a', true, NULL, NULL, 5, 7),
    (4, 8.5, NULL, true, DATE '2020-01-05', NULL, 5, 6)
  ) AS t("id", "x y", "cat""q", "flag", "day", "empty", "const", "select")`;

  it("computes per-column statistics that match hand-computed values", async () => {
    const input = await p.table("mixed", MIXED);
    const report = reportOf(await p.run(profile, { in: input }, { bins: 3, quantiles: [0.25, 0.5] }));
    expect(report.kind).toBe("profile");
    expect(report.rows).toBe(4);
    expect(report.columns.map((c) => [c.name, c.kind])).toEqual([
      ["id", "numeric"],
      ["x y", "numeric"],
      ['cat"q', "categorical"],
      ["flag", "boolean"],
      ["day", "temporal"],
      ["empty", "numeric"],
      ["const", "numeric"],
      ["select", "numeric"],
    ]);

    const id = column(report, "id");
    expect(id).toMatchObject({
      type: "INTEGER",
      nulls: 0,
      nullFraction: 0,
      distinct: 4,
      min: 1,
      max: 4,
      mean: 2.5,
    });
    expect(id.std).toBeCloseTo(Math.sqrt(5 / 3), 12); // deviations ±0.5, ±1.5 → (0.25+2.25)*2/3
    expect(id.quantiles).toEqual({ "0.25": 1.75, "0.5": 2.5 });
    // Bins [1,2) [2,3) [3,4]: the maximum falls in the last bin.
    expect(id.histogram).toEqual({ edges: [1, 2, 3, 4], counts: [1, 1, 2] });
    expect(id.top).toEqual([
      { value: 1, count: 1 },
      { value: 2, count: 1 },
      { value: 3, count: 1 },
      { value: 4, count: 1 },
    ]);

    const xy = column(report, "x y");
    expect(xy.mean).toBeCloseTo(5.125, 12);
    expect(xy.std).toBeCloseTo(Math.sqrt(23.1875 / 3), 12);

    const cat = column(report, 'cat"q');
    expect(cat).toMatchObject({ nulls: 1, nullFraction: 0.25, distinct: 2, min: null, histogram: null });
    expect(cat.top).toEqual([
      { value: "a", count: 2 },
      { value: "b", count: 1 },
    ]);

    const flag = column(report, "flag");
    expect(flag).toMatchObject({ distinct: 2, mean: 0.75, histogram: null });
    expect(flag.top).toEqual([
      { value: true, count: 3 },
      { value: false, count: 1 },
    ]);

    const day = column(report, "day");
    expect(day).toMatchObject({
      unit: "epoch_ms",
      nulls: 1,
      distinct: 3,
      min: JAN_1_2020,
      max: JAN_1_2020 + 4 * DAY,
    });
    expect(day.mean).toBe(JAN_1_2020 + 2 * DAY);
    expect(day.histogram).toEqual({
      edges: [JAN_1_2020, JAN_1_2020 + (4 * DAY) / 3, JAN_1_2020 + (8 * DAY) / 3, JAN_1_2020 + 4 * DAY],
      counts: [1, 1, 1],
    });
    expect(day.top).toBeNull();
  });

  it("handles an all-null column and a constant column", async () => {
    const input = await p.table("mixed", MIXED);
    const report = reportOf(await p.run(profile, { in: input }, {}));
    expect(column(report, "empty")).toMatchObject({
      nulls: 4,
      nullFraction: 1,
      distinct: 0,
      min: null,
      max: null,
      mean: null,
      std: null,
      quantiles: null,
      histogram: null,
      top: [],
    });
    const constant = column(report, "const");
    expect(constant).toMatchObject({ min: 5, max: 5, mean: 5, std: 0, distinct: 1 });
    expect(constant.quantiles).toEqual({ "0.05": 5, "0.25": 5, "0.5": 5, "0.75": 5, "0.95": 5 });
    expect(constant.histogram).toEqual({ edges: [5, 5], counts: [4] });
    expect(constant.top).toEqual([{ value: 5, count: 4 }]);
  });

  it("correlates numeric columns (Pearson), null where a column is constant or empty", async () => {
    const input = await p.table("mixed", MIXED);
    const report = reportOf(await p.run(profile, { in: input }, {}));
    const { columns, matrix } = report.correlation;
    expect(columns).toEqual(["id", "x y", "empty", "const", "select"]);
    const r = (a: string, b: string) => matrix[columns.indexOf(a)]![columns.indexOf(b)];
    // Σ(dx·dy) = 10.75, Σdx² = 5, Σdy² = 23.1875.
    expect(r("id", "x y")).toBeCloseTo(10.75 / Math.sqrt(5 * 23.1875), 12);
    expect(r("x y", "id")).toBe(r("id", "x y"));
    expect(r("id", "select")).toBeCloseTo(-1, 12);
    expect(r("id", "id")).toBe(1);
    expect(r("const", "const")).toBeNull();
    expect(r("id", "const")).toBeNull();
    expect(r("id", "empty")).toBeNull();
    expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/);
  });

  it("leaves NaN and ±Infinity out of the statistics and counts them", async () => {
    const input = await p.table(
      "odd",
      `SELECT * FROM (VALUES (1.0::DOUBLE), ('nan'::DOUBLE), ('inf'::DOUBLE), ('-inf'::DOUBLE), (3.0), (NULL)) AS t(v)`,
    );
    const v = column(reportOf(await p.run(profile, { in: input }, { bins: 2 })), "v");
    expect(v).toMatchObject({ nulls: 1, nonFinite: 3, min: 1, max: 3, mean: 2 });
    expect(v.std).toBeCloseTo(Math.SQRT2, 12);
    expect(v.histogram).toEqual({ edges: [1, 2, 3], counts: [1, 1] });
  });

  it("profiles an empty table without failing", async () => {
    const input = await p.table("none", `${MIXED} WHERE false`);
    const report = reportOf(await p.run(profile, { in: input }, {}));
    expect(report.rows).toBe(0);
    for (const c of report.columns) {
      expect(c).toMatchObject({
        nulls: 0,
        nullFraction: null,
        distinct: 0,
        min: null,
        mean: null,
        histogram: null,
      });
    }
    expect(column(report, 'cat"q').top).toEqual([]);
    expect(report.correlation.matrix.flat().every((x) => x === null)).toBe(true);
  });

  it("lists the top K values, breaking ties by value, and no top list for many-valued numbers", async () => {
    const input = await p.table(
      "many",
      `SELECT CAST(range % 7 AS VARCHAR) AS s, range AS n FROM range(100)`, // s: '0' and '1' appear 15 times, others 14
    );
    const report = reportOf(await p.run(profile, { in: input }, { topK: 3 }));
    expect(column(report, "s").top).toEqual([
      { value: "0", count: 15 },
      { value: "1", count: 15 },
      { value: "2", count: 14 },
    ]);
    expect(column(report, "n").top).toBeNull();
    expect(column(report, "n").histogram?.counts).toHaveLength(20);
    expect(column(report, "n").histogram?.counts.reduce((a, b) => a + b)).toBe(100);
  });

  it("estimates distinct counts on large tables and caps the correlated columns", async () => {
    const input = await p.table(
      "big",
      "SELECT range AS a, range * 2 AS b, range % 3 AS c FROM range(150000)",
    );
    const report = reportOf(await p.run(profile, { in: input }, { maxColumnsForCorrelation: 2 }));
    const a = column(report, "a");
    expect(a.distinctApprox).toBe(true);
    expect(Math.abs(a.distinct - 150_000) / 150_000).toBeLessThan(0.05);
    expect(report.correlation.columns).toEqual(["a", "b"]);
    expect(report.correlation.matrix[0]![1]).toBeCloseTo(1, 12);
    expect(p.logs.some((l) => l.level === "warn" && l.message.includes("first 2 of 3"))).toBe(true);
    expect(p.progress.at(-1)?.fraction).toBe(1);
  });

  it("has a personal-data section: the scan over a sample of the table, with masked examples", async () => {
    const input = await p.table(
      "people",
      `SELECT CASE WHEN i % 2 = 0 THEN 'user' || i || '@example.com' ELSE 'n/a' END AS contact,
              'Jane' AS surname, i AS n
       FROM range(30000) r(i)`,
    );
    const report = reportOf(await p.run(profile, { in: input }, {}));
    expect(report.privacy).toMatchObject({
      // The upstream node and port, not the workspace table's random name: the report's fingerprint is stable.
      source: "upstream.in",
      rows: 30000,
      sampled: 10000,
      sampleSize: 10000,
      seed: 42,
    });
    const [contact, surname, n] = report.privacy!.columns;
    expect(contact!.kinds.map((k) => k.kind)).toEqual(["email"]);
    // 10,000 draws of p = 0.5: the standard error is 0.005.
    expect(Math.abs(contact!.kinds[0]!.share - 0.5)).toBeLessThan(0.025);
    for (const e of contact!.kinds[0]!.examples) expect(e).toBe("u***@e***.com");
    expect(surname!.kinds).toEqual([{ kind: "personal_name", share: 1, examples: ["J***"], by: "name" }]);
    expect(n!.kinds).toEqual([]);
    const small = reportOf(await p.run(profile, { in: input }, { personalDataSample: 100 }));
    expect(small.privacy).toMatchObject({ sampled: 100, sampleSize: 100 });
    const none = reportOf(await p.run(profile, { in: input }, { personalDataSample: 0 }));
    expect(none.privacy).toBeUndefined();
  });

  it("rejects out-of-range params", async () => {
    const input = await p.table("x", "SELECT 1 AS i");
    await expect(p.run(profile, { in: input }, { bins: 1 })).rejects.toThrow(/bins/);
    await expect(p.run(profile, { in: input }, { quantiles: [1.5] })).rejects.toThrow(/quantiles/);
  });
});
