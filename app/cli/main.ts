// Each command imports what it needs when it runs (the pipeline schema, zod, the stores, the engine):
// a module imported here runs its top level at every command's start (bench/cli-start.ts).
import { writeFile } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Catalog } from "../engine/block";
import type { RunEvent, RunSummary } from "../engine/events";
import type { Plan, Problem } from "../pipeline/validate";
import { EXIT, type Io, parse, UsageError } from "./args";
import { CONNECTIONS_HELP } from "./connections";
import { EXPORT_ARGO_HELP } from "./export-argo";
import { FEATURES_ONLINE_HELP } from "./features-online";
import { FEATURES_SERVE_HELP } from "./features-serve";
import { formatMs, ProgressPrinter, renderSummaryTable, runOutcome, runWarnings } from "./format";
import { PRIVACY_HELP } from "./privacy";

export type { Io };

export { EXIT };

const HELP = `dagwood — run machine-learning pipelines headless

Usage:
  dagwood run <pipeline.dag.json> [--project DIR] [--param name=value]... [--no-cache] [--full-refresh NODE]... [--json] [--junit FILE] [--verbose] [--no-attach]
    (--full-refresh: run NODE anew and let it start from nothing, e.g. an incremental ingest.database re-reads its table)
  dagwood validate <pipeline.dag.json> [--param name=value]... [--json] [--no-schemas]
  dagwood blocks [--json]
  dagwood gc [--project DIR] [--keep-runs N] [--no-attach]
  dagwood ui [--project DIR] [--pipeline FILE] [--port N] [--host 127.0.0.1]
  dagwood step <pipeline.dag.json> --node ID --outputs DIR [--inputs DIR] [--input PORT=PATH]... [--param name=value]... [--run-id ID]
    (one node, its inputs and outputs as port folders, as an orchestrator's task runs it; dagwood step --help)
  dagwood step <pipeline.dag.json> --finish-run --run-id ID --status Succeeded|Failed|Error
    (ends the run the steps of one workflow recorded into: the exported workflow's exit handler)

  When the project is open in Dagwood (the desktop app or dagwood ui), run starts the run there: it shows live in
  the app, progress streams here, Ctrl+C cancels it; --no-attach refuses instead. gc, and deploy to the app's
  built-in "local" target, go through the app too. runs and models read and write the project's store beside it.

Runs and models (each takes --project DIR; list and show take --json):
  dagwood runs list [--pipeline P] [--status S] [--where 'train.maxDepth=6']... [--sort -evaluate.accuracy] [--limit N] [--offset N]
                   [--mine | --user NAME] [--host MACHINE]   (--mine: the runs of DAGWOOD_USER, else your OS user)
  dagwood runs show <run-id>
  dagwood runs compare <run-id> <run-id>... [--all]
  dagwood runs export <run-id> [--out DIR] [--unmasked [--yes]]
  dagwood models list
  dagwood models show <name>[@alias|:version]
  dagwood models alias <name> <alias> <version> [--override-reason "…"]   |   dagwood models alias <name> <alias> --remove [--override-reason "…"]
  dagwood models history <name> [--alias A] [--json]   (alias changes, newest first; production ones with their record)
  dagwood models update <name> [--description D] [--owner O] [--tag key=value]...   (--tag key= removes a tag)
                       [--purpose P] [--review-by YYYY-MM-DD] [--deprecate REASON [--replacement M] [--since DATE]] [--undeprecate]
  dagwood models export <name>@<alias>|<name>:<version> [--out DIR] [--unmasked [--yes]]

  --where: key op value with op = != < <= > >= ~ (contains); prefix the key with metric:, param: or tag: to
  choose; otherwise a key that names a metric is a metric, anything else a param.
  --out: a new or empty folder. runs export: relative to the current folder, anywhere. models export:
  relative to the project and inside it (default exports/<name>-v<version>), or a full path anywhere.
  production: the alias moves only to a version whose run's gate passed and that was deployed to the
  staging target; otherwise --override-reason says why (kept in the audit history, see models history).
  Removing production (or archiving the version that holds it) always needs --override-reason.
  --unmasked: personal columns (tagged pii or sensitive) in clear; exports mask them otherwise, and refuse a
  model whose files hold a personal input's categories. Asks "Export personal data in clear? [y/N]" on a
  terminal; --yes confirms elsewhere. Recorded in the audit log (privacy.unmasked).

Serving and deploy (deploy, predict and export take --project DIR):
  dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token-file FILE] [--infer-token]
                [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1] [--log-max-per-second N]   (token also from DAGWOOD_SERVE_TOKEN)
  dagwood deploy <name>@<alias>|<name>:<version> --target T [--canary PERCENT] [--json]
  dagwood deploy canary promote|remove <name> --target T [--version N] [--reason TEXT] [--json]
  dagwood deploy rollback <name> --target T --to <version> [--json]
  dagwood deploy status [--json]
  dagwood predict --model <name>@<alias>|<name>:<version> --input FILE --output FILE [--batch N]   (.parquet or .csv)
  dagwood export kserve|triton <name>@<alias>|<name>:<version> --out DIR [--unmasked [--yes]]
  Targets are named in dagwood.json ("targets": { "T": { "url": ..., "kind": "dagwood" | "triton" } }); their
  tokens come from DAGWOOD_TOKEN_<T> or the OS keychain (service dagwood, target T), never from the file.

Scaling out (a pipeline on Argo Workflows, each node one pod):
${EXPORT_ARGO_HELP}
Data tests (suites in Great Expectations JSON, expectations/<name>.json):
  dagwood expect run <suite.json> --data <file or table> [--project DIR] [--json] [--junit FILE]
  dagwood expect suggest <data file> --out expectations/<name>.json [--margin 0.1] [--name N] [--force]
  dagwood expect list [--json]
  --data: a CSV, TSV, Parquet, JSON or NDJSON file, or a workspace table (t_…) of the project (not while the
  project is open in Dagwood). expect run exits 0 when every expectation passed, 1 when one failed, 2 for bad
  arguments or a suite that cannot be used.

Monitoring (Evidently's default drift tests; exit 0 no dataset drift, 1 dataset drift, 2 bad input):
  dagwood monitor drift --reference FILE --current FILE [--columns a,b] [--target T] [--prediction P] [--tests col=psi,…] [--thresholds col=0.2,…] [--share-threshold 0.5] [--json]
  dagwood monitor drift --model NAME@ALIAS --log TARGET:MODEL [--since 1h] [--project DIR]   (either side may be a file)
  dagwood monitor report --log TARGET:MODEL [--model NAME@ALIAS] [--reference FILE] [--labels FILE] [--window 1h] [--since 1d] [--min-rows 30] [--tolerance 0.05] [--json]
  dagwood monitor run --once [--at ISO] [--json] [--project DIR]   (checks dagwood.json's monitors on their latest complete window, alerts, and advances the retraining loops)
  dagwood monitor loops [--open] [--monitor NAME] [--json] [--project DIR]   (the alerts and retraining loops, newest first)
  dagwood monitor approve|reject|ack <loop-id> [--reason TEXT] [--project DIR]   (approve a challenger, reject it, or acknowledge an alert)
  --model: the version's reference profile (its training data and its predictions on it); --log: the model's
  inference log on a target of dagwood.json (the built-in local target: the project's .dagwood/serving folder).

${CONNECTIONS_HELP}
Datasets (dagwood.json "datasets" name files by path, folder or glob and attach suites; runs record every version read):
  dagwood datasets list [--project DIR] [--json]          name, owner, versions, rows, last test ✓/✗
  dagwood datasets show <name> [--project DIR] [--json]   versions, schema changes, test history with failing expectations

Store (dagwood.json "store": the embedded SQLite file, or a team's PostgreSQL; each takes --project DIR and --json):
  dagwood store status   kind, where, reachable or not, schema version, runs pending in the local journal
  dagwood store sync     copy the runs kept locally while the team store was unreachable into it

Feature store (entities, feature views and services in features/*.json; each takes --project DIR):
  dagwood features apply [--json]   check every view against its source; record the versions of changed views
  dagwood features list [--json]    entities, feature views (with their applied version), feature services
  dagwood features training-set --entities FILE (--features view:feature,… | --service NAME) --out FILE
                                [--timestamp-column event_timestamp] [--full-feature-names]
  --entities: CSV, Parquet or JSON with the join keys, an event timestamp and labels; --out: .parquet or .csv. Each
  row gets each view's latest features at or before its timestamp and within the view's TTL (a point-in-time join).
${FEATURES_ONLINE_HELP}${FEATURES_SERVE_HELP}
Reading a pipeline change (after dagwood init --git, git diff, git log -p and git merge use these for *.dag.json):
  dagwood diff <old> <new> [--json]   (each a file or git:REV:path)
  dagwood diff --textconv <file>
  dagwood merge <base> <ours> <theirs> [<path>]
  dagwood init --git [--project DIR]
  diff: nodes added, removed and renamed, values changed (old → new), edges added and removed, layout counted;
  exit 0 same, 1 different, 2 a file that is not a pipeline. --textconv: one pipeline as review text (git's textconv).
  merge: three-way, into <ours> (git's merge driver): exit 0 clean, 1 conflicts written into the file's "conflicts"
  (dagwood validate lists them until they are picked), 2 a side that is not a pipeline. init --git: adds
  *.dag.json diff=dagwood merge=dagwood to .gitattributes and both drivers to the repository's git config.

Testing in CI (pipeline tests are tests/*.test.json: a pipeline, fixture files for chosen nodes, assertions on outputs):
  dagwood test [<file.test.json>...] [--project DIR] [--junit FILE] [--json] [--verbose]
  dagwood ci [<pipeline.dag.json>...] [--project DIR] [--junit FILE] [--summary FILE] [--base REV] [--no-tests] [--verbose]
  dagwood init --ci github|gitlab [--project DIR] [--pipeline F] [--model M] [--production-target T] [--branch B] [--force]
  test: runs each test's pipeline on its fixtures, only as far as its assertions need, in a temporary copy of the
  project's state (no run or model lands in the project); exit 0 all passed, 1 an assertion failed, 2 a test file or
  its pipeline is invalid, or there are no tests. ci: validates every pipeline of the project (or those given), runs
  the tests, then runs each valid pipeline in the project as run does; one JUnit file (a case per node, expectation,
  gate and test assertion) and a Markdown summary (models against their champion, data tests, tests, what changed
  since --base or git merge-base HEAD origin/main) appended to $GITHUB_STEP_SUMMARY when set, and written to
  --summary FILE. Exit codes as run; 2 also for a project with no pipelines. init --ci: writes
  .github/workflows/dagwood.yml or .gitlab-ci.yml (never over a file there without --force): dagwood ci on a pull or
  merge request; on the branch (main), dagwood test, the training pipeline, staging moved to the version it registered
  and deployed (parity checked); production moved and deployed by a reviewed (GitHub environment) or manual job.

${PRIVACY_HELP}
Governance (owners, review dates, deprecation of datasets, pipelines, suites and models):
  dagwood governance [--project DIR] [--json]   (dagwood governance --help lists the rules; exit 1 when dagwood.json's
  "governance": { "failOn": [...] } names a kind found: noOwner, pastReview, deprecatedInUse)

Exit codes: 0 success, 1 the run failed (a node or a gate failed) or a run or model was not found or a change
was refused, 2 the pipeline or the arguments are invalid.
`;

