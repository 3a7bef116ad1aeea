import { z } from "zod";
import { ident, isNumericType, type SqlSession } from "../app/data/sql";
import {
  type BlockContext,
  BlockError,
  defineBlock,
  requireColumns,
  requireTable,
} from "../app/engine/block";
import type { ColumnInfo } from "../app/engine/ports";

const params = z.object({
  keep: z
    .array(z.string())
    .optional()
    .describe("Keep only these columns (plus the target); empty or unset: all columns")
    .meta({ order: 2, picker: "columns" }),
  target: z
    .string()
    .optional()
    .describe("The column to predict: never dropped, and what topK ranks features against")
    .meta({ order: 1, picker: "column" }),
  dropConstant: z
    .boolean()
    .default(true)
    .describe("Drop columns that hold the same value in every row (NULL counts as a value)")
    .meta({ order: 4 }),
  nearConstantThreshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.99)
    .describe(
      "Drop a non-constant column whose most frequent value covers more than this fraction of rows; 1 disables",
    )
    .meta({ order: 5, advanced: true }),
  correlationThreshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.95)
    .describe("Of two numeric columns with |Pearson r| above this, drop the later one; 1 disables")
    .meta({ order: 6, advanced: true }),
  topK: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "Keep the k features most relevant to the target. Numeric target: |Pearson r| for numeric features, correlation ratio (eta) for others. " +
        "Categorical target: eta for numeric features, Cramér's V for others. Eta and V are bias-corrected, so ID-like columns score near 0.",
    )
    .meta({ order: 3, showWhen: { param: "target", set: true } }),
});

/** Pairwise correlations per statement, so very wide tables do not build one enormous query. */
const PAIRS_PER_QUERY = 200;

const asDouble = (c: ColumnInfo) => `${ident(c.name)}::DOUBLE`;
const finite = (c: ColumnInfo) => `isfinite(${asDouble(c)})`;
/** |r| over rows where both are finite; 0 when undefined (a constant column, too few rows). */
const absCorr = (a: ColumnInfo, b: ColumnInfo) =>
  `abs(corr(${asDouble(a)}, ${asDouble(b)}) FILTER (WHERE ${finite(a)} AND ${finite(b)}))`;
const orZero = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * Correlation ratio of numeric `value` across the groups of `group`, adjusted
 * like R² (ε²-style) so that a group per row does not score 1.
 */
async function eta(sql: SqlSession, table: string, value: ColumnInfo, group: ColumnInfo): Promise<number> {
  const r = await sql.one<{ n: number; k: number; between: number | null; total: number | null }>(
    `WITH d AS (SELECT ${asDouble(value)} AS x, ${ident(group.name)} AS grp FROM ${table}
                WHERE ${ident(group.name)} IS NOT NULL AND ${finite(value)}),
          groups AS (SELECT count(*) AS n, avg(x) AS m FROM d GROUP BY grp),
          overall AS (SELECT count(*) AS n, avg(x) AS m, var_pop(x) * count(*) AS ss FROM d)
     SELECT any_value(o.n) AS n, count(*) AS k, sum(g.n * pow(g.m - o.m, 2)) AS between, any_value(o.ss) AS total
     FROM groups g CROSS JOIN overall o`,
  );
  const n = orZero(r.n);
  const total = orZero(r.total);
  if (n - r.k <= 0 || total <= 0) return 0;
  const within = total - orZero(r.between);
  return Math.sqrt(Math.max(0, 1 - within / (n - r.k) / (total / (n - 1))));
}

