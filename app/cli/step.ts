// dagwood step: one node of a pipeline, its inputs and outputs as port folders (app/step).
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Catalog } from "../engine/block";
import { EXIT, type Io, parse, UsageError } from "./args";
import { ProgressPrinter } from "./format";

export const STEP_HELP = `Usage:
  dagwood step <pipeline.dag.json> --node ID --outputs DIR [--inputs DIR] [--input PORT=PATH]...
               [--param name=value]... [--project DIR] [--run-id ID] [--json] [--verbose]
  dagwood step <pipeline.dag.json> --finish-run --run-id ID --status Succeeded|Failed|Error
               [--param name=value]... [--project DIR] [--json]

  Runs one node, as an orchestrator's task does (dagwood export argo): its inputs are read from port
  folders, its outputs written as port folders, with the block code, cache key and fingerprints of a
  local run. Inputs: one folder per connected input port, DIR/<port> (--inputs DIR), or any folder
  (--input <port>=PATH, which wins). Outputs: DIR/<port> for each output port, and DIR/result.json
  (status, cache key, input and output fingerprints, metrics, timings). --outputs must be new or empty.
  A port folder: value.json (type, fingerprint; a table's columns and rows, or the JSON value),
  table.parquet for a table, files/<path> for the files a model names (its ONNX file). An input whose
  content does not give the fingerprint its value.json records is refused.
  --run-id: the run to record into: every step of one workflow gives the same one (the Argo export gives
  {{workflow.name}}), and records its node into that one run, which no step finishes. Without it, the step
  is a run of its own. ARGO_WORKFLOW_NAME, ARGO_WORKFLOW_UID and ARGO_POD_NAME, when set, are recorded as
  the run's tags argo.workflow, argo.uid and argo.pod.<node>; a run of that id whose argo.uid is another
  (a workflow of the same name, deleted since) is refused.
  Exit 0 the node ran (or was cached); 1 it failed, or the step hit an internal error (a retry may help;
  result.json status "failed"); 2 bad arguments or inputs (status "refused"). result.json says why, except
  when --outputs is not new or empty: then it is left as it was.
  --finish-run: ends the run --run-id once every step is done (the exported workflow's exit handler runs
  it): --status is the workflow's, as Argo's {{workflow.status}} gives it; Succeeded makes the run
  succeeded, Failed and Error failed, its error naming the nodes whose last attempt failed and those with
  no record. A run no step recorded is recorded then (with the --param values, as the steps would have).
  Exit 0 done; 1 the store failed (a retry may help); 2 bad arguments.
`;

/** Input port → folder: DIR/<port> for each port folder in --inputs DIR, then each --input PORT=PATH. */
function inputFolders(
  ports: readonly string[],
  dir: string | undefined,
  pairs: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (dir) {
    for (const port of ports) {
      const path = join(resolve(dir), port);
      if (existsSync(path)) out[port] = path;
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || eq === pair.length - 1) throw new UsageError(`--input expects port=PATH, got "${pair}"`);
    out[pair.slice(0, eq)] = resolve(pair.slice(eq + 1));
  }
  return out;
}

/** The name an invalid pipeline file gives itself, if it can be read; else the file's name. */
function pipelineName(file: string): string {
  try {
    const name = (JSON.parse(readFileSync(file, "utf8")) as { name?: unknown }).name;
    if (typeof name === "string" && name) return name;
  } catch {
    // not JSON: the file's name says which pipeline it was meant to be
  }
  return basename(file).replace(/\.dag\.json$|\.json$/, "");
}