/**
 * Why a project did not open, in words. Another process holding the DuckDB
 * workspace lock (a run or `dagwood ui` in the same project) is the common
 * case: say so, and what to do, instead of the database's own message.
 */
export function cannotOpenMessage(dir: string, e: unknown): string {
  const msg = (e as Error).message;
  if (/in use by another Dagwood process|Could not set lock|Conflicting lock/i.test(msg)) {
    const pid = /\(PID (\d+)\)/.exec(msg)?.[1];
    return `Another Dagwood process${pid ? ` (PID ${pid})` : ""} is using the project ${dir} (a run, or \`dagwood ui\`). Wait for it to finish, or stop it, then try again.\n`;
  }
  return `Cannot open project ${dir}: ${msg}\n`;
}

export async function printProblems(io: Io, file: string, problems: Problem[]) {
  const { formatProblems } = await import("../pipeline/validate");
  io.stderr.write(
    `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${formatProblems(problems)}\n`,
  );
}

export async function loadAndPlan(
  file: string,
  params: string[],
  cat: Catalog,
): Promise<{ plan?: Plan; problems: Problem[]; overrides?: Record<string, unknown> }> {
  const [{ loadPipelineFile }, { parseOverrides }, { planPipeline }] = await Promise.all([
    import("../pipeline/file"),
    import("../pipeline/params"),
    import("../pipeline/validate"),
  ]);
  const loaded = await loadPipelineFile(file);
  if (!loaded.pipeline) return { problems: loaded.problems };
  let overrides: Record<string, unknown>;
  try {
    overrides = parseOverrides(params);
  } catch (e) {
    return { problems: [{ path: "$.params", message: (e as Error).message }] };
  }
  try {
    return { ...planPipeline(loaded.pipeline, cat, overrides), overrides };
  } catch (e) {
    // Validation has limits for what it knows of; whatever else a file does to it is still a bad file (exit 2), not a crash.
    return {
      problems: [{ path: "$", message: `This file cannot be validated: ${(e as Error).message}` }],
    };
  }
}

