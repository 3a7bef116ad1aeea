/**
 * `dagwood runs list|show|compare|export` and `dagwood models
 * list|show|alias|export`: the Api's tracking methods over the project's
 * metadata store. They open only the store (not the DuckDB workspace), so
 * they work while a run is in progress in the same project.
 */
import { isAbsolute, resolve } from "node:path";
import { ApiError, type ApiMethod, type ApiResults, parseApiArgs } from "../api/api";
import type { TrackingMethod } from "../api/api-methods";
import { describeAudit } from "../api/audit";
import { createTrackingHandlers, toApiError } from "../api/tracking";
import { currentUser } from "../engine/environment";
import {
  type AuditEntry,
  MODEL_NAME,
  type ModelVersion,
  type RunCondition,
  type RunListItem,
  type RunQuery,
  type RunRecord,
  type RunStatus,
} from "../store/types";
import { type ExportedFolder, exportModelVersion, exportRun, type TrackingContext } from "../tracking/export";
import { type Deprecation, IsoDate } from "../values/governance";
import { type GateFigures, gateFiguresText, type ProductionRecord } from "../values/registry";
import { ownerLabel } from "../values/run-owner";
import {
  EXIT,
  findProjectStore,
  type Io,
  openMetadataStore,
  parse,
  runSubcommand,
  type Subcommands,
  UsageError,
} from "./args";
import { formatMs, formatTime, formatValue, renderTable, toJson } from "./format";
import { confirmUnmasked, UNMASK_OPTIONS } from "./unmask";

const STATUSES: RunStatus[] = ["running", "succeeded", "failed", "canceled", "interrupted"];
const RUN_FIELDS = new Set(["startedAt", "duration", "status", "pipeline"]);
/** How many metric columns `runs list` shows besides the ones a filter or sort names. */
const LIST_METRICS = 4;
/** Metric names of model quality (what evaluate logs): `runs list` shows these before counts and timings. */
const QUALITY_METRICS = new Set([
  "accuracy",
  "balanced_accuracy",
  "roc_auc",
  "auc",
  "f1",
  "f1_macro",
  "precision",
  "recall",
  "log_loss",
  "rmse",
  "mae",
  "r2",
]);

type Call = <M extends TrackingMethod>(method: M, args: unknown) => Promise<ApiResults[M]>;
type Tracked = (call: Call, context: TrackingContext) => Promise<number>;

/** Opens the project's metadata store (never creating one) and runs `fn` with the Api's tracking methods. */
async function withTracking(io: Io, projectOpt: unknown, fn: Tracked): Promise<number> {
  const found = await findProjectStore(
    io,
    projectOpt,
    (dir) =>
      `No Dagwood runs in ${dir}: run a pipeline there first (dagwood run <pipeline>), or pass --project DIR.`,
  );
  if (!found) return EXIT.failed;
  const { dir, db } = found;
  const metadata = await openMetadataStore(io, dir, db);
  if (!metadata) return EXIT.failed;
  const context: TrackingContext = { dir, metadata };
  const handlers = createTrackingHandlers(() => context);
  const call: Call = async (method, args) => {
    const parsed = parseApiArgs(method as ApiMethod, args);
    try {
      return await (handlers[method] as (a: unknown) => Promise<never>)(parsed);
    } catch (e) {
      throw toApiError(e);
    }
  };
  try {
    return await fn(call, context);
  } catch (caught) {
    const e = toApiError(caught);
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 400) throw new UsageError(e.message);
    io.stderr.write(`${e.message}\n`);
    return EXIT.failed;
  } finally {
    metadata.close();
  }
}

// ------------------------------------------------------------------ runs

