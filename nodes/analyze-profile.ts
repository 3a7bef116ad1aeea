import { z } from "zod";
import { ident, isNumericType, isTemporalType } from "../app/data/sql";
import { defineBlock, requireTable } from "../app/engine/block";
import type { ColumnInfo } from "../app/engine/ports";
import { scanTable } from "../app/privacy/scan";
import { DEFAULT_SCAN_SAMPLE } from "../app/privacy/types";
import type { ColumnKind, ColumnProfile, ProfileReport } from "../app/values/profile";

/** Up to this many rows, distinct counts are exact; above, HyperLogLog estimates. */
const EXACT_DISTINCT_MAX_ROWS = 100_000;

interface Plan extends ColumnInfo {
  kind: ColumnKind;
  unit: ColumnProfile["unit"];
  /** Position in the scan subquery: the value is v<i>, its numeric projection x<i>. */
  i: number;
  /** SQL turning the column into a DOUBLE (numeric and temporal columns). */
  numeric?: string;
}

function planColumn(column: ColumnInfo, i: number): Plan {
  const c = ident(column.name);
  if (column.type === "BOOLEAN") return { ...column, i, kind: "boolean", unit: null };
  if (isNumericType(column.type))
    return { ...column, i, kind: "numeric", unit: null, numeric: `CAST(${c} AS DOUBLE)` };
  if (/^(DATE|TIMESTAMP.*)$/.test(column.type)) {
    return { ...column, i, kind: "temporal", unit: "epoch_ms", numeric: `CAST(epoch_ms(${c}) AS DOUBLE)` };
  }
  if (isTemporalType(column.type))
    return { ...column, i, kind: "temporal", unit: "ms", numeric: `epoch(${c}) * 1000` };
  return { ...column, i, kind: "categorical", unit: null };
}

/** A number as a DOUBLE literal; the cast keeps a negative from reading as "- -x" or "--x" (a comment). */
const double = (n: number): string => `CAST(${n} AS DOUBLE)`;