/**
 * What a valid plan still gets wrong, found without running: a column a param
 * names that its input lacks, SQL DuckDB refuses, a missing file
 * (app/engine/schema.ts, in a private in-memory DuckDB; the workspace is not opened).
 */
async function schemaProblems(
  file: string,
  plan: Plan,
  cat: Catalog,
  overrides: Record<string, unknown> = {},
): Promise<Problem[]> {
  const [{ findProjectDir, readProjectSettings }, { inferSchemas }] = await Promise.all([
    import("../project/project"),
    import("../engine/schema"),
  ]);
  const projectDir = findProjectDir(file);
  let dataFolders: string[];
  try {
    dataFolders = readProjectSettings(projectDir).dataFolders;
  } catch {
    return []; // A broken dagwood.json is the run's to report; the pipeline itself is valid.
  }
  const allowedDirs = [projectDir, ...dataFolders.map((d) => resolve(projectDir, d))];
  const inferred = await inferSchemas({
    pipeline: plan.pipeline,
    catalog: cat,
    projectDir,
    allowedDirs,
    overrides,
  });
  return inferred.problems;
}

async function validateCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    param: { type: "string", multiple: true },
    json: { type: "boolean" },
    "no-schemas": { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("validate takes exactly one pipeline file");
  const file = positionals[0]!;
  const { problems, plan, overrides } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  // Working out columns loads DuckDB (about 0.2–0.3 s); --no-schemas checks the file and the graph only.
  if (plan && !values["no-schemas"]) problems.push(...(await schemaProblems(file, plan, cat, overrides)));
  if (values.json)
    io.stdout.write(`${JSON.stringify({ file, valid: problems.length === 0, problems }, null, 2)}\n`);
  if (problems.length) {
    if (!values.json) await printProblems(io, file, problems);
    return EXIT.invalid;
  }
  if (!values.json) io.stdout.write(`${file}: valid\n`);
  return EXIT.ok;
}