/** Parses `key<op>value`; the key's prefix (metric:, param:, tag:) or the known metric keys decide the field. */
export function parseCondition(text: string, metricKeys: readonly string[]): RunCondition {
  const m = /^(?:(metric|param|tag):)?([^<>=!~]+?)\s*(==|>=|<=|!=|=|<|>|~)\s*(.*)$/s.exec(text.trim());
  if (!m?.[4])
    throw new UsageError(
      `--where "${text}": write key, operator and value, e.g. 'train.maxDepth=6', 'evaluate.accuracy>0.9', 'tag:owner~ana' (operators = != < <= > >= ~)`,
    );
  const key = m[2]!.trim();
  const op = (m[3] === "==" ? "=" : m[3] === "~" ? "contains" : m[3]) as RunCondition["op"];
  const raw = m[4].trim().replace(/^(['"])(.*)\1$/s, "$2");
  const field =
    (m[1] as RunCondition["field"] | undefined) ?? (metricKeys.includes(key) ? "metric" : "param");
  if (field === "tag") return { field, key, op, value: raw };
  if (field === "metric") {
    const value = Number(raw);
    if (op === "contains" || raw === "" || Number.isNaN(value))
      throw new UsageError(
        `--where "${text}": ${key} is a metric; compare it with a number (= != < <= > >=)`,
      );
    return { field, key, op, value };
  }
  const value =
    raw === "true"
      ? true
      : raw === "false"
        ? false
        : raw !== "" && Number.isFinite(Number(raw))
          ? Number(raw)
          : raw;
  return { field, key, op, value };
}

/** Parses `--sort [-]key`: a run field, else a metric when such a metric exists, else a param. */
export function parseSort(text: string, metricKeys: readonly string[]): NonNullable<RunQuery["orderBy"]> {
  const desc = text.startsWith("-");
  const spec = text.replace(/^[-+]/, "");
  if (!spec)
    throw new UsageError(
      `--sort "${text}": name a metric, a param or one of startedAt, duration, status, pipeline`,
    );
  if (RUN_FIELDS.has(spec)) return { field: spec as "startedAt", desc };
  const m = /^(metric|param):(.+)$/.exec(spec);
  if (m) return { field: m[1] as "metric" | "param", key: m[2]!, desc };
  return { field: metricKeys.includes(spec) ? "metric" : "param", key: spec, desc };
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known key nearest to `key`: one that ends with `.key` first (a metric named without its node), else by edit distance. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const suffixed = known.filter((k) => k.endsWith(`.${key}`)).sort();
  if (suffixed.length) return suffixed[0];
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of [...known].sort()) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/**
 * Refuses a --where or --sort key that no matching run has as a metric or a
 * param (a typo would otherwise filter every run out, or sort by nothing).
 */
export function checkKeys(
  named: readonly { field: string; key?: string; explicit?: boolean }[],
  keys: { metricKeys: readonly string[]; paramKeys: readonly string[] },
): void {
  const all = [...keys.metricKeys, ...keys.paramKeys];
  for (const { field, key, explicit } of named) {
    if (key === undefined || field === "tag") continue;
    // A bare key may be either; a prefixed one (metric:, param:) must be of its kind.
    const kind = explicit && (field === "metric" || field === "param") ? field : undefined;
    const known = kind === "metric" ? keys.metricKeys : kind === "param" ? keys.paramKeys : all;
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    const what = kind ? `${kind} key` : "key";
    throw new UsageError(
      near
        ? `Unknown ${what} "${key}". Did you mean "${near}"?`
        : `Unknown ${what} "${key}": no matching run has it. \`dagwood runs show <run-id>\` lists a run's params and metrics.`,
    );
  }
}

/** The metric columns `runs list` shows by default: quality metrics first, then the keys most runs have. */
export function defaultMetricColumns(
  runs: readonly { metrics: Record<string, number> }[],
  n: number,
): string[] {
  const counts = new Map<string, number>();
  for (const r of runs) for (const k of Object.keys(r.metrics)) counts.set(k, (counts.get(k) ?? 0) + 1);
  const quality = (k: string) => (QUALITY_METRICS.has(k.slice(k.lastIndexOf(".") + 1)) ? 0 : 1);
  // Ties by code point, not localeCompare: loading ICU's collation costs `runs list` ~10 ms.
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...counts.keys()]
    .sort((a, b) => quality(a) - quality(b) || counts.get(b)! - counts.get(a)! || byName(a, b))
    .slice(0, n);
}

function parseCount(name: string, text: unknown, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} takes a whole number ${min}..${max}, got "${text}"`);
  return n;
}

function runDuration(r: RunRecord): string {
  return r.durationMs === null ? "—" : formatMs(r.durationMs);
}

/** `--sort -metric` reads naturally, but parseArgs takes "-metric" for an option: join it as `--sort=-metric`. */
function joinSortValue(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === "--sort" && next !== undefined && /^-[^-]/.test(next)) {
      out.push(`--sort=${next}`);
      i++;
    } else out.push(args[i]!);
  }
  return out;
}

async function runsList(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(joinSortValue(args), {
    project: { type: "string" },
    pipeline: { type: "string" },
    status: { type: "string", multiple: true },
    where: { type: "string", multiple: true },
    sort: { type: "string" },
    limit: { type: "string" },
    offset: { type: "string" },
    user: { type: "string" },
    host: { type: "string" },
    mine: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (positionals.length)
    throw new UsageError("runs list takes no positional arguments (filter with --where)");
  if (values.mine && values.user !== undefined)
    throw new UsageError("--mine and --user both name whose runs to list: give one of them");
  const status = ((values.status as string[] | undefined) ?? []).flatMap((s) => s.split(","));
  for (const s of status)
    if (!STATUSES.includes(s as RunStatus))
      throw new UsageError(`--status "${s}": one of ${STATUSES.join(", ")}`);
  const limit = parseCount("limit", values.limit, 1, 1000) ?? 20;
  const offset = parseCount("offset", values.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  return withTracking(io, values.project, async (call) => {
    const base = {
      pipeline: values.pipeline as string | undefined,
      status: status.length ? status : undefined,
      user: values.user as string | undefined,
      host: values.host as string | undefined,
      mine: values.mine as boolean | undefined,
    };
    // The keys that exist decide whether a bare key in --where or --sort is a metric or a param.
    const keys = await call("searchRuns", { ...base, limit: 1, metricKeys: [] });
    const where = ((values.where as string[] | undefined) ?? []).map((w) =>
      parseCondition(w, keys.metricKeys),
    );
    const orderBy = values.sort ? parseSort(values.sort as string, keys.metricKeys) : undefined;
    const whereTexts = (values.where as string[] | undefined) ?? [];
    const named = [...where.map((w) => ({ field: w.field, key: w.key })), ...(orderBy?.key ? [orderBy] : [])];
    // Only when some run matches the other filters: with none, there are no keys to check against.
    if (keys.total)
      checkKeys(
        [
          ...where.map((w, i) => ({ ...w, explicit: /^\s*(metric|param|tag):/.test(whereTexts[i]!) })),
          ...(orderBy?.key
            ? [{ ...orderBy, explicit: /^[-+]?(metric|param):/.test(values.sort as string) }]
            : []),
        ],
        keys,
      );
    const paramColumns = [...new Set(named.filter((n) => n.field === "param").map((n) => n.key!))];
    const metricColumns = [...new Set(named.filter((n) => n.field === "metric").map((n) => n.key!))];
    const page = await call("searchRuns", {
      ...base,
      where,
      orderBy,
      limit,
      offset,
      paramKeys: paramColumns,
    });
    if (values.json) {
      io.stdout.write(toJson(page));
      return EXIT.ok;
    }
    if (!page.runs.length) {
      io.stdout.write(
        page.total ? `No runs at offset ${offset} (${page.total} match).\n` : "No runs match.\n",
      );
      return EXIT.ok;
    }
    const metricCount = Math.max(LIST_METRICS, metricColumns.length);
    for (const k of defaultMetricColumns(page.runs, metricCount + metricColumns.length)) {
      if (metricColumns.length >= metricCount) break;
      if (!metricColumns.includes(k)) metricColumns.push(k);
    }
    const header = [
      "id",
      "pipeline",
      "status",
      "started",
      "by",
      "duration",
      ...paramColumns,
      ...metricColumns,
    ];
    const rows = page.runs.map((r: RunListItem) => [
      r.id,
      r.pipeline,
      r.status,
      formatTime(r.startedAt),
      ownerLabel(r),
      runDuration(r),
      ...paramColumns.map((k) => formatValue(r.resolvedParams[k])),
      ...metricColumns.map((k) => formatValue(r.metrics[k])),
    ]);
    const numeric = new Set(header.map((_, i) => i).filter((i) => i >= 5));
    io.stdout.write(`${renderTable(header, rows, numeric)}\n`);
    const last = offset + page.runs.length;
    const more = last < page.total ? ` — --offset ${last} for the next page` : "";
    io.stdout.write(`\n${offset + 1}–${last} of ${page.total} run${page.total === 1 ? "" : "s"}${more}\n`);
    return EXIT.ok;
  });
}

function environmentLine(env: RunRecord["environment"]): string {
  const parts = [
    env.dagwood && `dagwood ${env.dagwood}`,
    env.node && `node ${env.node}`,
    env.os,
    env.duckdb && `duckdb ${env.duckdb}`,
    env.tfjsBackend && `tfjs ${env.tfjsBackend}`,
    env.gitCommit && `git ${String(env.gitCommit).slice(0, 10)}${env.gitDirty ? " (dirty)" : ""}`,
  ];
  return parts.filter(Boolean).join(" · ") || "—";
}

async function runsShow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("runs show takes exactly one run id");
  return withTracking(io, values.project, async (call) => {
    const d = await call("getRun", { runId: positionals[0] });
    if (values.json) {
      io.stdout.write(toJson(d));
      return EXIT.ok;
    }
    const r = d.run;
    const out: string[] = [
      `Run ${r.id}  ${r.pipeline}  ${r.status}${r.kind === "trial" ? ` (trial of ${r.parentRunId})` : ""}`,
    ];
    out.push(
      `  started   ${formatTime(r.startedAt)} UTC${r.user ? ` by ${r.user}` : ""}${r.host ? ` on ${r.host}` : ""}, took ${runDuration(r)}`,
    );
    if (r.pipelinePath || r.pipelineHash)
      out.push(
        `  pipeline  ${r.pipelinePath ?? "(not from a file)"}${r.pipelineHash ? `  sha256 ${r.pipelineHash.slice(0, 12)}` : ""}`,
      );
    out.push(`  env       ${environmentLine(r.environment)}`);
    if (Object.keys(r.tags).length)
      out.push(
        `  tags      ${Object.entries(r.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")}`,
      );
    if (r.note) out.push(`  note      ${r.note}`);
    if (r.error) out.push(`  error     ${r.error}`);
    if (d.nodes.length) {
      out.push("", "Nodes");
      out.push(
        indent(
          renderTable(
            ["node", "block", "status", "time"],
            d.nodes.map((n) => [n.nodeId, n.block, n.status, n.status === "skipped" ? "" : formatMs(n.ms)]),
            new Set([3]),
          ),
        ),
      );
    }
    const params = Object.entries(d.resolvedParams).sort(([a], [b]) => a.localeCompare(b));
    if (params.length) {
      out.push("", `Params (${params.length})`);
      out.push(
        indent(
          renderTable(
            ["param", "value"],
            params.map(([k, v]) => [k, formatValue(v)]),
          ),
        ),
      );
    }
    const curves = new Map<string, { steps: number; min: number; last: number; lastStep: number }>();
    const finals = new Map<string, number>();
    for (const m of d.metrics) {
      const key = `${m.nodeId}.${m.name}`;
      if (m.step === null) {
        finals.set(key, m.value);
        continue;
      }
      const c = curves.get(key) ?? { steps: 0, min: Number.POSITIVE_INFINITY, last: m.value, lastStep: -1 };
      c.steps++;
      c.min = Math.min(c.min, m.value);
      if (m.step >= c.lastStep) Object.assign(c, { last: m.value, lastStep: m.step });
      curves.set(key, c);
    }
    if (finals.size || curves.size) {
      out.push("", "Metrics");
      const rows = [
        ...[...finals].map(([k, v]) => [k, formatValue(v), ""]),
        ...[...curves].map(([k, c]) => [
          k,
          formatValue(c.last),
          `curve: ${c.steps} steps, min ${formatValue(c.min)}`,
        ]),
      ].sort((a, b) => a[0]!.localeCompare(b[0]!));
      out.push(indent(renderTable(["metric", "value", ""], rows, new Set([1]))));
    }
    if (d.datasets.length) {
      out.push("", "Datasets");
      out.push(
        indent(
          renderTable(
            ["node", "source", "sha256", "rows"],
            d.datasets.map((x) => [x.nodeId, x.source, x.digest.slice(0, 16), String(x.rows)]),
            new Set([3]),
          ),
        ),
      );
    }
    if (d.artifacts.length) {
      out.push("", "Artifacts");
      out.push(
        indent(
          renderTable(
            ["node", "name", "kind", "bytes", "path"],
            d.artifacts.map((a) => [a.nodeId, a.name, a.kind, String(a.bytes), a.path]),
            new Set([3]),
          ),
        ),
      );
    }
    if (d.trials.length) out.push("", `Trials: ${d.trials.length} (runs show --json lists them)`);
    io.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  });
}

