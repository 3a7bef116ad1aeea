/**
 * monitoringReport: a deployed model's drift, prediction distribution and
 * performance per time window (app/monitoring/report.ts) — its inference log
 * on a deploy target against the version's reference profile (or a reference
 * file), with the labels sent to the target as feedback (or a labels file)
 * graded against the version's registered metrics. The data is read into a
 * private in-memory DuckDB, so the call neither waits for nor blocks a run
 * that holds the project's workspace; `dagwood monitor report` calls the same
 * function with the project's metadata store.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ArtifactError } from "../../artifacts/location";
import { ensureProjectVersionFiles } from "../../artifacts/version-files";
import { ident, isNumericType, literal, type SqlSession } from "../../data/sql";
import { DeployError } from "../../deploy/targets";
import { type InferenceLogSource, loadInferenceLog } from "../../monitoring/inference-log";
import { feedbackTable, joinLabels, labelsFromFile, readFeedback } from "../../monitoring/labels";
import { logDriftPrivacy } from "../../monitoring/log-privacy";
import { targetLogSource } from "../../monitoring/log-source";
import type { MonitoredTask } from "../../monitoring/performance";
import { profileTable } from "../../monitoring/profile";
import { buildMonitoringReport } from "../../monitoring/report";
import { sturgesEdges } from "../../monitoring/stats";
import type { DriftTable } from "../../monitoring/types";
import { WindowInputError } from "../../monitoring/windows";
import { ProjectSettingsError, readProjectSettings } from "../../project/project";
import type { TrackingContext } from "../../tracking/export";
import type { MonitoringReport } from "../../values/monitoring";
import type { ModelVersion } from "../../values/registry";
import { ApiError, type ApiResults, type parseApiArgs } from "../api";
import { createTrackingHandlers, toApiError } from "../tracking";
import type { CoreState, Handlers } from "./state";

export type MonitoringReportArgs = ReturnType<typeof parseApiArgs<"monitoringReport">>;

/**
 * Where a target's inference log is read: a target of dagwood.json over HTTP
 * (its token) or, for the built-in `local` target that dagwood.json does not
 * define, the project's serving repository folder. A Triton target keeps no
 * log Dagwood can read.
 */
export function inferenceLogSource(dir: string, target: string, model: string): InferenceLogSource {
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) throw new ApiError(400, e.message);
    throw e;
  }
  try {
    const source = targetLogSource(dir, settings, target, model);
    if (!source)
      throw new ApiError(
        400,
        `target "${target}" is a Triton server, which keeps no inference log Dagwood can read: serve the model with dagwood serve to monitor it`,
      );
    return source;
  } catch (e) {
    if (e instanceof DeployError) throw new ApiError(400, e.message);
    throw e;
  }
}

/**
 * The version's class labels in the order of its probabilities (the model
 * file's `classes`), so that a log read from a repository folder names its
 * probability columns `probability_<class>` and log loss can be graded; none
 * for a regression or a model file that cannot be read. A version registered
 * on another machine of a shared store has its files fetched from the
 * project's artifact location first (a fetch that fails is a 502 saying why).
 */