function jsonSummary(s: RunSummary) {
  return {
    runId: s.runId,
    pipeline: s.pipeline,
    status: s.status,
    ms: s.ms,
    nodes: s.nodes.map((n) => ({
      id: n.id,
      block: n.block,
      status: n.status,
      ...(n.reason ? { reason: n.reason } : {}),
      ms: n.ms,
      ...(n.error ? { error: n.error } : {}),
      outputs: n.outputs,
      warnings: n.warnings ?? 0,
    })),
    metrics: s.metrics,
    warnings: runWarnings(s),
    ...(s.runWarnings?.length ? { runWarnings: s.runWarnings } : {}),
  };
}

interface RunRequest {
  file: string;
  plan: Plan;
  overrides: Record<string, unknown>;
  targets?: string[];
  noCache: boolean;
  fullRefresh?: string[];
  signal: AbortSignal;
  onEvent: (e: RunEvent) => void;
}

/** Ctrl+C (or SIGTERM) aborts `controller` once, with `message`; a second press quits at once. */
function onInterrupt(io: Io, controller: AbortController, message: string): () => void {
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write(`\n${message} (press Ctrl+C again to quit at once)\n`);
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

/** The run in this process, holding the project's lock: a summary, or the exit code when the project did not open. */
async function runInProcess(
  projectDir: string,
  req: RunRequest,
  io: Io,
  staleEngine: string | undefined,
): Promise<RunSummary | number> {
  const [{ Project, ProjectSettingsError }, { runPlan }] = await Promise.all([
    import("../project/project"),
    import("../engine/engine"),
  ]);
  let project: Awaited<ReturnType<typeof Project.open>>;
  try {
    project = await Project.open(projectDir);
  } catch (e) {
    io.stderr.write(cannotOpenMessage(projectDir, e));
    if (staleEngine)
      io.stderr.write(`(.dagwood/engine.json names an engine that cannot be reached: ${staleEngine}.)\n`);
    return e instanceof ProjectSettingsError ? EXIT.invalid : EXIT.failed;
  }
  try {
    return await runPlan({
      project,
      plan: req.plan,
      pipelinePath: resolve(req.file),
      noCache: req.noCache,
      fullRefresh: req.fullRefresh,
      signal: req.signal,
      onEvent: req.onEvent,
      targets: req.targets,
    });
  } finally {
    project.close();
  }
}

/** The run in the engine that has the project open (the app, `dagwood ui`): a summary, or the exit code of a refusal. */
async function runInEngine(
  link: import("./attach").EngineLink,
  projectDir: string,
  req: RunRequest,
  io: Io,
): Promise<RunSummary | number> {
  const { runAttached, EngineCallError, EngineLostError } = await import("./attach");
  const rel = relative(projectDir, resolve(req.file)).split(sep).join("/");
  // The run records its file relative to the project, as the app's own runs do; a file outside it is not named.
  const inside = rel !== "" && !rel.startsWith("../") && !isAbsolute(rel) && rel.endsWith(".dag.json");
  try {
    return await runAttached(link, {
      document: req.plan.pipeline as unknown as Record<string, unknown>,
      path: inside ? rel : undefined,
      params: req.overrides,
      targets: req.targets,
      noCache: req.noCache,
      fullRefresh: req.fullRefresh,
      signal: req.signal,
      onEvent: req.onEvent,
    });
  } catch (e) {
    if (!(e instanceof EngineCallError)) throw e;
    io.stderr.write(
      e instanceof EngineLostError
        ? `${e.message}\n`
        : `Dagwood (PID ${link.pid}) did not run the pipeline: ${e.message}\n`,
    );
    return e.status === 400 ? EXIT.invalid : EXIT.failed;
  }
}

async function runCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    param: { type: "string", multiple: true },
    "no-cache": { type: "boolean" },
    "full-refresh": { type: "string", multiple: true },
    json: { type: "boolean" },
    junit: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    target: { type: "string", multiple: true },
    "no-attach": { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("run takes exactly one pipeline file");
  const file = positionals[0]!;
  const { plan, problems, overrides } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  if (!plan) {
    await printProblems(io, file, problems);
    return EXIT.invalid;
  }
  const targets = values.target as string[] | undefined;
  const unknownTargets = (targets ?? []).filter((t) => !plan.order.some((n) => n.id === t));
  if (unknownTargets.length) {
    io.stderr.write(`--target: no node ${unknownTargets.map((t) => `"${t}"`).join(", ")} in ${file}\n`);
    return EXIT.invalid;
  }
  const fullRefresh = values["full-refresh"] as string[] | undefined;
  const unknownRefresh = (fullRefresh ?? []).filter((t) => !plan.order.some((n) => n.id === t));
  if (unknownRefresh.length) {
    io.stderr.write(
      `--full-refresh: no node ${unknownRefresh.map((t) => `"${t}"`).join(", ")} in ${file}; give a node id of the pipeline\n`,
    );
    return EXIT.invalid;
  }
  const junit = values.junit ? await import("./junit") : undefined;
  const junitIssue = junit?.junitProblem(values.junit as string);
  if (junitIssue) {
    io.stderr.write(`--junit: ${junitIssue}\n`);
    return EXIT.invalid;
  }
  // The engine and the stores load only when a run needs them, so validate and help start fast.
  const [{ findProjectDir }, { findEngine, openElsewhereMessage }] = await Promise.all([
    import("../project/project"),
    import("./attach"),
  ]);
  const projectDir = values.project ? resolve(values.project as string) : findProjectDir(file);
  const engine = await findEngine(projectDir);
  if (engine.state === "live" && values["no-attach"]) {
    io.stderr.write(openElsewhereMessage(engine.link.pid, projectDir));
    return EXIT.failed;
  }
  const controller = new AbortController();
  const printer = new ProgressPrinter(io.stderr, Boolean(values.verbose));
  const req: RunRequest = {
    file,
    plan,
    overrides: overrides ?? {},
    targets,
    noCache: Boolean(values["no-cache"]),
    ...(fullRefresh?.length ? { fullRefresh } : {}),
    signal: controller.signal,
    onEvent: (e) => printer.handle(e),
  };
  let outcome: RunSummary | number;
  if (engine.state === "live") {
    io.stderr.write(`Running in Dagwood (PID ${engine.link.pid}), which has the project open.\n`);
    const release = onInterrupt(io, controller, "Canceling the run in Dagwood…");
    try {
      outcome = await runInEngine(engine.link, projectDir, req, io);
    } finally {
      printer.close();
      release();
    }
  } else {
    const release = onInterrupt(io, controller, "Canceling…");
    try {
      outcome = await runInProcess(projectDir, req, io, engine.state === "stale" ? engine.reason : undefined);
    } finally {
      printer.close();
      release();
    }
  }
  if (typeof outcome === "number") return outcome;
  const summary = outcome;
  const table = renderSummaryTable(summary.nodes);
  if (values.json) {
    io.stderr.write(`${table}\n`);
    io.stdout.write(`${JSON.stringify(jsonSummary(summary), null, 2)}\n`);
  } else {
    const outcome = runOutcome(summary.status, runWarnings(summary));
    io.stdout.write(`\n${table}\n\n${outcome} in ${formatMs(summary.ms)} (run ${summary.runId})\n`);
  }
  if (values.junit && junit) {
    try {
      await writeFile(
        values.junit as string,
        junit.renderJunit(summary, await junit.validationReports(projectDir, summary)),
      );
    } catch (e) {
      // The run is recorded; only the report is lost. A full disk or an unwritable path is the argument's fault.
      io.stderr.write(
        `--junit: could not write ${values.junit} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the run itself ${summary.status} and is recorded as ${summary.runId}.\n`,
      );
      return EXIT.invalid;
    }
  }
  return summary.status === "succeeded" ? EXIT.ok : EXIT.failed;
}

async function blocksCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean" } });
  if (values.json) {
    const { describeBlock } = await import("../api/blocks");
    io.stdout.write(`${JSON.stringify([...cat.values()].map(describeBlock), null, 2)}\n`);
  } else {
    // The listing needs no JSON Schemas: converting every block's params costs more than the rest of the command.
    for (const b of cat.values()) {
      const ins = Object.keys(b.inputs).join(", ") || "—";
      const outs = Object.keys(b.outputs).join(", ");
      io.stdout.write(`${b.kind.padEnd(18)} ${b.category.padEnd(10)} ${ins} → ${outs}  ${b.title}\n`);
    }
  }
  return EXIT.ok;
}

