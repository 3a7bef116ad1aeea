/**
 * Data drift between a reference and a current table, with Evidently's
 * default tests computed as Evidently computes them (evidently 0.7,
 * src/evidently/legacy/calculations/stattests/ and data_drift.py). Text
 * columns' counts and distinct values, every histogram and value count run in
 * DuckDB where the data is. A numeric column's values are read out of DuckDB
 * once per side and sorted here: its counts, distinct values and extremes are
 * read off them, and KS, the Wasserstein integral and the standard deviation
 * computed from them (app/monitoring/stats.ts), as are the p-values.
 */
import type { DuckDBMaterializedResult } from "@duckdb/node-api";
import { ident, isNumericType, isTemporalType, type Row, type SqlSession } from "../data/sql";
import {
  type DriftColumn,
  type DriftColumnType,
  DriftReport,
  type DriftTestName,
  P_VALUE_TESTS,
} from "../values/drift";
import {
  chiSquare,
  fillZeroShares,
  jensenShannon,
  ks2samp,
  populationStd,
  proportionsZTest,
  psi,
  sortDoubles,
  sturgesEdges,
  wasserstein,
} from "./stats";
import type { DriftOptions, DriftTable } from "./types";

/** A problem with what drift was asked to compare (an unknown column, a test that cannot apply): say it and stop. */
export class DriftInputError extends Error {}

/** Evidently's default thresholds: p-values 0.05, distances 0.1. */
export const DEFAULT_THRESHOLD: Record<DriftTestName, number> = {
  ks: 0.05,
  chisquare: 0.05,
  z: 0.05,
  wasserstein: 0.1,
  jensenshannon: 0.1,
  psi: 0.1,
};

/** Evidently's switch from p-value tests to distances (registry.py _get_default_stattest). */
export const SMALL_REFERENCE_ROWS = 1000;
/** Evidently's NUMBER_UNIQUE_AS_CATEGORICAL (data_preprocessing.py). */
const UNIQUE_AS_CATEGORICAL = 5;
/** get_binned_data bins numeric columns whose reference has more distinct values than this; below, it counts values. */
const BIN_ABOVE_DISTINCT = 20;
/**
 * Distinct values are counted exactly up to this many and reported when both sides have at most this many;
 * beyond, only "more" is known (the tests only turn on counts ≤ 20).
 */
const EXACT_DISTINCT_BELOW = 1000;

const NUMERIC_ONLY: readonly DriftTestName[] = ["ks", "wasserstein"];

type SqlKind = "number" | "boolean" | "text" | "temporal";
const sqlKind = (type: string): SqlKind =>
  isNumericType(type)
    ? "number"
    : type === "BOOLEAN"
      ? "boolean"
      : isTemporalType(type) || /^TIMESTAMP/.test(type)
        ? "temporal"
        : "text";
const isInteger = (type: string) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|U?HUGEINT)$/.test(type);

interface Plan {
  column: string;
  role: DriftColumn["role"];
  refType: string;
  curType: string | null;
  /** Position in the union projection (v<i>); -1 when the column is not tested. */
  i: number;
  numeric: boolean;
  /** The current side holds the column hashed (the log's privacy policy): the reference side is hashed alike. */
  hashRef?: boolean;
}

interface Counts {
  refAll: number;
  curAll: number;
  refN: number;
  curN: number;
  /**
   * Distinct values of the reference and the current data: exact up to EXACT_DISTINCT_BELOW, else more (numbers: the
   * count stopped at EXACT_DISTINCT_BELOW + 1; text: a HyperLogLog estimate).
   */
  refDistinct: number;
  curDistinct: number;
  /** Distinct values over both sides; null when more than EXACT_DISTINCT_BELOW (not counted: no test choice depends on it). */
  distinct: number | null;
  min: number | null;
  max: number | null;
}

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function blank(plan: Plan, extra: Partial<DriftColumn>): DriftColumn {
  return {
    column: plan.column,
    role: plan.role,
    type: null,
    sqlType: { reference: plan.refType, current: plan.curType },
    test: null,
    tested: false,
    statistic: null,
    pValue: null,
    threshold: null,
    drifted: false,
    level: null,
    missing: { reference: 0, current: 0 },
    rows: { reference: 0, current: 0 },
    distinct: null,
    schema: null,
    reason: null,
    ...extra,
  };
}

