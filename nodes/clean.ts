import { z } from "zod";
import { ident, isNumericType, literal, type SqlSession } from "../app/data/sql";
import {
  type BlockContext,
  BlockError,
  defineBlock,
  requireColumns,
  requireTable,
} from "../app/engine/block";
import type { ColumnInfo } from "../app/engine/ports";
import type { OutputSchemas, PortSchema, SchemaContext } from "../app/engine/schema";

/**
 * A DuckDB type name: words, an optional (precision, scale) and array
 * suffixes. No quotes, semicolons or free parentheses, so it cannot carry SQL.
 */
const TYPE_NAME =
  /^[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z][A-Za-z0-9_]*)*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\[\d*\])*$/;

const params = z.object({
  drop: z.array(z.string()).default([]).describe("Columns to remove").meta({ order: 1, picker: "columns" }),
  rename: z
    .record(z.string(), z.string().min(1))
    .default({})
    .describe("Columns to rename: old name → new name (names after drop)")
    .meta({ order: 2 }),
  cast: z
    .record(
      z.string(),
      z.string().regex(TYPE_NAME, "must be a DuckDB type name such as INTEGER, DOUBLE or DECIMAL(18,2)"),
    )
    .default({})
    .describe(
      "Columns to convert: column (name after rename) → DuckDB type, e.g. DOUBLE, DATE, DECIMAL(18,2)",
    )
    .meta({ order: 3 }),
  castErrors: z
    .enum(["fail", "null"])
    .default("fail")
    .describe('When a value does not convert: "fail" stops with an example; "null" turns it into NULL')
    .meta({ order: 4, showWhen: { param: "cast", set: true } }),
  missing: z
    .object({
      strategy: z
        .enum(["keep", "drop-rows", "impute"])
        .default("keep")
        .describe("What to do with missing values (NULL, and NaN in floating-point columns)")
        .meta({ order: 1 }),
      columns: z
        .array(z.string())
        .optional()
        .describe("Columns to treat (default: all)")
        .meta({ order: 2, picker: "columns", showWhen: { param: "strategy", in: ["drop-rows", "impute"] } }),
      numeric: z
        .enum(["mean", "median", "zero", "constant"])
        .default("mean")
        .describe("Fill for numeric columns; integer columns get the statistic rounded, so types stay")
        .meta({ order: 3, showWhen: { param: "strategy", in: ["impute"] } }),
      categorical: z
        .enum(["mode", "constant"])
        .default("mode")
        .describe("Fill for other columns")
        .meta({ order: 4, showWhen: { param: "strategy", in: ["impute"] } }),
      constant: z
        .union([z.string(), z.number()])
        .optional()
        .describe('The fill value for "constant"')
        .meta({
          order: 5,
          showWhen: [
            { param: "numeric", in: ["constant"] },
            { param: "categorical", in: ["constant"] },
          ],
        }),
    })
    .prefault({})
    .describe("Missing values")
    .meta({ order: 5 }),
  outliers: z
    .object({
      method: z
        .enum(["none", "iqr", "zscore"])
        .default("none")
        .describe(
          "iqr: outside [Q1 − t·IQR, Q3 + t·IQR]; zscore: more than t population std devs from the mean",
        )
        .meta({ order: 1 }),
      action: z
        .enum(["clip", "drop"])
        .default("clip")
        .describe("Clip values to the bounds, or drop the rows")
        .meta({ order: 2, showWhen: { param: "method", in: ["iqr", "zscore"] } }),
      columns: z
        .array(z.string())
        .optional()
        .describe("Numeric columns to check (default: all numeric)")
        .meta({ order: 3, picker: "columns", showWhen: { param: "method", in: ["iqr", "zscore"] } }),
      threshold: z
        .number()
        .positive()
        .optional()
        .describe("t: default 1.5 for iqr, 3 for zscore")
        .meta({ order: 4, showWhen: { param: "method", in: ["iqr", "zscore"] } }),
    })
    .prefault({})
    .describe("Outliers")
    .meta({ order: 6 }),
  dedupe: z
    .boolean()
    .default(false)
    .describe("Drop rows that duplicate another row exactly")
    .meta({ order: 7 }),
  dedupeOn: z
    .array(z.string())
    .default([])
    .describe("Keep one row per value of these columns (the first by a hash of the row); overrides dedupe")
    .meta({ order: 8, picker: "columns" }),
});

type Params = z.output<typeof params>;

/** The table a step reads: a workspace table or one of this run's temporary tables. */
interface Relation {
  name: string;
  columns: ColumnInfo[];
  rows: number;
}

