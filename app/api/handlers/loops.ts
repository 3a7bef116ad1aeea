/**
 * The monitors of the open project and their retraining loops
 * (app/monitoring/loop.ts): listMonitors, runMonitorsNow, monitorLoops,
 * approveChallenger, rejectChallenger, acknowledgeAlert; and the scheduler
 * that runs the monitors on their schedules while the project is open
 * (app/monitoring/scheduler.ts), started by the core Api (`startMonitoring`).
 *
 * A monitor's tick — the scheduler's or runMonitorsNow's — runs in the open
 * project: a retraining pipeline runs like startRun's runs (its events go to
 * every subscriber, so it shows live in the app; it counts as a run in
 * progress, so cancel and close wait for it), and the tick itself counts as a
 * run in progress too, so another project is not opened under it. Ticks of
 * one monitor never overlap. What each monitor's last check said is kept in
 * memory (`CoreState.monitoring`); before any check since the app opened,
 * the monitor's latest alert in the audit history stands in.
 */
import { existsSync } from "node:fs";
import { hasServedState } from "../../deploy/embedded";
import { BUILTIN_TARGET, DeployError, type TokenLookup } from "../../deploy/targets";
import { newRunId, runPlan } from "../../engine/engine";
import { currentUser } from "../../engine/environment";
import type { RunEvent } from "../../engine/events";
import {
  acknowledgeAlert,
  approveChallenger,
  getLoop,
  LoopNotFoundError,
  type LoopOptions,
  LoopStateError,
  listLoops,
  type MonitorTick,
  type RunPipeline,
  rejectChallenger,
  runMonitors,
} from "../../monitoring/loop";
import { type MonitorCheck, MonitorError, type MonitorProject } from "../../monitoring/monitors";
import {
  createMonitorScheduler,
  type MonitorScheduler,
  type SchedulerClock,
} from "../../monitoring/scheduler";
import { loadPipelineFile } from "../../pipeline/file";
import { planPipeline } from "../../pipeline/validate";
import {
  type Project,
  type ProjectSettings,
  ProjectSettingsError,
  readProjectSettings,
} from "../../project/project";
import type { LoopStage, MonitorLoop } from "../../values/loop";
import { ApiError, type MonitorSummary } from "../api";
import { toApiError } from "../tracking";
import { deployApiError } from "./deploy";
import { pipelinePath } from "./pipelines";
import type { CoreState, Handlers } from "./state";

/** What one monitor's last check in this session said, and the error of its last tick (null: it went through). */
export interface LastMonitorCheck {
  /** ISO: when the check ran (the time it checked as of). */
  at: string;
  check: MonitorCheck | null;
  error: string | null;
}

/** A tick's outcome: a failed check keeps the check before it, with the new error beside it. */
function record(
  last: Map<string, LastMonitorCheck>,
  name: string,
  at: string,
  check: MonitorCheck | null,
  error: string | null,
) {
  const prev = last.get(name);
  last.set(name, check ? { at, check, error } : { at: prev?.at ?? at, check: prev?.check ?? null, error });
}

/** The monitors' part of the core state: the open project's scheduler, and what its monitors' checks said. */
export interface MonitorRuntime {
  /** The project the scheduler and `last` belong to (null: none open). */
  dir: string | null;
  scheduler: MonitorScheduler | null;
  last: Map<string, LastMonitorCheck>;
  /** The tick in flight per monitor: a monitor's ticks never overlap. */
  busy: Map<string, Promise<unknown>>;
}

function settingsOf(p: Project): ProjectSettings {
  try {
    return readProjectSettings(p.dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) throw new ApiError(400, e.message);
    throw e;
  }
}

