/**
 * `dagwood monitor drift`: data drift between a reference and current data,
 * with Evidently's default tests (app/monitoring/drift.ts). The reference is a
 * data file (`--reference`) or a registered version's reference profile
 * (`--model NAME@ALIAS`: its training data and its predictions on it); the
 * current data is a data file (`--current`) or a model's inference log on a
 * deploy target (`--log TARGET:MODEL [--since 1h]`). Files are read as
 * `ingest.file` reads them, into one private in-memory DuckDB that may read
 * only their folders. Exit 0: no dataset drift; 1: the dataset drifted; 2: bad
 * arguments or data that cannot be read.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { ident, type SqlSession } from "../data/sql";
import { standaloneContext } from "../engine/standalone-context";
import type { DriftOptions, DriftTable } from "../monitoring/types";
import type { DriftReport, DriftTestName } from "../values/drift";
import { EXIT, findProjectStore, type Io, openMetadataStore, parse, UsageError } from "./args";
import { formatValue, renderTable } from "./format";

/** What the command was given cannot be used (a file, a column): printed as is, exit 2. */
class InputError extends Error {}

const TESTS = ["ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"];

function checkFile(option: string, file: string): string {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new InputError(`${option}: data file not found: ${file}`);
  if (statSync(abs).isDirectory()) throw new InputError(`${option}: ${file} is a folder; give a data file`);
  return realpathSync(abs);
}

/** "col=test,col=test" or "col=0.2,…" into a record, each value checked by `value`. */
function pairs<T>(
  option: string,
  text: string | undefined,
  value: (v: string, col: string) => T,
): Record<string, T> {
  if (!text) return {};
  const out: Record<string, T> = {};
  for (const part of text.split(",")) {
    const eq = part.lastIndexOf("=");
    if (eq <= 0)
      throw new UsageError(`${option} takes column=value pairs separated by commas, got "${part}"`);
    const col = part.slice(0, eq).trim();
    out[col] = value(part.slice(eq + 1).trim(), col);
  }
  return out;
}

/** The report as a table, the untested columns' reasons below it, and the verdict. */
export function renderDrift(report: DriftReport, reference: string, current: string): string {
  const rows = report.columns.map((c) => [
    c.schema ? "!" : !c.tested ? "·" : c.drifted ? "✗" : "✓",
    c.role === "feature" ? c.column : `${c.column} (${c.role})`,
    c.type ?? "—",
    c.test ?? "—",
    c.tested ? formatValue(c.pValue ?? c.statistic) : "—",
    c.tested ? `${c.pValue === null ? "≥" : c.test === "ks" ? "≤" : "<"} ${formatValue(c.threshold)}` : "",
    c.missing.reference || c.missing.current ? `${c.missing.reference} / ${c.missing.current}` : "",
  ]);
  const table = renderTable(
    ["", "column", "type", "test", "value", "drift when", "missing ref / cur"],
    rows,
    new Set([4]),
  );
  const notes = report.columns
    .filter((c) => c.reason)
    .map((c) => `  ${c.schema ? "!" : "·"} ${c.column}: ${c.reason}`);
  const pct = formatValue(report.share * 100);
  return [
    `Drift of ${current} (${report.rows.current.toLocaleString("en-US")} rows) against ${reference} (${report.rows.reference.toLocaleString("en-US")} rows)`,
    "",
    table,
    ...(notes.length ? ["", ...notes] : []),
    ...(report.addedColumns.length
      ? ["", `  Only in the current data (not tested): ${report.addedColumns.join(", ")}`]
      : []),
    "",
    `${report.datasetDrift ? "Dataset drift" : "No dataset drift"}: ${report.driftedColumns} of ${report.consideredColumns} columns drifted (${pct} %; the dataset drifts at ${formatValue(report.shareThreshold * 100)} %).`,
    "",
  ].join("\n");
}