const indent = (text: string) => text.replace(/^/gm, "  ");

async function runsCompare(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (positionals.length < 2) throw new UsageError("runs compare takes two or more run ids");
  return withTracking(io, values.project, async (call) => {
    const c = await call("compareRuns", { runIds: positionals });
    if (values.json) {
      io.stdout.write(toJson(c));
      return EXIT.ok;
    }
    io.stdout.write(`${renderComparison(c, Boolean(values.all))}\n`);
    return EXIT.ok;
  });
}

/** A comparison as text: the runs, params that differ (the rest counted unless `all`), metrics, curves. */
export function renderComparison(c: ApiResults["compareRuns"], all: boolean): string {
  const ids = c.runs.map((r) => r.id);
  const out: string[] = [];
  out.push(
    renderTable(
      ["", ...ids],
      [
        ["pipeline", ...c.runs.map((r) => r.pipeline)],
        ["status", ...c.runs.map((r) => r.status)],
        ["started", ...c.runs.map((r) => formatTime(r.startedAt))],
        ["duration", ...c.runs.map(runDuration)],
      ],
    ),
  );
  const differing = c.params.filter((p) => p.differs);
  const shown = all ? c.params : differing;
  out.push(
    "",
    all
      ? `Params (${c.params.length}, ${differing.length} differ)`
      : `Params that differ (${differing.length})`,
  );
  if (shown.length)
    out.push(
      indent(
        renderTable(
          ["param", ...ids],
          shown.map((p) => [`${p.differs && all ? "* " : ""}${p.key}`, ...p.values.map(formatValue)]),
        ),
      ),
    );
  const folded = c.params.length - shown.length;
  if (folded) out.push(`  (${folded} equal param${folded === 1 ? "" : "s"} not shown; --all lists them)`);
  if (c.metrics.length) {
    out.push("", "Metrics");
    const numeric = new Set(ids.map((_, i) => i + 1));
    out.push(
      indent(
        renderTable(
          ["metric", ...ids],
          c.metrics.map((m) => [m.key, ...m.values.map(formatValue)]),
          numeric,
        ),
      ),
    );
  }
  if (c.curves.length) {
    out.push("", "Curves (first → last, min)");
    const rows = c.curves.map((curve) => [
      curve.key,
      ...ids.map((id) => {
        const pts = curve.series.find((s) => s.runId === id)?.points ?? [];
        if (!pts.length) return "—";
        const min = Math.min(...pts.map((p) => p[1]));
        return `${formatValue(pts[0]![1])} → ${formatValue(pts.at(-1)![1])}, min ${formatValue(min)}`;
      }),
    ]);
    out.push(indent(renderTable(["curve", ...ids], rows)));
  }
  return out.join("\n");
}