/** Evidently's column typing (data_preprocessing.py _get_column_type), with its target and prediction rules. */
function columnType(plan: Plan, c: Counts): DriftColumnType {
  const kind = sqlKind(plan.refType);
  if (kind !== "number") return "categorical";
  const nunique = c.refDistinct || c.curDistinct;
  if (plan.role === "target") return nunique > UNIQUE_AS_CATEGORICAL ? "numeric" : "categorical";
  if (plan.role === "prediction") {
    const few = nunique <= UNIQUE_AS_CATEGORICAL;
    if (few && isInteger(plan.refType)) return "categorical";
    if (few && ((c.max ?? 0) > 1 || (c.min ?? 0) < 0)) return "categorical";
    return "numeric";
  }
  if (isInteger(plan.refType) && nunique <= UNIQUE_AS_CATEGORICAL) return "categorical";
  return "numeric";
}

/** Evidently's default test (registry.py _get_default_stattest). */
export function defaultTest(type: DriftColumnType, referenceRows: number, distinct: number): DriftTestName {
  if (referenceRows <= SMALL_REFERENCE_ROWS) {
    if (type === "numeric" && distinct > UNIQUE_AS_CATEGORICAL) return "ks";
    return distinct > 2 ? "chisquare" : "z";
  }
  if (type === "numeric" && distinct > UNIQUE_AS_CATEGORICAL) return "wasserstein";
  return "jensenshannon";
}

/**
 * HMAC-SHA256(key, text) as app/privacy/secret.ts hashValue writes it ("hmac:" + 32 hex), in DuckDB SQL:
 * H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)) with the key padded to SHA-256's 64-byte block (RFC 2104, section 2).
 * NULL stays NULL; "" stays "" (the log keeps a missing text input unhashed).
 */
export function hmacSql(key: Buffer, text: string): string {
  const block = Buffer.alloc(64);
  key.copy(block);
  const pad = (byte: number) => `unhex('${Buffer.from(block.map((b) => b ^ byte)).toString("hex")}')`;
  return `CASE WHEN ${text} = '' THEN '' ELSE 'hmac:' || left(sha256(${pad(0x5c)} || unhex(sha256(${pad(0x36)} || encode(${text})))), 32) END`;
}

