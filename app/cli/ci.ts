/**
 * `dagwood ci [pipelines…]`: what a pull request's check runs. Validates every
 * pipeline of the project (or those named), runs the pipeline tests
 * (`tests/*.test.json`), runs each valid pipeline in the project as `dagwood
 * run` does (suites, gates, registration), writes one JUnit file (per
 * pipeline the suite `run --junit` writes, per test file one case per
 * assertion) and a Markdown summary to `$GITHUB_STEP_SUMMARY` and/or
 * `--summary FILE`. Exit codes as `run`: 0 all passed, 1 a run or a test
 * failed, 2 a pipeline or test file is invalid, or there is no pipeline.
 */
import { appendFile, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { CiPipeline } from "../ci/ci-run";
import type { TestOutcome } from "../ci/pipeline-test";
import type { Catalog } from "../engine/block";
import { EXIT, type Io, parse, UsageError } from "./args";
import { formatMs, ProgressPrinter } from "./format";

/** The project-relative path of a pipeline given on the command line. */
function inProject(projectDir: string, file: string): string | undefined {
  const rel = relative(projectDir, resolve(file));
  if (rel.startsWith("..") || isAbsolute(rel)) return undefined;
  return rel.split(sep).join("/");
}

async function writeSummary(io: Io, file: string, text: string, append: boolean): Promise<boolean> {
  try {
    await (append ? appendFile(file, text) : writeFile(file, text));
    return true;
  } catch (e) {
    io.stderr.write(
      `Could not write the summary to ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).\n`,
    );
    return false;
  }
}

/** The pipelines to check, relative to the project: those given, else every *.dag.json of the project. */
async function pipelineFiles(projectDir: string, given: string[], io: Io): Promise<string[] | number> {
  if (given.length) {
    const outside = given.filter((f) => !inProject(projectDir, f));
    if (outside.length) {
      io.stderr.write(
        `${outside.join(", ")}: not in the project ${projectDir}. dagwood ci runs a project's own pipelines; give --project DIR for another project.\n`,
      );
      return EXIT.invalid;
    }
    return given.map((f) => inProject(projectDir, f)!);
  }
  const { findPipelines } = await import("../api/handlers/projects");
  const files = await findPipelines(projectDir);
  if (files.length) return files;
  io.stderr.write(
    `No pipelines in ${projectDir}: dagwood ci checks a project's *.dag.json files. Give --project DIR for the project's folder, or save a pipeline there first.\n`,
  );
  return EXIT.invalid;
}

/** Validates each pipeline, saying on stderr which are valid and what is wrong with the others. */
async function validateAll(
  projectDir: string,
  files: string[],
  cat: Catalog,
  allowedDirs: string[],
  io: Io,
): Promise<CiPipeline[]> {
  const [{ validateForCi }, { formatProblems }] = await Promise.all([
    import("../ci/ci-run"),
    import("../pipeline/validate"),
  ]);
  const pipelines: CiPipeline[] = [];
  for (const file of files) {
    const entry = await validateForCi(projectDir, file, cat, allowedDirs);
    pipelines.push(entry);
    const n = entry.problems.length;
    io.stderr.write(
      n
        ? `⛔ ${file}: ${n} problem${n === 1 ? "" : "s"}\n${formatProblems(entry.problems)}\n`
        : `✓ ${file}: valid\n`,
    );
  }
  return pipelines;
}

/** Runs the valid pipelines one after another in the project; the exit code when it does not open. */
async function runAll(
  projectDir: string,
  pipelines: CiPipeline[],
  io: Io,
  options: { verbose: boolean; signal: AbortSignal },
): Promise<number | undefined> {
  const runnable = pipelines.filter((p) => p.plan);
  if (!runnable.length || options.signal.aborted) return undefined;
  const [{ Project }, { runForCi }, { validationReports }] = await Promise.all([
    import("../project/project"),
    import("../ci/ci-run"),
    import("./junit"),
  ]);
  let project: Awaited<ReturnType<typeof Project.open>>;
  try {
    project = await Project.open(projectDir);
  } catch (e) {
    const { cannotOpenMessage } = await import("./main");
    io.stderr.write(cannotOpenMessage(projectDir, e));
    return EXIT.failed;
  }
  try {
    for (const entry of runnable) {
      if (options.signal.aborted) break;
      const printer = new ProgressPrinter(io.stderr, options.verbose);
      try {
        await runForCi(project, entry, { signal: options.signal, onEvent: (e) => printer.handle(e) });
      } finally {
        printer.close();
      }
      const run = entry.run!;
      io.stderr.write(
        `${run.status === "succeeded" ? "✓" : "✗"} ${entry.file}: ${run.status} in ${formatMs(run.ms)} (run ${run.runId})\n`,
      );
    }
  } finally {
    project.close();
  }
  // Read from the store once the project is closed, as `run --junit` reads them.
  for (const entry of runnable) if (entry.run) entry.reports = await validationReports(projectDir, entry.run);
  return undefined;
}

/** One JUnit file: invalid pipelines and test files as errors, each test's assertions, each run's nodes and expectations. */
async function writeJunit(
  file: string,
  pipelines: CiPipeline[],
  tests: TestOutcome | undefined,
  seconds: number,
  io: Io,
): Promise<boolean> {
  const [junit, { problemSuite, testResultSuite }] = await Promise.all([
    import("./junit"),
    import("./test-junit"),
  ]);
  const suites = [
    ...pipelines
      .filter((p) => p.problems.length)
      .map((p) =>
        problemSuite(
          p.file,
          "validate",
          p.problems.map((pr) => ({ file: p.file, ...pr })),
        ),
      ),
    ...(tests?.invalid ?? []).map((i) => problemSuite(i.file, "test file", i.problems)),
    ...(tests?.results ?? []).map(testResultSuite),
    ...pipelines.filter((p) => p.run).map((p) => junit.runJunitSuite(p.run!, p.reports)),
  ];
  try {
    await writeFile(file, junit.junitDocument(suites, seconds));
    return true;
  } catch (e) {
    io.stderr.write(
      `--junit: could not write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`,
    );
    return false;
  }
}

/** The one-line outcome on stdout. */
function outcomeLine(
  exit: number,
  pipelines: CiPipeline[],
  tests: TestOutcome | undefined,
  ms: number,
): string {
  const verdict = exit === EXIT.ok ? "Passed" : exit === EXIT.failed ? "Failed" : "Invalid";
  const succeeded = pipelines.filter((p) => p.run?.status === "succeeded").length;
  const invalid = pipelines.filter((p) => p.problems.length).length;
  const testsText = tests
    ? `; ${tests.results.filter((r) => r.status === "passed").length} of ${tests.results.length + tests.invalid.length} tests passed`
    : "";
  return `${verdict}: ${succeeded} of ${pipelines.length} pipeline${pipelines.length === 1 ? "" : "s"} succeeded${invalid ? `, ${invalid} invalid` : ""}${testsText} in ${formatMs(ms)}\n`;
}

export async function ciCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    junit: { type: "string" },
    summary: { type: "string" },
    base: { type: "string" },
    "no-tests": { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
  });
  const [{ findProjectDir, ProjectSettingsError, readProjectSettings }, { junitProblem }] = await Promise.all(
    [import("../project/project"), import("./junit")],
  );
  const projectDir = values.project
    ? resolve(values.project as string)
    : findProjectDir(positionals[0] ? resolve(positionals[0]) : join(process.cwd(), "_"));
  // A revision is never an option to git: refused before anything runs.
  if (typeof values.base === "string" && values.base.startsWith("-"))
    throw new UsageError(
      `--base "${values.base}" is not a revision (it starts with "-"); name a branch, tag or commit`,
    );
  const junitFile = values.junit as string | undefined;
  const summaryFile = values.summary as string | undefined;
  for (const [flag, file, example] of [
    ["--junit", junitFile, "junit.xml"],
    ["--summary", summaryFile, "summary.md"],
  ] as const) {
    const issue = file ? junitProblem(file, example) : undefined;
    if (issue) {
      io.stderr.write(`${flag}: ${issue}\n`);
      return EXIT.invalid;
    }
  }
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(projectDir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const files = await pipelineFiles(projectDir, positionals, io);
  if (typeof files === "number") return files;

  // The runs record into the project's store, which the app holds while it has the project open.
  const { findEngine } = await import("./attach");
  const engine = await findEngine(projectDir);
  if (engine.state === "live") {
    io.stderr.write(
      `The project ${projectDir} is open in Dagwood (PID ${engine.link.pid}); dagwood ci runs its pipelines itself. Close it there and run again.\n`,
    );
    return EXIT.failed;
  }

  const started = performance.now();
  const allowedDirs = [projectDir, ...settings.dataFolders.map((d) => resolve(projectDir, d))];
  const pipelines = await validateAll(projectDir, files, cat, allowedDirs, io);
  const controller = new AbortController();
  const interrupt = () => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write("\nCanceling… (press Ctrl+C again to quit at once)\n");
    controller.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  const verbose = Boolean(values.verbose);
  let tests: TestOutcome | undefined;
  try {
    const { projectTestFiles, runTests } = await import("./test-cmd");
    const testFiles = values["no-tests"] ? [] : await projectTestFiles(projectDir);
    if (testFiles.length) {
      io.stderr.write(`Pipeline tests (${testFiles.length}):\n`);
      tests = await runTests(projectDir, testFiles, cat, io, { verbose, signal: controller.signal });
    }
    const refused = await runAll(projectDir, pipelines, io, { verbose, signal: controller.signal });
    if (refused !== undefined) return refused;
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }

  const invalid = pipelines.some((p) => p.problems.length) || Boolean(tests?.invalid.length);
  const failed =
    controller.signal.aborted ||
    pipelines.some((p) => p.run && p.run.status !== "succeeded") ||
    Boolean(tests?.results.some((r) => r.status === "failed"));
  const exit = invalid ? EXIT.invalid : failed ? EXIT.failed : EXIT.ok;

  let written = true;
  if (junitFile)
    written = await writeJunit(junitFile, pipelines, tests, (performance.now() - started) / 1000, io);
  const stepSummary = process.env.GITHUB_STEP_SUMMARY;
  if (summaryFile || stepSummary) {
    const [{ renderCiSummary }, { pipelineChanges }] = await Promise.all([
      import("../ci/summary"),
      import("../ci/changes"),
    ]);
    const changes = await pipelineChanges(projectDir, files, values.base as string | undefined);
    const text = renderCiSummary({ project: settings.name ?? projectDir, pipelines, tests, changes, exit });
    // GitHub shows the file after the step, and steps append to it (docs.github.com, "Adding a job summary").
    if (stepSummary) written = (await writeSummary(io, stepSummary, text, true)) && written;
    if (summaryFile) written = (await writeSummary(io, summaryFile, text, false)) && written;
  }
  io.stdout.write(outcomeLine(exit, pipelines, tests, performance.now() - started));
  // A report that could not be written is the argument's fault (exit 2), as with `run --junit`.
  return !written && exit === EXIT.ok ? EXIT.invalid : exit;
}
