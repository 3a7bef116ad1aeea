/**
 * The fairness figures against an independent computation:
 * testdata/fairness_reference.py reproduces Fairlearn's definitions and
 * conventions with pandas and scikit-learn (Debian's /usr/bin/python3) on the
 * same fixed rows, and the same bootstrap resamples (shared through a file).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EvaluationReport } from "../values/evaluation";
import { evaluationFigures, type Scored } from "./evaluation";
import { bootstrapIndices, type FairnessOptions, percentile } from "./fairness";

const PYTHON = process.env.DAGWOOD_PYTHON ?? "/usr/bin/python3";
const REFERENCE = join(__dirname, "testdata", "fairness_reference.py");
const dir = mkdtempSync(join(tmpdir(), "dagwood-fairness-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Value = string | null;

interface Reference {
  droppedRows: number;
  groups: {
    values: Value[];
    n: number;
    selection_rate: number;
    true_positive_rate: number | null;
    false_positive_rate: number | null;
    accuracy: number;
    counted: boolean;
  }[];
  gaps: Record<string, number | null>;
  intervals?: Record<string, [number | null, number | null]>;
}

/** Runs the Python reference on the rows (the draws go through a file: they can be large). */
function reference(spec: {
  y: number[];
  pred: number[];
  groups: Record<string, Value[]>;
  conventions: FairnessOptions["conventions"];
  minGroupSize: number;
  smallGroups: FairnessOptions["smallGroups"];
  draws?: number[][];
}): Reference {
  const file = join(dir, "spec.json");
  writeFileSync(file, JSON.stringify(spec));
  const script = `import sys; sys.stdin = open(${JSON.stringify(file)}); exec(open(${JSON.stringify(REFERENCE)}).read())`;
  return JSON.parse(execFileSync(PYTHON, ["-c", script], { maxBuffer: 1 << 26 }).toString());
}

/** Binary rows scored by a model that predicts `pred` (probability 0.8 for the predicted class). */
function scoredOf(y: number[], pred: number[]): Scored {
  return {
    task: "binary",
    k: 2,
    labels: 2,
    y: Int32Array.from(y),
    pred: Int32Array.from(pred),
    probs: Float64Array.from(pred.flatMap((p) => (p === 1 ? [0.2, 0.8] : [0.8, 0.2]))),
    positive: 1,
  };
}

/** A grouping column as evaluate reads it: codes into a dictionary, -1 for NULL. */
function column(name: string, values: Value[]) {
  const dictionary = [...new Set(values.filter((v): v is string => v !== null))];
  return {
    name,
    dictionary,
    codes: Int32Array.from(values, (v) => (v === null ? -1 : dictionary.indexOf(v))),
  };
}

function figures(
  y: number[],
  pred: number[],
  groups: Record<string, Value[]>,
  options: Partial<FairnessOptions> = {},
): NonNullable<EvaluationReport["groups"]> & { metrics: Record<string, number> } {
  const o: FairnessOptions = {
    conventions: "fairlearn",
    minGroupSize: 30,
    smallGroups: "exclude",
    resamples: 0,
    seed: 1,
    ...options,
  };
  const out = evaluationFigures({
    scored: scoredOf(y, pred),
    classes: ["no", "yes"],
    calibrationBins: 10,
    conventions: o.conventions,
    group: { columns: Object.entries(groups).map(([name, values]) => column(name, values)), options: o },
  });
  return { ...out.groups!, metrics: out.metrics };
}

const nullToNaN = (v: number | null | undefined) => (v === null || v === undefined ? Number.NaN : v);

function expectClose(ours: Record<string, number | null>, theirs: Record<string, number | null>) {
  for (const [k, v] of Object.entries(theirs)) {
    if (v === null) expect(Number.isNaN(nullToNaN(ours[k])), k).toBe(true);
    else expect(ours[k], k).toBeCloseTo(v, 12);
  }
}