/** `NAME@ALIAS` or `NAME@VERSION` (`NAME` alone: the champion). */
function parseModelRef(text: string): { name: string; ref: string | number } {
  const at = text.lastIndexOf("@");
  const name = at < 0 ? text : text.slice(0, at);
  const ref = at < 0 ? "champion" : text.slice(at + 1);
  if (!name || !ref)
    throw new UsageError(`--model takes NAME@ALIAS or NAME@VERSION, e.g. penguins@champion; got "${text}"`);
  return { name, ref: /^\d+$/.test(ref) ? Number(ref) : ref };
}

/** `TARGET:MODEL`. */
function parseLogRef(text: string): { target: string; model: string } {
  const colon = text.indexOf(":");
  if (colon <= 0 || colon === text.length - 1)
    throw new UsageError(`--log takes TARGET:MODEL, e.g. local:penguins; got "${text}"`);
  return { target: text.slice(0, colon), model: text.slice(colon + 1) };
}

/** The project folder and its settings (null: said on stderr). */
async function projectFor(io: Io, projectOpt: unknown): Promise<{ dir: string; db: string } | null> {
  const found = await findProjectStore(
    io,
    projectOpt,
    (dir) =>
      `No Dagwood project store in ${dir}: --model and --log read a project's registry and targets. Run there a pipeline that registers a model, or pass --project DIR.`,
  );
  return found ?? null;
}

/** The version's stored reference profile through the Api's getReferenceProfile (null: said on stderr). */
async function storedProfile(
  io: Io,
  project: { dir: string; db: string },
  ref: { name: string; ref: string | number },
) {
  const metadata = await openMetadataStore(io, project.dir, project.db);
  if (!metadata) return null;
  try {
    const [{ createTrackingHandlers, toApiError }, { ApiError, parseApiArgs }] = await Promise.all([
      import("../api/tracking"),
      import("../api/api"),
    ]);
    const handlers = createTrackingHandlers(() => ({ dir: project.dir, metadata }));
    try {
      return await handlers.getReferenceProfile(parseApiArgs("getReferenceProfile", ref));
    } catch (caught) {
      const e = toApiError(caught);
      if (e instanceof ApiError) throw new InputError(`--model ${ref.name}@${ref.ref}: ${e.message}`);
      throw e;
    }
  } finally {
    metadata.close();
  }
}

type LogSource = { repository: string; model: string } | { url: string; model: string; token?: string };

/**
 * Where a target's inference log is read: a target of dagwood.json over HTTP (its token), or, for the
 * built-in `local` target that dagwood.json does not define, the project's serving repository folder.
 * A Triton target has no log API.
 */
async function logSource(dir: string, ref: { target: string; model: string }): Promise<LogSource> {
  const [{ readProjectSettings }, { DeployError }, { targetLogSource }] = await Promise.all([
    import("../project/project"),
    import("../deploy/targets"),
    import("../monitoring/log-source"),
  ]);
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    throw new InputError(`--log: ${(e as Error).message}`);
  }
  try {
    const source = targetLogSource(dir, settings, ref.target, ref.model);
    if (!source)
      throw new InputError(
        `--log ${ref.target}:${ref.model}: target "${ref.target}" is a Triton server, which keeps no inference log Dagwood can read (Triton has no log API). Export its traffic to a file and pass --current FILE, or serve the model with dagwood serve.`,
      );
    return source;
  } catch (e) {
    if (e instanceof DeployError) throw new InputError(`--log: ${e.message}`);
    throw e;
  }
}

/** The log's window as table "current_raw"; an empty window is bad input (nothing to test). */
async function readLog(
  sql: SqlSession,
  source: LogSource,
  ref: { target: string; model: string },
  since: string | undefined,
) {
  const { loadInferenceLog } = await import("../monitoring/inference-log");
  let log: Awaited<ReturnType<typeof loadInferenceLog>>;
  try {
    log = await loadInferenceLog(sql, source, { table: "current_raw", ...(since ? { since } : {}) });
  } catch (e) {
    throw new InputError(`--log ${ref.target}:${ref.model}: ${(e as Error).message}`);
  }
  if (log.rows === 0)
    throw new InputError(
      `--log ${ref.target}:${ref.model}: the log holds no requests${since ? ` since ${since}` : ""}${"repository" in source ? ` (read from ${source.repository})` : ""}. Send traffic to the model, or widen --since.`,
    );
  return log;
}

