/**
 * Runs a suite over one table in few queries ("passes"):
 *   1. one aggregate query: the row count, every row-level expectation's
 *      considered and unexpected counts (COUNT(*) FILTER), every aggregate,
 *      and, as a scalar subquery, one GROUP BY GROUPING SETS over the column
 *      sets of every uniqueness expectation (counts and the most repeated
 *      values);
 *   2. when some row-level expectation has unexpected rows: one UNION ALL of
 *      `LIMIT 20` selects for their partial_unexpected_list.
 * Should DuckDB reject the aggregate statement, each expectation is evaluated
 * on its own so that one bad expectation loses nothing else (more passes).
 * Cheap queries that read no rows (DESCRIBE, compiling regexes, checking that
 * bounds cast to a column's type) are not counted.
 */

import type {
  ExpectationConfig,
  ExpectationResult,
  ExpectationSuite,
  ValidationReport,
} from "../../values/expectations";
import { ident, literal, type SqlSession } from "../sql";
import { type CastCheck, type Compiled, Compiler, fromJson, jsonReady, textSql } from "./compile";
import { nameOf } from "./suite";

export interface RunSuiteOptions {
  signal?: AbortSignal;
  suiteSource?: string;
}

const PARTIAL = 20;

type DupsPlan = Extract<Compiled, { kind: "dups" }>;

const REGEX_TYPES = new Set([
  "expect_column_values_to_match_regex",
  "expect_column_values_to_not_match_regex",
]);

/** Compiles every expectation; regexes and typed bounds are checked by DuckDB first (no table scan). */
export async function compileSuite(
  sql: SqlSession,
  table: string,
  suite: ExpectationSuite,
): Promise<{ plans: Compiled[]; columns: { name: string; type: string }[] }> {
  const columns = await sql.columns(table);
  const regexErrors = new Map<string, string | undefined>();
  for (const e of suite.expectations) {
    const r = e.kwargs?.regex;
    if (!REGEX_TYPES.has(e.expectation_type) || typeof r !== "string" || regexErrors.has(r)) continue;
    try {
      await sql.all(`SELECT regexp_matches('', ${textSql(r)}) AS m`);
      regexErrors.set(r, undefined);
    } catch (err) {
      const msg = (err as Error).message.replace(/^[A-Za-z ]*Error: /, "");
      regexErrors.set(
        r,
        `DuckDB cannot compile the regex ${JSON.stringify(r)}: ${msg}. DuckDB uses RE2 syntax, which has no lookahead/lookbehind and no backreferences (\\1) that Python's re allows.`,
      );
    }
  }
  const compiler = new Compiler(columns);
  const castOwner: number[] = [];
  const plans = suite.expectations.map((config, i) => {
    const before = compiler.casts.length;
    const plan = compiler.compile(config, i, (r) => regexErrors.get(r));
    for (let j = before; j < compiler.casts.length; j++) castOwner[j] = i;
    return plan;
  });
  if (compiler.casts.length > 0) {
    const row = await sql.one(`SELECT [${compiler.casts.map((c: CastCheck) => c.sql).join(", ")}] AS ok`);
    const ok = row.ok as boolean[];
    ok.forEach((good, j) => {
      const i = castOwner[j]!;
      if (!good && plans[i]!.kind !== "fail")
        plans[i] = {
          kind: "fail",
          message: `${nameOf(i, suite.expectations[i])}: ${compiler.casts[j]!.message}`,
        };
    });
  }
  return { plans, columns };
}

/** `base`, or base_2, base_3… : a helper column name that none of the table's columns has. */
function fresh(base: string, taken: Iterable<string>): string {
  const names = new Set([...taken].map((n) => n.toLowerCase()));
  let name = base;
  for (let k = 2; names.has(name.toLowerCase()); k++) name = `${base}_${k}`;
  return name;
}

function percent(part: number, whole: number): number | null {
  return whole > 0 ? (part / whole) * 100 : null;
}