function printExport(io: Io, what: string, r: ExportedFolder) {
  io.stdout.write(`Exported ${what} to ${r.dir}/\n${r.files.map((f) => `  ${f}`).join("\n")}\n`);
  if (r.masked)
    io.stdout.write(
      `Personal columns masked: ${r.masked.join(", ")} (--unmasked exports them in clear, recorded in the audit log)\n`,
    );
  if (r.unmasked)
    io.stdout.write(`Personal columns in clear: ${r.unmasked.join(", ")} (recorded in the audit log)\n`);
}

/** The export options of a confirmed --unmasked, by the OS user. */
function unmaskedBy(unmasked: boolean | undefined): { unmasked?: true; actor?: string | null } {
  return unmasked ? { unmasked: true, actor: currentUser() } : {};
}

async function runsExport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    out: { type: "string" },
    ...UNMASK_OPTIONS,
  });
  if (positionals.length !== 1) throw new UsageError("runs export takes exactly one run id");
  const stop = await confirmUnmasked(io, values);
  if (stop !== null) return stop;
  // --out is the user's own path: relative to the current folder, and may lie outside the project.
  const out = values.out ? resolve(values.out as string) : undefined;
  return withTracking(io, values.project, async (_call, context) => {
    const r = await exportRun(context, positionals[0]!, out, {
      allowOutside: true,
      ...unmaskedBy(values.unmasked),
    });
    printExport(io, `run ${positionals[0]}`, r);
    return EXIT.ok;
  });
}

// ------------------------------------------------------------------ models