/** Cramér's V with the Bergsma–Wicher bias correction. */
async function cramersV(sql: SqlSession, table: string, a: ColumnInfo, b: ColumnInfo): Promise<number> {
  const r = await sql.one<{ n: number; ra: number; kb: number; s: number | null }>(
    `WITH d AS (SELECT ${ident(a.name)} AS a, ${ident(b.name)} AS b FROM ${table}
                WHERE ${ident(a.name)} IS NOT NULL AND ${ident(b.name)} IS NOT NULL),
          cells AS (SELECT a, b, count(*) AS o FROM d GROUP BY a, b),
          ra AS (SELECT a, count(*) AS n FROM d GROUP BY a),
          kb AS (SELECT b, count(*) AS n FROM d GROUP BY b)
     SELECT (SELECT count(*) FROM d) AS n, (SELECT count(*) FROM ra) AS ra, (SELECT count(*) FROM kb) AS kb,
            (SELECT sum(c.o::DOUBLE * c.o / (ra.n::DOUBLE * kb.n)) FROM cells c
               JOIN ra ON c.a = ra.a JOIN kb ON c.b = kb.b) AS s`,
  );
  if (r.n < 2 || r.s === null) return 0;
  const phi2 = Math.max(0, r.s - 1 - ((r.ra - 1) * (r.kb - 1)) / (r.n - 1));
  const rows = r.ra - (r.ra - 1) ** 2 / (r.n - 1);
  const cols = r.kb - (r.kb - 1) ** 2 / (r.n - 1);
  const dof = Math.min(rows - 1, cols - 1);
  return dof > 0 ? Math.sqrt(phi2 / dof) : 0;
}

async function relevance(
  ctx: BlockContext,
  table: string,
  features: ColumnInfo[],
  target: ColumnInfo,
): Promise<number[]> {
  const numericTarget = isNumericType(target.type);
  const pearson = numericTarget ? features.filter((f) => isNumericType(f.type)) : [];
  const r = pearson.length
    ? await ctx.sql.one(
        `SELECT ${pearson.map((f, i) => `${absCorr(f, target)} AS r${i}`).join(", ")} FROM ${table}`,
      )
    : {};
  const scores: number[] = [];
  for (const f of features) {
    ctx.signal.throwIfAborted();
    const numeric = isNumericType(f.type);
    if (numericTarget && numeric) scores.push(orZero(r[`r${pearson.indexOf(f)}`]));
    else if (numericTarget) scores.push(await eta(ctx.sql, table, target, f));
    else if (numeric) scores.push(await eta(ctx.sql, table, f, target));
    else scores.push(await cramersV(ctx.sql, table, f, target));
  }
  return scores;
}