/** great_expectations/expectations/expectation.py `_format_map_output` (BASIC) and ColumnMapExpectation._validate. */
function mapResult(
  plan: { overAll: boolean; mostly: number },
  rows: number,
  considered: number,
  unexpected: number,
  partial: unknown[],
): { success: boolean; result: Record<string, unknown> } {
  if (plan.overAll) {
    const success = rows === 0 ? true : (rows - unexpected) / rows >= plan.mostly;
    return {
      success,
      result: {
        element_count: rows,
        unexpected_count: unexpected,
        unexpected_percent: percent(unexpected, rows),
        partial_unexpected_list: partial,
      },
    };
  }
  const missing = rows - considered;
  const success =
    rows === 0 || considered === 0 ? true : (considered - unexpected) / considered >= plan.mostly;
  return {
    success,
    result: {
      element_count: rows,
      unexpected_count: unexpected,
      unexpected_percent: percent(unexpected, considered),
      partial_unexpected_list: partial,
      missing_count: missing,
      missing_percent: percent(missing, rows),
      unexpected_percent_total: percent(unexpected, rows),
      unexpected_percent_nonmissing: percent(unexpected, considered),
    },
  };
}

function resultOf(
  config: ExpectationConfig,
  outcome: { success: boolean; result: Record<string, unknown> },
  exception?: string,
): ExpectationResult {
  return {
    expectation_type: config.expectation_type,
    kwargs: config.kwargs ?? {},
    success: outcome.success,
    result: outcome.result,
    expectation_config: {
      expectation_type: config.expectation_type,
      kwargs: config.kwargs ?? {},
      ...(config.meta ? { meta: config.meta } : {}),
    },
    exception_info: {
      raised_exception: exception !== undefined,
      exception_message: exception ?? null,
      exception_traceback: null,
    },
    meta: config.meta ?? {},
  };
}

/** The grouping sets query: one GROUP BY over every uniqueness expectation's column set. */
function dupsQuery(table: string, dups: { i: number; plan: DupsPlan }[]): string {
  const all: string[] = [];
  for (const { plan } of dups) for (const c of plan.columns) if (!all.includes(c)) all.push(c);
  // The group's id and size sit beside the table's columns: their names must not be one of them.
  const gidName = fresh("__dagwood_gid", all);
  const nName = fresh("__dagwood_n", all);
  const [GID, N] = [ident(gidName), ident(nName)];
  const gid = (cols: string[]) =>
    all.reduce((acc, c, idx) => acc + (cols.includes(c) ? 0 : 2 ** (all.length - 1 - idx)), 0);
  const sets = new Map<string, string[]>();
  for (const { plan } of dups) sets.set([...plan.columns].sort().join("\u0000"), plan.columns);
  const cols = all.map(ident).join(", ");
  const groupingSets = [...sets.values()].map((s) => `(${s.map(ident).join(", ")})`).join(", ");
  const selects = dups.flatMap(({ i, plan }) => {
    const where = `${GID} = ${gid(plan.columns)} AND (${plan.keep})`;
    // The most repeated groups as structs (cheap per group); made JSON only for the 20 kept.
    const struct = `{${plan.columns.map((c) => `${literal(c)}: ${ident(c)}`).join(", ")}, ${literal(nName)}: ${N}}`;
    const field = (c: string) => `__dagwood_g.${ident(c)}`;
    const value = plan.single
      ? jsonReady(field(plan.columns[0]!), plan.types[0]!)
      : `json_object(${plan.columns.map((c, k) => `${literal(c)}, ${jsonReady(field(c), plan.types[k]!)}`).join(", ")})`;
    return [
      `'c${i}': coalesce(sum(${N}) FILTER (WHERE ${where}), 0)::BIGINT`,
      `'u${i}': coalesce(sum(${N}) FILTER (WHERE ${where} AND ${N} > 1), 0)::BIGINT`,
      `'s${i}': to_json(list_transform(arg_max(${struct}, ${N}, ${PARTIAL}) FILTER (WHERE ${where} AND ${N} > 1), __dagwood_g -> json_array(${value}, __dagwood_g.${N})))`,
    ];
  });
  // One row, one struct column: it runs alone or as a scalar subquery of the aggregate pass.
  return `WITH g AS (SELECT GROUPING(${cols}) AS ${GID}, ${cols}, count(*) AS ${N} FROM ${ident(table)} GROUP BY GROUPING SETS (${groupingSets})) SELECT {${selects.join(", ")}} FROM g`;
}