/** `name`, `name@alias` or `name:version`. */
export function parseModelRef(text: string): { name: string; ref?: number | string } {
  const m = /^([^@:]+)(?:@([^@:]+)|:(\d+))?$/.exec(text);
  if (!m || !MODEL_NAME.test(m[1]!))
    throw new UsageError(
      `"${text}" is not a model reference: write name, name@alias or name:version (e.g. penguins@champion, penguins:3)`,
    );
  if (m[3] !== undefined) {
    const version = Number(m[3]);
    if (version < 1) throw new UsageError(`"${text}": versions start at 1`);
    return { name: m[1]!, ref: version };
  }
  return m[2] !== undefined ? { name: m[1]!, ref: m[2] } : { name: m[1]! };
}

const auditTable = (entries: AuditEntry[]) =>
  renderTable(
    ["when", "who", "what"],
    entries.map((e) => [formatTime(e.at), e.actor ?? "—", describeAudit(e)]),
  );

const topMetrics = (metrics: Record<string, number>, n = 3) =>
  Object.entries(metrics)
    .slice(0, n)
    .map(([k, x]) => `${k}=${formatValue(x)}`)
    .join(" ");

async function modelsList(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("models list takes no positional arguments");
  return withTracking(io, values.project, async (call) => {
    const models = await call("listModels", {});
    if (values.json) {
      io.stdout.write(toJson(models));
      return EXIT.ok;
    }
    if (!models.length) {
      io.stdout.write("No registered models yet: a pipeline's register block adds them.\n");
      return EXIT.ok;
    }
    const rows = models.map((m) => [
      m.name,
      String(m.versions),
      m.latestVersion === null ? "—" : `v${m.latestVersion}`,
      Object.entries(m.aliases)
        .map(([a, x]) => `${a}→v${x}`)
        .join(", ") || "—",
      formatTime(m.updatedAt),
      `${m.deprecated ? `DEPRECATED${m.deprecated.replacement ? ` (use ${m.deprecated.replacement})` : ""} ` : ""}${
        m.description.length > 50 ? `${m.description.slice(0, 49)}…` : m.description
      }`.trimEnd(),
    ]);
    io.stdout.write(
      `${renderTable(["model", "versions", "latest", "aliases", "updated", "description"], rows, new Set([1]))}\n`,
    );
    return EXIT.ok;
  });
}

/**
 * The retraining loop in a version's lineage, from the lineage graph: the
 * alert its run answered (alert → run), and the alerts raised while it served
 * (version → alert), each with its monitor, window, reasons and how it went.
 */
export function loopLineageLines(
  v: Pick<ModelVersion, "name" | "version" | "runId">,
  graph: ApiResults["lineageGraph"],
): { retrainedAfter: string[]; alerts: string[] } {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const alertsFrom = (pick: (e: { from: string; to: string }) => string | null) =>
    graph.edges
      .map(pick)
      .map((id) => (id === null ? undefined : byId.get(id)))
      .filter((n): n is (typeof graph.nodes)[number] => n?.kind === "alert");
  const about = (n: (typeof graph.nodes)[number]) => {
    const d = n.detail;
    const w = (d.window ?? {}) as { start?: string; end?: string };
    const reasons = Array.isArray(d.reasons) ? d.reasons.map(String).join("; ") : "";
    return `alert #${String(d.loop)} of monitor ${String(d.monitor)}, window ${formatTime(w.start ?? null)} – ${formatTime(w.end ?? null)} UTC${reasons ? `: ${reasons}` : ""}`;
  };
  const runNode = `run:${v.runId}`;
  const versionNode = `model:${v.name}:v${v.version}`;
  const retrainedAfter = alertsFrom((e) => (e.to === runNode ? e.from : null)).map(
    (n) =>
      `  after     ${about(n)}${typeof n.detail.champion === "number" ? ` (on v${n.detail.champion})` : ""}`,
  );
  const alerts = alertsFrom((e) => (e.from === versionNode ? e.to : null)).map((n) => {
    const stage = String(n.detail.stage).replace(/-/g, " ");
    const outcome = typeof n.detail.outcome === "string" && n.detail.outcome ? `: ${n.detail.outcome}` : "";
    return `  ${about(n)}\n    ${stage}${outcome}`;
  });
  return { retrainedAfter, alerts };
}

