/**
 * `dagwood test [files…]`: runs pipeline tests (`tests/*.test.json`, the
 * format in app/ci/test-file.ts) on their small fixture files, each in a
 * stand-in for the project so the project's runs and registry are untouched.
 * Exit codes as `run`: 0 every assertion passed, 1 one failed, 2 a test file
 * (or its pipeline) is invalid, or there are no tests.
 */
import { writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { TestOutcome, TestResult } from "../ci/pipeline-test";
import { formatTestProblems, TEST_DIR, TEST_SUFFIX } from "../ci/test-file";
import type { Catalog } from "../engine/block";
import { EXIT, type Io, parse } from "./args";
import { formatMs, ProgressPrinter } from "./format";

/** One test's outcome as JSON: what `--json` prints per file. */
function jsonResult(r: TestResult) {
  return {
    file: r.file,
    pipeline: r.pipeline,
    status: r.status,
    ms: Math.round(r.ms),
    runId: r.run.runId,
    assertions: r.assertions,
    nodes: r.run.nodes.map((n) => ({ id: n.id, status: n.status, ...(n.error ? { error: n.error } : {}) })),
  };
}

/**
 * Prepares and runs `files` (every tests/*.test.json of the project when
 * none), reporting each on `io.stderr` as it ends. A bad dagwood.json is
 * thrown (ProjectSettingsError).
 */
export async function runTests(
  projectDir: string,
  files: string[],
  cat: Catalog,
  io: Io,
  options: { verbose?: boolean; signal?: AbortSignal } = {},
): Promise<TestOutcome> {
  const { prepareTest, runPreparedTest } = await import("../ci/pipeline-test");
  const outcome: TestOutcome = { results: [], invalid: [] };
  for (const file of files) {
    if (options.signal?.aborted) break;
    const { prepared, problems } = await prepareTest(projectDir, file, cat);
    if (!prepared) {
      const rel = relative(projectDir, file);
      const name = rel.startsWith("..") || isAbsolute(rel) ? file : rel.split(sep).join("/");
      outcome.invalid.push({ file: name, problems });
      io.stderr.write(
        `✗ ${name}: cannot be run, ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${formatTestProblems(problems)}\n`,
      );
      continue;
    }
    // The nodes' progress only with --verbose: a test reports its assertions.
    const printer = options.verbose ? new ProgressPrinter(io.stderr, true) : undefined;
    let result: TestResult;
    try {
      result = await runPreparedTest(projectDir, prepared, {
        signal: options.signal,
        onEvent: printer && ((e) => printer.handle(e)),
      });
    } finally {
      printer?.close();
    }
    outcome.results.push(result);
    const passed = result.assertions.filter((a) => a.ok).length;
    const mark = result.status === "passed" ? "✓" : "✗";
    io.stderr.write(
      `${mark} ${result.file} (${result.pipeline}): ${passed} of ${result.assertions.length} assertions passed in ${formatMs(result.ms)}\n`,
    );
    for (const a of result.assertions)
      if (!a.ok || options.verbose) io.stderr.write(`    ${a.ok ? "✓" : "✗"} ${a.name}: ${a.message}\n`);
  }
  return outcome;
}

/** The project's test files, or a message saying there are none. */
export async function projectTestFiles(projectDir: string): Promise<string[]> {
  const { findTestFiles } = await import("../ci/pipeline-test");
  return findTestFiles(projectDir);
}

export function noTestsMessage(projectDir: string): string {
  return `No pipeline tests in ${join(projectDir, TEST_DIR)}: a test is a ${TEST_DIR}/<name>${TEST_SUFFIX} file naming a pipeline, its fixtures and assertions (dagwood test --help).\n`;
}

export async function testCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    junit: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
  });
  const [{ findProjectDir, ProjectSettingsError }, junit] = await Promise.all([
    import("../project/project"),
    import("./junit"),
  ]);
  const projectDir = values.project
    ? resolve(values.project as string)
    : findProjectDir(positionals[0] ? resolve(positionals[0]) : join(process.cwd(), "_"));
  const junitFile = values.junit as string | undefined;
  const junitIssue = junitFile ? junit.junitProblem(junitFile) : undefined;
  if (junitIssue) {
    io.stderr.write(`--junit: ${junitIssue}\n`);
    return EXIT.invalid;
  }
  const files = positionals.length ? positionals.map((f) => resolve(f)) : await projectTestFiles(projectDir);
  if (!files.length) {
    io.stderr.write(noTestsMessage(projectDir));
    return EXIT.invalid;
  }
  const controller = new AbortController();
  const interrupt = () => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write("\nCanceling the tests… (press Ctrl+C again to quit at once)\n");
    controller.abort();
  };
  process.on("SIGINT", interrupt);
  const started = performance.now();
  let outcome: TestOutcome;
  try {
    outcome = await runTests(projectDir, files, cat, io, {
      verbose: Boolean(values.verbose),
      signal: controller.signal,
    });
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  } finally {
    process.off("SIGINT", interrupt);
  }
  const { results, invalid } = outcome;
  const failed = results.filter((r) => r.status === "failed").length;
  if (values.json)
    io.stdout.write(`${JSON.stringify({ results: results.map(jsonResult), invalid }, null, 2)}\n`);
  else
    io.stdout.write(
      `${results.length - failed} of ${results.length + invalid.length} test${results.length + invalid.length === 1 ? "" : "s"} passed${failed ? `, ${failed} failed` : ""}${invalid.length ? `, ${invalid.length} could not run` : ""} in ${formatMs(performance.now() - started)}\n`,
    );
  if (junitFile) {
    const { testResultSuite, problemSuite } = await import("./test-junit");
    const suites = [
      ...invalid.map((i) => problemSuite(i.file, "test file", i.problems)),
      ...results.map(testResultSuite),
    ];
    try {
      await writeFile(junitFile, junit.junitDocument(suites, (performance.now() - started) / 1000));
    } catch (e) {
      io.stderr.write(
        `--junit: could not write ${junitFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`,
      );
      return EXIT.invalid;
    }
  }
  if (invalid.length) return EXIT.invalid;
  if (controller.signal.aborted) return EXIT.failed;
  return failed ? EXIT.failed : EXIT.ok;
}