/** 400 rows in regions a–c (and a few NULL) × sex F/M (and NULL); rates that differ by group. */
function fixedRows() {
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const y: number[] = [];
  const pred: number[] = [];
  const region: Value[] = [];
  const sex: Value[] = [];
  for (let i = 0; i < 400; i++) {
    const r = rand();
    const reg = r < 0.45 ? "a" : r < 0.8 ? "b" : r < 0.97 ? "c" : null;
    const sx = rand() < 0.02 ? null : rand() < 0.5 ? "F" : "M";
    const truth = rand() < (reg === "b" ? 0.3 : 0.5) ? 1 : 0;
    // The model finds positives less often in b and raises false alarms more often for M.
    const hit = truth ? rand() < (reg === "b" ? 0.6 : 0.85) : rand() < (sx === "M" ? 0.25 : 0.1);
    y.push(truth);
    pred.push(hit ? 1 : 0);
    region.push(reg);
    sex.push(sx);
  }
  return { y, pred, region, sex };
}

describe("fairness gaps against Fairlearn's definitions (pandas + scikit-learn reference)", () => {
  const rows = fixedRows();

  for (const conventions of ["fairlearn", "dagwood"] as const) {
    it(`one column, ${conventions} conventions: per-group rates, the gaps and equalized odds`, () => {
      const ours = figures(rows.y, rows.pred, { region: rows.region }, { conventions });
      const theirs = reference({
        y: rows.y,
        pred: rows.pred,
        groups: { region: rows.region },
        conventions,
        minGroupSize: 30,
        smallGroups: "exclude",
      });
      expect(ours.conventions).toBe(conventions);
      expect(ours.droppedRows).toBe(theirs.droppedRows);
      expect(ours.droppedRows).toBe(
        conventions === "fairlearn" ? rows.region.filter((r) => r === null).length : 0,
      );
      expect(ours.rows.map((g) => g.values)).toEqual(theirs.groups.map((g) => g.values));
      for (const [i, g] of theirs.groups.entries()) {
        const row = ours.rows[i]!;
        expect(row.n).toBe(g.n);
        expect(row.counted).toBe(g.counted);
        expectClose(row.metrics, {
          positive_rate: g.selection_rate,
          true_positive_rate: g.true_positive_rate,
          false_positive_rate: g.false_positive_rate,
          accuracy: g.accuracy,
        });
      }
      expectClose(ours.gaps, theirs.gaps);
      // The gaps are evaluate metrics too (a gate reads them there).
      expectClose(ours.metrics, theirs.gaps);
      expect(ours.gaps.equalized_odds_difference).toBeGreaterThan(0.1);
      console.log(
        `fairness ${conventions}: ${Object.entries(ours.gaps)
          .map(([k, v]) => `${k} ${v?.toFixed(4)}`)
          .join(", ")}`,
      );
    });
  }

  it("several columns: a group per combination, read as a × b; Fairlearn drops a row missing either value", () => {
    for (const conventions of ["fairlearn", "dagwood"] as const) {
      const groups = { region: rows.region, sex: rows.sex };
      const ours = figures(rows.y, rows.pred, groups, { conventions, minGroupSize: 20 });
      const theirs = reference({ ...rows, groups, conventions, minGroupSize: 20, smallGroups: "exclude" });
      expect(ours.column).toBe("region × sex");
      expect(ours.columns).toEqual(["region", "sex"]);
      expect(ours.droppedRows).toBe(theirs.droppedRows);
      expect(ours.rows.map((g) => g.values)).toEqual(theirs.groups.map((g) => g.values));
      expect(ours.rows[0]!.group).toBe("a × F");
      if (conventions === "dagwood") expect(ours.rows.at(-1)!.group).toBe("(missing) × M");
      expect(ours.rows.map((g) => g.counted)).toEqual(theirs.groups.map((g) => g.counted));
      expectClose(ours.gaps, theirs.gaps);
    }
  });

  it("the issue's example: a NULL group and 1- and 2-row groups give equal opportunity 0.25 (Dagwood) and 1.0 (Fairlearn)", () => {
    // a: 4 positives, all found; NULL: 4 positives, 3 found; b (1 row) and c (2 rows): no positive.
    const g: Value[] = ["a", "a", "a", "a", "a", null, null, null, null, null, "b", "c", "c"];
    const y = [1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0];
    const pred = [1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0];
    const all = { minGroupSize: 1 };
    const dagwood = figures(y, pred, { g }, { ...all, conventions: "dagwood" });
    const fairlearn = figures(y, pred, { g }, { ...all, conventions: "fairlearn" });
    expect(dagwood.gaps.equal_opportunity_difference).toBeCloseTo(0.25, 12);
    expect(fairlearn.gaps.equal_opportunity_difference).toBeCloseTo(1, 12);
    for (const [ours, conventions] of [
      [dagwood, "dagwood"],
      [fairlearn, "fairlearn"],
    ] as const) {
      const theirs = reference({
        y,
        pred,
        groups: { g },
        conventions,
        minGroupSize: 1,
        smallGroups: "exclude",
      });
      expectClose(ours.gaps, theirs.gaps);
    }
    expect(fairlearn.droppedRows).toBe(5);
    expect(fairlearn.rows.map((r) => r.group)).toEqual(["a", "b", "c"]);
    expect(dagwood.rows.map((r) => r.group)).toEqual(["a", "b", "c", null]);

    // One quantity, one value: in b (no actual positive) recall and true_positive_rate agree.
    const b = (f: typeof dagwood) => f.rows.find((r) => r.group === "b")!.metrics;
    expect(b(fairlearn).recall).toBe(0);
    expect(b(fairlearn).true_positive_rate).toBe(0);
    expect(Number.isNaN(nullToNaN(b(dagwood).recall))).toBe(true);
    expect(Number.isNaN(nullToNaN(b(dagwood).true_positive_rate))).toBe(true);
    for (const f of [dagwood, fairlearn]) {
      for (const r of f.rows)
        expect(Object.is(r.metrics.recall, r.metrics.true_positive_rate), String(r.group)).toBe(true);
    }

    // With the default minGroupSize (30) every group is small: marked, left out, named; no gap is defined.
    const small = figures(y, pred, { g }, { conventions: "dagwood" });
    expect(small.rows.every((r) => r.small && !r.counted)).toBe(true);
    expect(small.leftOut).toEqual(["a", "b", "c", null]);
    expect(Number.isNaN(nullToNaN(small.gaps.equal_opportunity_difference))).toBe(true);
  });

  it("minGroupSize: small groups are marked and left out of the gaps, or counted with smallGroups include", () => {
    // c has 70 rows here; at minGroupSize 75 it is small.
    const excluded = figures(rows.y, rows.pred, { region: rows.region }, { minGroupSize: 75 });
    const included = figures(
      rows.y,
      rows.pred,
      { region: rows.region },
      { minGroupSize: 75, smallGroups: "include" },
    );
    const c = excluded.rows.find((r) => r.group === "c")!;
    expect(c.n).toBeLessThan(75);
    expect(c).toMatchObject({ small: true, counted: false });
    expect(excluded.leftOut).toEqual(["c"]);
    expect(included.rows.find((r) => r.group === "c")).toMatchObject({ small: true, counted: true });
    expect(included.leftOut).toEqual([]);
    for (const [ours, smallGroups] of [
      [excluded, "exclude"],
      [included, "include"],
    ] as const) {
      const theirs = reference({
        y: rows.y,
        pred: rows.pred,
        groups: { region: rows.region },
        conventions: "fairlearn",
        minGroupSize: 75,
        smallGroups,
      });
      expectClose(ours.gaps, theirs.gaps);
    }
    // Only a and b remain: the gap is theirs alone.
    const ab = excluded.rows.filter((r) => r.counted).map((r) => r.metrics.positive_rate!);
    expect(excluded.gaps.demographic_parity_difference).toBeCloseTo(Math.abs(ab[0]! - ab[1]!), 12);
  });

  it("bootstrap intervals: numpy's percentiles over the same seeded resamples", () => {
    const resamples = 200;
    for (const conventions of ["fairlearn", "dagwood"] as const) {
      const ours = figures(rows.y, rows.pred, { region: rows.region }, { conventions, resamples, seed: 7 });
      const draws = Array.from(bootstrapIndices(rows.y.length, resamples, 7), (d) => Array.from(d));
      expect(draws).toHaveLength(resamples);
      expect(new Set(draws.map((d) => d.join(","))).size).toBe(resamples);
      const theirs = reference({
        y: rows.y,
        pred: rows.pred,
        groups: { region: rows.region },
        conventions,
        minGroupSize: 30,
        smallGroups: "exclude",
        draws,
      });
      expect(ours.bootstrap).toEqual({ resamples, seed: 7, level: 0.95 });
      for (const [gap, [lower, upper]] of Object.entries(theirs.intervals!)) {
        const [l, u] = ours.intervals![gap]!;
        expect(l, gap).toBeCloseTo(lower!, 12);
        expect(u, gap).toBeCloseTo(upper!, 12);
        // The interval holds the point estimate here (it is not a rule, but these gaps are far from 0 and 1).
        if (gap !== "demographic_parity_ratio" && gap !== "equalized_odds_ratio") {
          expect(l!).toBeLessThanOrEqual(ours.gaps[gap]! + 1e-12);
          expect(u!).toBeGreaterThanOrEqual(ours.gaps[gap]! - 1e-12);
        }
      }
      console.log(
        `bootstrap ${conventions}: equalized odds ${ours.gaps.equalized_odds_difference?.toFixed(3)} [${ours.intervals!.equalized_odds_difference!.map((v) => v?.toFixed(3)).join(", ")}]`,
      );
    }
    // Seeded: the same seed, the same intervals; another seed, others.
    const again = figures(rows.y, rows.pred, { region: rows.region }, { resamples, seed: 7 });
    const other = figures(rows.y, rows.pred, { region: rows.region }, { resamples, seed: 8 });
    const first = figures(rows.y, rows.pred, { region: rows.region }, { resamples, seed: 7 });
    expect(again.intervals).toEqual(first.intervals);
    expect(other.intervals).not.toEqual(first.intervals);
  });

  it("multiclass and regression gaps: max − min of the per-group metrics, with intervals", () => {
    const n = 300;
    const g: Value[] = Array.from({ length: n }, (_, i) => ["p", "q", "r"][i % 3]!);
    const y = Array.from({ length: n }, (_, i) => (i * 7) % 3);
    const pred = Array.from({ length: n }, (_, i) => (i % 3 === 0 && i % 4 === 0 ? (y[i]! + 1) % 3 : y[i]!));
    const options: FairnessOptions = {
      conventions: "fairlearn",
      minGroupSize: 30,
      smallGroups: "exclude",
      resamples: 50,
      seed: 3,
    };
    const columns = [column("g", g)];
    const multi = evaluationFigures({
      scored: {
        task: "multiclass",
        k: 3,
        labels: 3,
        y: Int32Array.from(y),
        pred: Int32Array.from(pred),
        probs: Float64Array.from(pred.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 0.8 : 0.1)))),
        positive: 1,
      },
      classes: ["x", "y", "z"],
      calibrationBins: 10,
      conventions: "fairlearn",
      group: { columns, options },
    }).groups!;
    const spread = (m: string, rows: typeof multi.rows) => {
      const v = rows.map((r) => r.metrics[m]!);
      return Math.max(...v) - Math.min(...v);
    };
    expect(multi.gaps.accuracy_difference).toBeCloseTo(spread("accuracy", multi.rows), 12);
    expect(multi.gaps.f1_macro_difference).toBeCloseTo(spread("f1_macro", multi.rows), 12);
    expect(multi.gaps.accuracy_difference).toBeGreaterThan(0.2);
    const values = Float64Array.from({ length: n }, (_, i) => i % 17);
    const guesses = Float64Array.from(values, (v, i) => v + (i % 3 === 1 ? 3 : 0.5));
    const regression = evaluationFigures({
      scored: { task: "regression", y: values, pred: guesses },
      classes: [],
      calibrationBins: 10,
      conventions: "fairlearn",
      group: { columns, options },
    }).groups!;
    expect(regression.gaps.rmse_difference).toBeCloseTo(2.5, 12);
    expect(regression.gaps.mae_difference).toBeCloseTo(2.5, 12);
    for (const figures of [multi, regression]) {
      for (const [gap, [lower, upper]] of Object.entries(figures.intervals!)) {
        expect(lower!, gap).toBeLessThanOrEqual(upper!);
      }
    }
    // Every row of q is off by 3, of p and r by 0.5, in every resample: the interval is the gap itself.
    expect(regression.intervals!.rmse_difference![0]).toBeCloseTo(2.5, 12);
    expect(regression.intervals!.rmse_difference![1]).toBeCloseTo(2.5, 12);
  });

  it("percentile is numpy's linear interpolation", () => {
    expect(percentile([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12);
    expect(percentile([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 12);
    expect(percentile([5], 0.5)).toBe(5);
    expect(Number.isNaN(percentile([], 0.5))).toBe(true);
  });
});