/** A record entry, ignoring inherited keys: a column may well be called "constructor". */
const own = (record: Record<string, string>, key: string) =>
  Object.hasOwn(record, key) ? record[key] : undefined;

const isFloat = (type: string) => /^(FLOAT|DOUBLE|REAL)$/.test(type);
const isInteger = (type: string) => /^U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?$/.test(type);

/** Missing means NULL, and also NaN where the type can hold one. */
function missingExpr(ref: string, c: ColumnInfo): string {
  return isFloat(c.type) ? `(${ref} IS NULL OR isnan(${ref}))` : `${ref} IS NULL`;
}

/** Temporary tables for the steps, private to this node's session and dropped at the end. */
class Steps {
  private made: string[] = [];
  constructor(
    private readonly sql: SqlSession,
    private readonly prefix: string,
  ) {}

  async create(select: string): Promise<Relation> {
    const name = `${this.prefix}__clean_${this.made.length + 1}`;
    this.made.push(name);
    await this.sql.run(`CREATE OR REPLACE TEMP TABLE ${ident(name)} AS ${select}`);
    const { n } = await this.sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident(name)}`);
    return { name, columns: await this.sql.columns(name), rows: n };
  }

  async dispose(): Promise<void> {
    for (const name of this.made) await this.sql.run(`DROP TABLE IF EXISTS ${ident(name)}`);
  }
}

/** drop → rename → cast, as one projection; cast failures are found first and reported with an example. */
async function reshape(ctx: BlockContext, steps: Steps, input: Relation, p: Params): Promise<Relation> {
  requireColumns(p.drop, input.columns, "drop");
  const kept = input.columns.filter((c) => !p.drop.includes(c.name));
  if (kept.length === 0) throw new BlockError("drop removes every column. Keep at least one column.");
  requireColumns(Object.keys(p.rename), kept, "rename", (n) =>
    p.drop.includes(n) ? ` It is listed in drop.` : undefined,
  );

  const newName = (c: ColumnInfo) => own(p.rename, c.name) ?? c.name;
  const byName = new Map<string, string>();
  for (const c of kept) {
    const key = newName(c).toLowerCase();
    const other = byName.get(key);
    if (other !== undefined) {
      throw new BlockError(
        `Two columns would be named "${newName(c)}" (from "${other}" and "${c.name}"); DuckDB names ignore case. Choose distinct names in rename.`,
      );
    }
    byName.set(key, c.name);
  }
  const renamed = kept.map((c) => ({ name: newName(c), type: c.type }));
  requireColumns(Object.keys(p.cast), renamed, "cast", (n) =>
    own(p.rename, n) ? ` It was renamed to "${own(p.rename, n)}"; cast uses names after rename.` : undefined,
  );
  if (p.drop.length === 0 && Object.keys(p.rename).length === 0 && Object.keys(p.cast).length === 0) {
    return input;
  }

  const t = ident(input.name);
  const select: string[] = [];
  for (const c of kept) {
    const name = newName(c);
    const type = own(p.cast, name);
    if (type === undefined) {
      select.push(`${ident(c.name)} AS ${ident(name)}`);
      continue;
    }
    try {
      await ctx.sql.run(`SELECT CAST(NULL AS ${type})`);
    } catch {
      throw new BlockError(
        `Unknown type "${type}" for column "${name}" in cast. Use a DuckDB type such as INTEGER, BIGINT, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP or DECIMAL(18,2).`,
      );
    }
    const col = ident(c.name);
    const bad = await ctx.sql.one<{ n: number; example: string | null }>(
      `SELECT count(*) AS n, min(CAST(${col} AS VARCHAR)) AS example FROM ${t}
       WHERE ${col} IS NOT NULL AND TRY_CAST(${col} AS ${type}) IS NULL`,
    );
    if (bad.n > 0 && p.castErrors === "fail") {
      throw new BlockError(
        `Column "${name}" cannot be cast to ${type}: ${bad.n} value(s) do not convert, e.g. "${bad.example}". ` +
          `Fix the data, choose another type, or set castErrors to "null" to turn such values into NULL (TRY_CAST).`,
      );
    }
    if (bad.n > 0)
      ctx.log(`Cast "${name}" to ${type}: ${bad.n} value(s) did not convert and became NULL`, "warn");
    select.push(`${p.castErrors === "null" ? "TRY_CAST" : "CAST"}(${col} AS ${type}) AS ${ident(name)}`);
  }
  if (p.drop.length) ctx.log(`Dropped columns: ${p.drop.join(", ")}`);
  return steps.create(`SELECT ${select.join(", ")} FROM ${t}`);
}

/** The SQL for one column's fill value, typed like the column so imputing keeps the schema. */
function fillExpr(cur: string, c: ColumnInfo, m: Params["missing"]): string {
  const col = ident(c.name);
  const strategy = isNumericType(c.type) ? m.numeric : m.categorical;
  if (strategy === "constant") {
    if (m.constant === undefined) {
      throw new BlockError(
        `Column "${c.name}" is imputed with a constant, but missing.constant is not set. Set it, or choose another strategy.`,
      );
    }
    return `TRY_CAST(${literal(String(m.constant))} AS ${c.type})`;
  }
  const value = isFloat(c.type) ? `CASE WHEN isnan(${col}) THEN NULL ELSE ${col} END` : col;
  if (strategy === "mean") return `CAST(avg(${value}) AS ${c.type})`;
  if (strategy === "median") return `CAST(median(${value}) AS ${c.type})`;
  if (strategy === "zero") return `CAST(0 AS ${c.type})`;
  // Mode; ties go to the smallest value, so the result does not depend on row order.
  return `(SELECT ${col} FROM ${cur} WHERE NOT ${missingExpr(col, c)} GROUP BY ${col} ORDER BY count(*) DESC, ${col} LIMIT 1)`;
}

async function handleMissing(ctx: BlockContext, steps: Steps, rel: Relation, p: Params): Promise<Relation> {
  const m = p.missing;
  const targets = m.columns ? requireColumns(m.columns, rel.columns, "missing.columns") : rel.columns;
  if (m.strategy === "keep" || targets.length === 0) return rel;
  const t = ident(rel.name);
  if (m.strategy === "drop-rows") {
    const any = targets.map((c) => missingExpr(ident(c.name), c)).join(" OR ");
    const next = await steps.create(`SELECT * FROM ${t} WHERE NOT (${any})`);
    ctx.log(`Dropped ${rel.rows - next.rows} row(s) with missing values`);
    return next;
  }

  const stats = await steps.create(
    `SELECT ${targets
      .map(
        (c, i) =>
          `${fillExpr(t, c, m)} AS f${i}, count(*) FILTER (WHERE ${missingExpr(ident(c.name), c)}) AS n${i}`,
      )
      .join(", ")} FROM ${t}`,
  );
  const row = await ctx.sql.one(
    `SELECT ${targets.map((_, i) => `CAST(f${i} AS VARCHAR) AS f${i}, n${i}`).join(", ")} FROM ${ident(stats.name)}`,
  );
  let imputed = 0;
  targets.forEach((c, i) => {
    const n = row[`n${i}`] as number;
    const fill = row[`f${i}`] as string | null;
    if (n === 0) return;
    if (
      fill === null &&
      m.constant !== undefined &&
      (isNumericType(c.type) ? m.numeric : m.categorical) === "constant"
    ) {
      throw new BlockError(
        `missing.constant ${JSON.stringify(m.constant)} cannot be stored in column "${c.name}" of type ${c.type}. Choose a value of that type, or limit missing.columns.`,
      );
    }
    if (fill === null) {
      ctx.log(
        `Column "${c.name}" has no values to impute from; its ${n} missing value(s) stay missing`,
        "warn",
      );
      return;
    }
    imputed += n;
    ctx.log(`Imputed ${n} missing value(s) in "${c.name}" with ${fill}`);
  });
  ctx.metric("values_imputed", imputed);
  const select = rel.columns.map((c) => {
    const i = targets.indexOf(c);
    const ref = `d.${ident(c.name)}`;
    return i < 0 ? ref : `CASE WHEN ${missingExpr(ref, c)} THEN s.f${i} ELSE ${ref} END AS ${ident(c.name)}`;
  });
  return steps.create(`SELECT ${select.join(", ")} FROM ${t} AS d CROSS JOIN ${ident(stats.name)} AS s`);
}

async function handleOutliers(ctx: BlockContext, steps: Steps, rel: Relation, p: Params): Promise<Relation> {
  const o = p.outliers;
  if (o.method === "none") return rel;
  const targets = o.columns
    ? requireColumns(o.columns, rel.columns, "outliers.columns")
    : rel.columns.filter((c) => isNumericType(c.type));
  for (const c of targets) {
    if (!isNumericType(c.type)) {
      throw new BlockError(
        `Column "${c.name}" in outliers.columns is ${c.type}, not numeric, so it has no outliers to find. Remove it from outliers.columns, or cast it to a number first.`,
      );
    }
  }
  if (targets.length === 0) return rel;
  const k = o.threshold ?? (o.method === "iqr" ? 1.5 : 3);
  const t = ident(rel.name);

  // Bounds come from finite values only: NaN is missing, not an outlier, and infinities would swamp the stats.
  const bounds = targets.map((c, i) => {
    const v = `CASE WHEN isfinite(${ident(c.name)}::DOUBLE) THEN ${ident(c.name)}::DOUBLE END`;
    if (o.method === "iqr") {
      const q1 = `quantile_cont(${v}, 0.25)`;
      const q3 = `quantile_cont(${v}, 0.75)`;
      return `${q1} - ${k} * (${q3} - ${q1}) AS lo${i}, ${q3} + ${k} * (${q3} - ${q1}) AS hi${i}`;
    }
    return `avg(${v}) - ${k} * stddev_pop(${v}) AS lo${i}, avg(${v}) + ${k} * stddev_pop(${v}) AS hi${i}`;
  });
  const stats = await steps.create(`SELECT ${bounds.join(", ")} FROM ${t}`);
  const outside = (c: ColumnInfo, i: number) => {
    const ref = `d.${ident(c.name)}`;
    const out = `coalesce(${ref} < s.lo${i} OR ${ref} > s.hi${i}, false)`;
    return isFloat(c.type) ? `(NOT coalesce(isnan(${ref}), false) AND ${out})` : out;
  };
  const from = `${t} AS d CROSS JOIN ${ident(stats.name)} AS s`;
  const counts = await ctx.sql.one(
    `SELECT ${targets.map((c, i) => `count(*) FILTER (WHERE ${outside(c, i)}) AS n${i}, max(s.lo${i}) AS lo${i}, max(s.hi${i}) AS hi${i}`).join(", ")}
     FROM ${from}`,
  );
  const label = o.method === "iqr" ? `IQR × ${k}` : `z-score > ${k}`;
  const what = o.action === "clip" ? "Clipped" : "Found";
  targets.forEach((c, i) => {
    const n = counts[`n${i}`] as number;
    const lo = counts[`lo${i}`] as number | null;
    const hi = counts[`hi${i}`] as number | null;
    if (n > 0) ctx.log(`${what} ${n} outlier(s) in "${c.name}" outside [${lo}, ${hi}] (${label})`);
  });

  if (o.action === "drop") {
    const next = await steps.create(
      `SELECT d.* FROM ${from} WHERE NOT (${targets.map(outside).join(" OR ")})`,
    );
    ctx.log(`Dropped ${rel.rows - next.rows} row(s) with outliers (${label})`);
    return next;
  }
  ctx.metric(
    "values_clipped",
    targets.reduce((sum, _, i) => sum + (counts[`n${i}`] as number), 0),
  );
  const select = rel.columns.map((c) => {
    const i = targets.indexOf(c);
    const ref = `d.${ident(c.name)}`;
    if (i < 0) return ref;
    // Integer columns clip inward to whole numbers, so clipped values stay within the bounds.
    const lo = isInteger(c.type) ? `ceil(s.lo${i})` : `s.lo${i}`;
    const hi = isInteger(c.type) ? `floor(s.hi${i})` : `s.hi${i}`;
    const nan = isFloat(c.type) ? `WHEN isnan(${ref}) THEN ${ref} ` : "";
    return `CASE ${nan}WHEN ${ref} < s.lo${i} THEN CAST(${lo} AS ${c.type}) WHEN ${ref} > s.hi${i} THEN CAST(${hi} AS ${c.type}) ELSE ${ref} END AS ${ident(c.name)}`;
  });
  return steps.create(`SELECT ${select.join(", ")} FROM ${from}`);
}

async function dedupe(ctx: BlockContext, steps: Steps, rel: Relation, p: Params): Promise<Relation> {
  const keys = requireColumns(p.dedupeOn, rel.columns, "dedupeOn");
  if (keys.length === 0 && !p.dedupe) return rel;
  const t = ident(rel.name);
  // Which row of a key survives is decided by the row's content hash, not by where it sits in the table.
  const next =
    keys.length > 0
      ? await steps.create(
          `SELECT * FROM ${t} AS ${t} QUALIFY row_number() OVER (PARTITION BY ${keys.map((c) => ident(c.name)).join(", ")} ORDER BY hash(${t})) = 1`,
        )
      : await steps.create(`SELECT DISTINCT * FROM ${t}`);
  const on = keys.length > 0 ? ` on ${keys.map((c) => c.name).join(", ")}` : "";
  ctx.log(`Dropped ${rel.rows - next.rows} duplicate row(s)${on}`);
  return next;
}

/**
 * Before a run: the columns after drop → rename → cast (the later steps keep
 * names and types), each name checked against the columns its step sees.
 */
async function cleanSchema(
  ctx: SchemaContext,
  inputs: Record<string, PortSchema | undefined>,
  p: Params,
): Promise<OutputSchemas> {
  const input = inputs.in;
  if (!input || input.open) return { out: undefined };
  ctx.checkColumns("in", ["drop"], p.drop);
  const kept = input.columns.filter((c) => !p.drop.includes(c.name));
  for (const name of Object.keys(p.rename)) {
    if (p.drop.includes(name)) ctx.problem(["rename", name], `rename names "${name}", which drop removes.`);
    else ctx.checkColumns("in", ["rename", name], name, { label: "rename" });
  }
  const renamed = kept.map((c) => ({ name: own(p.rename, c.name) ?? c.name, type: c.type }));
  const after = { among: renamed, after: "after drop and rename" };
  const columns: ColumnInfo[] = [];
  for (const c of renamed) {
    const type = own(p.cast, c.name);
    if (type === undefined) {
      columns.push(c);
      continue;
    }
    try {
      // DuckDB's own name for the type ("int" is INTEGER), as the table will describe it.
      const [row] = await ctx.sql.all<{ column_type: string }>(`DESCRIBE SELECT CAST(NULL AS ${type}) AS v`);
      columns.push({ name: c.name, type: row!.column_type });
    } catch {
      ctx.problem(
        ["cast", c.name],
        `Unknown type "${type}" for column "${c.name}" in cast. Use a DuckDB type such as INTEGER, BIGINT, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP or DECIMAL(18,2).`,
      );
      columns.push(c);
    }
  }
  for (const name of Object.keys(p.cast))
    ctx.checkColumns("in", ["cast", name], name, { ...after, label: "cast" });
  const final = { among: columns, after: "after drop, rename and cast" };
  ctx.checkColumns("in", ["missing", "columns"], p.missing.columns, final);
  // As the run: outliers.columns count only when a method is chosen.
  if (p.outliers.method !== "none") {
    const outliers = ctx.checkColumns("in", ["outliers", "columns"], p.outliers.columns, final);
    for (const c of outliers.filter((c) => !isNumericType(c.type))) {
      ctx.problem(
        ["outliers", "columns", p.outliers.columns!.indexOf(c.name)],
        `Column "${c.name}" in outliers.columns is ${c.type}, not numeric, so it has no outliers to find. Remove it from outliers.columns, or cast it to a number first.`,
      );
    }
  }
  ctx.checkColumns("in", ["dedupeOn"], p.dedupeOn, final);
  return { out: { columns, ...(input.subset ? { subset: input.subset } : {}) } };
}

export default defineBlock({
  kind: "clean",
  version: 1,
  title: "Clean",
  category: "Clean",
  description:
    "Tidies a table in a fixed order: drop columns → rename → cast → missing values (drop rows or impute) → outliers (clip or drop, by IQR or z-score) → dedupe. " +
    "Each step sees the result of the one before, so cast, missing, outliers and dedupeOn use the new names. Statistics are computed on this table.",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params,
  outputSchema: cleanSchema,
  /** Column tags (app/privacy/tags.ts) follow rename: an output column comes from the input column renamed to it. */
  columnLineage(inputs, output, p) {
    const from = new Map(
      (inputs.in?.columns ?? [])
        .filter((c) => !p.drop.includes(c.name))
        .map((c) => [(own(p.rename, c.name) ?? c.name).toLowerCase(), c.name]),
    );
    return Object.fromEntries(
      output.columns.map((c) => [c, [{ port: "in", column: from.get(c.toLowerCase()) ?? c }]]),
    );
  },
  async run(ctx, inputs, p) {
    const input = requireTable(inputs, "in");
    const out = ctx.newTable("out");
    const steps = new Steps(ctx.sql, out);
    const stages = [
      ["Dropping, renaming and casting columns", reshape],
      ["Handling missing values", handleMissing],
      ["Handling outliers", handleOutliers],
      ["Removing duplicates", dedupe],
    ] as const;
    try {
      let rel: Relation = { name: input.name, columns: input.columns, rows: input.rows };
      for (const [i, [message, stage]] of stages.entries()) {
        ctx.signal.throwIfAborted();
        ctx.progress(i / stages.length, message);
        rel = await stage(ctx, steps, rel, p);
      }
      await ctx.sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS SELECT * FROM ${ident(rel.name)}`);
      ctx.metric("rows_dropped", input.rows - rel.rows);
      ctx.progress(1);
    } finally {
      await steps.dispose();
    }
    return { out: { type: "table", name: out } };
  },
});