export async function computeDrift(
  sql: SqlSession,
  reference: DriftTable,
  current: DriftTable,
  options: DriftOptions = {},
): Promise<DriftReport> {
  const shareThreshold = options.shareThreshold ?? 0.5;
  const minRows = options.minRows ?? 1;
  const refTypes = new Map(reference.columns.map((c) => [c.name, c.type]));
  const curTypes = new Map(current.columns.map((c) => [c.name, c.type]));
  const named = [options.target, options.prediction].filter((c): c is string => !!c);
  const wanted = options.columns?.length
    ? [...options.columns, ...named.filter((c) => !options.columns!.includes(c))]
    : reference.columns.map((c) => c.name);
  const unknown = wanted.filter((c) => !refTypes.has(c));
  if (unknown.length) {
    throw new DriftInputError(
      `${unknown.map((c) => `"${c}"`).join(", ")} ${unknown.length === 1 ? "is" : "are"} not a column of the reference; its columns are ${reference.columns.map((c) => c.name).join(", ")}.`,
    );
  }
  for (const [col, test] of Object.entries(options.tests ?? {})) {
    if (!wanted.includes(col))
      throw new DriftInputError(`tests names "${col}", which is not a column tested.`);
    if (!DEFAULT_THRESHOLD[test]) throw new DriftInputError(`Unknown test "${test}" for "${col}".`);
  }
  for (const [col, t] of Object.entries(options.thresholds ?? {})) {
    if (!wanted.includes(col))
      throw new DriftInputError(`thresholds names "${col}", which is not a column tested.`);
    if (!Number.isFinite(t) || t < 0)
      throw new DriftInputError(`The threshold for "${col}" must be a number ≥ 0, got ${t}.`);
  }

  const plans: Plan[] = [];
  const columns = new Map<string, DriftColumn>();
  let next = 0;
  for (const column of wanted) {
    const refType = refTypes.get(column)!;
    const curType = curTypes.get(column) ?? null;
    const role =
      column === options.target ? "target" : column === options.prediction ? "prediction" : "feature";
    const plan: Plan = { column, role, refType, curType, i: -1, numeric: sqlKind(refType) === "number" };
    plans.push(plan);
    const privacy = options.privacy;
    if (curType === null && privacy?.dropped?.includes(column)) {
      columns.set(
        column,
        blank(plan, {
          reason:
            "Left out of the inference log by the model's privacy policy (drop): absent by design, not tested.",
        }),
      );
    } else if (curType !== null && privacy?.hashed?.includes(column)) {
      if (sqlKind(refType) === "number")
        columns.set(
          column,
          blank(plan, {
            reason:
              "Hashed in the inference log by the model's privacy policy: a hashed number cannot be compared with the reference's numbers, so it is not tested.",
          }),
        );
      else if (!privacy.key)
        columns.set(
          column,
          blank(plan, {
            reason:
              "Hashed in the inference log by the model's privacy policy: comparing it with the reference needs the project's privacy key.",
          }),
        );
      else {
        plan.hashRef = true;
        plan.i = next++;
      }
    } else if (curType === null) {
      columns.set(
        column,
        blank(plan, {
          schema: "missing",
          drifted: true,
          reason: "The column is missing from the current data.",
        }),
      );
    } else if (sqlKind(refType) !== sqlKind(curType)) {
      columns.set(
        column,
        blank(plan, {
          schema: "retyped",
          drifted: true,
          reason: `The column is ${refType} in the reference but ${curType} in the current data.`,
        }),
      );
    } else if (sqlKind(refType) === "temporal") {
      columns.set(
        column,
        blank(plan, { reason: "Date and time columns are not tested (Evidently leaves them out of drift)." }),
      );
    } else plan.i = next++;
  }
  const tested = plans.filter((p) => p.i >= 0);

  // One projection of both sides: v<i> is the value, NULL when missing (for numbers also NaN and ±Infinity, which Evidently drops).
  const floating = (type: string | null) => type !== null && /^(DOUBLE|FLOAT|REAL)$/.test(type);
  const expr = (p: Plan, s: number) => {
    const c = ident(p.column);
    // The reference's categories hashed as the log hashed the current ones (HMAC-SHA256 in SQL; "" stays "").
    if (p.hashRef && s === 0 && options.privacy?.key)
      return `${hmacSql(options.privacy.key, `CAST(${c} AS VARCHAR)`)} AS v${p.i}`;
    // Entries logged in clear before the policy hashed the input (an earlier deploy) are hashed alike,
    // or their values would meet the reference's hashes as categories of their own.
    if (p.hashRef && s === 1 && options.privacy?.key) {
      const text = `CAST(${c} AS VARCHAR)`;
      return `CASE WHEN starts_with(${text}, 'hmac:') THEN ${text} ELSE ${hmacSql(options.privacy.key, text)} END AS v${p.i}`;
    }
    if (!p.numeric) return `CAST(${c} AS VARCHAR) AS v${p.i}`;
    // Integers and decimals are always finite: the test is spared where neither side is floating-point.
    return floating(p.refType) || floating(p.curType)
      ? `CASE WHEN isfinite(CAST(${c} AS DOUBLE)) THEN CAST(${c} AS DOUBLE) END AS v${p.i}`
      : `CAST(${c} AS DOUBLE) AS v${p.i}`;
  };
  const side = (s: number, t: DriftTable) =>
    `SELECT ${s} AS s${tested.map((p) => `, ${expr(p, s)}`).join("")} FROM ${ident(t.name)}`;
  const union = `(${side(0, reference)} UNION ALL ${side(1, current)})`;

  // Text and boolean columns, per side, without FILTER clauses (which cost DuckDB more than the scan):
  // counts and a HyperLogLog estimate of distinct values. The tests turn on small distinct counts only
  // (2, 5, 20), so where an estimate is small the counts are redone exactly, and a large one is left
  // uncounted. Numeric columns are counted from their sorted values instead (numericCounts below).
  const counted = tested.filter((p) => !p.numeric);
  const sideStats = async (sideSql: string, prefix: string) => {
    const aggs = [`count(*) AS ${prefix}`];
    for (const p of counted) {
      const v = `v${p.i}`;
      aggs.push(`count(${v}) AS ${prefix}${p.i}`, `approx_count_distinct(${v}) AS ${prefix}d${p.i}`);
    }
    return await sql.one(`SELECT ${aggs.join(", ")} FROM (${sideSql})`);
  };
  const cache = options.referenceCache;
  const side0 = side(0, reference);
  const side1 = side(1, current);
  const refStats = async () => {
    const key = `stats ${counted.map((p) => p.i).join(",")} of ${side0}`;
    const hit = cache?.stats.get(key);
    if (hit) return hit;
    const got = await sideStats(side0, "r");
    cache?.stats.set(key, got);
    return got;
  };
  // Also holds each numeric column's summary of the reference (numericCounts), cached with it.
  const refRecord = await refStats();
  const s = { ...refRecord, ...(await sideStats(side1, "c")) };
  const small = counted.filter(
    (p) => Number(s[`rd${p.i}`]) <= EXACT_DISTINCT_BELOW && Number(s[`cd${p.i}`]) <= EXACT_DISTINCT_BELOW,
  );
  if (small.length) {
    const exact = await sql.one(
      `SELECT ${small
        .flatMap((p) => [
          `count(DISTINCT v${p.i}) FILTER (WHERE s = 0) AS rd${p.i}`,
          `count(DISTINCT v${p.i}) FILTER (WHERE s = 1) AS cd${p.i}`,
          `count(DISTINCT v${p.i}) AS d${p.i}`,
        ])
        .join(", ")} FROM ${union}`,
    );
    Object.assign(s, exact);
  }
  const exactDistinct = new Set(small.map((p) => p.i));
  const refAll = Number(s.r);
  const curAll = Number(s.c);
  for (const c of columns.values()) c.rows = { reference: refAll, current: curAll };

  // From here one statement at a time runs on the connection, queued: the next numeric column's values
  // are read by DuckDB (on its threads) while this one's are sorted and tested here.
  let busy: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(f: () => Promise<T>): Promise<T> => {
    const run = busy.then(f, f);
    busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
  const queue: Query = { all: (q) => exclusive(() => sql.all(q)) };
  const sampleKey = (p: Plan) => `v${p.i} of ${side0}`;
  const numeric = tested.filter((p) => p.numeric);
  const reads = new Map<
    Plan,
    { ref: Promise<DuckDBMaterializedResult> | null; cur: Promise<DuckDBMaterializedResult> }
  >();
  const readLater = (sideSql: string, p: Plan) => {
    const read = exclusive(() => readColumn(sql, sideSql, p));
    read.catch(() => undefined); // awaited when the column's turn comes; until then a failure must not go unhandled
    return read;
  };
  const prefetch = (p: Plan | undefined) => {
    if (!p || reads.has(p)) return;
    const known = refRecord[`summary${p.i}`] !== undefined || cache?.samples.has(sampleKey(p));
    reads.set(p, { ref: known ? null : readLater(side0, p), cur: readLater(side1, p) });
  };

  /**
   * A numeric column's counts, read off its sorted values on each side (exact, in one pass each): the
   * current side's values are kept for KS and Wasserstein, the reference's too when a cache is given.
   */
  const numericCounts = async (p: Plan) => {
    const key = sampleKey(p);
    prefetch(p);
    const pending = reads.get(p)!;
    reads.delete(p);
    const refRead = pending.ref && (await pending.ref);
    const curRead = await pending.cur;
    prefetch(numeric[numeric.indexOf(p) + 1]);
    let ref = cache?.samples.get(key);
    let refSummary = refRecord[`summary${p.i}`] as Summary | undefined;
    if (!refSummary) {
      ref ??= sortedValues(refRead ?? (await readLater(side0, p)));
      refSummary = summarize(ref);
      refRecord[`summary${p.i}`] = refSummary;
    }
    const cur = sortedValues(curRead);
    const curSummary = summarize(cur);
    const counts: Counts = {
      refAll,
      curAll,
      refN: refSummary.n,
      curN: curSummary.n,
      refDistinct: refSummary.distinct,
      curDistinct: curSummary.distinct,
      distinct: null,
      min: minOf(refSummary.min, curSummary.min),
      max: maxOf(refSummary.max, curSummary.max),
    };
    /** Both sides' values, the reference's read again when it was counted from the cache. */
    const sample = async (): Promise<Sample> => {
      ref ??= sortedValues(await readLater(side0, p));
      cache?.samples.set(key, ref);
      return { ref, cur };
    };
    if (refSummary.uniques && curSummary.uniques)
      counts.distinct = distinctOfBoth(refSummary.uniques, curSummary.uniques);
    return { counts, sample };
  };

  try {
    for (const p of tested) {
      let c: Counts;
      let sample: (() => Promise<Sample>) | undefined;
      if (p.numeric) ({ counts: c, sample } = await numericCounts(p));
      else
        c = {
          refAll,
          curAll,
          refN: Number(s[`r${p.i}`]),
          curN: Number(s[`c${p.i}`]),
          refDistinct: Number(s[`rd${p.i}`]),
          curDistinct: Number(s[`cd${p.i}`]),
          distinct: exactDistinct.has(p.i) ? Number(s[`d${p.i}`]) : null,
          min: null,
          max: null,
        };
      const type = columnType(p, c);
      const chosen = options.tests?.[p.column];
      const base = blank(p, {
        type,
        missing: { reference: refAll - c.refN, current: curAll - c.curN },
        rows: { reference: c.refN, current: c.curN },
        distinct: c.distinct,
      });
      if (c.refN < minRows || c.curN < minRows) {
        const which = c.refN < minRows ? `the reference has ${c.refN}` : `the current data has ${c.curN}`;
        columns.set(p.column, {
          ...base,
          test: chosen ?? null,
          reason: `Too few values to test: ${which} non-missing value${(c.refN < minRows ? c.refN : c.curN) === 1 ? "" : "s"}, fewer than ${minRows}.`,
        });
        continue;
      }
      const test = chosen ?? defaultTest(type, c.refN, c.distinct ?? Number.POSITIVE_INFINITY);
      if (NUMERIC_ONLY.includes(test) && !p.numeric) {
        throw new DriftInputError(
          `Test "${test}" needs a numeric column; "${p.column}" is ${p.refType}. Use chisquare, z, jensenshannon or psi.`,
        );
      }
      const threshold = options.thresholds?.[p.column] ?? DEFAULT_THRESHOLD[test];
      // KS and Wasserstein need every value, sorted: one column at a time, so only its two samples are held.
      const values = test === "ks" || test === "wasserstein" ? await sample!() : undefined;
      const { statistic, pValue } = await runTest(queue, union, p, c, test, type, values);
      const isP = P_VALUE_TESTS.includes(test);
      const value = isP ? pValue! : statistic!;
      if (Number.isNaN(value)) {
        // scipy's chisquare over a single category has no degrees of freedom: p is NaN, and NaN < threshold is false.
        columns.set(p.column, {
          ...base,
          test,
          tested: true,
          statistic: Number.isFinite(statistic) ? statistic : null,
          threshold,
          reason: `${test} is undefined here (a single category): not drifted, as in Evidently.`,
        });
        continue;
      }
      // ks_stattest.py: p_value <= threshold; chisquare and z: p_value < threshold; distances: value >= threshold.
      const drifted = test === "ks" ? value <= threshold : isP ? value < threshold : value >= threshold;
      columns.set(p.column, {
        ...base,
        test,
        tested: true,
        statistic: Number.isFinite(statistic) ? statistic : null,
        pValue: isP ? pValue : null,
        threshold,
        drifted,
        level: test === "psi" ? (statistic! > 0.2 ? "major" : statistic! >= 0.1 ? "moderate" : "none") : null,
      });
    }
  } finally {
    // A read started ahead for a column never reached (an error above) ends before the connection is handed back.
    await busy;
  }

  const out = plans.map((p) => columns.get(p.column)!);
  const considered = out.filter((c) => c.tested || c.schema);
  const driftedColumns = considered.filter((c) => c.drifted).length;
  const share = considered.length ? driftedColumns / considered.length : 0;
  return DriftReport.parse({
    kind: "drift",
    rows: { reference: refAll, current: curAll },
    columns: out,
    driftedColumns,
    consideredColumns: considered.length,
    share,
    shareThreshold,
    datasetDrift: considered.length > 0 && share >= shareThreshold,
    addedColumns: current.columns.map((c) => c.name).filter((n) => !refTypes.has(n)),
  });
}

/** The one call the tests make on DuckDB (a SqlSession, or a queue in front of one). */
interface Query {
  all<T extends Row = Row>(sql: string): Promise<T[]>;
}

interface TestResult {
  statistic: number | null;
  pValue: number | null;
}

async function runTest(
  sql: Query,
  union: string,
  p: Plan,
  c: Counts,
  test: DriftTestName,
  type: DriftColumnType,
  sample: Sample | undefined,
): Promise<TestResult> {
  const v = `v${p.i}`;
  switch (test) {
    case "ks": {
      const k = ks2samp(sample!.ref, sample!.cur);
      return { statistic: k.statistic, pValue: k.pValue };
    }
    case "wasserstein": {
      // wasserstein_distance_norm.py: scipy.stats.wasserstein_distance / max(np.std(reference), 0.001).
      const norm = Math.max(populationStd(sample!.ref), 0.001);
      return { statistic: wasserstein(sample!.ref, sample!.cur) / norm, pValue: null };
    }
    case "chisquare":
    case "z": {
      const counts = await valueCounts(sql, union, v);
      if (test === "chisquare") {
        // chisquare_stattest.py: expected = reference count × (current n / reference n).
        const k = c.curN / c.refN;
        const r = chiSquare(
          counts.map((x) => x.cur),
          counts.map((x) => x.ref * k),
        );
        return { statistic: r.statistic, pValue: r.pValue };
      }
      // z_stattest.py: both sides the same single value → p = 1; else the share of values other than the smallest key.
      if (c.refDistinct === 1 && c.curDistinct === 1 && counts.length === 1)
        return { statistic: null, pValue: 1 };
      const first = counts[0]!;
      const z = proportionsZTest(c.refN - first.ref, c.refN, c.curN - first.cur, c.curN);
      return { statistic: z.statistic, pValue: z.pValue };
    }
    case "jensenshannon":
    case "psi": {
      const { ref, cur } = await binnedShares(sql, union, p, c, type);
      if (test === "jensenshannon") return { statistic: jensenShannon(ref, cur), pValue: null };
      return { statistic: psi(fillZeroShares(ref), fillZeroShares(cur)), pValue: null };
    }
  }
}

interface Sample {
  ref: Float64Array;
  cur: Float64Array;
}

/** What the tests need to know of a numeric column's values on one side. */
interface Summary {
  /** Non-missing values. */
  n: number;
  /** Distinct values, counted up to EXACT_DISTINCT_BELOW + 1 (which stands for "more"): no test turns on more. */
  distinct: number;
  min: number | null;
  max: number | null;
  /** The distinct values, ascending, when there are at most EXACT_DISTINCT_BELOW of them (else null). */
  uniques: number[] | null;
}

/** Counts, distinct values and extremes of ascending values, in one pass that stops past EXACT_DISTINCT_BELOW distinct values. */
function summarize(sorted: Float64Array): Summary {
  const n = sorted.length;
  const uniques: number[] = [];
  for (let k = 0; k < n && uniques.length <= EXACT_DISTINCT_BELOW; k++)
    if (k === 0 || sorted[k] !== sorted[k - 1]) uniques.push(sorted[k]!);
  const few = uniques.length <= EXACT_DISTINCT_BELOW;
  return {
    n,
    distinct: uniques.length,
    min: n ? sorted[0]! : null,
    max: n ? sorted[n - 1]! : null,
    uniques: few ? uniques : null,
  };
}

/** The number of distinct values in the union of two ascending lists of distinct values. */
function distinctOfBoth(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! < b[j]!) i++;
    else if (a[i]! > b[j]!) j++;
    else {
      shared++;
      i++;
      j++;
    }
  }
  return a.length + b.length - shared;
}