export async function runSuite(
  sql: SqlSession,
  table: string,
  suite: ExpectationSuite,
  opts: RunSuiteOptions = {},
): Promise<ValidationReport> {
  const started = new Date();
  opts.signal?.throwIfAborted();
  const { plans } = await compileSuite(sql, table, suite);
  let passes = 0;

  // Pass 1: the row count, row-level counts and aggregates.
  const exprs = new Map<string, string>();
  const alias = (e: string) => {
    let a = exprs.get(e);
    if (!a) {
      a = `e${exprs.size}`;
      exprs.set(e, a);
    }
    return a;
  };
  const rowsAlias = alias("count(*)");
  const refs: { considered?: string; unexpected?: string; aggs?: string[] }[] = plans.map((p) => {
    if (p.kind === "row")
      return {
        considered: alias(p.considered === "TRUE" ? "count(*)" : `count(*) FILTER (WHERE ${p.considered})`),
        unexpected: alias(`count(*) FILTER (WHERE (${p.considered}) AND (${p.unexpected}))`),
      };
    if (p.kind === "agg") return { aggs: p.exprs.map(alias) };
    return {};
  });
  const errors = new Map<number, string>();
  let values: Record<string, unknown> = {};
  const selectList = (entries: [string, string][]) => entries.map(([e, a]) => `${e} AS ${a}`).join(", ");
  // Uniqueness needs a GROUP BY: one GROUPING SETS query for all of them, folded into the
  // aggregate pass as a scalar subquery (one statement; DuckDB runs both scans in it).
  const dups = plans.flatMap((p, i) => (p.kind === "dups" ? [{ i, plan: p }] : []));
  let dupRow: Record<string, unknown> | undefined;
  // One expression DuckDB rejects must not lose the others: each expectation on its own.
  const eachAlone = async (): Promise<void> => {
    for (const [i, ref] of refs.entries()) {
      const own = [ref.considered, ref.unexpected, ...(ref.aggs ?? [])].filter((a): a is string => !!a);
      if (own.length === 0) continue;
      const entries = [...exprs].filter(([, a]) => own.includes(a));
      try {
        Object.assign(values, await sql.one(`SELECT ${selectList(entries)} FROM ${ident(table)}`));
        passes++;
      } catch (e) {
        if (opts.signal?.aborted || /INTERRUPT/.test(String(e))) throw e;
        errors.set(
          i,
          `${nameOf(i, suite.expectations[i])}: DuckDB could not compute it: ${(e as Error).message}`,
        );
      }
    }
  };
  opts.signal?.throwIfAborted();
  try {
    const folded = dups.length > 0 ? `, (${dupsQuery(table, dups)}) AS __dagwood_dups` : "";
    values = await sql.one(`SELECT ${selectList([...exprs])}${folded} FROM ${ident(table)}`);
    dupRow = values.__dagwood_dups as Record<string, unknown> | undefined;
    passes++;
  } catch (err) {
    if (opts.signal?.aborted || /INTERRUPT/.test(String(err))) throw err;
    // Maybe only the uniqueness fold failed: the aggregates alone, in one statement (uniqueness follows).
    const alone =
      dups.length > 0
        ? await sql.one(`SELECT ${selectList([...exprs])} FROM ${ident(table)}`).catch((e: unknown) => {
            if (opts.signal?.aborted || /INTERRUPT/.test(String(e))) throw e;
            return undefined;
          })
        : undefined;
    if (alone) {
      values = alone;
      passes++;
    } else {
      values = await sql.one(`SELECT count(*) AS ${rowsAlias} FROM ${ident(table)}`);
      passes++;
      await eachAlone();
    }
  }
  const rows = Number(values[rowsAlias] ?? 0);

  // Uniqueness on its own when the folded statement failed: all together, else each alone
  // (so one that DuckDB refuses fails alone).
  const dupValues = new Map<number, { considered: number; unexpected: number; partial: unknown[] }>();
  if (dups.length > 0 && !dupRow) {
    const attempt = async (group: typeof dups): Promise<boolean> => {
      opts.signal?.throwIfAborted();
      try {
        const one = await sql.one<{ d: Record<string, unknown> }>(`SELECT (${dupsQuery(table, group)}) AS d`);
        dupRow = { ...(dupRow ?? {}), ...one.d };
        passes++;
        return true;
      } catch (e) {
        if (opts.signal?.aborted || /INTERRUPT/.test(String(e))) throw e;
        if (group.length === 1)
          for (const { i } of group)
            errors.set(
              i,
              `${nameOf(i, suite.expectations[i])}: DuckDB could not compute it: ${(e as Error).message}`,
            );
        return false;
      }
    };
    if (!(await attempt(dups))) for (const d of dups.length > 1 ? dups : []) await attempt([d]);
  }
  if (dupRow) {
    const r = dupRow;
    for (const { i } of dups) {
      if (errors.has(i) || !(`c${i}` in r)) continue;
      const partial: unknown[] = [];
      for (const [value, n] of (fromJson(r[`s${i}`]) as [unknown, number][] | null) ?? []) {
        for (let k = 0; k < n && partial.length < PARTIAL; k++) partial.push(value);
        if (partial.length >= PARTIAL) break;
      }
      dupValues.set(i, { considered: Number(r[`c${i}`]), unexpected: Number(r[`u${i}`]), partial });
    }
  }

  // Pass 2: partial_unexpected_list of the row-level expectations with unexpected rows.
  const partials = new Map<number, unknown[]>();
  const withUnexpected = plans.flatMap((p, i) =>
    p.kind === "row" && !errors.has(i) && Number(values[refs[i]!.unexpected!]) > 0 ? [{ i, plan: p }] : [],
  );
  if (withUnexpected.length > 0) {
    opts.signal?.throwIfAborted();
    const union = withUnexpected
      .map(
        ({ i, plan }) =>
          `SELECT ${i} AS i, * FROM (SELECT ${plan.value} AS v FROM (SELECT * FROM ${ident(table)} WHERE (${plan.considered}) AND (${plan.unexpected}) LIMIT ${PARTIAL}))`,
      )
      .join(" UNION ALL ");
    const got = await sql.all<{ i: number; v: unknown }>(union);
    passes++;
    for (const { i, v } of got) {
      const list = partials.get(i) ?? [];
      list.push(fromJson(v));
      partials.set(i, list);
    }
  }

  const results: ExpectationResult[] = plans.map((plan, i) => {
    const config = suite.expectations[i]!;
    const err = errors.get(i);
    if (err) return resultOf(config, { success: false, result: {} }, err);
    switch (plan.kind) {
      case "fail":
        return resultOf(config, { success: false, result: {} }, plan.message);
      case "table":
        return resultOf(config, plan.evaluate(rows));
      case "row":
        return resultOf(
          config,
          mapResult(
            plan,
            rows,
            Number(values[refs[i]!.considered!]),
            Number(values[refs[i]!.unexpected!]),
            partials.get(i) ?? [],
          ),
        );
      case "dups": {
        const d = dupValues.get(i)!;
        return resultOf(
          config,
          mapResult({ overAll: false, mostly: plan.mostly }, rows, d.considered, d.unexpected, d.partial),
        );
      }
      default:
        return resultOf(config, plan.evaluate(refs[i]!.aggs!.map((a) => values[a])));
    }
  });

  const successful = results.filter((r) => r.success).length;
  return {
    kind: "validation",
    success: successful === results.length,
    statistics: {
      evaluated_expectations: results.length,
      successful_expectations: successful,
      unsuccessful_expectations: results.length - successful,
      success_percent: results.length ? (successful / results.length) * 100 : null,
    },
    results,
    meta: {
      expectation_suite_name: suite.expectation_suite_name,
      rows,
      ...(opts.suiteSource !== undefined ? { suite_source: opts.suiteSource } : {}),
      passes,
      validation_time: started.toISOString(),
    },
  };
}