function versionText(v: ModelVersion, audit: AuditEntry[], graph?: ApiResults["lineageGraph"]): string {
  const out = [
    `${v.name} v${v.version} (${v.status})${v.aliases.length ? `  aliases: ${v.aliases.join(", ")}` : ""}`,
  ];
  if (v.description) out.push(`  ${v.description}`);
  out.push(`  created   ${formatTime(v.createdAt)} UTC${v.createdBy ? ` by ${v.createdBy}` : ""}`);
  out.push(`  model     ${v.estimator}, ${v.task}, from node ${v.nodeId} of run ${v.runId}`);
  if (v.featureService)
    out.push(`  features  service ${v.featureService} (callable by entity: V2 parameters.entities)`);
  if (v.decision)
    out.push(
      `  decision  ${v.decision.positiveClass} when its probability is at least ${v.decision.threshold} (as evaluated; the served label)`,
    );
  if (Object.keys(v.metrics).length)
    out.push(
      `  metrics   ${Object.entries(v.metrics)
        .map(([k, x]) => `${k}=${formatValue(x)}`)
        .join(" ")}`,
    );
  if (v.parity)
    out.push(
      `  parity    ${v.parity.rows} rows, max |Δ| ${formatValue(v.parity.maxAbsDiff)}, labels agree ${formatValue(v.parity.labelAgreement)}`,
    );
  out.push(`  files     ${v.onnxPath}`, `            ${v.nativePath}`);
  const l = v.lineage;
  out.push("", "Lineage");
  out.push(
    `  pipeline  ${l.run.pipeline}${l.run.pipelinePath ? ` (${l.run.pipelinePath})` : ""}${l.run.pipelineHash ? `  sha256 ${l.run.pipelineHash}` : ""}`,
  );
  out.push(
    `  run       ${l.run.id}, ${formatTime(l.run.startedAt)} UTC${l.run.user ? ` by ${l.run.user}` : ""}`,
  );
  const loops = graph ? loopLineageLines(v, graph) : { retrainedAfter: [], alerts: [] };
  out.push(...loops.retrainedAfter);
  for (const d of l.datasets) out.push(`  dataset   ${d.source}  sha256 ${d.digest}  ${d.rows} rows`);
  if (!l.datasets.length) out.push("  dataset   (none recorded)");
  const params = Object.entries(l.params).sort(([a], [b]) => a.localeCompare(b));
  if (params.length) out.push(`  params    ${params.map(([k, x]) => `${k}=${formatValue(x)}`).join(" ")}`);
  if (loops.alerts.length) out.push("", "Alerts while it served", ...loops.alerts);
  const mine = audit.filter((e) => e.version === v.version);
  if (mine.length) out.push("", "History", indent(auditTable(mine)));
  return out.join("\n");
}

async function modelsShow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length !== 1)
    throw new UsageError("models show takes one model: name, name@alias or name:version");
  const { name, ref } = parseModelRef(positionals[0]!);
  return withTracking(io, values.project, async (call) => {
    if (ref !== undefined) {
      const v = await call("getModelVersion", { name, ref });
      if (values.json) {
        io.stdout.write(toJson(v));
        return EXIT.ok;
      }
      io.stdout.write(
        `${versionText(v, await call("auditLog", { model: name, limit: 1000 }), await call("lineageGraph", { model: name }))}\n`,
      );
      return EXIT.ok;
    }
    const detail = await call("getModel", { name });
    if (values.json) {
      io.stdout.write(toJson(detail));
      return EXIT.ok;
    }
    const m = detail.model;
    const out = [`Model ${m.name}${m.owner ? `  owner ${m.owner}` : "  (no owner)"}`];
    if (m.description) out.push(`  ${m.description}`);
    out.push(...governanceLines(m));
    if (Object.keys(m.tags).length)
      out.push(
        `  tags: ${Object.entries(m.tags)
          .map(([k, x]) => `${k}=${x}`)
          .join(", ")}`,
      );
    const aliases = Object.entries(m.aliases).map(([a, x]) => `${a} → v${x}`);
    out.push(`  aliases: ${aliases.join(", ") || "none"}`);
    out.push("", "Versions");
    // The feature service column only when a version has one.
    const services = detail.versions.some((v) => v.featureService !== null);
    out.push(
      indent(
        renderTable(
          [
            "version",
            "status",
            "created",
            "by",
            "run",
            "estimator",
            ...(services ? ["feature service"] : []),
            "aliases",
            "metrics",
          ],
          detail.versions.map((v) => [
            `v${v.version}`,
            v.status,
            formatTime(v.createdAt),
            v.createdBy ?? "—",
            v.runId,
            v.estimator,
            ...(services ? [v.featureService ?? "—"] : []),
            v.aliases.join(", ") || "—",
            topMetrics(v.metrics),
          ]),
        ),
      ),
    );
    const latest = detail.versions[0];
    if (latest) {
      out.push("", `Lineage of v${latest.version}`);
      out.push(
        `  pipeline  ${latest.lineage.run.pipeline}  sha256 ${latest.lineage.run.pipelineHash ?? "—"}`,
      );
      for (const d of latest.lineage.datasets) out.push(`  dataset   ${d.source}  sha256 ${d.digest}`);
    }
    if (detail.audit.length) out.push("", "History", indent(auditTable(detail.audit)));
    io.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  });
}

async function modelsAlias(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    remove: { type: "boolean" },
    "override-reason": { type: "string" },
  });
  const usage =
    'models alias takes <name> <alias> <version> [--override-reason "…"], or <name> <alias> --remove [--override-reason "…"] (removing production needs the reason)';
  if (positionals.length !== (values.remove ? 2 : 3)) throw new UsageError(usage);
  const reason = values["override-reason"] as string | undefined;
  if (reason !== undefined && !reason.trim())
    throw new UsageError(
      values.remove
        ? '--override-reason needs a reason: say why this alias is removed, e.g. --override-reason "v3 serves wrong prices, incident 42"'
        : '--override-reason needs a reason: say why this version may skip its requirements, e.g. --override-reason "hotfix for incident 42"',
    );
  const [name, alias, versionText] = positionals as [string, string, string | undefined];
  return withTracking(io, values.project, async (call) => {
    if (values.remove) {
      const e = await call("removeAlias", { name, alias, ...(reason !== undefined ? { reason } : {}) });
      io.stdout.write(`${name}: ${describeAudit(e)}\n`);
      return EXIT.ok;
    }
    const version = Number(versionText!.replace(/^v/, ""));
    if (!Number.isInteger(version) || version < 1)
      throw new UsageError(`"${versionText}" is not a version number (1, 2, … or v1, v2, …)`);
    const e = await call("setAlias", { name, alias, version, ...(reason !== undefined ? { reason } : {}) });
    io.stdout.write(`${name}: ${describeAudit(e)}\n`);
    const record = e.details.production as ProductionRecord | undefined;
    if (record) io.stdout.write(`${productionLines(record).join("\n")}\n`);
    return EXIT.ok;
  });
}

