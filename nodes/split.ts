import { z } from "zod";
import { ident, isNumericType, isTemporalType } from "../app/data/sql";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";
import type { ColumnInfo, TableValue } from "../app/engine/ports";

const STRATEGIES = ["random", "stratified", "time"] as const;

const params = z
  .object({
    strategy: z
      .enum(STRATEGIES)
      .default("random")
      .describe(
        "random: a seeded sample; stratified: the same fraction from every class of `column`; time: the latest rows by `column` go to test",
      )
      .meta({ order: 1 }),
    testFraction: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.2)
      .describe("Share of the rows that go to test, between 0 and 1 (exclusive)")
      .meta({ order: 3 }),
    seed: z
      .number()
      .int()
      .default(0)
      .describe("Random seed: the same seed and data give the same split")
      // The time split assigns rows by time; the seed then only shuffles the outputs' order.
      .meta({
        order: 4,
        advanced: true,
        showWhen: [
          { param: "strategy", in: ["random", "stratified"] },
          { param: "shuffle", in: [true] },
        ],
      }),
    column: z
      .string()
      .min(1)
      .optional()
      .describe("The class column (stratified) or the time column (time); required for those strategies")
      .meta({ order: 2, picker: "column", showWhen: { param: "strategy", in: ["stratified", "time"] } }),
    shuffle: z
      .boolean()
      .default(true)
      .describe(
        "Put the outputs in seeded random order; when off, rows are sorted (by the time column first for the time strategy). Row order never follows the input's order: tables are compared by content.",
      )
      .meta({ order: 5, advanced: true }),
  })
  .superRefine((p, issue) => {
    if (p.strategy !== "random" && !p.column) {
      issue.addIssue({
        code: "custom",
        path: ["column"],
        message: `the ${p.strategy} strategy needs a column: set "column" to the ${p.strategy === "time" ? "time" : "class"} column`,
      });
    }
  });

type SplitParams = z.output<typeof params>;

/** The input column named `name` (case-insensitive, as DuckDB matches), or a clear error listing the others. */
function findColumn(input: TableValue, name: string | undefined, strategy: string): ColumnInfo {
  if (!name) throw new BlockError(`The ${strategy} split needs a column: set "column".`);
  const found =
    input.columns.find((c) => c.name === name) ??
    input.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!found) {
    const names = input.columns.map((c) => `"${c.name}"`).join(", ");
    throw new BlockError(`Column "${name}" is not in the input. Its columns are: ${names}.`);
  }
  return found;
}

const timeColumnMessage = (col: ColumnInfo) =>
  `The time split orders rows by "${col.name}", which is ${col.type}. Choose a date, timestamp or numeric column, or cast it first (e.g. with transform.sql).`;

/** A column name none of the input's columns uses, for the split's bookkeeping. */
function unusedName(columns: ColumnInfo[]): string {
  const taken = new Set(columns.map((c) => c.name.toLowerCase()));
  let name = "__split";
  while (taken.has(name)) name = `_${name}`;
  return name;
}

function emptySideError(rows: number, fraction: number, testRows: number): BlockError {
  // round(rows × f) is at least 1 from f = 0.5/rows on, and below rows until f = 1 - 0.5/rows.
  const advice =
    rows < 2
      ? "A split needs at least 2 rows."
      : testRows === 0
        ? `Raise testFraction to at least ${Math.ceil((0.5 / rows) * 1000) / 1000}, or use more rows.`
        : `Lower testFraction below ${Math.floor((1 - 0.5 / rows) * 1000) / 1000}, or use more rows.`;
  return new BlockError(
    `Splitting ${rows} rows with testFraction ${fraction} gives ${testRows} test and ${rows - testRows} train rows; both sides need at least one. ${advice}`,
  );
}

/**
 * The SQL expression that sends a row to test, over the input aliased by its
 * own name (so the alias is the whole row), with `h` the seeded row hash.
 * Ranking by a hash of the row's content, never its position, makes the split
 * depend only on what the table holds.
 */