async function driftSubcommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    reference: { type: "string" },
    current: { type: "string" },
    model: { type: "string" },
    log: { type: "string" },
    since: { type: "string" },
    columns: { type: "string" },
    tests: { type: "string" },
    thresholds: { type: "string" },
    "share-threshold": { type: "string" },
    target: { type: "string" },
    prediction: { type: "string" },
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (positionals.length) throw new UsageError("monitor drift takes no positional arguments");
  const referenceFile = values.reference as string | undefined;
  const currentFile = values.current as string | undefined;
  const modelText = values.model as string | undefined;
  const logText = values.log as string | undefined;
  if (referenceFile && modelText)
    throw new UsageError(
      "monitor drift takes one reference: --reference FILE or --model NAME@ALIAS, not both",
    );
  if (currentFile && logText)
    throw new UsageError(
      "monitor drift takes one current side: --current FILE or --log TARGET:MODEL, not both",
    );
  if (!(referenceFile || modelText) || !(currentFile || logText))
    throw new UsageError(
      "monitor drift needs --reference FILE (or --model NAME@ALIAS) and --current FILE (or --log TARGET:MODEL); files: CSV, TSV, Parquet, JSON or NDJSON",
    );
  if (values.since !== undefined && !logText)
    throw new UsageError("--since goes with --log TARGET:MODEL: it is the start of the log's window");
  const modelRef = modelText === undefined ? undefined : parseModelRef(modelText);
  const logRef = logText === undefined ? undefined : parseLogRef(logText);
  const shareText = values["share-threshold"] as string | undefined;
  const shareThreshold = shareText === undefined ? 0.5 : Number(shareText);
  if (!(shareThreshold >= 0 && shareThreshold <= 1))
    throw new UsageError(`--share-threshold takes a share between 0 and 1, got ${shareText}`);
  const tests = pairs("--tests", values.tests as string | undefined, (v, col) => {
    if (!TESTS.includes(v))
      throw new UsageError(`--tests: unknown test "${v}" for ${col}; use one of ${TESTS.join(", ")}`);
    return v as DriftTestName;
  });
  const thresholds = pairs("--thresholds", values.thresholds as string | undefined, (v, col) => {
    const n = Number(v);
    if (v === "" || !Number.isFinite(n) || n < 0)
      throw new UsageError(`--thresholds: ${col} needs a number ≥ 0, got "${v}"`);
    return n;
  });
  const columns = (values.columns as string | undefined)
    ?.split(",")
    .map((c) => c.trim())
    .filter(Boolean);

  try {
    const ref = referenceFile === undefined ? undefined : checkFile("--reference", referenceFile);
    const cur = currentFile === undefined ? undefined : checkFile("--current", currentFile);
    // The stored profile and the log's source are looked up before any data is read.
    const project = modelRef || logRef ? await projectFor(io, values.project) : undefined;
    if (project === null) return EXIT.invalid;
    const stored = modelRef ? await storedProfile(io, project!, modelRef) : undefined;
    if (stored === null) return EXIT.invalid;
    const source = logRef ? await logSource(project!.dir, logRef) : undefined;
    const [{ Workspace }, { default: ingestFile }, { BlockError }, { computeDrift, DriftInputError }] =
      await Promise.all([
        import("../data/workspace"),
        import("../../nodes/ingest-file"),
        import("../engine/block"),
        import("../monitoring/drift"),
      ]);
    const workspace = await Workspace.open({
      path: ":memory:",
      allowedDirs: [ref, cur].filter((f): f is string => f !== undefined).map((f) => dirname(f)),
    });
    const sql = await workspace.session();
    try {
      const load = async (real: string, given: string, prefix: string) => {
        try {
          const ctx = standaloneContext(sql, dirname(real), { prefix });
          const out = await ingestFile.run(ctx, {}, ingestFile.params.parse({ path: basename(real) }));
          return await workspace.describeTable((out.out as { name: string }).name, sql);
        } catch (e) {
          if (e instanceof BlockError) throw new InputError(e.message.split(basename(real)).join(given));
          throw e;
        }
      };
      let current: DriftTable;
      let currentName: string;
      let logPrivacy: DriftOptions["privacy"];
      let prediction = values.prediction as string | undefined;
      let target = values.target as string | undefined;
      if (source) {
        const log = await readLog(sql, source, logRef!, values.since as string | undefined);
        // Inputs the model's log policy hashed or dropped (issue 19): compared hashed, or absent by design.
        logPrivacy = (await import("../monitoring/log-privacy")).logDriftPrivacy(project!.dir, log);
        // The model's inputs and its answer (label or prediction); not the request's id, time or role.
        const keep = [...log.inputs, ...(log.prediction ? [log.prediction] : [])];
        await sql.run(
          `CREATE OR REPLACE TEMP VIEW current_log AS SELECT ${keep.map((c) => ident(c)).join(", ")} FROM ${ident(log.name)}`,
        );
        current = { name: "current_log", columns: log.columns.filter((c) => keep.includes(c.name)) };
        prediction ??= log.prediction;
        currentName = `${logRef!.target}:${logRef!.model} (${log.requests.toLocaleString("en-US")} requests${values.since ? ` since ${values.since}` : ""})`;
        if (!log.complete)
          io.stderr.write(
            "Warning: the window reaches back before log entries the server's byte budget deleted; the current data is only what is left.\n",
          );
      } else {
        current = await load(cur!, currentFile!, "current");
        currentName = currentFile!;
      }
      let reference: DriftTable;
      let referenceName: string;
      let tested = columns;
      if (stored) {
        const { profileReference } = await import("../monitoring/reference");
        try {
          const side = await profileReference(sql, stored.profile, current, "reference", {
            ...(columns ? { columns } : {}),
            ...(target ? { target } : {}),
            ...(prediction ? { prediction } : {}),
          });
          ({ reference, columns: tested, target, prediction } = side);
        } catch (e) {
          throw new InputError(`--model ${modelText}: ${(e as Error).message}`);
        }
        referenceName = `${modelRef!.name}@${modelRef!.ref} (v${stored.version}'s reference profile)`;
      } else {
        reference = await load(ref!, referenceFile!, "reference");
        referenceName = referenceFile!;
      }
      let report: DriftReport;
      try {
        report = await computeDrift(sql, reference, current, {
          columns: tested,
          tests,
          thresholds,
          shareThreshold,
          target,
          prediction,
          ...(logPrivacy ? { privacy: logPrivacy } : {}),
        });
      } catch (e) {
        if (e instanceof DriftInputError) throw new InputError(e.message);
        throw e;
      }
      io.stdout.write(
        values.json
          ? `${JSON.stringify(report, null, 2)}\n`
          : renderDrift(report, referenceName, currentName),
      );
      return report.datasetDrift ? EXIT.failed : EXIT.ok;
    } finally {
      sql.close();
      workspace.close();
    }
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
}

export async function monitorCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "drift":
      return await driftSubcommand(rest, io);
    case "report":
      return await (await import("./monitor-report")).monitorReportCommand(rest, io);
    case "run":
      return await (await import("./monitor-run")).monitorRunCommand(rest, io);
    case "loops":
      return await (await import("./monitor-run")).monitorLoopsCommand(rest, io);
    case "approve":
    case "reject":
    case "ack":
      return await (await import("./monitor-run")).monitorDecideCommand(sub, rest, io);
    default:
      throw new UsageError(
        sub
          ? `Unknown monitor command "${sub}": use drift, report, run, loops, approve, reject or ack`
          : "monitor needs a command: drift, report, run, loops, approve, reject or ack",
      );
  }
}
