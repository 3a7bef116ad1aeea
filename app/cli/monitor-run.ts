/**
 * `dagwood monitor run --once`: checks every monitor of dagwood.json on its
 * latest complete window (app/monitoring/monitors.ts) and advances the
 * retraining loops (app/monitoring/loop.ts: the retraining pipeline runs
 * here, in this process), one line per monitor and one per loop step taken,
 * for cron, CI or a container. Exit 0: no breach; 1: a monitor breached
 * (alerted now or before); 2: bad settings or a monitor that cannot be checked.
 *
 * `dagwood monitor loops` lists the loops (the alerts); `dagwood monitor
 * approve|reject|ack <loop-id>` is a person's decision on one.
 */
import { resolve } from "node:path";
import type { RunSummary } from "../engine/events";
import type { MonitorTick, RunPipeline } from "../monitoring/loop";
import type { MonitorCheck } from "../monitoring/monitors";
import type { MonitorLoop } from "../values/loop";
import { EXIT, findProjectStore, type Io, openMetadataStore, parse, UsageError } from "./args";

export const MONITOR_RUN_USAGE = "dagwood monitor run --once [--at ISO] [--json] [--project DIR]";
export const MONITOR_LOOPS_USAGE = "dagwood monitor loops [--open] [--monitor NAME] [--json] [--project DIR]";
export const MONITOR_DECIDE_USAGE =
  "dagwood monitor approve|reject|ack <loop-id> [--reason TEXT] [--project DIR]";

function line(c: MonitorCheck): string {
  const head = `${c.breached ? "✗" : c.tested ? "✓" : "·"} ${c.monitor}: ${c.model}${c.version !== null ? ` v${c.version}` : ""} on ${c.target}, window ${c.window.start} – ${c.window.end}, ${c.rows} rows`;
  if (!c.tested) return `${head}: not tested (too few rows)`;
  if (!c.breached) return `${head}: no breach`;
  const what = c.alreadyAlerted
    ? "already alerted"
    : `alert recorded${c.webhook ? (c.webhook.sent ? `, webhook sent (HTTP ${c.webhook.status})` : `; ${c.webhook.error}`) : ""}`;
  return `${head}: ${c.reasons.join("; ")} — ${what}`;
}

/**
 * One line per step a loop took in this tick (its history lines added since
 * `before`); a loop opened now starts after its first line, the alert the
 * monitor's line already reports.
 */
function stepLines(loop: MonitorLoop, before: number | undefined): string[] {
  return loop.history.slice(before ?? 1).map((h) => `  ↳ loop ${loop.id} (${h.stage}): ${h.message}`);
}

function loopLine(l: MonitorLoop): string {
  const mark = l.status === "closed" ? "·" : l.stage === "failed" ? "✗" : "!";
  const versions = `${l.model}${l.champion !== null ? ` v${l.champion}` : ""}${l.challenger !== null ? ` → v${l.challenger}` : ""}`;
  const last = l.outcome ?? l.history[l.history.length - 1]?.message ?? "";
  return `${mark} ${l.id}  ${l.stage.padEnd(17)} ${l.monitor}: ${versions} on ${l.target}, window ${l.window.start}${last ? ` — ${last}` : ""}`;
}

async function openProject(io: Io, projectOpt: unknown, what: string) {
  const project = await findProjectStore(
    io,
    projectOpt,
    (dir) =>
      `No Dagwood project store in ${dir}: ${what} reads a project's registry and targets. Run it in the project folder, or pass --project DIR.`,
  );
  if (!project) return undefined;
  const { readProjectSettings, ProjectSettingsError } = await import("../project/project");
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(project.dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) {
      io.stderr.write(`${e.message}\n`);
      return undefined;
    }
    throw e;
  }
  const metadata = await openMetadataStore(io, project.dir, project.db);
  if (!metadata) return undefined;
  return { dir: project.dir, settings, metadata };
}