/** Frees workspace space: keeps the outputs the latest runs of each pipeline used, drops the rest. */
/** How long `gc` waits for the app's engine to clean its cache. */
const GC_ATTACHED_MS = 10 * 60_000;

async function gcCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    "keep-runs": { type: "string" },
    "no-attach": { type: "boolean" },
  });
  if (positionals.length) throw new UsageError("gc takes no positional arguments (use --project DIR)");
  const keepRuns = values["keep-runs"] === undefined ? 5 : Number(values["keep-runs"]);
  if (!Number.isInteger(keepRuns) || keepRuns < 0) throw new UsageError("--keep-runs takes a whole number");
  const projectDir = resolve((values.project as string) ?? ".");
  const report = (freed: { entries: number; tables: number }) =>
    io.stdout.write(
      `Kept the outputs of the latest ${keepRuns} run(s) of each pipeline; dropped ${freed.entries} cache entr${freed.entries === 1 ? "y" : "ies"} and ${freed.tables} table(s).\n`,
    );
  // The app (or dagwood ui) holding the project cleans its cache itself, between runs.
  const { findEngine, openElsewhereMessage, EngineCallError } = await import("./attach");
  const engine = await findEngine(projectDir);
  if (engine.state === "live") {
    if (values["no-attach"]) {
      io.stderr.write(openElsewhereMessage(engine.link.pid, projectDir));
      return EXIT.failed;
    }
    io.stderr.write(`Through Dagwood (PID ${engine.link.pid}), which has the project open…\n`);
    try {
      report(await engine.link.call("collectGarbage", { keepRuns }, GC_ATTACHED_MS));
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof EngineCallError)) throw e;
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
  }
  const { Project, ProjectSettingsError } = await import("../project/project");
  let project: Awaited<ReturnType<typeof Project.open>>;
  try {
    project = await Project.open(projectDir);
  } catch (e) {
    io.stderr.write(cannotOpenMessage(projectDir, e));
    return e instanceof ProjectSettingsError ? EXIT.invalid : EXIT.failed;
  }
  try {
    const keep = project.metadata.recentCacheKeys(keepRuns);
    report(await project.workspace.collectGarbage(keep));
    return EXIT.ok;
  } finally {
    project.close();
  }
}