async function modelClasses(dir: string, version: ModelVersion): Promise<string[] | undefined> {
  try {
    await ensureProjectVersionFiles(dir, version);
  } catch (e) {
    if (e instanceof ArtifactError) throw new ApiError(502, e.message);
    throw e;
  }
  try {
    const model = JSON.parse(readFileSync(resolve(dir, version.nativePath), "utf8")) as { classes?: unknown };
    return Array.isArray(model.classes) ? model.classes.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/** A data file (CSV, TSV, Parquet, JSON, NDJSON) as a temp table. */
async function readDataFile(sql: SqlSession, file: string, table: string): Promise<DriftTable> {
  const lower = file.toLowerCase();
  const source = lower.endsWith(".parquet")
    ? `read_parquet(${literal(file)})`
    : /\.(json|jsonl|ndjson)$/.test(lower)
      ? `read_json_auto(${literal(file)})`
      : `read_csv(${literal(file)}, header = true)`;
  try {
    await sql.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} AS SELECT * FROM ${source}`);
  } catch (e) {
    throw new ApiError(400, `cannot read ${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  return { name: table, columns: await sql.columns(table) };
}

function existingFile(what: string, dir: string, file: string): string {
  const abs = resolve(dir, file);
  if (!existsSync(abs)) throw new ApiError(404, `${what}: no file ${file}`);
  if (statSync(abs).isDirectory()) throw new ApiError(400, `${what}: ${file} is a folder; give a data file`);
  return abs;
}

/**
 * The report for `model` on `target`, against version `ref` (default the
 * champion) of the registered model of the same name. Its registered metrics
 * are what performance is compared with; its reference profile is the
 * reference unless a file is given.
 */
export async function monitoringReportFor(
  context: TrackingContext,
  args: MonitoringReportArgs,
  options: { now?: number; fetch?: typeof fetch } = {},
): Promise<MonitoringReport> {
  const tracking = createTrackingHandlers(() => context);
  const name = args.registeredModel ?? args.model;
  const ref = args.ref ?? "champion";
  const lookUp = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw toApiError(e);
    }
  };
  const version = await lookUp(() => tracking.getModelVersion({ name, ref }));
  const stored = args.reference
    ? null
    : await lookUp(() => tracking.getReferenceProfile({ name, ref: version.version }));
  const reference = args.reference ? existingFile("reference", context.dir, args.reference) : undefined;
  const labelsFile = args.labels ? existingFile("labels", context.dir, args.labels) : undefined;
  const source = inferenceLogSource(context.dir, args.target, args.model);

  const { Workspace } = await import("../../data/workspace");
  const allowedDirs = [context.dir, reference, labelsFile]
    .filter((f): f is string => !!f)
    .map((f) => (f === context.dir ? f : dirname(f)));
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs, threads: 2 });
  const sql = await workspace.session();
  try {
    const referenceTable = stored
      ? await profileTable(sql, stored.profile, "reference")
      : await readDataFile(sql, reference!, "reference");
    const classNames = await modelClasses(context.dir, version);
    let log: Awaited<ReturnType<typeof loadInferenceLog>>;
    try {
      log = await loadInferenceLog(sql, source, {
        table: "current_log",
        ...(classNames ? { classNames } : {}),
        ...(args.since ? { since: args.since } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
    } catch (e) {
      throw new ApiError(400, `the inference log of ${args.target}:${args.model}: ${(e as Error).message}`);
    }

    // Labels: a file, or the feedback the target received.
    let labelled: Awaited<ReturnType<typeof joinLabels>> | undefined;
    if (labelsFile) {
      let labels: Awaited<ReturnType<typeof labelsFromFile>>;
      try {
        labels = await labelsFromFile(sql, "labels", labelsFile);
      } catch (e) {
        throw new ApiError(400, (e as Error).message);
      }
      labelled = await joinLabels(sql, log, labels);
    } else {
      const records = await readFeedback(source, {
        ...(args.since ? { since: args.since } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }).catch((e: Error) => {
        throw new ApiError(400, `the feedback of ${args.target}:${args.model}: ${e.message}`);
      });
      if (records.length) labelled = await joinLabels(sql, log, await feedbackTable(sql, "labels", records));
    }

    // The current side: the model's inputs, its answer under the profile's prediction name, and the time.
    const profilePrediction = stored?.profile.prediction ?? undefined;
    const rename = profilePrediction && log.prediction ? profilePrediction : undefined;
    const keep = [...log.inputs, ...(log.prediction ? [log.prediction] : [])];
    await sql.run(
      `CREATE OR REPLACE TEMP VIEW current_data AS SELECT ${[
        ...keep.map((c) => (c === log.prediction && rename ? `${ident(c)} AS ${ident(rename)}` : ident(c))),
        ident(log.meta.time),
      ].join(", ")} FROM ${ident(log.name)}`,
    );
    const current: DriftTable = {
      name: "current_data",
      columns: log.columns
        .filter((c) => keep.includes(c.name) || c.name === log.meta.time)
        .map((c) => (c.name === log.prediction && rename ? { ...c, name: rename } : c)),
    };
    const prediction = rename ?? log.prediction;
    // The reference's target is never in a log; the prediction is tested when both sides have it.
    const target = stored?.profile.target ?? undefined;
    const has = new Set(current.columns.map((c) => c.name));
    const columns = referenceTable.columns
      .map((c) => c.name)
      .filter((c) => c !== target && (c !== prediction || has.has(c)));
    const task = (["binary", "multiclass", "regression"] as const).find((t) => t === version.task) as
      | MonitoredTask
      | undefined;
    try {
      return await buildMonitoringReport(sql, {
        reference: referenceTable,
        current,
        time: log.meta.time,
        window: args.window,
        ...(args.since ? { since: args.since } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
        minRows: args.minRows,
        columns,
        ...(prediction ? { prediction } : {}),
        ...(labelled ? { labelled } : {}),
        // Inputs the model's log policy hashed or dropped (issue 19): compared hashed, or absent by design.
        privacy: logDriftPrivacy(context.dir, log),
        model: name,
        version: version.version,
        ...(task ? { task } : {}),
        registered: version.metrics,
        tolerance: args.tolerance,
      });
    } catch (e) {
      if (e instanceof WindowInputError) throw new ApiError(400, e.message);
      throw e;
    }
  } finally {
    sql.close();
    workspace.close();
  }
}

export type DriftDistributionArgs = ReturnType<typeof parseApiArgs<"driftDistribution">>;

/** Evidently's get_binned_data bins a numeric column whose reference has more than this many distinct values. */
const BIN_ABOVE_DISTINCT = 20;
/** Categories shown one by one; the rarer ones (over both sides) are summed into one "other" bar. */
export const DISTRIBUTION_MAX_CATEGORIES = 30;

/** A bin edge in a few significant digits, for a label ("1.25–2.5"). */
const edgeLabel = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3))));