/**
 * Runs a project pipeline file in this process, as `dagwood run` does, with
 * the loop's tags set on the run as soon as it starts (so a resumed loop
 * finds it). The project is opened for the run and closed after it.
 */
export function pipelineRunner(projectDir: string): RunPipeline {
  return async (req) => {
    const [{ loadPipelineFile }, { planPipeline }, { Project }, { runPlan, newRunId }, { catalog }] =
      await Promise.all([
        import("../pipeline/file"),
        import("../pipeline/validate"),
        import("../project/project"),
        import("../engine/engine"),
        import("../../nodes/index"),
      ]);
    const file = resolve(projectDir, req.pipeline);
    const loaded = await loadPipelineFile(file);
    const problem = (problems: { path: string; message: string }[]) =>
      problems.map((p) => `${p.path}: ${p.message}`).join("; ");
    if (!loaded.pipeline)
      throw new Error(`the retraining pipeline ${req.pipeline}: ${problem(loaded.problems)}`);
    const { plan, problems } = planPipeline(loaded.pipeline, catalog, req.params);
    if (!plan) throw new Error(`the retraining pipeline ${req.pipeline}: ${problem(problems)}`);
    const outcome = (summary: RunSummary) => {
      const failed = summary.nodes.find((n) => n.status === "failed" && n.error);
      return {
        runId: summary.runId,
        status:
          summary.status === "succeeded"
            ? ("succeeded" as const)
            : summary.status === "canceled"
              ? ("canceled" as const)
              : ("failed" as const),
        ...(failed ? { error: `node ${failed.id}: ${failed.error}` } : {}),
      };
    };
    // The app (or `dagwood ui`) has the project open: the run goes to it, as `dagwood run` sends it.
    const { findEngine, runAttached } = await import("./attach");
    const engine = await findEngine(projectDir);
    if (engine.state === "live") {
      const tagged: Promise<unknown>[] = [];
      const summary = await runAttached(engine.link, {
        document: plan.pipeline as unknown as Record<string, unknown>,
        path: req.pipeline,
        params: req.params,
        signal: new AbortController().signal,
        onEvent: (e) => {
          if (e.type === "run.started")
            tagged.push(engine.link.call("setRunTags", { runId: e.runId, set: req.tags, remove: [] }));
        },
      });
      await Promise.all(tagged);
      return outcome(summary);
    }
    const project = await Project.open(projectDir);
    try {
      const runId = newRunId();
      const summary = await runPlan({
        project,
        plan,
        pipelinePath: file,
        runId,
        onEvent: (e) => {
          if (e.type === "run.started") project.metadata.setTags(runId, req.tags);
        },
      });
      return outcome(summary);
    } finally {
      project.close();
    }
  };
}

