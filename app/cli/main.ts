import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { catalog } from "../../nodes/index";
import { describeBlock } from "../api/blocks";
import type { Catalog } from "../engine/block";
import type { RunSummary } from "../engine/events";
import { loadPipelineFile } from "../pipeline/file";
import { parseOverrides } from "../pipeline/params";
import { formatProblems, type Problem, planPipeline } from "../pipeline/validate";
import { EXIT, type Io, parse, UsageError } from "./args";
import { deployCommand, exportCommand, predictCommand } from "./deploy";
import { formatMs, ProgressPrinter, renderSummaryTable } from "./format";
import { renderJunit } from "./junit";
import { modelsCommand, runsCommand } from "./tracking";

export type { Io };

export { EXIT };

const HELP = `dagwood — run machine-learning pipelines headless

Usage:
  dagwood run <pipeline.dag.json> [--project DIR] [--param name=value]... [--no-cache] [--json] [--junit FILE] [--verbose]
  dagwood validate <pipeline.dag.json> [--param name=value]... [--json]
  dagwood blocks [--json]
  dagwood gc [--project DIR] [--keep-runs N]
  dagwood ui [--project DIR] [--pipeline FILE] [--port N] [--host 127.0.0.1]

Runs and models (each takes --project DIR; list and show take --json):
  dagwood runs list [--pipeline P] [--status S] [--where 'train.maxDepth=6']... [--sort -evaluate.accuracy] [--limit N] [--offset N]
  dagwood runs show <run-id>
  dagwood runs compare <run-id> <run-id>... [--all]
  dagwood runs export <run-id> [--out DIR]
  dagwood models list
  dagwood models show <name>[@alias|:version]
  dagwood models alias <name> <alias> <version>   |   dagwood models alias <name> <alias> --remove
  dagwood models update <name> [--description D] [--owner O] [--tag key=value]...   (--tag key= removes a tag)
  dagwood models export <name>@<alias>|<name>:<version> [--out DIR]

  --where: key op value with op = != < <= > >= ~ (contains); prefix the key with metric:, param: or tag: to
  choose; otherwise a key that names a metric is a metric, anything else a param.
  --out: a new or empty folder. runs export: relative to the current folder, anywhere. models export:
  relative to the project and inside it (default exports/<name>-v<version>), or a full path anywhere.

Serving and deploy (deploy, predict and export take --project DIR):
  dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token-file FILE] [--infer-token]
                [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1] [--log-max-per-second N]   (token also from DAGWOOD_SERVE_TOKEN)
  dagwood deploy <name>@<alias>|<name>:<version> --target T [--json]
  dagwood deploy rollback <name> --target T --to <version> [--json]
  dagwood deploy status [--json]
  dagwood predict --model <name>@<alias>|<name>:<version> --input FILE --output FILE [--batch N]   (.parquet or .csv)
  dagwood export kserve|triton <name>@<alias>|<name>:<version> --out DIR
  Targets are named in dagwood.json ("targets": { "T": { "url": ..., "kind": "dagwood" | "triton" } }); their
  tokens come from DAGWOOD_TOKEN_<T> or the OS keychain (service dagwood, target T), never from the file.

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

function printProblems(io: Io, file: string, problems: Problem[]) {
  io.stderr.write(
    `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${formatProblems(problems)}\n`,
  );
}

async function loadAndPlan(file: string, params: string[], cat: Catalog) {
  const loaded = await loadPipelineFile(file);
  if (!loaded.pipeline) return { problems: loaded.problems };
  let overrides: Record<string, unknown>;
  try {
    overrides = parseOverrides(params);
  } catch (e) {
    return { problems: [{ path: "$.params", message: (e as Error).message }] };
  }
  try {
    return planPipeline(loaded.pipeline, cat, overrides);
  } catch (e) {
    // Validation has limits for what it knows of; whatever else a file does to it is still a bad file (exit 2), not a crash.
    return {
      problems: [{ path: "$", message: `This file cannot be validated: ${(e as Error).message}` }],
    };
  }
}

/**
 * Why `--junit FILE` cannot be written, checked before the run so a run's
 * work is not lost to a typo: the folder must exist and FILE must not be a folder.
 */
function junitProblem(file: string): string | undefined {
  const abs = resolve(file);
  if (!existsSync(dirname(abs))) return `the folder of ${file} does not exist`;
  try {
    if (statSync(abs).isDirectory())
      return `${file} is a folder; name a file, e.g. ${join(file, "junit.xml")}`;
  } catch {
    // a new file
  }
  return undefined;
}

async function validateCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    param: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("validate takes exactly one pipeline file");
  const file = positionals[0]!;
  const { problems } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  if (values.json)
    io.stdout.write(`${JSON.stringify({ file, valid: problems.length === 0, problems }, null, 2)}\n`);
  if (problems.length) {
    if (!values.json) printProblems(io, file, problems);
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
    })),
    metrics: s.metrics,
  };
}

async function runCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    param: { type: "string", multiple: true },
    "no-cache": { type: "boolean" },
    json: { type: "boolean" },
    junit: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    target: { type: "string", multiple: true },
  });
  if (positionals.length !== 1) throw new UsageError("run takes exactly one pipeline file");
  const file = positionals[0]!;
  const { plan, problems } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  if (!plan) {
    printProblems(io, file, problems);
    return EXIT.invalid;
  }
  const unknownTargets = ((values.target as string[] | undefined) ?? []).filter(
    (t) => !plan.order.some((n) => n.id === t),
  );
  if (unknownTargets.length) {
    io.stderr.write(`--target: no node ${unknownTargets.map((t) => `"${t}"`).join(", ")} in ${file}\n`);
    return EXIT.invalid;
  }
  const junitIssue = values.junit ? junitProblem(values.junit as string) : undefined;
  if (junitIssue) {
    io.stderr.write(`--junit: ${junitIssue}\n`);
    return EXIT.invalid;
  }
  // The engine and the stores load only when a run needs them, so validate and help start fast.
  const [{ Project, findProjectDir, ProjectSettingsError }, { runPlan }] = await Promise.all([
    import("../project/project"),
    import("../engine/engine"),
  ]);
  const projectDir = values.project ? resolve(values.project as string) : findProjectDir(file);
  let project: Awaited<ReturnType<typeof Project.open>>;
  try {
    project = await Project.open(projectDir);
  } catch (e) {
    io.stderr.write(cannotOpenMessage(projectDir, e));
    return e instanceof ProjectSettingsError ? EXIT.invalid : EXIT.failed;
  }
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write("\nCanceling… (press Ctrl+C again to quit at once)\n");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const printer = new ProgressPrinter(io.stderr, Boolean(values.verbose));
  let summary: RunSummary;
  try {
    summary = await runPlan({
      project,
      plan,
      pipelinePath: resolve(file),
      noCache: Boolean(values["no-cache"]),
      signal: controller.signal,
      onEvent: (e) => printer.handle(e),
      targets: values.target as string[] | undefined,
    });
  } finally {
    printer.close();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    project.close();
  }
  const table = renderSummaryTable(summary.nodes);
  if (values.json) {
    io.stderr.write(`${table}\n`);
    io.stdout.write(`${JSON.stringify(jsonSummary(summary), null, 2)}\n`);
  } else {
    io.stdout.write(`\n${table}\n\n${summary.status} in ${formatMs(summary.ms)} (run ${summary.runId})\n`);
  }
  if (values.junit) {
    try {
      await writeFile(values.junit as string, renderJunit(summary));
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

function blocksCommand(args: string[], io: Io, cat: Catalog): number {
  const { values } = parse(args, { json: { type: "boolean" } });
  const list = [...cat.values()].map(describeBlock);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  } else {
    for (const b of list) {
      const ins = Object.keys(b.inputs).join(", ") || "—";
      const outs = Object.keys(b.outputs).join(", ");
      io.stdout.write(`${b.kind.padEnd(18)} ${b.category.padEnd(10)} ${ins} → ${outs}  ${b.title}\n`);
    }
  }
  return EXIT.ok;
}

/** Frees workspace space: keeps the outputs the latest runs of each pipeline used, drops the rest. */
async function gcCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    "keep-runs": { type: "string" },
  });
  if (positionals.length) throw new UsageError("gc takes no positional arguments (use --project DIR)");
  const keepRuns = values["keep-runs"] === undefined ? 5 : Number(values["keep-runs"]);
  if (!Number.isInteger(keepRuns) || keepRuns < 0) throw new UsageError("--keep-runs takes a whole number");
  const { Project, ProjectSettingsError } = await import("../project/project");
  let project: Awaited<ReturnType<typeof Project.open>>;
  const projectDir = resolve((values.project as string) ?? ".");
  try {
    project = await Project.open(projectDir);
  } catch (e) {
    io.stderr.write(cannotOpenMessage(projectDir, e));
    return e instanceof ProjectSettingsError ? EXIT.invalid : EXIT.failed;
  }
  try {
    const keep = project.metadata.recentCacheKeys(keepRuns);
    const freed = await project.workspace.collectGarbage(keep);
    io.stdout.write(
      `Kept the outputs of the latest ${keepRuns} run(s) of each pipeline; dropped ${freed.entries} cache entr${freed.entries === 1 ? "y" : "ies"} and ${freed.tables} table(s).\n`,
    );
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
  const [{ createCoreApi }, { startHttpBridge }, { join, dirname }, { fileURLToPath }] = await Promise.all([
    import("../api/core"),
    import("../api/http"),
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
  const bridge = await startHttpBridge({
    api,
    host: (values.host as string) ?? "127.0.0.1",
    port,
    staticDir,
  });
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
  const start = lines.findIndex((l) => l.startsWith("  --where:"));
  const notes = lines.slice(start, lines.indexOf("", start));
  const usage = `Usage:\n${found.map((l) => `  ${l}`).join("\n")}\n`;
  return command === "runs" || command === "models" ? `${usage}\n${notes.join("\n")}\n` : usage;
}

export async function main(argv: string[], io: Io = process, cat: Catalog = catalog): Promise<number> {
  const [command, ...rest] = argv;
  // `serve` prints its own, fuller usage.
  if (command && command !== "serve" && rest.some((a) => a === "--help" || a === "-h")) {
    io.stdout.write(helpFor(command, rest));
    return EXIT.ok;
  }
  try {
    switch (command) {
      case "run":
        return await runCommand(rest, io, cat);
      case "validate":
        return await validateCommand(rest, io, cat);
      case "blocks":
        return blocksCommand(rest, io, cat);
      case "gc":
        return await gcCommand(rest, io);
      case "ui":
        return await uiCommand(rest, io, cat);
      case "runs":
        return await runsCommand(rest, io);
      case "models":
        return await modelsCommand(rest, io);
      case "serve": {
        const { serveCommand } = await import("../serving/cli");
        return await serveCommand(rest, io);
      }
      case "deploy":
        return await deployCommand(rest, io);
      case "predict":
        return await predictCommand(rest, io);
      case "export":
        return await exportCommand(rest, io);
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