/** The non-missing values of one column on one side, as DuckDB materializes them. */
function readColumn(sql: SqlSession, sideSql: string, p: Plan): Promise<DuckDBMaterializedResult> {
  const v = `v${p.i}`;
  return sql.connection.run(`SELECT ${v} FROM (${sideSql}) WHERE ${v} IS NOT NULL`);
}

/**
 * Values read by readColumn, ascending: DuckDB's DOUBLE vectors are copied
 * out whole (a streamed read costs a round trip per 2,048-row chunk, and
 * reading value by value several times the scan), then radix-sorted here
 * (stats.ts sortDoubles), which measured as fast as DuckDB's ORDER BY plus
 * the copy.
 */
function sortedValues(result: DuckDBMaterializedResult): Float64Array {
  const values = new Float64Array(result.rowCount);
  let n = 0;
  for (let k = 0; k < result.chunkCount; k++) {
    const chunk = result.getChunk(k);
    const rows = chunk.rowCount;
    const vector = chunk.getColumnVector(0);
    // A DOUBLE vector's items are a Float64Array over DuckDB's memory (@duckdb/node-api DuckDBDoubleVector).
    const items = (vector as { items?: unknown }).items;
    if (items instanceof Float64Array && items.length === rows) values.set(items, n);
    else for (let r = 0; r < rows; r++) values[n + r] = vector.getItem(r) as number;
    n += rows;
  }
  return sortDoubles(n === values.length ? values : values.slice(0, n));
}