export default defineBlock({
  kind: "select.features",
  cpu: true,
  version: 1,
  title: "Select features",
  category: "Features",
  description:
    "Chooses feature columns, in this order: the keep list; constant and near-constant columns dropped; of highly correlated numeric pairs, the later column dropped; then the top k by relevance to the target. " +
    "The target is never dropped; columns keep their table order. Each dropped column is logged with its reason.",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params,
  outputSchema(ctx, inputs, p) {
    ctx.checkColumns("in", ["target"], p.target);
    const keep = p.keep?.length ? p.keep : undefined;
    ctx.checkColumns("in", ["keep"], keep);
    const input = inputs.in;
    if (!input || input.open) return { out: undefined };
    const columns = input.columns.filter((c) => c.name === p.target || !keep || keep.includes(c.name));
    // Which columns the thresholds drop depends on the rows.
    const pruned = p.dropConstant || p.nearConstantThreshold < 1 || p.correlationThreshold < 1 || p.topK;
    const subset = pruned
      ? "some may be dropped as constant, near-constant, correlated or outside the top k"
      : input.subset;
    return { out: { columns, ...(subset ? { subset } : {}) } };
  },
  async run(ctx, inputs, p) {
    const input = requireTable(inputs, "in");
    const t = ident(input.name);
    if (p.target !== undefined) requireColumns([p.target], input.columns, "target");
    if (p.topK !== undefined && p.target === undefined) {
      throw new BlockError(
        "topK ranks features by relevance to a target, but no target is set. Set target, or clear topK.",
      );
    }
    const target = input.columns.find((c) => c.name === p.target);
    const keep = p.keep?.length ? p.keep : undefined;
    if (keep) requireColumns(keep, input.columns, "keep");

    const dropped = new Map<string, string>();
    const drop = (c: ColumnInfo, reason: string) => {
      dropped.set(c.name, reason);
      ctx.log(`Dropped "${c.name}": ${reason}`);
    };
    let features = input.columns.filter((c) => c !== target);
    for (const c of features) if (keep && !keep.includes(c.name)) drop(c, "not in keep");
    const remaining = () => features.filter((c) => !dropped.has(c.name));
    features = remaining();
    if (input.rows === 0 && features.length > 0) {
      ctx.log("The table has no rows, so no column is judged constant, correlated or irrelevant", "warn");
    }

    ctx.progress(0.1, "Finding constant columns");
    if (input.rows > 0 && features.length > 0 && (p.dropConstant || p.nearConstantThreshold < 1)) {
      const tops = await ctx.sql.one(
        `SELECT ${features
          .map(
            (c, i) =>
              `(SELECT max(n) FROM (SELECT count(*) AS n FROM ${t} GROUP BY ${ident(c.name)})) AS top${i}`,
          )
          .join(", ")}`,
      );
      features.forEach((c, i) => {
        const share = (tops[`top${i}`] as number) / input.rows;
        if (share === 1) {
          if (p.dropConstant) drop(c, "constant (every row holds the same value)");
        } else if (share > p.nearConstantThreshold) {
          const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;
          drop(
            c,
            `near-constant (its most frequent value covers ${pct(share)} of rows, above ${pct(p.nearConstantThreshold)})`,
          );
        }
      });
      features = remaining();
    }

    ctx.progress(0.3, "Finding correlated columns");
    const numeric = features.filter((c) => isNumericType(c.type));
    if (input.rows > 0 && numeric.length > 1 && p.correlationThreshold < 1) {
      const pairs = numeric.flatMap((a, i) => numeric.slice(i + 1).map((b) => [a, b] as const));
      const r = new Map<string, number>();
      for (let start = 0; start < pairs.length; start += PAIRS_PER_QUERY) {
        ctx.signal.throwIfAborted();
        const chunk = pairs.slice(start, start + PAIRS_PER_QUERY);
        const row = await ctx.sql.one(
          `SELECT ${chunk.map(([a, b], i) => `${absCorr(a, b)} AS r${i}`).join(", ")} FROM ${t}`,
        );
        for (const [i, [a, b]] of chunk.entries()) r.set(`${a.name}\0${b.name}`, orZero(row[`r${i}`]));
      }
      const kept: ColumnInfo[] = [];
      for (const b of numeric) {
        const a = kept.find((a) => (r.get(`${a.name}\0${b.name}`) ?? 0) > p.correlationThreshold);
        if (!a) kept.push(b);
        else
          drop(
            b,
            `correlated with "${a.name}" (|r| = ${r.get(`${a.name}\0${b.name}`)!.toFixed(3)}, above ${p.correlationThreshold})`,
          );
      }
      features = remaining();
    }

    ctx.progress(0.6, "Ranking features by relevance");
    if (target && p.topK !== undefined && input.rows > 0 && features.length > p.topK) {
      const scores = await relevance(ctx, t, features, target);
      const ranked = features.map((c, i) => ({ c, score: scores[i]! })).sort((x, y) => y.score - x.score);
      const top = ranked.slice(0, p.topK);
      ctx.log(
        `Top ${p.topK} by relevance to "${target.name}": ${top.map((x) => `${x.c.name} (${x.score.toFixed(3)})`).join(", ")}`,
      );
      for (const x of ranked.slice(p.topK)) {
        drop(x.c, `not in the top ${p.topK} by relevance to "${target.name}" (score ${x.score.toFixed(3)})`);
      }
      features = remaining();
    }

    const columns = input.columns.filter((c) => c === target || !dropped.has(c.name));
    if (columns.length === 0) {
      throw new BlockError(
        "Every column was dropped. Loosen the thresholds (nearConstantThreshold, correlationThreshold), raise topK, or set dropConstant to false.",
      );
    }
    const out = ctx.newTable("out");
    await ctx.sql.run(
      `CREATE OR REPLACE TABLE ${ident(out)} AS SELECT ${columns.map((c) => ident(c.name)).join(", ")} FROM ${t}`,
    );
    ctx.log(`Kept ${features.length} feature(s): ${features.map((c) => c.name).join(", ") || "none"}`);
    ctx.metric("features_kept", features.length);
    ctx.metric("features_dropped", dropped.size);
    ctx.progress(1);
    return { out: { type: "table", name: out } };
  },
});
