import { decodeChunk } from "./chunks";
import { metricValue, placeholders, RUN_COLUMNS, type RunRow, runsWithTags } from "./rows";
import type { Sql, SqlParam } from "./sql";
import type { RunComparison, RunCondition, RunListItem, RunPage, RunQuery } from "./types";

/**
 * Run search and comparison. Keys and values are user input: they reach SQL
 * only as bound parameters; operators and sort columns come from fixed tables.
 */

const MAX_LIMIT = 1000;
export const MAX_COMPARE = 100;

const ORDER_OPS = new Set<RunCondition["op"]>(["<", "<=", ">", ">="]);
/** The operators and fields a condition may use: `op` is written into the SQL text, so it is checked here. */
const OPS = new Set<string>(["=", "!=", "<", "<=", ">", ">=", "contains"]);
const FIELDS = new Set<string>(["param", "metric", "tag"]);

interface Clause {
  text: string;
  args: SqlParam[];
}

function asNumber(c: RunCondition): number | undefined {
  if (typeof c.value === "number") return c.value;
  if (typeof c.value === "string" && c.value.trim() !== "") {
    const n = Number(c.value);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

const describeCondition = (c: RunCondition) =>
  `${c.field} condition "${c.key} ${c.op} ${JSON.stringify(c.value)}"`;

/** `<column> <op> ?` for '!=' also true where the column is NULL (NaN metric, non-numeric param). */
function compare(column: string, op: RunCondition["op"], arg: SqlParam): Clause {
  if (op === "!=") return { text: `(${column} IS NULL OR ${column} != ?)`, args: [arg] };
  return { text: `${column} ${op} ?`, args: [arg] };
}

/** Whether `value op num` holds for a number (a non-number compares as NULL: only '!=' holds). */
function holds(value: number | undefined, op: RunCondition["op"], num: number): boolean {
  if (value === undefined || Number.isNaN(value)) return op === "!=";
  switch (op) {
    case "=":
      return value === num;
    case "!=":
      return value !== num;
    case "<":
      return value < num;
    case "<=":
      return value <= num;
    case ">":
      return value > num;
    case ">=":
      return value >= num;
    default:
      return false;
  }
}

/** A tag's text as a number (when the whole text is one), or undefined. */
function tagNumber(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function conditionSql(sql: Sql, c: RunCondition): Clause {
  // The Api validates conditions too; this builder does not rely on its callers for what reaches SQL.
  if (!FIELDS.has(c.field)) {
    throw new Error(
      `Bad run condition: unknown field ${JSON.stringify(c.field)}; use "param", "metric" or "tag".`,
    );
  }
  if (!OPS.has(c.op)) {
    throw new Error(
      `Bad ${describeCondition(c)}: unknown operator ${JSON.stringify(c.op)}; use one of = != < <= > >= contains.`,
    );
  }
  if (typeof c.key !== "string") {
    throw new Error(`Bad run condition: the key must be text; got ${JSON.stringify(c.key)}.`);
  }
  const num = asNumber(c);
  if (c.field === "metric") {
    if (c.op === "contains")
      throw new Error(`Bad ${describeCondition(c)}: metrics are numbers; use = != < <= > >=.`);
    if (num === undefined)
      throw new Error(`Bad ${describeCondition(c)}: a metric is compared with a number.`);
    const cmp = compare("m.value", c.op, num);
    return {
      text: `EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.id AND m.key = ? AND ${cmp.text})`,
      args: [c.key, ...cmp.args],
    };
  }
  if (
    c.field === "tag" &&
    typeof c.value !== "boolean" &&
    c.op !== "contains" &&
    (typeof c.value === "number" || (ORDER_OPS.has(c.op) && num !== undefined))
  ) {
    // Tags are text: a numeric comparison reads the key's values and compares them here, the same
    // on both databases (SQL would have to cast text that may not be a number).
    const matching = sql
      .rows("SELECT run_id, value FROM run_tags WHERE key = ?", c.key)
      .filter(([, value]) => holds(tagNumber(value as string), c.op, num!))
      .map(([runId]) => runId as string);
    return { text: `r.id IN ${sql.inJson()}`, args: [JSON.stringify(matching)] };
  }
  let cmp: Clause;
  if (c.op === "contains") {
    const column = c.field === "param" ? "p.str" : "p.value";
    cmp = { text: sql.contains(column), args: [String(c.value)] };
  } else if (typeof c.value === "boolean") {
    if (ORDER_OPS.has(c.op))
      throw new Error(`Bad ${describeCondition(c)}: true/false can only be compared with = or !=.`);
    cmp = compare(c.field === "param" ? "p.str" : "p.value", c.op, String(c.value));
  } else if (c.field === "param") {
    // A number compares numerically (against params that are numbers); text compares as text.
    cmp =
      typeof c.value === "number" || (ORDER_OPS.has(c.op) && num !== undefined)
        ? compare("p.num", c.op, num!)
        : compare("p.str", c.op, c.value);
  } else {
    cmp = compare("p.value", c.op, c.value);
  }
  const table = c.field === "param" ? "run_params" : "run_tags";
  return {
    text: `EXISTS (SELECT 1 FROM ${table} p WHERE p.run_id = r.id AND p.key = ? AND ${cmp.text})`,
    args: [c.key, ...cmp.args],
  };
}

function filterSql(sql: Sql, q: RunQuery): Clause {
  const parts: string[] = [];
  const args: SqlParam[] = [];
  if (q.pipeline !== undefined) {
    parts.push("r.pipeline = ?");
    args.push(q.pipeline);
  }
  if (q.status && q.status.length > 0) {
    parts.push(`r.status IN ${sql.inJson()}`);
    args.push(JSON.stringify(q.status));
  }
  for (const [field, column] of [
    ["user", "r.user"],
    ["host", "r.host"],
  ] as const) {
    const value = q[field];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw new Error(`Bad run filter: ${field} must be text; got ${JSON.stringify(value)}.`);
    }
    parts.push(`${column} = ?`);
    args.push(value);
  }
  if (q.parentRunId !== undefined) {
    parts.push("r.parent_run_id = ?");
    args.push(q.parentRunId);
  } else if (!q.includeChildren) {
    parts.push("r.parent_run_id IS NULL");
  }
  for (const c of q.where ?? []) {
    const clause = conditionSql(sql, c);
    parts.push(clause.text);
    args.push(...clause.args);
  }
  return { text: parts.length > 0 ? `WHERE ${parts.join(" AND ")}` : "", args };
}

function orderSql(q: RunQuery): { join: Clause; order: string } {
  const o = q.orderBy ?? { field: "startedAt", desc: true };
  const dir = o.desc ? "DESC" : "ASC";
  const tie = "r.started_at DESC, r.id";
  const needKey = () => {
    if (!o.key)
      throw new Error(`Sorting by ${o.field} needs a key (e.g. "eval.accuracy" or "train.maxDepth").`);
    return o.key;
  };
  switch (o.field) {
    case "metric":
      return {
        join: { text: "LEFT JOIN latest_metrics s ON s.run_id = r.id AND s.key = ?", args: [needKey()] },
        order: `s.value IS NULL, s.value ${dir}, ${tie}`,
      };
    case "param":
      return {
        join: { text: "LEFT JOIN run_params s ON s.run_id = r.id AND s.key = ?", args: [needKey()] },
        order: `s.run_id IS NULL, s.num IS NULL, s.num ${dir}, s.str ${dir}, ${tie}`,
      };
    case "startedAt":
      return { join: { text: "", args: [] }, order: `r.started_at ${dir}, r.id` };
    case "duration":
      return { join: { text: "", args: [] }, order: `r.duration_ms IS NULL, r.duration_ms ${dir}, ${tie}` };
    case "status":
      return { join: { text: "", args: [] }, order: `r.status ${dir}, ${tie}` };
    case "pipeline":
      return { join: { text: "", args: [] }, order: `r.pipeline ${dir}, ${tie}` };
    default:
      throw new Error(`Cannot sort runs by "${(o as { field: string }).field}".`);
  }
}

function checkPaging(q: RunQuery): { limit: number; offset: number } {
  const limit = q.limit ?? 50;
  const offset = q.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new Error(`A run search returns 1 to ${MAX_LIMIT} runs per page; got limit ${limit}.`);
  }
  if (!Number.isInteger(offset) || offset < 0)
    throw new Error(`The offset must be 0 or more; got ${offset}.`);
  return { limit, offset };
}

export function searchRuns(sql: Sql, q: RunQuery): RunPage {
  const { limit, offset } = checkPaging(q);
  const filter = filterSql(sql, q);
  const { join, order } = orderSql(q);

  // One pass over the matching runs, in order: the page, the total and the key lists
  // (runs share key sets, so the lists come from a handful of ids).
  const matches = sql.rows(
    `SELECT r.id, r.param_keyset, r.metric_keyset FROM runs r ${join.text} ${filter.text} ORDER BY ${order}`,
    ...join.args,
    ...filter.args,
  ) as [string, number | null, number | null][];
  const total = matches.length;
  const paramSets = new Set<number>();
  const metricSets = new Set<number>();
  for (const [, p, m] of matches) {
    if (p !== null) paramSets.add(p);
    if (m !== null) metricSets.add(m);
  }
  const keysOf = (ids: Set<number>): string[] => {
    const keys = new Set<string>();
    // Numbers, so placeholders (inJson's values are text on PostgreSQL), a few hundred per statement.
    const all = [...ids];
    for (let i = 0; i < all.length; i += 500) {
      const part = all.slice(i, i + 500);
      const texts = sql.column<string>(
        `SELECT keys FROM keysets WHERE id IN ${placeholders(part.length)}`,
        ...part,
      );
      for (const t of texts) for (const k of JSON.parse(t) as string[]) keys.add(k);
    }
    return [...keys].sort();
  };

  const pageIds = matches.slice(offset, offset + limit).map(([id]) => id);
  const found = new Map(
    sql
      .all<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id IN ${sql.inJson()}`, JSON.stringify(pageIds))
      .map((r) => [r.id, r]),
  );
  const rows = pageIds.map((id) => found.get(id)!);
  const records = runsWithTags(sql, rows);
  const ids = JSON.stringify(rows.map((r) => r.id));
  const items: RunListItem[] = records.map((r) => ({ ...r, metrics: {}, resolvedParams: {} }));
  const byId = new Map(items.map((r) => [r.id, r]));

  if (rows.length > 0 && q.paramKeys && q.paramKeys.length > 0) {
    const params = sql.rows(
      `SELECT run_id, key, value FROM run_params WHERE run_id IN ${sql.inJson()} AND key IN ${sql.inJson()}`,
      ids,
      JSON.stringify(q.paramKeys),
    ) as [string, string, string][];
    for (const [runId, key, value] of params) byId.get(runId)!.resolvedParams[key] = JSON.parse(value);
  }
  if (rows.length > 0 && (q.metricKeys === undefined || q.metricKeys.length > 0)) {
    const metrics = (
      q.metricKeys === undefined
        ? sql.rows(
            `SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ${sql.inJson()}`,
            ids,
          )
        : sql.rows(
            `SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ${sql.inJson()} AND key IN ${sql.inJson()}`,
            ids,
            JSON.stringify(q.metricKeys),
          )
    ) as [string, string, number | null, number][];
    for (const [runId, key, value, isNan] of metrics)
      byId.get(runId)!.metrics[key] = metricValue(value, isNan);
  }
  return { runs: items, total, paramKeys: keysOf(paramSets), metricKeys: keysOf(metricSets) };
}

export function compareRuns(sql: Sql, requested: string[]): RunComparison {
  const ids = [...new Set(requested)];
  if (ids.length === 0) throw new Error("Choose at least one run to compare.");
  if (ids.length > MAX_COMPARE) {
    throw new Error(
      `At most ${MAX_COMPARE} runs can be compared at once; got ${ids.length}. Select fewer runs.`,
    );
  }
  const idsJson = JSON.stringify(ids);
  const found = sql.all<RunRow & { param_keyset: number | null }>(
    `SELECT ${RUN_COLUMNS}, r.param_keyset FROM runs r WHERE r.id IN ${sql.inJson()}`,
    idsJson,
  );
  const rowById = new Map(found.map((r) => [r.id, r]));
  const missing = ids.filter((id) => !rowById.has(id));
  if (missing.length > 0) {
    throw new Error(
      `Cannot compare: no run ${missing.map((id) => `"${id}"`).join(", ")} in this project. List the runs with: dagwood runs list`,
    );
  }
  const runs = runsWithTags(
    sql,
    ids.map((id) => rowById.get(id)!),
  );
  const index = new Map(ids.map((id, i) => [id, i]));

  const paramText = new Map<string, (string | undefined)[]>();
  const paramRows = sql.rows(
    `SELECT run_id, key, value FROM run_params WHERE run_id IN ${sql.inJson()}`,
    idsJson,
  ) as [string, string, string][];
  for (const [runId, key, value] of paramRows) {
    let texts = paramText.get(key);
    if (!texts) {
      texts = new Array(ids.length).fill(undefined);
      paramText.set(key, texts);
    }
    texts[index.get(runId)!] = value;
  }
  // A run from before resolved params were tracked has none: absent because never recorded is no difference.
  const paramsRecorded = ids.map((id) => rowById.get(id)!.param_keyset !== null);
  const params = [...paramText.entries()]
    .map(([key, texts]) => {
      const recorded = texts.filter((_, i) => paramsRecorded[i]);
      return {
        key,
        values: texts.map((t) => (t === undefined ? null : JSON.parse(t))),
        differs: recorded.some((t) => t !== recorded[0]),
      };
    })
    .sort((a, b) => Number(b.differs) - Number(a.differs) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const differingNodes = [
    ...new Set(params.filter((p) => p.differs).map((p) => p.key.split(".")[0]!)),
  ].sort();

  const latest = new Map<string, (number | null)[]>();
  const latestRows = sql.rows(
    `SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ${sql.inJson()}`,
    idsJson,
  ) as [string, string, number | null, number][];
  for (const [runId, key, value, isNan] of latestRows) {
    let values = latest.get(key);
    if (!values) {
      values = new Array(ids.length).fill(null);
      latest.set(key, values);
    }
    values[index.get(runId)!] = metricValue(value, isNan);
  }
  const metrics = [...latest.entries()]
    .map(([key, values]) => ({ key, values }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  // A key is a curve if any run logged it with a step, or more than once. Points come packed (chunks.ts).
  const series = new Map<string, Map<string, Float64Array[]>>();
  const curveKeys = new Set<string>();
  const chunks = sql.rows(
    `SELECT run_id, key, n, points FROM metric_chunks WHERE run_id IN ${sql.inJson()} ORDER BY run_id, key, chunk`,
    idsJson,
  ) as [string, string, number, Buffer][];
  for (const [runId, key, n, blob] of chunks) {
    let perRun = series.get(key);
    if (!perRun) {
      perRun = new Map();
      series.set(key, perRun);
    }
    let parts = perRun.get(runId);
    if (!parts) {
      parts = [];
      perRun.set(runId, parts);
    }
    const pairs = decodeChunk(blob);
    parts.push(pairs);
    if (parts.length > 1 || n > 1 || !Number.isNaN(pairs[0])) curveKeys.add(key);
  }
  const curves = [...curveKeys].sort().map((key) => ({
    key,
    series: ids
      .filter((id) => series.get(key)!.has(id))
      .map((runId) => {
        const pts: [number, number][] = [];
        for (const pairs of series.get(key)!.get(runId)!) {
          for (let i = 0; i < pairs.length; i += 2) {
            const step = pairs[i]!;
            pts.push([Number.isNaN(step) ? pts.length : step, pairs[i + 1]!]);
          }
        }
        pts.sort((a, b) => a[0] - b[0]);
        return { runId, points: pts };
      }),
  }));

  return { runs, paramsRecorded, params, metrics, curves, differingNodes };
}