/** Each non-missing value's count on each side, the values in ascending order (Evidently sorts the keys for the z-test). */
async function valueCounts(sql: Query, union: string, v: string): Promise<{ ref: number; cur: number }[]> {
  const rows = await sql.all<{ ref: number; cur: number }>(
    `SELECT count(*) FILTER (WHERE s = 0) AS ref, count(*) FILTER (WHERE s = 1) AS cur
     FROM ${union} WHERE ${v} IS NOT NULL GROUP BY ${v} ORDER BY ${v}`,
  );
  return rows.map((r) => ({ ref: Number(r.ref), cur: Number(r.cur) }));
}

/**
 * Evidently's get_binned_data (utils.py): numeric columns whose reference has
 * more than 20 distinct values go into numpy.histogram over Sturges edges of
 * both sides together (a value on an edge goes to the bin on its right, the
 * last bin holds its right edge); other columns are counted per value. Shares
 * are of each side's non-missing rows.
 */
async function binnedShares(
  sql: Query,
  union: string,
  p: Plan,
  c: Counts,
  type: DriftColumnType,
): Promise<{ ref: number[]; cur: number[] }> {
  const v = `v${p.i}`;
  if (type === "numeric" && c.refDistinct > BIN_ABOVE_DISTINCT) {
    const edges = sturgesEdges(c.refN + c.curN, c.min!, c.max!);
    const bins = edges.length - 1;
    const list = `[${edges.map((e) => `CAST(${e} AS DOUBLE)`).join(", ")}]`;
    const lo = edges[0]!;
    const width = (edges[bins]! - lo) / bins;
    // A first guess from the bin width, corrected by one against the exact edges (DuckDB lists count from 1).
    const guess = `least(greatest(CAST(floor((${v} - CAST(${lo} AS DOUBLE)) / CAST(${width} AS DOUBLE)) AS INTEGER), 0), ${bins - 1})`;
    const rows = await sql.all<{ b: number; ref: number; cur: number }>(
      `WITH e AS (SELECT ${list} AS edges),
       g AS (SELECT s, ${v} AS x, ${guess} AS b0 FROM ${union} WHERE ${v} IS NOT NULL)
       SELECT b, count(*) FILTER (WHERE s = 0) AS ref, count(*) FILTER (WHERE s = 1) AS cur FROM (
         SELECT s, CASE WHEN b0 > 0 AND x < edges[b0 + 1] THEN b0 - 1
                        WHEN b0 < ${bins - 1} AND x >= edges[b0 + 2] THEN b0 + 1 ELSE b0 END AS b
         FROM g, e) GROUP BY b`,
    );
    const ref = new Array<number>(bins).fill(0);
    const cur = new Array<number>(bins).fill(0);
    for (const r of rows) {
      ref[r.b] = Number(r.ref) / c.refN;
      cur[r.b] = Number(r.cur) / c.curN;
    }
    return { ref, cur };
  }
  const counts = await valueCounts(sql, union, v);
  return { ref: counts.map((x) => x.ref / c.refN), cur: counts.map((x) => x.cur / c.curN) };
}