async function testCondition(
  ctx: BlockContext,
  input: TableValue,
  p: SplitParams,
  col: ColumnInfo | undefined,
  h: string,
): Promise<string> {
  const n = input.rows;
  const t = ident(input.name);
  // The fraction goes in as a DOUBLE so SQL rounds n × f exactly as JS does.
  const f = `${p.testFraction}::DOUBLE`;
  if (!col) {
    const k = Math.round(n * p.testFraction);
    if (k === 0 || k === n) throw emptySideError(n, p.testFraction, k);
    return `row_number() OVER (ORDER BY ${h}) <= ${k}`;
  }
  const c = `${t}.${ident(col.name)}`;
  if (p.strategy === "stratified") {
    const singles = await ctx.sql.all<{ v: string | null }>(
      `SELECT CAST(${c} AS VARCHAR) AS v FROM ${t} AS ${t} GROUP BY ${c} HAVING count(*) = 1 ORDER BY v NULLS FIRST`,
    );
    if (singles.length > 0) {
      const shown = singles.slice(0, 10).map((s) => (s.v === null ? "null" : JSON.stringify(s.v)));
      const more = singles.length > 10 ? `, … (${singles.length - 10} more)` : "";
      ctx.log(
        `Stratified split: ${singles.length} class(es) of "${col.name}" have a single row (${shown.join(", ")}${more}); they stay in train, so test has no example of them.`,
        "warn",
      );
    }
    // Per class: round(count × fraction) test rows, but at least one and
    // leaving at least one in train, so every class with two or more rows
    // shows up on both sides and its share is off by less than one row.
    const size = `count(*) OVER (PARTITION BY ${c})`;
    const k = `least(greatest(round(${size} * ${f}), 1), ${size} - 1)`;
    return `row_number() OVER (PARTITION BY ${c} ORDER BY ${h}) <= ${k}`;
  }
  if (!isNumericType(col.type) && !isTemporalType(col.type)) throw new BlockError(timeColumnMessage(col));
  const k = Math.round(n * p.testFraction);
  if (k === 0 || k === n) throw emptySideError(n, p.testFraction, k);
  const { nulls } = await ctx.sql.one<{ nulls: number }>(
    `SELECT count(*) AS nulls FROM ${t} AS ${t} WHERE ${c} IS NULL`,
  );
  if (nulls > 0) {
    ctx.log(`Time split: ${nulls} row(s) have no "${col.name}"; they stay in train.`, "warn");
  }
  // Test is every row at or after a cut time, so rows with equal times land on
  // the same side. Of the possible cuts, take the one whose test size is
  // nearest round(n × fraction) and leaves train non-empty.
  return `${c} >= (
    SELECT v FROM (
      SELECT v, sum(m) OVER (ORDER BY v DESC) AS test_rows
      FROM (SELECT ${c} AS v, count(*) AS m FROM ${t} AS ${t} WHERE ${c} IS NOT NULL GROUP BY ALL)
    )
    WHERE test_rows < ${n}
    ORDER BY abs(test_rows - ${k}), test_rows
    LIMIT 1
  )`;
}

export default defineBlock({
  kind: "split",
  version: 2,
  title: "Split",
  category: "Transform",
  description:
    "Splits rows into train and test: a seeded random sample, stratified by a class column, or by time (the latest rows go to test). Which rows go where depends only on the rows' content and the seed.",
  inputs: { in: { type: "table" } },
  outputs: { train: { type: "table" }, test: { type: "table" } },
  params,
  outputSchema(ctx, inputs, p) {
    if (p.strategy !== "random") {
      const [col] = ctx.checkColumns("in", ["column"], p.column, { ignoreCase: true });
      if (col && p.strategy === "time" && !isNumericType(col.type) && !isTemporalType(col.type)) {
        ctx.problem(["column"], timeColumnMessage(col));
      }
    }
    // Both sides keep every input column.
    return { train: inputs.in, test: inputs.in };
  },
  async run(ctx, inputs, p) {
    const input = requireTable(inputs, "in");
    const t = ident(input.name);
    const col = p.strategy === "random" ? undefined : findColumn(input, p.column, p.strategy);
    const h = `hash(${t}, ${p.seed}::BIGINT)`;
    const condition = await testCondition(ctx, input, p, col, h);

    // One pass marks every row, so train and test are exact complements. The
    // session is private to this node run, so the temp table cannot collide.
    const meta = ident(unusedName(input.columns));
    const marked = ident("split_rows");
    await ctx.sql.run(
      `CREATE OR REPLACE TEMP TABLE ${marked} AS
       SELECT ${t}.*, {'test': coalesce(${condition}, false), 'h': ${h}} AS ${meta}
       FROM ${t} AS ${t}`,
    );
    try {
      const { test } = await ctx.sql.one<{ test: number }>(
        `SELECT count(*) FILTER (WHERE ${meta}.test) AS test FROM ${marked}`,
      );
      if (test === 0) {
        const why =
          p.strategy === "stratified"
            ? `no class of "${col?.name}" has two or more rows`
            : `every row has the same "${col?.name}" (or none)`;
        throw new BlockError(
          `Splitting ${input.rows} rows with testFraction ${p.testFraction} leaves test empty: ${why}. Use more rows or another column.`,
        );
      }
      // Input order is not part of a table's fingerprint, so it must not decide output order.
      const sorted = input.columns.map((c) => `${ident(c.name)} NULLS FIRST`).join(", ");
      let order = p.shuffle ? `${meta}.h` : sorted;
      if (!p.shuffle && col && p.strategy === "time") order = `${ident(col.name)} NULLS FIRST, ${sorted}`;
      const outputs = { train: ctx.newTable("train"), test: ctx.newTable("test") };
      for (const [port, name] of Object.entries(outputs)) {
        await ctx.sql.run(
          `CREATE OR REPLACE TABLE ${ident(name)} AS
           SELECT * EXCLUDE (${meta}) FROM ${marked}
           WHERE ${port === "test" ? "" : "NOT "}${meta}.test ORDER BY ${order}`,
        );
      }
      ctx.metric("train_rows", input.rows - test);
      ctx.metric("test_rows", test);
      return {
        train: { type: "table", name: outputs.train },
        test: { type: "table", name: outputs.test },
      };
    } finally {
      await ctx.sql.run(`DROP TABLE IF EXISTS temp.main.${marked}`);
    }
  },
});