/** A gate's figures in words (app/values/registry.ts gateFiguresText). */
const gateText = (g: GateFigures): string => gateFiguresText(g, formatValue);

/** What a production change recorded, one line per fact, indented under its entry. */
export function productionLines(r: ProductionRecord): string[] {
  const pipeline = r.run.pipelinePath ?? r.run.pipeline;
  const commit = r.run.gitCommit
    ? `git ${r.run.gitCommit.slice(0, 12)}${r.run.gitDirty ? " (uncommitted changes)" : ""}`
    : "no git commit recorded";
  const lines = [
    `    pipeline  ${pipeline}${r.run.pipelineHash ? ` (sha256 ${r.run.pipelineHash.slice(0, 12)})` : ""}, ${commit}, run ${r.run.id}`,
  ];
  for (const d of r.datasets)
    lines.push(`    data      ${d.source} sha256 ${d.digest.slice(0, 12)} (${d.rows} rows)`);
  if (!r.datasets.length) lines.push("    data      none recorded");
  for (const g of r.gates) lines.push(`    gate      ${gateText(g)}`);
  if (!r.gates.length) lines.push("    gate      none");
  lines.push(
    r.staging
      ? `    staging   deployed to ${r.staging.target} ${formatTime(r.staging.at)} UTC${r.staging.actor ? ` by ${r.staging.actor}` : ""}`
      : "    staging   never deployed there",
  );
  for (const m of r.missing) lines.push(`    overrode  ${m}`);
  if (r.reason !== null) lines.push(`    reason    ${r.reason}`);
  return lines;
}

async function modelsHistory(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    alias: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      "models history takes one model name: dagwood models history <name> [--alias A] [--json]",
    );
  const name = positionals[0]!;
  const alias = values.alias as string | undefined;
  return withTracking(io, values.project, async (call) => {
    const changes = await call("aliasHistory", { name, ...(alias !== undefined ? { alias } : {}) });
    if (values.json) {
      io.stdout.write(toJson(changes));
      return EXIT.ok;
    }
    if (!changes.length) {
      io.stdout.write(
        `${name}: no alias changes${alias ? ` of ${alias}` : ""} yet. Set one with: dagwood models alias ${name} <alias> <version>\n`,
      );
      return EXIT.ok;
    }
    const out = [`${name}: alias changes${alias ? ` of ${alias}` : ""}, newest first`];
    for (const c of changes) {
      const what =
        c.change === "moved"
          ? `v${c.from} → v${c.to}`
          : c.change === "set"
            ? `set on v${c.to}`
            : c.change === "removed"
              ? `removed from v${c.from}`
              : `removed: v${c.from} archived`;
      const override = c.production && c.production.missing.length > 0 ? "  OVERRIDE" : "";
      out.push(
        `${formatTime(c.at)} UTC  ${c.alias}  ${what}${c.actor ? `  by ${c.actor}` : ""}${override}  (audit ${c.auditId})`,
      );
      if (c.production) out.push(...productionLines(c.production));
      else if (c.reason) out.push(`    reason    ${c.reason}`);
    }
    io.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  });
}

/** `--tag k=v` sets a tag, `--tag k=` removes it; the model's other tags stay. */
export function applyTagArgs(
  current: Record<string, string>,
  args: readonly string[],
): Record<string, string> {
  const tags = { ...current };
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq < 1)
      throw new UsageError(`--tag "${arg}": write key=value (key= removes the tag), e.g. team=fraud`);
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    if (value === "") delete tags[key];
    else tags[key] = value;
  }
  return tags;
}

/**
 * The governance part of `models update`: --purpose and --review-by ("" clears
 * each), --deprecate REASON [--replacement M] [--since DATE], --undeprecate.
 * Refuses a malformed date or a contradiction before the store opens.
 */
export function governanceArgs(values: Record<string, unknown>): {
  purpose?: string | null;
  reviewBy?: string | null;
  deprecated?: Deprecation | null;
} {
  const purpose = values.purpose as string | undefined;
  const reviewBy = values["review-by"] as string | undefined;
  const reason = values.deprecate as string | undefined;
  const replacement = values.replacement as string | undefined;
  const since = values.since as string | undefined;
  if (reason !== undefined && values.undeprecate)
    throw new UsageError("--deprecate and --undeprecate contradict each other: give one of them");
  if (reason === undefined && (replacement !== undefined || since !== undefined))
    throw new UsageError(
      `${replacement !== undefined ? "--replacement" : "--since"} goes with --deprecate REASON, e.g. --deprecate "trained on 2024 data" --replacement churn-v2`,
    );
  if (reason !== undefined && !reason.trim())
    throw new UsageError('--deprecate needs a reason, e.g. --deprecate "trained on 2024 data"');
  const date = (flag: string, text: string) => {
    const r = IsoDate.safeParse(text);
    if (!r.success) throw new UsageError(`${flag} "${text}": ${r.error.issues[0]!.message}`);
    return text;
  };
  if (replacement !== undefined && !MODEL_NAME.test(replacement))
    throw new UsageError(
      `--replacement "${replacement}" is not a model name (letters, digits, _ - ., e.g. churn-v2)`,
    );
  return {
    ...(purpose !== undefined ? { purpose: purpose === "" ? null : purpose } : {}),
    ...(reviewBy !== undefined ? { reviewBy: reviewBy === "" ? null : date("--review-by", reviewBy) } : {}),
    ...(reason !== undefined
      ? {
          deprecated: {
            reason: reason.trim(),
            ...(replacement !== undefined ? { replacement } : {}),
            since: since !== undefined ? date("--since", since) : todayUtc(),
          },
        }
      : {}),
    ...(values.undeprecate ? { deprecated: null } : {}),
  };
}