/**
 * One column's reference and current distributions in the window
 * [start, end) of the target's inference log, on the same bins: a numeric
 * column whose reference has more than 20 distinct values over Sturges edges
 * of both sides together (as the drift tests bin it, app/monitoring/drift.ts);
 * any other column per value. Shares are of each side's non-missing values
 * (NaN and ±Infinity count as missing, as in the tests). A column the log
 * lacks gives an empty current side.
 */
export async function driftDistributionFor(
  context: TrackingContext,
  args: DriftDistributionArgs,
  options: { now?: number; fetch?: typeof fetch } = {},
): Promise<ApiResults["driftDistribution"]> {
  const tracking = createTrackingHandlers(() => context);
  const name = args.registeredModel ?? args.model;
  const lookUp = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw toApiError(e);
    }
  };
  const start = Date.parse(args.start);
  const end = Date.parse(args.end);
  if (!(end > start))
    throw new ApiError(400, `the window ends (${args.end}) before it starts (${args.start})`);
  const version = await lookUp(() => tracking.getModelVersion({ name, ref: args.ref ?? "champion" }));
  const stored = await lookUp(() => tracking.getReferenceProfile({ name, ref: version.version }));
  const source = inferenceLogSource(context.dir, args.target, args.model);

  const { Workspace } = await import("../../data/workspace");
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [context.dir], threads: 2 });
  const sql = await workspace.session();
  try {
    const reference = await profileTable(sql, stored.profile, "reference");
    // The log's prediction column is the profile's `prediction`, as in the report.
    const profilePrediction = stored.profile.prediction ?? undefined;
    const refColumn = reference.columns.find((c) => c.name === args.column);
    if (!refColumn)
      throw new ApiError(
        404,
        `column "${args.column}" is not in the reference profile of ${name} v${version.version} (its columns: ${reference.columns.map((c) => c.name).join(", ")})`,
      );
    const classNames = await modelClasses(context.dir, version);
    let log: Awaited<ReturnType<typeof loadInferenceLog>>;
    try {
      log = await loadInferenceLog(sql, source, {
        table: "current_log",
        ...(classNames ? { classNames } : {}),
        since: new Date(start).toISOString(),
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
    } catch (e) {
      throw new ApiError(400, `the inference log of ${args.target}:${args.model}: ${(e as Error).message}`);
    }
    const logName =
      profilePrediction && log.prediction && args.column === profilePrediction ? log.prediction : args.column;
    const curColumn = log.columns.find(
      (c) => c.name === logName && (log.inputs.includes(c.name) || c.name === log.prediction),
    );
    const time = `epoch_ms(CAST(${ident(log.meta.time)} AS TIMESTAMPTZ))`;
    const numeric = isNumericType(refColumn.type) && (!curColumn || isNumericType(curColumn.type));
    const value = (c: string) =>
      numeric
        ? `CASE WHEN isfinite(CAST(${ident(c)} AS DOUBLE)) THEN CAST(${ident(c)} AS DOUBLE) END`
        : `CAST(${ident(c)} AS VARCHAR)`;
    await sql.run(
      `CREATE OR REPLACE TEMP TABLE sides AS
       SELECT 0 AS s, ${value(refColumn.name)} AS v FROM ${ident(reference.name)}
       ${curColumn ? `UNION ALL SELECT 1 AS s, ${value(curColumn.name)} AS v FROM ${ident(log.name)} WHERE ${time} >= ${start} AND ${time} < ${end}` : ""}`,
    );
    const c = await sql.one<{ ref: number; cur: number; d: number; mn: number | null; mx: number | null }>(
      `SELECT count(v) FILTER (WHERE s = 0)::DOUBLE AS ref, count(v) FILTER (WHERE s = 1)::DOUBLE AS cur,
       count(DISTINCT v) FILTER (WHERE s = 0)::DOUBLE AS d${numeric ? ", min(v) AS mn, max(v) AS mx" : ""} FROM sides`,
    );
    const rows = { reference: Number(c.ref), current: Number(c.cur) };
    const share = (n: number, of: number) => (of ? n / of : 0);
    if (numeric && Number(c.d) > BIN_ABOVE_DISTINCT) {
      const edges = sturgesEdges(rows.reference + rows.current, Number(c.mn), Number(c.mx));
      const bins = edges.length - 1;
      const counts = await sql.all<{ s: number; v: number }>(`SELECT s, v FROM sides WHERE v IS NOT NULL`);
      const ref = new Array<number>(bins).fill(0);
      const cur = new Array<number>(bins).fill(0);
      // numpy.histogram: a value on an edge goes to the bin on its right, the last bin holds its right edge.
      for (const r of counts) {
        const x = Number(r.v);
        let lo = 0;
        let hi = bins;
        while (hi - lo > 1) {
          const mid = (lo + hi) >> 1;
          if (x >= edges[mid]!) lo = mid;
          else hi = mid;
        }
        (Number(r.s) === 0 ? ref : cur)[lo]! += 1;
      }
      const label = (i: number) => `${edgeLabel(edges[i]!)}–${edgeLabel(edges[i + 1]!)}`;
      return {
        column: args.column,
        type: "numeric",
        rows,
        edges,
        reference: ref.map((n, i) => ({ label: label(i), share: share(n, rows.reference) })),
        current: cur.map((n, i) => ({ label: label(i), share: share(n, rows.current) })),
      };
    }
    const values = await sql.all<{ v: string | number; ref: number; cur: number }>(
      `SELECT v, count(*) FILTER (WHERE s = 0)::DOUBLE AS ref, count(*) FILTER (WHERE s = 1)::DOUBLE AS cur
       FROM sides WHERE v IS NOT NULL GROUP BY v ORDER BY v`,
    );
    // The most frequent categories over both sides (by their summed shares) are kept, in value order.
    const weight = (x: (typeof values)[number]) =>
      share(Number(x.ref), rows.reference) + share(Number(x.cur), rows.current);
    const kept = new Set(
      [...values]
        .sort((a, b) => weight(b) - weight(a))
        .slice(0, DISTRIBUTION_MAX_CATEGORIES)
        .map((x) => x.v),
    );
    const shown = values.filter((x) => kept.has(x.v));
    const rest = values.filter((x) => !kept.has(x.v));
    const side = (k: "ref" | "cur", of: number) => [
      ...shown.map((x) => ({ label: String(x.v), share: share(Number(x[k]), of) })),
      ...(rest.length
        ? [
            {
              label: `other (${rest.length} values)`,
              share: share(
                rest.reduce((a, x) => a + Number(x[k]), 0),
                of,
              ),
            },
          ]
        : []),
    ];
    return {
      column: args.column,
      type: "categorical",
      rows,
      edges: null,
      reference: side("ref", rows.reference),
      current: side("cur", rows.current),
    };
  } finally {
    sql.close();
    workspace.close();
  }
}

export function monitoringHandlers(state: CoreState): Handlers<"monitoringReport" | "driftDistribution"> {
  return {
    async monitoringReport(args) {
      const project = state.requireProject();
      return monitoringReportFor({ dir: project.dir, metadata: project.metadata }, args);
    },
    async driftDistribution(args) {
      const project = state.requireProject();
      return driftDistributionFor({ dir: project.dir, metadata: project.metadata }, args);
    },
  };
}