/** Loop, monitor and deploy errors as the Api reports them. */
function loopApiError(e: unknown): unknown {
  if (e instanceof LoopNotFoundError) return new ApiError(404, e.message);
  if (e instanceof LoopStateError) return new ApiError(409, e.message);
  if (e instanceof MonitorError) return new ApiError(400, e.message);
  if (e instanceof DeployError || e instanceof ProjectSettingsError) return deployApiError(e);
  return toApiError(e);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Runs a project pipeline with params as startRun does: planned from the
 * file, run with its events emitted to every subscriber, counted as a run in
 * progress; `tags` are set on the run as it starts (before any node registers
 * a version). Resolves when the run ends. A pipeline that cannot be planned
 * throws (there is no run).
 */
export function projectRunPipeline(state: CoreState, project: Project, signal?: AbortSignal): RunPipeline {
  return async ({ pipeline, params, tags }) => {
    // A run reads cached tables: it does not plan while a collection may drop them.
    while (state.collecting) await state.collecting.catch(() => {});
    if (state.project() !== project) throw new Error(`the project ${project.dir} is no longer open`);
    if (signal?.aborted) throw new Error("canceled: the app is closing");
    const abs = pipelinePath(project, pipeline);
    if (!existsSync(abs)) throw new Error(`no pipeline ${pipeline} in the project ${project.dir}`);
    const parsed = await loadPipelineFile(abs);
    const planned = parsed.pipeline ? planPipeline(parsed.pipeline, state.catalog, params) : null;
    if (!planned?.plan) {
      const problems = planned?.problems ?? parsed.problems;
      throw new Error(
        `the pipeline ${pipeline} has problems; fix them: ${problems.map((x) => `${x.path}: ${x.message}`).join("; ")}`,
      );
    }
    const runId = newRunId();
    const controller = new AbortController();
    // The tick that started it is canceled (the app closes): so is the run.
    signal?.addEventListener("abort", () => controller.abort(), { once: true });
    let error: string | undefined;
    const onEvent = (e: RunEvent) => {
      if (e.runId === runId) {
        if (e.type === "run.started" && Object.keys(tags).length) project.metadata.setTags(runId, tags);
        // Why it failed: the run's own error, else its first failed node's.
        if (e.type === "run.finished" && e.error) error = e.error;
        if (e.type === "node.finished" && e.status === "failed" && e.error && !error)
          error = `node ${e.nodeId}: ${e.error}`;
      }
      state.emit(e);
    };
    const done = runPlan({
      project,
      plan: planned.plan,
      runId,
      pipelinePath: abs,
      signal: controller.signal,
      onEvent,
    })
      .then((summary) => {
        // Stopped because the app (or the tick) is closing, not by a person: no outcome for the loop to
        // record; its record still says "retraining", and it is taken up again when the project opens.
        if (summary.status === "canceled" && signal?.aborted)
          throw new RunStoppedError(
            `the retraining run ${runId} was stopped: the app closed while it ran; the loop takes it up when the project opens again`,
          );
        const status =
          summary.status === "succeeded" || summary.status === "canceled" ? summary.status : "failed";
        return { runId, status, ...(error ? { error } : {}) } as const;
      })
      .catch((e) => {
        if (e instanceof RunStoppedError) throw e;
        state.emit({ type: "run.finished", runId, status: "failed", ms: 0, error: message(e) });
        return { runId, status: "failed", error: message(e) } as const;
      })
      .finally(() => state.active.delete(runId));
    state.active.set(runId, { controller, done: done.catch(() => {}) });
    return done;
  };
}

/** A retraining run stopped with the tick that started it (the app closing): the loop did not get an outcome. */
export class RunStoppedError extends Error {
  override name = "RunStoppedError";
}

/**
 * The built-in `local` target as the app serves it, for the loop's calls:
 * its url and token when its server runs, or after starting it when `start`
 * (a start that fails leaves it not running: the step that needs it says so).
 */
async function tokensFor(state: CoreState, project: Project, start: boolean): Promise<TokenLookup> {
  const server = start
    ? await state.localServers.start(project.dir).catch(() => null)
    : state.localServers.running(project.dir);
  return { builtin: { url: server?.url ?? null, token: server?.token ?? null } };
}

/** Whether the app's built-in local server is the target of a loop (dagwood.json defines no `local` of its own). */
const onBuiltin = (settings: ProjectSettings, target: string) =>
  target === BUILTIN_TARGET && !Object.hasOwn(settings.targets, BUILTIN_TARGET);

/**
 * Whether a tick of these monitors may deploy to the built-in local server
 * and should find it running: a retraining monitor on it, whose server served
 * before and was not stopped by the user — the rule the Deployments view
 * starts it by (app/api/handlers/deploy.ts builtinStatus).
 */
const wantsBuiltin = (state: CoreState, project: Project, settings: ProjectSettings, names: string[]) =>
  names.some((n) => {
    const m = settings.monitors[n];
    return m?.action === "retrain" && onBuiltin(settings, m.target);
  }) &&
  hasServedState(project.dir) &&
  !state.localServers.stoppedByUser(project.dir);

/**
 * Waits until no tick nor decision of `names` is in flight in this process,
 * then marks them busy until `done` settles — in the same turn, so no one
 * slips in between: a monitor's ticks, and a person's decision on its loop,
 * never overlap.
 */
async function take(busy: Map<string, Promise<unknown>>, names: string[], done: Promise<unknown>) {
  for (;;) {
    const waiting = names.map((n) => busy.get(n)).filter((p) => p !== undefined);
    if (!waiting.length) break;
    await Promise.all(waiting.map((p) => p.catch(() => {})));
  }
  for (const n of names) busy.set(n, done);
  void done
    .catch(() => {})
    .finally(() => {
      for (const n of names) if (busy.get(n) === done) busy.delete(n);
    });
}

/** A deferred that settles once: `done` for the busy map, `end` to settle it. */
function ending(): { done: Promise<void>; end: () => void } {
  let end!: () => void;
  const done = new Promise<void>((resolve) => {
    end = resolve;
  });
  return { done, end };
}

/**
 * Checks `names` (and advances their loops) in the open project as of `now`,
 * after any tick of the same monitors in flight has ended; records what each
 * check said. Counts as a run in progress from the call, its wait included
 * (another project is not opened under it; close() cancels it).
 */
export async function tickMonitors(
  state: CoreState,
  project: Project,
  names: string[],
  now: number,
  opts: { actor?: string | null; fetch?: typeof fetch } = {},
): Promise<MonitorTick[]> {
  const runtime = state.monitoring;
  // No scheduler (monitorScheduler: false): the records follow the project the ticks run in.
  if (!runtime.scheduler && runtime.dir !== project.dir)
    Object.assign(runtime, { dir: project.dir, last: new Map(), busy: new Map() });
  // This project's records (a project opened meanwhile gets new ones).
  const { last, busy } = runtime;
  const controller = new AbortController();
  const id = `monitors-${newRunId()}`;
  const { done, end } = ending();
  state.active.set(id, { controller, done });
  const at = new Date(now).toISOString();
  try {
    await take(busy, names, done);
    if (controller.signal.aborted)
      throw new ApiError(409, "The monitors' check was canceled: the app is closing (or it was stopped).");
    if (state.project() !== project)
      throw new ApiError(
        409,
        `The project ${project.dir} is no longer open: open it again to run its monitors.`,
      );
    const settings = readProjectSettings(project.dir);
    const builtin = wantsBuiltin(state, project, settings, names);
    const tokens = await tokensFor(state, project, builtin);
    const loopOptions: LoopOptions = {
      now,
      runPipeline: projectRunPipeline(state, project, controller.signal),
      tokens,
      ...(opts.actor !== undefined ? { actor: opts.actor } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    };
    const mp: MonitorProject = { dir: project.dir, metadata: project.metadata, settings };
    const ticks = await state.deployOperations.track(project.dir, builtin, () =>
      runMonitors(mp, { ...loopOptions, names }),
    );
    for (const t of ticks) record(last, t.monitor, at, t.check, t.error);
    return ticks;
  } catch (e) {
    for (const n of names) record(last, n, at, null, message(e));
    throw e;
  } finally {
    state.active.delete(id);
    end();
  }
}

/**
 * Runs the open project's scheduled monitors while it is open: a scheduler
 * per project, started when it opens and stopped when another opens or the
 * Api closes. The monitors are read from dagwood.json at each planning, so
 * an edit needs no reopening; while it is not valid nothing runs.
 */
export function startMonitoring(
  state: CoreState,
  opts: { clock?: SchedulerClock; fetch?: typeof fetch } = {},
): { stop(): Promise<void> } {
  const runtime = state.monitoring;
  let stopping: Promise<void> = Promise.resolve();
  const open = (project: Project | null) => {
    const previous = runtime.scheduler;
    runtime.scheduler = null;
    runtime.last = new Map();
    runtime.busy = new Map();
    runtime.dir = project?.dir ?? null;
    if (previous) stopping = Promise.all([stopping, previous.stop()]).then(() => {});
    if (!project) return;
    const last = runtime.last;
    const dir = project.dir;
    const scheduler: MonitorScheduler = createMonitorScheduler({
      monitors: () => readProjectSettings(dir).monitors,
      tick: (names, now) => {
        // Only while it is this project's scheduler; the project as open now (reopened, it is a new Project).
        const current = state.project();
        return runtime.scheduler === scheduler && current?.dir === dir
          ? tickMonitors(state, current, names, now, opts)
          : Promise.resolve();
      },
      ...(opts.clock ? { clock: opts.clock } : {}),
      onError: (e, names) => {
        // Settings that cannot be read show in listMonitors (a 400 with the reason) and here.
        if (!names.length) console.error(`dagwood: the monitors of ${project.dir}: ${message(e)}`);
        for (const n of names) record(last, n, new Date().toISOString(), null, message(e));
      },
    });
    runtime.scheduler = scheduler;
    scheduler.start();
  };
  open(state.project());
  const unsubscribe = state.onProjectChange(() => open(state.project()));
  return {
    async stop() {
      unsubscribe();
      open(null);
      await stopping;
    },
  };
}

const iso = (ms: number | null | undefined) => (typeof ms === "number" ? new Date(ms).toISOString() : null);

/** The monitor's latest alert in the audit history, as its last check (what stands in before any check since the app opened). */
function lastAlert(project: Project, name: string, model: string): MonitorSummary["lastCheck"] {
  let entries: ReturnType<typeof project.metadata.registry.audit>;
  try {
    entries = project.metadata.registry.audit({ model, limit: 1000 });
  } catch {
    return null; // a model name the registry refuses: no history
  }
  const alert = entries.find((e) => e.action === "monitor.alert" && e.details.monitor === name);
  if (!alert) return null;
  const d = alert.details;
  return {
    at: alert.at,
    window: { start: String(d.window ?? ""), end: String(d.windowEnd ?? "") },
    rows: typeof d.rows === "number" ? d.rows : null,
    tested: true,
    breached: true,
    reasons: Array.isArray(d.reasons) ? d.reasons.map(String) : [],
  };
}

function lastCheckOf({ at, check: c }: LastMonitorCheck): MonitorSummary["lastCheck"] {
  return c
    ? { at, window: c.window, rows: c.rows, tested: c.tested, breached: c.breached, reasons: c.reasons }
    : null;
}

const requireLoop = (project: Project, loopId: number): MonitorLoop => {
  const loop = getLoop(project.metadata, loopId);
  if (!loop)
    throw new ApiError(
      404,
      `No monitor loop ${loopId} in this project; monitorLoops (or \`dagwood monitor loops\`) lists them.`,
    );
  return loop;
};

const requireStage = (loop: MonitorLoop, stages: LoopStage[], what: string) => {
  if (!stages.includes(loop.stage))
    throw new ApiError(
      409,
      `Loop ${loop.id} (monitor ${loop.monitor}) is at stage "${loop.stage}": only a loop at ${stages.map((s) => `"${s}"`).join(" or ")} can be ${what}.`,
    );
};

export function loopHandlers(
  state: CoreState,
  opts: { fetch?: typeof fetch } = {},
): Handlers<
  | "listMonitors"
  | "runMonitorsNow"
  | "monitorLoops"
  | "approveChallenger"
  | "rejectChallenger"
  | "acknowledgeAlert"
> {
  /** A loop call that may deploy: counted as a deploy in progress, with the built-in server started when the loop's target is it. */
  const onLoop = async (
    loopId: number,
    stages: LoopStage[],
    what: string,
    act: (mp: MonitorProject, loopOptions: LoopOptions) => Promise<MonitorLoop> | MonitorLoop,
  ): Promise<MonitorLoop> => {
    const project = state.requireProject();
    const settings = settingsOf(project);
    const first = requireLoop(project, loopId);
    requireStage(first, stages, what);
    const builtin = onBuiltin(settings, first.target);
    // A decision that deploys waits for a tick of the loop's monitor in flight (it may be ending its
    // canary), and holds the next one off. Acknowledging deploys nothing: the store's compare-and-set decides.
    const exclusive = what !== "acknowledged";
    const runtime = state.monitoring;
    const { done, end } = ending();
    try {
      if (exclusive) await take(runtime.busy, [first.monitor], done);
      return await state.deployOperations.track(project.dir, builtin, async () => {
        if (state.project() !== project)
          throw new ApiError(409, `The project ${project.dir} is no longer open: open it again.`);
        // As it is now, after the wait.
        requireStage(requireLoop(project, loopId), stages, what);
        return act(
          { dir: project.dir, metadata: project.metadata, settings },
          {
            actor: currentUser(),
            // The built-in server is started for a deploy only: approving, or ending a canary.
            tokens: await tokensFor(
              state,
              project,
              builtin && (what === "approved" || first.stage === "canary"),
            ),
            ...(opts.fetch ? { fetch: opts.fetch } : {}),
          },
        );
      });
    } catch (e) {
      throw loopApiError(e);
    } finally {
      end();
    }
  };

  return {
    async listMonitors() {
      const project = state.requireProject();
      const settings = settingsOf(project);
      const runtime = state.monitoring;
      const ours = runtime.dir === project.dir;
      const next = ours ? (runtime.scheduler?.nextRuns() ?? {}) : {};
      const monitors = Object.entries(settings.monitors).map(([name, m]): MonitorSummary => {
        const at = m.model.lastIndexOf("@");
        const model = m.model.slice(0, at);
        const last = ours ? runtime.last.get(name) : undefined;
        const openAlerts = listLoops(project.metadata, { monitor: name, status: "open", limit: 1000 }).length;
        return {
          name,
          model,
          ref: m.model.slice(at + 1),
          target: m.target,
          deployedModel: m.deployedModel ?? null,
          window: m.window,
          minRows: m.minRows,
          metric: m.performance?.metric ?? null,
          tolerance: m.performance?.tolerance ?? null,
          action: m.action,
          schedule: m.schedule ?? null,
          nextRunAt: iso(next[name]),
          lastCheck: last?.check ? lastCheckOf(last) : lastAlert(project, name, model),
          lastError: last?.error ?? null,
          openAlerts,
        };
      });
      return { monitors, scheduler: ours && (runtime.scheduler?.running() ?? false) };
    },

    async runMonitorsNow({ names }) {
      const project = state.requireProject();
      const settings = settingsOf(project);
      const known = Object.keys(settings.monitors);
      const unknown = (names ?? []).filter((n) => !Object.hasOwn(settings.monitors, n));
      if (unknown.length)
        throw new ApiError(
          400,
          `No monitor${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")} in dagwood.json; its monitors: ${known.join(", ") || 'none (declare them under "monitors")'}`,
        );
      const chosen = names?.length ? [...new Set(names)] : known;
      let ticks: MonitorTick[];
      try {
        ticks = await tickMonitors(state, project, chosen, Date.now(), {
          actor: currentUser(),
          ...(opts.fetch ? { fetch: opts.fetch } : {}),
        });
      } catch (e) {
        throw loopApiError(e);
      }
      return {
        ticks: ticks.map((t) => ({
          monitor: t.monitor,
          breached: t.check?.breached ?? false,
          alerted: t.check?.alerted ?? false,
          reasons: t.check?.reasons ?? [],
          error: t.error,
          loops: t.loops,
        })),
      };
    },

    async monitorLoops({ monitor, model, status, limit }) {
      const project = state.requireProject();
      try {
        return listLoops(project.metadata, {
          ...(monitor ? { monitor } : {}),
          ...(model ? { model } : {}),
          ...(status ? { status } : {}),
          ...(limit ? { limit } : {}),
        });
      } catch (e) {
        throw loopApiError(e);
      }
    },

    approveChallenger: ({ loopId }) =>
      onLoop(loopId, ["awaiting-approval"], "approved", (mp, o) => approveChallenger(mp, loopId, o)),
    rejectChallenger: ({ loopId, reason }) =>
      onLoop(loopId, ["awaiting-approval", "canary"], "rejected", (mp, o) =>
        rejectChallenger(mp, loopId, { ...o, ...(reason ? { reason } : {}) }),
      ),
    acknowledgeAlert: ({ loopId }) =>
      onLoop(loopId, ["alerted", "failed"], "acknowledged", (mp, o) =>
        acknowledgeAlert(mp, loopId, { actor: o.actor ?? null }),
      ),
  };
}