/** Today's date in UTC, YYYY-MM-DD. */
const todayUtc = () => new Date().toISOString().slice(0, 10);

/** A model's governance as lines for `models show` and `models update`. */
function governanceLines(m: {
  purpose: string | null;
  reviewBy: string | null;
  deprecated: Deprecation | null;
}): string[] {
  const out: string[] = [];
  if (m.purpose) out.push(`  purpose: ${m.purpose}`);
  if (m.reviewBy) out.push(`  review by: ${m.reviewBy}`);
  if (m.deprecated)
    out.push(
      `  DEPRECATED${m.deprecated.since ? ` since ${m.deprecated.since}` : ""}: ${m.deprecated.reason}${m.deprecated.replacement ? ` (use ${m.deprecated.replacement})` : ""}`,
    );
  return out;
}

async function modelsUpdate(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    description: { type: "string" },
    owner: { type: "string" },
    tag: { type: "string", multiple: true },
    purpose: { type: "string" },
    "review-by": { type: "string" },
    deprecate: { type: "string" },
    replacement: { type: "string" },
    since: { type: "string" },
    undeprecate: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("models update takes one model name");
  const name = positionals[0]!;
  if (!MODEL_NAME.test(name))
    throw new UsageError(`"${name}" is not a model name (letters, digits, _ - ., e.g. penguins-classifier)`);
  const tagArgs = (values.tag as string[] | undefined) ?? [];
  const governance = governanceArgs(values);
  if (
    values.description === undefined &&
    values.owner === undefined &&
    !tagArgs.length &&
    !Object.keys(governance).length
  )
    throw new UsageError(
      "models update needs --description, --owner, --tag, --purpose, --review-by, --deprecate or --undeprecate: nothing to change",
    );
  applyTagArgs({}, tagArgs); // bad --tag is a usage error before the store opens
  return withTracking(io, values.project, async (call) => {
    const current = await call("getModel", { name });
    const owner = values.owner as string | undefined;
    const updated = await call("updateModel", {
      name,
      ...(values.description !== undefined ? { description: values.description } : {}),
      // --owner "" clears the owner.
      ...(owner !== undefined ? { owner: owner === "" ? null : owner } : {}),
      ...(tagArgs.length ? { tags: applyTagArgs(current.model.tags, tagArgs) } : {}),
      ...governance,
    });
    if (values.json) {
      io.stdout.write(toJson(updated));
      return EXIT.ok;
    }
    const tags = Object.entries(updated.tags).map(([k, v]) => `${k}=${v}`);
    const lines = [
      `Updated ${updated.name}: owner ${updated.owner ?? "—"}, tags ${tags.join(", ") || "none"}`,
      ...(updated.description ? [`  ${updated.description}`] : []),
      ...governanceLines(updated),
    ];
    if (values.undeprecate && current.model.deprecated && !updated.deprecated)
      lines.push("  no longer deprecated");
    if (updated.deprecated && updated.deprecated.replacement === undefined)
      lines.push("  (no --replacement given: users are told to ask its owner what to use instead)");
    io.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  });
}

async function modelsExport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    out: { type: "string" },
    ...UNMASK_OPTIONS,
  });
  if (positionals.length !== 1)
    throw new UsageError("models export takes one model version: name@alias or name:version");
  const { name, ref } = parseModelRef(positionals[0]!);
  if (ref === undefined)
    throw new UsageError(
      `Which version of ${name}? Write ${name}@<alias> or ${name}:<version>, e.g. ${name}@champion`,
    );
  // As the README says: a relative --out lies in the project (exports/x is <project>/exports/x, wherever
  // the command runs, and may not leave it); only a full path may name a folder outside the project.
  const out = values.out as string | undefined;
  const stop = await confirmUnmasked(io, values);
  if (stop !== null) return stop;
  return withTracking(io, values.project, async (_call, context) => {
    const r = await exportModelVersion(context, name, ref, out, {
      allowOutside: out !== undefined && isAbsolute(out),
      ...unmaskedBy(values.unmasked),
    });
    printExport(io, positionals[0]!, r);
    return EXIT.ok;
  });
}

const RUNS: Subcommands = {
  list: runsList,
  show: runsShow,
  compare: runsCompare,
  export: runsExport,
};
const MODELS: Subcommands = {
  list: modelsList,
  show: modelsShow,
  alias: modelsAlias,
  history: modelsHistory,
  update: modelsUpdate,
  export: modelsExport,
};

export function runsCommand(args: string[], io: Io): Promise<number> {
  return runSubcommand("runs", RUNS, args, io);
}

export function modelsCommand(args: string[], io: Io): Promise<number> {
  return runSubcommand("models", MODELS, args, io);
}