async function uiCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    pipeline: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
  });
  if (positionals.length) throw new UsageError("ui takes no positional arguments (use --project DIR)");
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0..65535, got ${values.port}`);
  const [{ createCoreApi }, { startHttpBridge }, { advertiseEngine }, { join, dirname }, { fileURLToPath }] =
    await Promise.all([
      import("../api/core"),
      import("../api/http"),
      import("../api/engine-advert"),
      import("node:path"),
      import("node:url"),
    ]);
  let api: Awaited<ReturnType<typeof createCoreApi>>;
  try {
    api = await createCoreApi({
      catalog: cat,
      projectDir: values.project ? resolve(values.project as string) : undefined,
    });
  } catch (e) {
    io.stderr.write(cannotOpenMessage(resolve((values.project as string) ?? "."), e));
    return EXIT.failed;
  }
  // dist/cli/main.js → dist/renderer
  const staticDir = join(dirname(fileURLToPath(import.meta.url)), "..", "renderer");
  const host = (values.host as string) ?? "127.0.0.1";
  const bridge = await startHttpBridge({ api, host, port, staticDir });
  // The CLI finds this engine through .dagwood/engine.json and runs in it (app/cli/attach.ts).
  const advertised = advertiseEngine(api, { host, port: bridge.port, token: bridge.token });
  const open = values.pipeline ? `?pipeline=${encodeURIComponent(values.pipeline as string)}` : "";
  io.stdout.write(`Dagwood is running at ${bridge.url}${open}\n`);
  if (values.host && !["127.0.0.1", "localhost", "::1"].includes(values.host as string)) {
    io.stderr.write(
      `Warning: listening on ${values.host}, reachable from other machines. Anyone with the token can use it.\n`,
    );
  }
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  advertised.stop();
  await bridge.close();
  await api.close();
  return EXIT.ok;
}

/**
 * The usage of one command (`run`) or subcommand (`models alias`): its lines
 * of HELP and the notes below them; the whole HELP for anything else.
 */
export function helpFor(command: string, rest: readonly string[]): string {
  const sub = rest[0] && !rest[0].startsWith("-") ? rest[0] : undefined;
  const lines = HELP.split("\n");
  const match = (words: string) => lines.filter((l) => new RegExp(`^\\s+dagwood ${words}( |$)`).test(l));
  const found = (sub && match(`${command} ${sub}`).length ? match(`${command} ${sub}`) : match(command)).map(
    (l) => l.trim(),
  );
  if (!found.length) return HELP;
  const noteOf = (prefix: string) => {
    const start = lines.findIndex((l) => l.startsWith(prefix));
    return lines.slice(start, lines.indexOf("", start)).join("\n");
  };
  const usage = `Usage:\n${found.map((l) => `  ${l}`).join("\n")}\n`;
  if (command === "runs" || command === "models") return `${usage}\n${noteOf("  --where:")}\n`;
  if (command === "run") return `${usage}\n${noteOf("  When the project is open in Dagwood")}\n`;
  if (command === "export" && sub === "argo") return `Usage:\n${EXPORT_ARGO_HELP}`;
  if (command === "privacy") return PRIVACY_HELP;
  if (command === "test" || command === "ci") return `${usage}\n${noteOf("  test: runs each test")}\n`;
  if (command === "diff" || command === "merge" || command === "init")
    return `${usage}\n${noteOf("  diff: nodes added")}\n${command === "init" ? `\n${noteOf("  test: runs each")}\n` : ""}`;
  return usage;
}

/**
 * The catalog given, or the block list. Each command imports what it needs
 * when it runs (the catalog, the stores, deploy), so a command starts without
 * loading the others' code; see bench/cli-start.ts.
 */
async function catalogOr(cat: Catalog | undefined): Promise<Catalog> {
  return cat ?? (await import("../../nodes/index")).catalog;
}

export async function main(argv: string[], io: Io = process, cat?: Catalog): Promise<number> {
  // A command parses each schema a few times: compiling zod's fast paths (new Function per object schema) costs more than it saves.
  // Set before zod loads, where zod reads it (zod/v4/core/core.js keeps its config on globalThis.__zod_globalConfig;
  // z.config() assigns to that object), so that a command that needs no schema (blocks) does not load zod for this.
  const zodConfig = globalThis as { __zod_globalConfig?: Record<string, unknown> };
  zodConfig.__zod_globalConfig ??= {};
  zodConfig.__zod_globalConfig.jitless = true;
  const [command, ...rest] = argv;
  // `serve` and `governance` print their own, fuller usage.
  if (
    command &&
    command !== "serve" &&
    command !== "governance" &&
    command !== "step" &&
    rest.some((a) => a === "--help" || a === "-h")
  ) {
    io.stdout.write(helpFor(command, rest));
    return EXIT.ok;
  }
  try {
    switch (command) {
      case "run":
        return await runCommand(rest, io, await catalogOr(cat));
      case "validate":
        return await validateCommand(rest, io, await catalogOr(cat));
      case "blocks":
        return await blocksCommand(rest, io, await catalogOr(cat));
      case "gc":
        return await gcCommand(rest, io);
      case "ui":
        return await uiCommand(rest, io, await catalogOr(cat));
      case "runs":
        return await (await import("./tracking")).runsCommand(rest, io);
      case "models":
        return await (await import("./tracking")).modelsCommand(rest, io);
      case "connections":
        return await (await import("./connections")).connectionsCommand(rest, io);
      case "datasets":
        return await (await import("./datasets")).datasetsCommand(rest, io);
      case "store":
        return await (await import("./store")).storeCommand(rest, io);
      case "serve": {
        const { serveCommand } = await import("../serving/cli");
        return await serveCommand(rest, io);
      }
      case "deploy":
        return await (await import("./deploy")).deployCommand(rest, io);
      case "governance":
        return await (await import("./governance")).governanceCommand(rest, io);
      case "predict":
        return await (await import("./deploy")).predictCommand(rest, io);
      case "export":
        if (rest[0] === "argo")
          return await (await import("./export-argo")).exportArgoCommand(
            rest.slice(1),
            io,
            await catalogOr(cat),
          );
        return await (await import("./deploy")).exportCommand(rest, io);
      case "expect":
        return await (await import("./expect")).expectCommand(rest, io);
      case "privacy":
        return await (await import("./privacy")).privacyCommand(rest, io);
      case "monitor":
        return await (await import("./monitor")).monitorCommand(rest, io);
      case "features":
        return await (await import("./features")).featuresCommand(rest, io);
      case "diff":
        return await (await import("./diff")).diffCommand(rest, io);
      case "merge":
        return await (await import("./diff")).mergeCommand(rest, io);
      case "init":
        return await (await import("./init")).initCommand(rest, io);
      case "test":
        return await (await import("./test-cmd")).testCommand(rest, io, await catalogOr(cat));
      case "step":
        return await (await import("./step")).stepCommand(rest, io, await catalogOr(cat));
      case "ci":
        return await (await import("./ci")).ciCommand(rest, io, await catalogOr(cat));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(HELP);
        return command === undefined ? EXIT.invalid : EXIT.ok;
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\n\n${HELP}`);
      return EXIT.invalid;
    }
    throw e;
  }
}