/** JSON has no NaN: a correlation over a constant column comes back NaN or null; both mean "undefined". */
const finiteOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export default defineBlock({
  kind: "analyze.profile",
  version: 3,
  title: "Profile",
  category: "Analyze",
  description:
    "Summarizes every column: type, missing values, distinct count, min/max/mean/std and quantiles, a histogram, the most frequent values, and the correlations between numeric columns.",
  inputs: { in: { type: "table" } },
  outputs: { report: { type: "report" } },
  params: z.object({
    bins: z
      .number()
      .int()
      .min(2)
      .max(200)
      .default(20)
      .describe("Histogram bins per numeric or date column")
      .meta({ order: 1 }),
    topK: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe("How many most frequent values to list")
      .meta({ order: 2 }),
    quantiles: z
      .array(z.number().min(0).max(1))
      .default([0.05, 0.25, 0.5, 0.75, 0.95])
      .describe("Quantiles to compute, as fractions between 0 and 1")
      .meta({ order: 3 }),
    correlation: z
      .enum(["pearson"])
      .default("pearson")
      .describe("Correlation measure between numeric columns")
      .meta({ order: 4, advanced: true }),
    maxColumnsForCorrelation: z
      .number()
      .int()
      .min(0)
      .max(500)
      .default(50)
      .describe(
        "Correlate at most this many numeric columns (the first ones), as the work grows with its square",
      )
      .meta({ order: 5, advanced: true }),
    personalDataSample: z
      .number()
      .int()
      .min(0)
      .max(10_000_000)
      .default(DEFAULT_SCAN_SAMPLE)
      .describe(
        "Rows the personal-data scan samples (e-mails, phones, cards, IBANs, IPs, birth dates, personal column names); 0 leaves the scan out",
      )
      .meta({ order: 6, advanced: true }),
  }),
  async run(ctx, inputs, params) {
    const input = requireTable(inputs, "in");
    const t = ident(input.name);
    const plans = input.columns.map(planColumn);
    const measured = plans.filter((p) => p.numeric);
    const correlated = plans.filter((p) => p.kind === "numeric").slice(0, params.maxColumnsForCorrelation);
    const numericCount = plans.filter((p) => p.kind === "numeric").length;
    if (numericCount > correlated.length) {
      ctx.log(`Correlating the first ${correlated.length} of ${numericCount} numeric columns`, "warn");
    }
    // Every later query scans this projection: positional aliases spare us quoting column names twice.
    const scan = `(SELECT ${[
      ...plans.map((p) => `${ident(p.name)} AS v${p.i}`),
      ...measured.map((p) => `${p.numeric} AS x${p.i}`),
    ].join(", ")} FROM ${t} AS ${t})`;

    ctx.progress(0, "Summarizing columns");
    const exact = input.rows <= EXACT_DISTINCT_MAX_ROWS;
    const qs = params.quantiles.length ? `[${params.quantiles.map(double).join(", ")}]` : "";
    const aggregates = ["count(*) AS n"];
    for (const p of plans) {
      const v = `v${p.i}`;
      aggregates.push(`count(${v}) AS n${p.i}`);
      aggregates.push(exact ? `count(DISTINCT ${v}) AS d${p.i}` : `approx_count_distinct(${v}) AS d${p.i}`);
      if (p.kind === "boolean") aggregates.push(`avg(CAST(${v} AS INTEGER)) AS mean${p.i}`);
      if (!p.numeric) continue;
      const x = `x${p.i}`;
      const finite = `FILTER (WHERE isfinite(${x}))`;
      aggregates.push(
        `count(${v}) FILTER (WHERE NOT isfinite(${x})) AS nonfinite${p.i}`,
        `min(${x}) ${finite} AS min${p.i}`,
        `max(${x}) ${finite} AS max${p.i}`,
        `avg(${x}) ${finite} AS mean${p.i}`,
        `stddev_samp(${x}) ${finite} AS std${p.i}`,
      );
      if (qs) aggregates.push(`quantile_cont(${x}, ${qs}) ${finite} AS q${p.i}`);
    }
    // Pairwise-complete Pearson correlation, in the same scan as the summary.
    for (const [a, pa] of correlated.entries()) {
      for (const pb of correlated.slice(a + 1)) {
        const [xa, xb] = [`x${pa.i}`, `x${pb.i}`];
        aggregates.push(
          `corr(${xa}, ${xb}) FILTER (WHERE isfinite(${xa}) AND isfinite(${xb})) AS r${pa.i}_${pb.i}`,
        );
      }
    }
    const s = await ctx.sql.one(`SELECT ${aggregates.join(", ")} FROM ${scan}`);
    const rows = s.n as number;
    const num = (key: string) => finiteOrNull(s[key]);

    const profiles: ColumnProfile[] = plans.map((p) => {
      const nulls = rows - (s[`n${p.i}`] as number);
      const q = s[`q${p.i}`] as number[] | null | undefined;
      return {
        name: p.name,
        type: p.type,
        kind: p.kind,
        unit: p.unit,
        nulls,
        nullFraction: rows ? nulls / rows : null,
        distinct: s[`d${p.i}`] as number,
        distinctApprox: !exact,
        nonFinite: (s[`nonfinite${p.i}`] as number | undefined) ?? 0,
        min: num(`min${p.i}`),
        max: num(`max${p.i}`),
        mean: num(`mean${p.i}`),
        std: num(`std${p.i}`),
        quantiles: q ? Object.fromEntries(params.quantiles.map((level, k) => [String(level), q[k]!])) : null,
        histogram: null,
        top: null,
      };
    });
    ctx.progress(0.4, "Histograms");

    // One scan for all histograms: a grouping set per column; in each result
    // row only that set's bin is non-null.
    const binned = plans.filter((p) => p.numeric && profiles[p.i]!.min !== null);
    if (binned.length) {
      const bins = binned.map((p) => {
        const { min, max } = profiles[p.i] as { min: number; max: number };
        const x = `x${p.i}`;
        // Halves keep max - min finite even for values near ±1.8e308.
        const fraction = `(${x} * 0.5 - ${double(min / 2)}) / ${double(max / 2 - min / 2)}`;
        const bin =
          max > min ? `least(CAST(floor(${fraction} * ${params.bins}) AS INTEGER), ${params.bins - 1})` : "0";
        return `CASE WHEN isfinite(${x}) THEN ${bin} END AS b${p.i}`;
      });
      const keys = binned.map((p) => `b${p.i}`);
      const groups = await ctx.sql.all(
        `SELECT ${keys.join(", ")}, count(*) AS n FROM (SELECT ${bins.join(", ")} FROM ${scan})
         GROUP BY GROUPING SETS (${keys.map((k) => `(${k})`).join(", ")})`,
      );
      for (const p of binned) {
        const profile = profiles[p.i]!;
        const { min, max } = profile as { min: number; max: number };
        const count = max > min ? params.bins : 1;
        const counts = new Array<number>(count).fill(0);
        for (const g of groups) {
          const b = g[`b${p.i}`];
          if (typeof b === "number") counts[b] = g.n as number;
        }
        const span = max - min;
        const edge = (k: number) =>
          k === count
            ? max
            : Number.isFinite(span)
              ? min + (span * k) / count
              : min * (1 - k / count) + max * (k / count);
        const edges = Array.from({ length: count + 1 }, (_, k) => edge(k));
        profile.histogram = { edges, counts };
      }
    }
    ctx.progress(0.7, "Most frequent values");

    const listed = plans.filter(
      (p) =>
        p.kind === "categorical" ||
        p.kind === "boolean" ||
        (p.kind === "numeric" && profiles[p.i]!.distinct <= params.topK),
    );
    if (listed.length) {
      // NaN and ±Infinity are counted in nonFinite, not listed (as text they would read back as NaN).
      const topKey = (p: Plan) =>
        p.kind === "numeric"
          ? `CASE WHEN isfinite(x${p.i}) THEN CAST(v${p.i} AS VARCHAR) END`
          : `CAST(v${p.i} AS VARCHAR)`;
      const keys = listed.map((p) => `k${p.i}`);
      const top = await ctx.sql.all(
        `SELECT ${keys.join(", ")}, count(*) AS n
         FROM (SELECT ${listed.map((p) => `${topKey(p)} AS k${p.i}`).join(", ")} FROM ${scan})
         GROUP BY GROUPING SETS (${keys.map((k) => `(${k})`).join(", ")})
         HAVING coalesce(${keys.join(", ")}) IS NOT NULL
         QUALIFY row_number() OVER (PARTITION BY grouping_id(${keys.join(", ")}) ORDER BY count(*) DESC, coalesce(${keys.join(", ")})) <= ${params.topK}
         ORDER BY n DESC, coalesce(${keys.join(", ")})`,
      );
      for (const p of listed) {
        const typed = (value: string) =>
          p.kind === "boolean" ? value === "true" : p.kind === "numeric" ? Number(value) : value;
        profiles[p.i]!.top = top
          .filter((r) => r[`k${p.i}`] !== null)
          .map((r) => ({ value: typed(r[`k${p.i}`] as string), count: r.n as number }));
      }
    }

    const matrix = correlated.map((pa, a) =>
      correlated.map((pb, b) => {
        if (a === b) return (profiles[pa.i]!.std ?? 0) > 0 ? 1 : null;
        const [lo, hi] = a < b ? [pa, pb] : [pb, pa];
        return num(`r${lo.i}_${hi.i}`);
      }),
    );
    const report: ProfileReport = {
      kind: "profile",
      rows,
      columns: profiles,
      correlation: { method: params.correlation, columns: correlated.map((p) => p.name), matrix },
    };
    if (params.personalDataSample > 0) {
      ctx.progress(0.85, "Personal data");
      report.privacy = await scanTable(ctx.sql, input, {
        sampleSize: params.personalDataSample,
        // The upstream output, not the workspace table's name (new each run): the report stays the
        // same for the same data, so cached runs and `dagwood step` agree with fresh ones.
        source: (({ node, port } = ctx.upstream("in") ?? { node: "in", port: "" }) =>
          port ? `${node}.${port}` : node)(),
      });
    }
    ctx.log(`Profiled ${plans.length} columns over ${rows} rows`);
    ctx.progress(1);
    return { report: { type: "report", data: report } };
  },
});