export async function monitorRunCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    once: { type: "boolean" },
    at: { type: "string" },
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (positionals.length)
    throw new UsageError(`monitor run takes no positional arguments: ${MONITOR_RUN_USAGE}`);
  if (!values.once)
    throw new UsageError(
      `monitor run checks the monitors once: pass --once, and run it from cron for a schedule (${MONITOR_RUN_USAGE})`,
    );
  let now: number | undefined;
  if (values.at !== undefined) {
    now = Date.parse(values.at as string);
    if (!/^\d{4}-\d\d-\d\d/.test(values.at as string) || Number.isNaN(now))
      throw new UsageError(`--at takes an ISO 8601 time, e.g. 2026-12-01T06:00:00Z; got "${values.at}"`);
  }
  const project = await openProject(io, values.project, "monitor run");
  if (!project) return EXIT.invalid;
  const { metadata } = project;
  try {
    const names = Object.keys(project.settings.monitors);
    if (!names.length) {
      io.stderr.write(
        `dagwood.json in ${project.dir} declares no monitors. Add one, e.g. "monitors": { "penguins": { "model": "penguins@champion", "target": "local", "window": "1h", "action": "alert" } }\n`,
      );
      return EXIT.invalid;
    }
    const { runMonitor } = await import("../monitoring/loop");
    const runPipeline = pipelineRunner(project.dir);
    const ticks: MonitorTick[] = [];
    const errors: { monitor: string; error: string }[] = [];
    for (const name of names) {
      const before = new Map(metadata.monitorLoops({ monitor: name }).map((l) => [l.id, l.history.length]));
      const tick = await runMonitor(project, name, { ...(now !== undefined ? { now } : {}), runPipeline });
      ticks.push(tick);
      if (tick.error) errors.push({ monitor: name, error: tick.error });
      if (values.json) continue;
      if (tick.check) io.stdout.write(`${line(tick.check)}\n`);
      for (const l of tick.loops) for (const s of stepLines(l, before.get(l.id))) io.stdout.write(`${s}\n`);
      if (tick.error) io.stderr.write(`! ${tick.error}\n`);
    }
    if (values.json) {
      const checks = ticks.flatMap((t) => (t.check ? [t.check] : []));
      io.stdout.write(
        `${JSON.stringify({ checks, loops: ticks.flatMap((t) => t.loops), errors }, null, 2)}\n`,
      );
    }
    return errors.length ? EXIT.invalid : ticks.some((t) => t.check?.breached) ? EXIT.failed : EXIT.ok;
  } finally {
    metadata.close();
  }
}

export async function monitorLoopsCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    open: { type: "boolean" },
    monitor: { type: "string" },
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (positionals.length)
    throw new UsageError(`monitor loops takes no positional arguments: ${MONITOR_LOOPS_USAGE}`);
  const project = await openProject(io, values.project, "monitor loops");
  if (!project) return EXIT.invalid;
  try {
    const loops = project.metadata.monitorLoops({
      ...(values.open ? { status: "open" as const } : {}),
      ...(values.monitor ? { monitor: values.monitor as string } : {}),
    });
    if (values.json) io.stdout.write(`${JSON.stringify(loops, null, 2)}\n`);
    else if (!loops.length)
      io.stdout.write(
        `No ${values.open ? "open " : ""}monitor loops${values.monitor ? ` of ${values.monitor}` : ""}.\n`,
      );
    else for (const l of loops) io.stdout.write(`${loopLine(l)}\n`);
    return EXIT.ok;
  } finally {
    project.metadata.close();
  }
}

/** approve | reject | ack <loop-id>: 0 done; 2 no such loop, or not at a stage that allows it; 1 the deploy failed. */
export async function monitorDecideCommand(
  decision: "approve" | "reject" | "ack",
  args: string[],
  io: Io,
): Promise<number> {
  const { values, positionals } = parse(args, {
    reason: { type: "string" },
    project: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1 || !/^\d+$/.test(positionals[0]!))
    throw new UsageError(
      `monitor ${decision} takes one loop id (a number; see dagwood monitor loops): ${MONITOR_DECIDE_USAGE}`,
    );
  if (values.reason !== undefined && decision !== "reject")
    throw new UsageError(`--reason is for monitor reject: ${MONITOR_DECIDE_USAGE}`);
  const id = Number(positionals[0]);
  const project = await openProject(io, values.project, `monitor ${decision}`);
  if (!project) return EXIT.invalid;
  const loop = await import("../monitoring/loop");
  const { currentUser } = await import("../engine/environment");
  const actor = currentUser();
  try {
    const done =
      decision === "approve"
        ? await loop.approveChallenger(project, id, { actor })
        : decision === "reject"
          ? await loop.rejectChallenger(project, id, {
              actor,
              ...(values.reason ? { reason: values.reason as string } : {}),
            })
          : loop.acknowledgeAlert(project, id, { actor });
    io.stdout.write(values.json ? `${JSON.stringify(done, null, 2)}\n` : `${loopLine(done)}\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof loop.LoopNotFoundError || e instanceof loop.LoopStateError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    if (e instanceof Error && (e.name === "DeployError" || e.name === "MonitorError")) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    project.metadata.close();
  }
}