export async function quarantineRows(
  sql: SqlSession,
  table: string,
  suite: ExpectationSuite,
  outTable: string,
  rejectedTable: string,
  rejectColumns: { expectation: string; reason: string },
  opts: { signal?: AbortSignal } = {},
): Promise<{ kept: number; rejected: number }> {
  opts.signal?.throwIfAborted();
  const { plans, columns } = await compileSuite(sql, table, suite);
  const names = columns.map((c) => c.name);
  for (const added of [rejectColumns.expectation, rejectColumns.reason]) {
    if (names.some((n) => n.toLowerCase() === added.toLowerCase()))
      throw new Error(
        `The table already has a column "${added}", which quarantine adds to each rejected row (with ${rejectColumns.expectation} and ${rejectColumns.reason}): rename that column before validating, e.g. with a SQL block (SELECT * RENAME (${added} AS ${added}_in)).`,
      );
  }
  const rowName = ident(fresh("__dagwood_row", names));
  const flags: { flag: string; type: string; reason: string }[] = [];
  const flagExprs: string[] = [];
  plans.forEach((p, i) => {
    const name = fresh(`__dagwood_flag_${i}`, names);
    let expr: string;
    if (p.kind === "row") expr = `coalesce((${p.considered}) AND (${p.unexpected}), FALSE)`;
    else if (p.kind === "dups")
      expr = `coalesce((${p.keep}) AND count(*) OVER (PARTITION BY ${p.columns.map(ident).join(", ")}) > 1, FALSE)`;
    else return;
    flagExprs.push(`${expr} AS ${ident(name)}`);
    flags.push({ flag: ident(name), type: suite.expectations[i]!.expectation_type, reason: p.reason });
  });
  if (flags.length === 0) {
    await sql.run(`CREATE OR REPLACE TABLE ${ident(outTable)} AS SELECT * FROM ${ident(table)}`);
    await sql.run(
      `CREATE OR REPLACE TABLE ${ident(rejectedTable)} AS SELECT *, NULL::VARCHAR AS ${ident(rejectColumns.expectation)}, NULL::VARCHAR AS ${ident(rejectColumns.reason)} FROM ${ident(table)} LIMIT 0`,
    );
    const n = await sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident(outTable)}`);
    return { kept: Number(n.n), rejected: 0 };
  }
  const tmp = `__dagwood_quarantine_${Math.random().toString(36).slice(2, 10)}`;
  const excl = flags.map((f) => f.flag).join(", ");
  const any = flags.map((f) => f.flag).join(" OR ");
  try {
    // A temp table keeps the input order (the window functions of uniqueness flags do not).
    await sql.run(
      `CREATE TEMP TABLE ${ident(tmp)} AS SELECT *, ${flagExprs.join(", ")} FROM (SELECT *, row_number() OVER () AS ${rowName} FROM ${ident(table)}) ORDER BY ${rowName}`,
    );
    opts.signal?.throwIfAborted();
    await sql.run(
      `CREATE OR REPLACE TABLE ${ident(outTable)} AS SELECT * EXCLUDE (${excl}, ${rowName}) FROM ${ident(tmp)} WHERE NOT (${any}) ORDER BY ${rowName}`,
    );
    opts.signal?.throwIfAborted();
    await sql.run(
      `CREATE OR REPLACE TABLE ${ident(rejectedTable)} AS SELECT * EXCLUDE (${excl}, ${rowName}), concat_ws('; ', ${flags.map((f) => `CASE WHEN ${f.flag} THEN ${literal(f.type)} END`).join(", ")}) AS ${ident(rejectColumns.expectation)}, concat_ws('; ', ${flags.map((f) => `CASE WHEN ${f.flag} THEN ${literal(`${f.type}: `)} || (${f.reason}) END`).join(", ")}) AS ${ident(rejectColumns.reason)} FROM ${ident(tmp)} WHERE ${any} ORDER BY ${rowName}`,
    );
  } finally {
    await sql.run(`DROP TABLE IF EXISTS ${ident(tmp)}`).catch(() => {});
  }
  const counts = await sql.one<{ kept: number; rejected: number }>(
    `SELECT (SELECT count(*) FROM ${ident(outTable)}) AS kept, (SELECT count(*) FROM ${ident(rejectedTable)}) AS rejected`,
  );
  return { kept: Number(counts.kept), rejected: Number(counts.rejected) };
}
