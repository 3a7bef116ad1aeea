/**
 * Drift over time windows, checked against independent computations: the
 * windows and their counts against pandas' `Series.dt.floor`, each window's
 * per-column statistics against Evidently's code on SciPy (evidently_peer.py)
 * on the window's raw rows, the prediction summary against pandas'
 * value_counts and numpy.histogram. The data is seattle-weather in a fixed
 * shuffled order, one row a minute, temp_max raised by 5 °C from row 720 on:
 * only the windows from there on drift on it.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ident } from "../data/sql";
import { createTestProject, type TestProject } from "../engine/testing";
import { computeDrift } from "./drift";
import { type DriftTable, newReferenceCache } from "./types";
import { driftOverWindows, parseWindow, WindowInputError } from "./windows";

const VEGA = resolve(import.meta.dirname, "../../node_modules/vega-datasets/data");
const PEER = resolve(import.meta.dirname, "evidently_peer.py");
const START = Date.parse("2026-12-06T00:00:00Z");
const HOUR2 = 2 * 3600e3;

let p: TestProject;
let reference: DriftTable;
let current: DriftTable;

function python(script: string, input: unknown): unknown {
  return JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", script], {
      input: JSON.stringify(input),
      maxBuffer: 1 << 28,
    }).toString(),
  );
}

beforeAll(async () => {
  p = await createTestProject();
  copyFileSync(join(VEGA, "seattle-weather.csv"), join(p.dir, "data", "seattle-weather.csv"));
  const src = `read_csv_auto('${join(p.dir, "data", "seattle-weather.csv")}')`;
  // 725 reference rows (≤ 1,000: KS and chi-squared, the p-value tests).
  reference = await p.table("w_ref", `SELECT * EXCLUDE (date) FROM ${src} WHERE hash(date) % 2 = 0`);
  // Every row once, in a fixed shuffled order, one a minute; rows 240–359 (window 2) left out; temp_max + 5 from row 720.
  current = await p.table(
    "w_cur",
    `WITH s AS (SELECT *, row_number() OVER (ORDER BY hash(date), date) - 1 AS rn FROM ${src})
     SELECT * EXCLUDE (date, rn) REPLACE (CASE WHEN rn >= 720 THEN temp_max + 5 ELSE temp_max END AS temp_max),
            TIMESTAMPTZ '2026-12-06 00:00:00+00' + to_minutes(rn) AS time
     FROM s WHERE rn NOT BETWEEN 240 AND 359`,
  );
});
afterAll(() => p.close());

describe("driftOverWindows", () => {
  it("cuts the data into windows as pandas floors the times, with empty and too-small windows listed", async () => {
    const result = await driftOverWindows(p.sql, reference, current, {
      window: "2h",
      minRows: 30,
      prediction: "weather",
    });
    const times = (
      await p.sql.all<{ t: number }>(`SELECT epoch_ms(time)::DOUBLE AS t FROM w_cur ORDER BY rowid`)
    ).map((r) => r.t);
    const peer = python(
      `import json, sys, pandas as pd
d = json.load(sys.stdin)
s = pd.to_datetime(pd.Series(d["t"]), unit="ms", utc=True).dt.floor("2H")
c = s.value_counts().sort_index()
print(json.dumps({str(int(k.value // 10**6)): int(v) for k, v in c.items()}))`,
      { t: times },
    ) as Record<string, number>;
    expect(result.window).toBe(HOUR2);
    expect(result.rows).toEqual({ reference: 725, current: 1461 - 120 });
    // 1,461 rows at one a minute: 13 two-hour windows, the third empty, the last with 21 rows.
    expect(result.windows.map((w) => w.startMs)).toEqual(
      Array.from({ length: 13 }, (_, k) => START + k * HOUR2),
    );
    for (const w of result.windows) expect(w.rows, w.start).toBe(peer[String(w.startMs)] ?? 0);
    expect(result.windows[2]).toMatchObject({ rows: 0, tested: false, drift: {}, prediction: null });
    expect(result.windows[12]).toMatchObject({ rows: 21, tested: false, drift: {}, driftShare: 0 });
    expect(result.windows[12]!.prediction!.rows).toBe(21);
    expect(result.windows[12]!.end).toBe(new Date(START + 13 * HOUR2).toISOString());
  });

  it("gives each window the statistics Evidently's code gives on the window's rows, and finds the shift in the second half only", async () => {
    const result = await driftOverWindows(p.sql, reference, current, { window: HOUR2, minRows: 30 });
    const tested = result.windows.filter((w) => w.tested);
    expect(tested).toHaveLength(11);
    const cases: { ref: unknown[]; cur: unknown[]; type: string | null; test: null }[] = [];
    const expected: {
      window: string;
      column: string;
      test: string | null;
      statistic: number | null;
      pValue: number | null;
    }[] = [];
    const raw = async (table: string, col: string, where = "") => {
      const numeric = col !== "weather";
      return (
        await p.sql.all(
          `SELECT ${numeric ? `CAST(${ident(col)} AS DOUBLE)` : ident(col)} AS v FROM ${ident(table)} ${where}`,
        )
      ).map((r) => r.v);
    };
    for (const w of tested) {
      const where = `WHERE epoch_ms(time) >= ${w.startMs} AND epoch_ms(time) < ${w.endMs}`;
      for (const [column, d] of Object.entries(w.drift)) {
        expect(d.tested, `${w.start} ${column}`).toBe(true);
        cases.push({
          ref: await raw("w_ref", column),
          cur: await raw("w_cur", column, where),
          type: column === "weather" ? "categorical" : "numeric",
          test: null,
        });
        expected.push({ window: w.start, column, test: d.test, statistic: d.statistic, pValue: d.pValue });
      }
    }
    const out = JSON.parse(
      execFileSync("/usr/bin/python3", [PEER], {
        input: JSON.stringify(cases),
        maxBuffer: 1 << 28,
      }).toString(),
    ) as { test: string; statistic: number | null; pValue: number | null }[];
    expect(out).toHaveLength(expected.length);
    expected.forEach((e, k) => {
      const where = `${e.window} ${e.column}`;
      expect(e.test, where).toBe(out[k]!.test);
      expect(Math.abs(e.statistic! - out[k]!.statistic!), where).toBeLessThan(1e-6);
      expect(Math.abs(e.pValue! - out[k]!.pValue!), where).toBeLessThan(1e-6);
    });
    expect(tested[0]!.drift.temp_max!.test).toBe("ks");
    expect(tested[0]!.drift.weather!.test).toBe("chisquare");
    // Rows 720 on (windows 6 to 11) had temp_max raised: exactly those windows drift on it.
    const driftedOn = result.windows
      .filter((w) => w.drift.temp_max?.drifted)
      .map((w) => (w.startMs - START) / HOUR2);
    expect(driftedOn).toEqual([6, 7, 8, 9, 10, 11]);
    // One column of five: no dataset drift anywhere.
    for (const w of tested) {
      expect(w.driftedColumns).toBe(Object.values(w.drift).filter((d) => d.drifted).length);
      expect(w.driftShare).toBeCloseTo(w.driftedColumns / 5, 12);
      expect(w.datasetDrift).toBe(w.driftShare >= 0.5);
    }
  });

  it("summarises the predictions per window: class shares as pandas counts them, a histogram as numpy.histogram bins it", async () => {
    const classes = await driftOverWindows(p.sql, reference, current, {
      window: "2h",
      prediction: "weather",
    });
    const hist = await driftOverWindows(p.sql, reference, current, { window: "2h", prediction: "wind" });
    const rows = await p.sql.all<{ w: string; t: number; x: number }>(
      `SELECT weather AS w, epoch_ms(time)::DOUBLE AS t, wind AS x FROM w_cur`,
    );
    const peer = python(
      `import json, sys, numpy as np, pandas as pd
d = pd.DataFrame(json.load(sys.stdin))
d["b"] = (d.t // ${HOUR2}) * ${HOUR2}
lo, hi = d.x.min(), d.x.max()
out = {}
for b, g in d.groupby("b"):
    out[str(int(b))] = {"shares": g.w.value_counts(normalize=True).to_dict(),
                        "counts": np.histogram(g.x, bins=10, range=(lo, hi))[0].tolist(),
                        "edges": np.histogram_bin_edges(d.x, bins=10, range=(lo, hi)).tolist(),
                        "mean": float(g.x.mean())}
print(json.dumps(out))`,
      rows,
    ) as Record<string, { shares: Record<string, number>; counts: number[]; edges: number[]; mean: number }>;
    for (const w of classes.windows.filter((x) => x.rows > 0)) {
      const e = peer[String(w.startMs)]!;
      const s = w.prediction!;
      expect(s.kind).toBe("classes");
      if (s.kind !== "classes") continue;
      expect(Object.keys(s.shares).sort()).toEqual(["drizzle", "fog", "rain", "snow", "sun"]);
      for (const [k, v] of Object.entries(s.shares))
        expect(v, `${w.start} ${k}`).toBeCloseTo(e.shares[k] ?? 0, 12);
    }
    for (const w of hist.windows.filter((x) => x.rows > 0)) {
      const e = peer[String(w.startMs)]!;
      const s = w.prediction!;
      expect(s.kind).toBe("histogram");
      if (s.kind !== "histogram") continue;
      expect(s.edges).toEqual(e.edges);
      expect(s.counts, w.start).toEqual(e.counts);
      expect(s.mean!).toBeCloseTo(e.mean, 10);
    }
  });

  it("keeps only rows since a time, and reports a column too sparse in a window as not tested", async () => {
    const since = new Date(START + 10 * HOUR2).toISOString();
    const result = await driftOverWindows(p.sql, reference, current, { window: "2h", since, minRows: 30 });
    expect(result.windows.map((w) => w.rows)).toEqual([120, 120, 21]);
    expect(result.since).toBe(START + 10 * HOUR2);
    // A column with values in 10 rows of a window only: that column is untested there, with the reason's count.
    const sparse = await p.table(
      "w_sparse",
      `SELECT * REPLACE (CASE WHEN epoch_ms(time) < ${START + HOUR2} AND minute(time) >= 10 THEN NULL ELSE wind END AS wind) FROM w_cur`,
    );
    const r = await driftOverWindows(p.sql, reference, sparse, { window: "2h", minRows: 30 });
    expect(r.windows[0]!.tested).toBe(true);
    expect(r.windows[0]!.drift.wind).toMatchObject({ tested: false, drifted: false, statistic: null });
    expect(r.windows[1]!.drift.wind!.tested).toBe(true);
    // Four columns considered in window 0 (wind left out), five in window 1.
    expect(r.windows[0]!.driftShare).toBeCloseTo(r.windows[0]!.driftedColumns / 4, 12);
  });

  it("reads the reference once: a reused cache gives the same report as a fresh read", async () => {
    const cache = newReferenceCache();
    const fresh = await computeDrift(p.sql, reference, current);
    const first = await computeDrift(p.sql, reference, current, { referenceCache: cache });
    expect(cache.stats.size).toBe(1);
    expect(cache.samples.size).toBe(4); // the four numeric columns (KS); weather is chi-squared
    const again = await computeDrift(p.sql, reference, current, { referenceCache: cache });
    expect(first).toEqual(fresh);
    expect(again).toEqual(fresh);
  });

  it("refuses bad windows, a missing or non-time column and too many windows, saying what to do", async () => {
    expect(parseWindow("90m")).toBe(90 * 60e3);
    expect(parseWindow(1500)).toBe(1500);
    expect(() => parseWindow("hourly")).toThrow(/not a duration.*30m, 1h/);
    expect(() => parseWindow(0)).toThrow(WindowInputError);
    await expect(driftOverWindows(p.sql, reference, current, { window: "1h", time: "when" })).rejects.toThrow(
      /no time column "when".*name it with time/,
    );
    await expect(
      driftOverWindows(
        p.sql,
        reference,
        { ...current, columns: [...current.columns, { name: "n", type: "DOUBLE" }] },
        { window: "1h", time: "n" },
      ),
    ).rejects.toThrow(/"n" is DOUBLE; it must be a TIMESTAMP/);
    await expect(driftOverWindows(p.sql, reference, current, { window: "1s" })).rejects.toThrow(
      /spans 87601 windows.*widen the window or give since/,
    );
    await expect(
      driftOverWindows(p.sql, reference, current, { window: "1h", prediction: "nope" }),
    ).rejects.toThrow(/no prediction column "nope"/);
  });
});