export async function stepCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  if (args.some((a) => a === "--help" || a === "-h")) {
    io.stdout.write(STEP_HELP);
    return EXIT.ok;
  }
  const { values, positionals } = parse(args, {
    node: { type: "string" },
    inputs: { type: "string" },
    input: { type: "string", multiple: true },
    outputs: { type: "string" },
    param: { type: "string", multiple: true },
    project: { type: "string" },
    "run-id": { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
    "finish-run": { type: "boolean" },
    status: { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("step takes exactly one pipeline file");
  if (values["finish-run"]) return finishRunCommand(positionals[0]!, values, io, cat);
  if (values.status !== undefined) throw new UsageError("--status goes with --finish-run");
  if (!values.node) throw new UsageError("step needs --node ID");
  if (!values.outputs) throw new UsageError("step needs --outputs DIR");
  const file = positionals[0]!;
  const [{ loadAndPlan, printProblems }, { findProjectDir }] = await Promise.all([
    import("./main"),
    import("../project/project"),
  ]);
  const { plan, problems } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  const { runStep, StepRefused, envTags, writeEarlyRefusal } = await import("../step/step");
  // Refused before the step has a plan: result.json says why all the same (when --outputs is new or empty).
  const refuse = (error: string) =>
    writeEarlyRefusal(resolve(values.outputs as string), {
      pipeline: plan?.pipeline.name ?? pipelineName(file),
      node: values.node as string,
      error,
      tags: envTags(),
    });
  if (!plan) {
    await printProblems(io, file, problems);
    await refuse(`${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    return EXIT.invalid;
  }
  const node = plan.order.find((n) => n.id === values.node);
  let inputs: Record<string, string>;
  try {
    inputs = inputFolders(
      Object.keys(node?.inputs ?? {}),
      values.inputs as string | undefined,
      (values.input as string[]) ?? [],
    );
  } catch (e) {
    await refuse((e as Error).message);
    throw e;
  }
  const { PortFileError } = await import("../step/port-files");
  const printer = new ProgressPrinter(io.stderr, Boolean(values.verbose));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    const result = await runStep({
      plan,
      nodeId: values.node as string,
      projectDir: values.project ? resolve(values.project as string) : findProjectDir(file),
      pipelinePath: resolve(file),
      inputs,
      outputs: resolve(values.outputs as string),
      runId: values["run-id"] as string | undefined,
      tags: envTags(),
      onEvent: (e) => printer.handle(e),
      signal: controller.signal,
    });
    printer.close();
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const outs = Object.entries(result.outputs)
        .map(
          ([p, o]) => `${p} ${o.fingerprint.slice(0, 12)}${o.rows !== undefined ? ` (${o.rows} rows)` : ""}`,
        )
        .join(", ");
      io.stdout.write(
        `${result.node} (${result.block}): ${result.status}${result.error ? `: ${result.error}` : ""}${outs ? ` → ${outs}` : ""} [${result.timings.totalMs} ms]\n`,
      );
    }
    return result.status === "failed" ? EXIT.failed : EXIT.ok;
  } catch (e) {
    printer.close();
    if (e instanceof StepRefused || e instanceof PortFileError) {
      io.stderr.write(`dagwood step: ${(e as Error).message}\n`);
      return EXIT.invalid;
    }
    // Anything else may pass on a retry (exit 1): its message, and the stack with --verbose.
    io.stderr.write(`dagwood step: ${values.verbose ? ((e as Error).stack ?? e) : (e as Error).message}\n`);
    return EXIT.failed;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

/** `dagwood step --finish-run`: the end of a run the steps of one workflow recorded into (app/step/finish.ts). */
async function finishRunCommand(
  file: string,
  values: Record<string, unknown>,
  io: Io,
  cat: Catalog,
): Promise<number> {
  const extra = ["node", "outputs", "inputs", "input"].filter((k) => values[k] !== undefined);
  if (extra.length)
    throw new UsageError(
      `--finish-run ends a run; it takes no ${extra.map((k) => `--${k}`).join(", ")} (those run a node)`,
    );
  if (!values["run-id"])
    throw new UsageError("--finish-run needs --run-id ID (the run the steps recorded into)");
  if (!values.status)
    throw new UsageError("--finish-run needs --status Succeeded|Failed|Error (Argo's {{workflow.status}})");
  const [{ loadAndPlan, printProblems }, { findProjectDir }] = await Promise.all([
    import("./main"),
    import("../project/project"),
  ]);
  const { plan, problems } = await loadAndPlan(file, (values.param as string[]) ?? [], cat);
  if (!plan) {
    await printProblems(io, file, problems);
    return EXIT.invalid;
  }
  const [{ finishWorkflowRun }, { StepRefused, envTags }] = await Promise.all([
    import("../step/finish"),
    import("../step/step"),
  ]);
  // The exit handler's own pod is no node's: only the workflow's name is a tag.
  const { "argo.pod": _pod, ...tags } = envTags();
  try {
    const result = await finishWorkflowRun({
      plan,
      projectDir: values.project ? resolve(values.project as string) : findProjectDir(file),
      pipelinePath: resolve(file),
      runId: values["run-id"] as string,
      workflowStatus: values.status as string,
      tags,
    });
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const counts = new Map<string, number>();
      for (const n of result.nodes)
        counts.set(n.status ?? "no record", (counts.get(n.status ?? "no record") ?? 0) + 1);
      const nodes = [...counts].map(([s, c]) => `${c} ${s}`).join(", ");
      io.stdout.write(
        `Run ${result.runId}: ${result.status}${result.created ? " (recorded now: no step had)" : ""}; nodes: ${nodes}${result.error ? `\n${result.error}` : ""}\n`,
      );
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof StepRefused) {
      io.stderr.write(`dagwood step: ${(e as Error).message}\n`);
      return EXIT.invalid;
    }
    io.stderr.write(
      `dagwood step --finish-run: ${values.verbose ? ((e as Error).stack ?? e) : (e as Error).message}\n`,
    );
    return EXIT.failed;
  }
}
