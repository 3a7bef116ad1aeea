/**
 * The retraining loop (issue 14, "The loop"): a monitor whose window breached
 * alerts, and with action "retrain" runs its pipeline on the fresh labelled
 * rows, gates the challenger against the champion on the freshest of them,
 * then waits for a person's approval or serves it as a canary and promotes
 * it when its live figures hold. The loop's record (app/values/loop.ts) is
 * both the app's alert and the loop's memory: each step is a compare-and-set
 * on its stage, and an external step (a run, a deploy) is claimed in the
 * record before it starts, so a loop resumes after a restart and never runs
 * or deploys one step twice.
 *
 *   const ticks = await runMonitors(project, { runPipeline });   // check, alert, advance
 *   await approveChallenger(project, loopId, { actor: "ana" });
 */
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { ensureProjectVersionFiles } from "../artifacts/version-files";
import { ident, literal, SqlSession } from "../data/sql";
import { deployCanary, promoteCanary, removeCanary } from "../deploy/canary";
import { type DeployProject, deployVersion } from "../deploy/deploy";
import { predictFile } from "../deploy/predict";
import type { TokenLookup } from "../deploy/targets";
import { type AnyDagwoodModel, asModel } from "../ml/model";
import type { MonitorSettings } from "../project/project";
import { currentProcess, ownerState, type ProcessOwner } from "../store/liveness";
import type { AuditAction, MetadataStore, ModelVersion, RunRecord } from "../store/types";
import { Task } from "../values/common";
import type { LoopCanary, LoopGate, LoopStage, MonitorLoop } from "../values/loop";
import { metricDirection } from "../values/metric-direction";
import { canaryFigures } from "./canary-figures";
import { loadInferenceLog } from "./inference-log";
import { feedbackTable, joinLabels, readFeedback } from "./labels";
import { targetLogSource } from "./log-source";
import { checkMonitor, type MonitorCheck, MonitorError, type MonitorProject } from "./monitors";
import { type MonitoredTask, performanceOverWindows, WINDOW_METRICS } from "./performance";
import { parseWindow } from "./windows";

export type RunPipeline = (req: {
  /** Project-relative *.dag.json. */
  pipeline: string;
  params: Record<string, unknown>;
  tags: Record<string, string>;
}) => Promise<{ runId: string; status: "succeeded" | "failed" | "canceled"; error?: string }>;

/** The deploy steps the loop takes (app/deploy); tests wrap them to stop a loop between steps. */
export interface LoopDeploys {
  deployCanary: typeof deployCanary;
  promoteCanary: typeof promoteCanary;
  removeCanary: typeof removeCanary;
  deployVersion: typeof deployVersion;
}

export interface LoopOptions {
  now?: number;
  fetch?: typeof fetch;
  runPipeline?: RunPipeline;
  tokens?: TokenLookup;
  actor?: string | null;
  /** Default: app/deploy's own. */
  deploys?: Partial<LoopDeploys>;
}

export interface MonitorTick {
  monitor: string;
  check: MonitorCheck | null;
  error: string | null;
  loops: MonitorLoop[];
}

/** A loop asked to do what its stage does not allow (approve a loop not awaiting approval): the Api's 409. */
export class LoopStateError extends Error {
  override name = "LoopStateError";
}

/** No loop with that id: the Api's 404. */
export class LoopNotFoundError extends Error {
  override name = "LoopNotFoundError";
}

/** The run tags that tie a retraining run to its monitor, loop and alert (lineage: alert → run → version). */
export const LOOP_TAGS = {
  monitor: "dagwood.monitor",
  loop: "dagwood.loop",
  alert: "dagwood.alert",
} as const;

/** Where a loop's data files go, relative to the project: readable by pipelines (not under .dagwood/). */
export const loopDataDir = (id: number) => `monitoring/loops/${id}`;

export function listLoops(
  metadata: MetadataStore,
  q: { monitor?: string; model?: string; status?: "open" | "closed"; limit?: number } = {},
): MonitorLoop[] {
  return metadata.monitorLoops(q);
}

export function getLoop(metadata: MetadataStore, id: number): MonitorLoop | undefined {
  return metadata.monitorLoop(id);
}

// ---------------------------------------------------------------------------------------------
// Helpers

const fmt = (n: number | null) => (n === null ? "—" : String(Math.round(n * 1e4) / 1e4));
const iso = (ms: number) => new Date(ms).toISOString();

function requireLoop(metadata: MetadataStore, id: number): MonitorLoop {
  const loop = metadata.monitorLoop(id);
  if (!loop)
    throw new LoopNotFoundError(
      `no monitor loop ${id} in this project; list them with: dagwood monitor loops`,
    );
  return loop;
}

function settingsOf(project: MonitorProject, loop: MonitorLoop): MonitorSettings {
  const m = project.settings.monitors[loop.monitor];
  if (!m) {
    const close =
      loop.stage === "awaiting-approval" || loop.stage === "canary"
        ? `reject its challenger to close it (dagwood monitor reject ${loop.id})`
        : loop.stage === "alerted" || loop.stage === "failed"
          ? `acknowledge the alert to close it (dagwood monitor ack ${loop.id})`
          : `put the monitor back in dagwood.json so that its ${loop.stage} step can finish`;
    throw new MonitorError(
      `loop ${loop.id}: its monitor "${loop.monitor}" is no longer in dagwood.json; ${close}`,
    );
  }
  return m;
}

/** The monitor's retrain settings; refused when dagwood.json no longer has them. */
function retrainOf(m: MonitorSettings, loop: MonitorLoop): NonNullable<MonitorSettings["retrain"]> {
  if (!m.retrain)
    throw new MonitorError(
      `loop ${loop.id}: monitor ${loop.monitor} no longer retrains (its action is "${m.action}" in dagwood.json); acknowledge the alert (dagwood monitor ack ${loop.id}) or give the monitor its "retrain" again`,
    );
  return m.retrain;
}

function deployProject(project: MonitorProject): DeployProject {
  return { dir: project.dir, settings: project.settings, registry: project.metadata.registry };
}

function deploysOf(opts: LoopOptions): LoopDeploys {
  return {
    deployCanary: opts.deploys?.deployCanary ?? deployCanary,
    promoteCanary: opts.deploys?.promoteCanary ?? promoteCanary,
    removeCanary: opts.deploys?.removeCanary ?? removeCanary,
    deployVersion: opts.deploys?.deployVersion ?? deployVersion,
  };
}

function audit(
  project: MonitorProject,
  loop: MonitorLoop,
  action: AuditAction,
  actor: string | null,
  version: number | null,
  details: Record<string, unknown>,
): number {
  return project.metadata.registry.appendAudit({
    actor,
    action,
    model: loop.model,
    version,
    details: { loop: loop.id, monitor: loop.monitor, target: loop.target, ...details },
  }).id;
}

const monitorActor = (loop: MonitorLoop) => `monitor:${loop.monitor}`;

/** A step taken outside the record (a run, a deploy), claimed by the process taking it. */
interface Claim {
  step: "run" | "gate" | "canary" | "promote" | "remove" | "approve";
  owner: ProcessOwner;
  /** approve: the `monitor.approved` audit entry, so a resumed approval does not deploy again. */
  auditId?: number;
  /** promote | remove: the canary's figures, judged before the step. */
  reason?: string;
}

/** Loops this process is taking an external step of right now (by project folder and id). */
const inFlight = new Set<string>();
/** Loops this process is advancing right now. */
const advancing = new Set<string>();
const flightKey = (project: MonitorProject, id: number) => `${project.dir}\u0000${id}`;

function readClaim(raw: string | null): Claim | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Claim;
  } catch {
    return null;
  }
}

/**
 * Whether the claimed step is being taken right now by a live process: this
 * one (in flight), or another that still runs (or runs where this one cannot
 * tell: another host). A claim of a process that ended is stale.
 */
function claimBusy(project: MonitorProject, id: number, claim: Claim | null): boolean {
  if (!claim) return false;
  const self = currentProcess();
  const mine =
    claim.owner.host === self.host && claim.owner.pid === self.pid && claim.owner.start === self.start;
  if (mine) return inFlight.has(flightKey(project, id));
  return ownerState(claim.owner) !== "gone";
}

async function inFlightStep<T>(project: MonitorProject, id: number, f: () => Promise<T>): Promise<T> {
  const key = flightKey(project, id);
  inFlight.add(key);
  try {
    return await f();
  } finally {
    inFlight.delete(key);
  }
}

function lastMessage(loop: MonitorLoop): string | undefined {
  return loop.history[loop.history.length - 1]?.message;
}

/** Adds a history line at the same stage, unless it is the line already last (waiting says so once). */
function note(project: MonitorProject, loop: MonitorLoop, message: string, at: string): MonitorLoop {
  if (lastMessage(loop) === message) return loop;
  return (
    project.metadata.updateMonitorLoop(loop.id, { stage: loop.stage }, { event: { message }, at }) ?? loop
  );
}

/** The performance code's task of a registered version (undefined: left to the labels to tell). */
function taskOf(version: ModelVersion): MonitoredTask | undefined {
  return Task.safeParse(version.task).data;
}

/** The version's native model; its files fetched first when another machine registered it (shared store). */
async function readModelFile(project: MonitorProject, version: ModelVersion): Promise<AnyDagwoodModel> {
  await ensureProjectVersionFiles(project.dir, version);
  return asModel(JSON.parse(await readFile(join(project.dir, version.nativePath), "utf8")));
}

function requireVersion(project: MonitorProject, model: string, version: number | null, role: string) {
  const v = version === null ? undefined : project.metadata.registry.getVersion(model, version);
  if (!v)
    throw new MonitorError(
      `the ${role} of ${model}${version !== null ? ` (v${version})` : ""} is not in the registry`,
    );
  return v;
}

async function withSql<T>(f: (sql: SqlSession) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    return await f(new SqlSession(connection));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Check and advance

/** checkMonitor, then advances this monitor's open loops as far as they can go now. */
export async function runMonitor(
  project: MonitorProject,
  name: string,
  opts: LoopOptions,
): Promise<MonitorTick> {
  let check: MonitorCheck | null = null;
  const errors: string[] = [];
  try {
    check = await checkMonitor(project, name, {
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  } catch (e) {
    if (!(e instanceof MonitorError)) throw e;
    errors.push(e.message);
  }
  const loops: MonitorLoop[] = [];
  for (const loop of project.metadata.monitorLoops({ monitor: name, status: "open" }).reverse()) {
    try {
      loops.push(await advanceLoop(project, loop.id, opts));
    } catch (e) {
      if (e instanceof LoopNotFoundError) continue;
      errors.push(`loop ${loop.id}: ${(e as Error).message}`);
      loops.push(project.metadata.monitorLoop(loop.id) ?? loop);
    }
  }
  return { monitor: name, check, error: errors.length ? errors.join("; ") : null, loops };
}

export async function runMonitors(
  project: MonitorProject,
  opts: LoopOptions & { names?: string[] },
): Promise<MonitorTick[]> {
  const names = opts.names ?? Object.keys(project.settings.monitors);
  const unknown = names.filter((n) => !project.settings.monitors[n]);
  if (unknown.length)
    throw new MonitorError(
      `no monitor ${unknown.map((n) => `"${n}"`).join(", ")} in dagwood.json; its monitors: ${Object.keys(project.settings.monitors).join(", ") || "none"}`,
    );
  const ticks: MonitorTick[] = [];
  for (const name of names) ticks.push(await runMonitor(project, name, opts));
  return ticks;
}

/**
 * Takes the loop's steps that can be taken now, one after the other, and
 * answers its record: it stops where a step waits (labels, a run of another
 * process, a person, the canary's window) or the loop ended.
 */
export async function advanceLoop(
  project: MonitorProject,
  id: number,
  opts: LoopOptions,
): Promise<MonitorLoop> {
  let loop = requireLoop(project.metadata, id);
  // Advanced in this process already (the scheduler's tick and a "run now"): that call takes the steps.
  const key = flightKey(project, id);
  if (advancing.has(key)) return loop;
  advancing.add(key);
  try {
    for (let steps = 0; steps < 20; steps++) {
      const next = await step(project, loop, opts);
      if (!next) break;
      loop = next;
    }
  } finally {
    advancing.delete(key);
  }
  return project.metadata.monitorLoop(id) ?? loop;
}

/** One step; null when the loop waits or has ended. */
async function step(
  project: MonitorProject,
  loop: MonitorLoop,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  switch (loop.stage) {
    case "alerted":
      return loop.action === "retrain" ? startRetraining(project, loop, opts) : null;
    case "retraining":
      return retrain(project, loop, opts);
    case "gating":
      return gate(project, loop, opts);
    case "canary":
      return canaryStep(project, loop, opts);
    default:
      return null;
  }
}

/** Stages at which a loop holds the model's retraining, challenger alias or canary: one loop of a monitor at a time. */
const BUSY_STAGES: readonly LoopStage[] = ["retraining", "gating", "awaiting-approval", "canary"];

function startRetraining(project: MonitorProject, loop: MonitorLoop, opts: LoopOptions): MonitorLoop | null {
  const retrain = retrainOf(settingsOf(project, loop), loop);
  const now = opts.now ?? Date.now();
  const busy = project.metadata
    .monitorLoops({ monitor: loop.monitor, status: "open" })
    .find((l) => l.id !== loop.id && BUSY_STAGES.includes(l.stage));
  if (busy) {
    note(
      project,
      loop,
      `waiting for loop ${busy.id} of ${loop.monitor} (${busy.stage}) to end before retraining`,
      iso(now),
    );
    return null;
  }
  const ended = supersede(project, loop, iso(now));
  if (ended !== undefined) return ended;
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "alerted" },
      {
        stage: "retraining",
        event: {
          message: `retraining with ${retrain.pipeline} on the labelled rows since ${loop.window.start}`,
        },
        at: iso(now),
      },
    ) ?? null
  );
}

/**
 * Whether another version became the champion since this loop's alert (an
 * earlier loop of the monitor promoted its challenger while this one waited,
 * or a person moved the alias): then this loop ends "kept", superseded. Its
 * breach was the old champion's, measured on the old champion's answers; the
 * new champion has answered it already (it was gated on fresh labels, and
 * judged live when canaried), so retraining again on this alert's rows, or
 * gating against the old version while the new one serves, would judge a
 * model that no longer serves. The monitor's checks of the new champion's
 * own windows start a new loop if it breaches too.
 */
function supersede(project: MonitorProject, loop: MonitorLoop, at: string): MonitorLoop | null | undefined {
  if (loop.champion === null) return undefined;
  const now = project.metadata.registry.getVersion(loop.model, "champion")?.version;
  if (now === undefined || now === loop.champion) return undefined;
  const by = project.metadata
    .monitorLoops({ model: loop.model })
    .find((l) => l.id !== loop.id && l.stage === "promoted" && l.challenger === now);
  const reason = `superseded: v${now} ${by ? `was promoted by loop ${by.id}` : `became the champion of ${loop.model}`} after this alert (raised on v${loop.champion})${loop.challenger !== null && loop.challenger !== now ? `; the challenger v${loop.challenger} was not gated` : ""}; the next breach of v${now} starts a new loop`;
  const auditId = audit(project, loop, "monitor.kept", monitorActor(loop), now, {
    reason,
    superseded: true,
    champion: now,
    ...(by ? { by: by.id } : {}),
  });
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: loop.stage },
      { stage: "kept", outcome: reason, claim: null, event: { message: reason, auditId }, at },
    ) ?? null
  );
}

function fail(
  project: MonitorProject,
  loop: MonitorLoop,
  reason: string,
  at: string,
  details: Record<string, unknown> = {},
): MonitorLoop | null {
  const auditId = audit(
    project,
    loop,
    "monitor.failed",
    monitorActor(loop),
    loop.challenger ?? loop.champion,
    {
      reason,
      ...details,
    },
  );
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: loop.stage },
      { stage: "failed", outcome: reason, claim: null, event: { message: reason, auditId }, at },
    ) ?? null
  );
}

/** The fresh labelled rows, split by time: the oldest for retraining, the freshest for the gate. */
interface FreshData {
  labelled: number;
  /** Labels whose request id the log does not hold since the window's start (left out). */
  unmatched: number;
  train: number;
  gate: number;
  /** Project-relative. */
  freshPath: string;
  gatePath: string;
  labelColumn: string;
}

/**
 * Writes `fresh.parquet` (the oldest 1 − holdout of the labelled rows) and
 * `gate.parquet` (the freshest holdout share) under loopDataDir: the model's
 * raw input columns and the label column, from the target's inference log
 * joined with its feedback labels, from the breached window's start to now.
 * Null (and nothing written) when too few rows are labelled yet.
 */
async function writeFreshData(
  project: MonitorProject,
  loop: MonitorLoop,
  m: MonitorSettings,
  champion: ModelVersion,
  opts: LoopOptions,
): Promise<FreshData | { waiting: string } | { error: string }> {
  const now = opts.now ?? Date.now();
  const deployed = m.deployedModel ?? loop.model;
  const source = targetLogSource(project.dir, project.settings, m.target, deployed);
  if (!source)
    return { error: `target "${m.target}" is a Triton server, which keeps no inference log to retrain on` };
  const model = await readModelFile(project, champion);
  const labelColumn = retrainOf(m, loop).labelColumn ?? model.target;
  const features = model.preprocess.features.map((f) => f.name);
  // The target's DuckDB type goes into the SQL as it is: a type name (DECIMAL(9, 2) too), nothing else.
  if (!/^[A-Za-z][A-Za-z0-9_ ]*(\(\d+(, ?\d+)?\))?$/.test(model.targetType))
    return {
      error: `the champion v${champion.version}'s target type "${model.targetType}" is not a DuckDB type name: register it again from its training run`,
    };
  if (features.includes(labelColumn))
    return {
      error: `retrain.labelColumn "${labelColumn}" of monitor ${loop.monitor} is one of the model's input columns; name the label column otherwise in dagwood.json`,
    };
  const start = Date.parse(loop.window.start);
  return withSql(async (sql) => {
    const log = await loadInferenceLog(sql, source, {
      table: "log",
      since: start,
      now,
      ...(model.classes ? { classNames: model.classes.map(String) } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    // Inputs the model's log policy hashed or dropped (issue 19) are no training data.
    const kept = features.filter((f) => log.privacy.hashed.includes(f) || log.privacy.dropped.includes(f));
    if (log.rows > 0 && kept.length)
      return {
        error: `the inference log of ${m.target}:${deployed} keeps ${kept.join(", ")} hashed or dropped (the model's privacy policy), so it cannot give fresh training rows; retrain from the source data instead`,
      };
    const missing = features.filter((f) => !log.inputs.includes(f));
    if (log.rows > 0 && missing.length)
      return {
        error: `the inference log of ${m.target}:${deployed} lacks the model's input column(s) ${missing.join(", ")} (it has ${log.inputs.join(", ")})`,
      };
    const records = await readFeedback(source, { now, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
    let labelled = 0;
    // Labels of request ids the log does not hold (in this span): counted and left out, not fatal.
    let unmatched = records.length;
    const truth = "__dagwood_truth";
    if (records.length && log.rows > 0) {
      const joined = await joinLabels(sql, log, await feedbackTable(sql, "labels", records), {
        table: "labelled",
        targetColumn: truth,
      });
      unmatched = joined.unmatched;
      await sql.run(
        `CREATE TEMP TABLE fresh AS SELECT ${features.map(ident).join(", ")},
                TRY_CAST(${ident(truth)} AS ${model.targetType}) AS ${ident(labelColumn)},
                row_number() OVER (ORDER BY ${ident(log.meta.time)}, ${ident(log.meta.seq)}, ${ident(log.meta.row)}) AS _n
         FROM labelled
         WHERE epoch_ms(${ident(log.meta.time)}) >= ${start} AND epoch_ms(${ident(log.meta.time)}) < ${now}
           AND TRY_CAST(${ident(truth)} AS ${model.targetType}) IS NOT NULL`,
      );
      labelled = (await sql.one<{ n: number }>("SELECT count(*)::DOUBLE AS n FROM fresh")).n;
    }
    const holdout = m.gate.holdout;
    const gateRows = Math.round(labelled * holdout);
    const trainRows = labelled - gateRows;
    const unknown = unmatched ? `; ${unmatched} labels of request ids not logged since then left out` : "";
    if (gateRows < m.gate.minRows || trainRows < 1) {
      const needed = Math.max(Math.ceil(m.gate.minRows / holdout), m.gate.minRows + 1);
      return {
        waiting: `waiting for labels: ${gateRows} of ${m.gate.minRows} for the gate (${labelled} labelled rows since ${loop.window.start}, ${needed} needed: the gate keeps the freshest ${Math.round(holdout * 100)} %${unknown})`,
      };
    }
    const dir = loopDataDir(loop.id);
    mkdirSync(join(project.dir, dir), { recursive: true });
    const freshPath = `${dir}/fresh.parquet`;
    const gatePath = `${dir}/gate.parquet`;
    const columns = [...features, labelColumn].map(ident).join(", ");
    await sql.run(
      `COPY (SELECT ${columns} FROM fresh WHERE _n <= ${trainRows} ORDER BY _n) TO ${literal(join(project.dir, freshPath))} (FORMAT parquet)`,
    );
    await sql.run(
      `COPY (SELECT ${columns} FROM fresh WHERE _n > ${trainRows} ORDER BY _n) TO ${literal(join(project.dir, gatePath))} (FORMAT parquet)`,
    );
    return { labelled, unmatched, train: trainRows, gate: gateRows, freshPath, gatePath, labelColumn };
  });
}

/** Statuses of a run stopped before it ended, by the app closing (canceled) or its process dying (interrupted). */
const STOPPED_RUN: readonly string[] = ["canceled", "interrupted"];
/** Runs of one loop stopped so before it fails instead of running again. */
const MAX_STOPPED_RUNS = 3;
const stoppedWhy = (status: string) =>
  status === "interrupted" ? "was interrupted (its process ended)" : "was canceled (the app closed)";

/** The runs tagged with this loop, newest first. */
function taggedRuns(metadata: MetadataStore, id: number): RunRecord[] {
  return metadata.searchRuns({
    where: [{ field: "tag", key: LOOP_TAGS.loop, op: "=", value: String(id) }],
    orderBy: { field: "startedAt", desc: true },
    limit: 10,
  }).runs;
}

async function retrain(
  project: MonitorProject,
  loop: MonitorLoop,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  const m = settingsOf(project, loop);
  const at = iso(opts.now ?? Date.now());
  const rawClaim = project.metadata.monitorLoopClaim(loop.id);
  const claim = readClaim(rawClaim);
  if (claimBusy(project, loop.id, claim)) return null;

  // A run started before (this process stopped, or another one died): its outcome, not a second run —
  // unless it was stopped before it ended (the app closed: canceled; its process died: interrupted)
  // and the loop never took its outcome: then it runs again, at most MAX_STOPPED_RUNS times in all.
  const tagged = loop.runId ? [] : taggedRuns(project.metadata, loop.id);
  const earlier = loop.runId ? project.metadata.getRun(loop.runId) : tagged[0];
  if (earlier) {
    if (earlier.status === "running") {
      // Its process may have died without saying so: markInterruptedRuns' judgement is the readers'.
      return null;
    }
    if (loop.runId || !STOPPED_RUN.includes(earlier.status))
      return finishRetraining(project, loop, rawClaim, earlier.id, earlier.status, earlier.error, at);
    const stopped = tagged.filter((r) => STOPPED_RUN.includes(r.status));
    if (stopped.length >= MAX_STOPPED_RUNS)
      return fail(
        project,
        loop,
        `the retraining was stopped before it ended ${stopped.length} times (${stopped
          .slice()
          .reverse()
          .map((r) => `run ${r.id} ${stoppedWhy(r.status)}`)
          .join(
            ", ",
          )}); the loop does not run it again by itself: the alert stays open and nothing was deployed; look at the runs' logs, then acknowledge the alert (dagwood monitor ack ${loop.id})`,
        at,
        { runIds: stopped.map((r) => r.id) },
      );
    const again = `the retraining run ${earlier.id} ${stoppedWhy(earlier.status)} before the loop took its outcome: running it again (attempt ${stopped.length + 1} of ${MAX_STOPPED_RUNS})`;
    if (!loop.history.some((h) => h.message === again)) loop = note(project, loop, again, at);
  }

  const ended = supersede(project, loop, at);
  if (ended !== undefined) return ended;
  if (!opts.runPipeline)
    throw new MonitorError(
      `loop ${loop.id}: the retraining run needs a pipeline runner (run the monitors from the app or dagwood monitor run)`,
    );
  const retrainSettings = retrainOf(m, loop);
  const pipeline = retrainSettings.pipeline;
  const inside = relative(project.dir, resolve(project.dir, pipeline));
  if (
    !pipeline.endsWith(".dag.json") ||
    isAbsolute(pipeline) ||
    inside.startsWith("..") ||
    isAbsolute(inside)
  )
    throw new MonitorError(
      `monitor ${loop.monitor}: retrain.pipeline "${pipeline}" is not a *.dag.json file inside the project; set it in dagwood.json to the project-relative path of the retraining pipeline, e.g. "pipelines/retrain.dag.json"`,
    );
  const champion = requireVersion(project, loop.model, loop.champion, "champion");
  // Claimed before the data is written, so two processes never write the files or start the run both.
  const mine = JSON.stringify({ step: "run", owner: currentProcess() } satisfies Claim);
  if (!project.metadata.updateMonitorLoop(loop.id, { stage: "retraining", claim: rawClaim }, { claim: mine }))
    return null;
  let data: Awaited<ReturnType<typeof writeFreshData>>;
  try {
    data = await inFlightStep(project, loop.id, () => writeFreshData(project, loop, m, champion, opts));
  } catch (e) {
    project.metadata.updateMonitorLoop(loop.id, { stage: "retraining", claim: mine }, { claim: null });
    throw e;
  }
  if ("error" in data) return fail(project, loop, data.error, at);
  if ("waiting" in data) {
    const said = lastMessage(loop) === data.waiting;
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "retraining", claim: mine },
      { claim: null, ...(said ? {} : { event: { message: data.waiting } }), at },
    );
    return null;
  }
  const claimed = project.metadata.updateMonitorLoop(
    loop.id,
    { stage: "retraining", claim: mine },
    {
      event: {
        message: `retraining run started: ${pipeline} on ${data.train} labelled rows (${data.freshPath}); ${data.gate} kept for the gate${data.unmatched ? `; ${data.unmatched} labels of request ids not logged since ${loop.window.start} left out` : ""}`,
      },
      at,
    },
  );
  if (!claimed) return null;
  const alertId = loop.history[0]?.auditId;
  let result: Awaited<ReturnType<RunPipeline>>;
  try {
    result = await inFlightStep(project, loop.id, () =>
      opts.runPipeline!({
        pipeline,
        params: { ...retrainSettings.params, [retrainSettings.dataParam]: data.freshPath },
        tags: {
          [LOOP_TAGS.monitor]: loop.monitor,
          [LOOP_TAGS.loop]: String(loop.id),
          ...(alertId !== null && alertId !== undefined ? { [LOOP_TAGS.alert]: String(alertId) } : {}),
        },
      }),
    );
  } catch (e) {
    // No outcome (the app closed under the run — the runner's RunStoppedError — or the runner itself
    // failed): the loop stays "retraining", unclaimed, so any process takes it up; a run that started is
    // found by its tag then (its outcome taken, or run again when it was stopped before it ended).
    project.metadata.updateMonitorLoop(loop.id, { stage: "retraining", claim: mine }, { claim: null });
    throw e;
  }
  const afterAt = iso(opts.now ?? Date.now());
  return finishRetraining(project, claimed, mine, result.runId, result.status, result.error ?? null, afterAt);
}

function finishRetraining(
  project: MonitorProject,
  loop: MonitorLoop,
  claim: string | null,
  runId: string,
  status: string,
  error: string | null,
  at: string,
): MonitorLoop | null {
  const recorded = project.metadata.updateMonitorLoop(
    loop.id,
    { stage: "retraining", claim },
    { runId, claim: null, at },
  );
  if (!recorded) return null;
  if (status !== "succeeded") {
    const why =
      status === "interrupted"
        ? "was interrupted (its process ended)"
        : status === "canceled"
          ? "was canceled"
          : status;
    return fail(
      project,
      recorded,
      `the retraining run ${runId} ${why}${error ? `: ${error}` : ""}; the alert stays open and nothing was deployed`,
      at,
      { runId, error },
    );
  }
  const created = project.metadata.registry
    .listVersions(loop.model)
    .filter((v) => v.runId === runId)
    .sort((a, b) => b.version - a.version)[0];
  // A run whose model is one registered before (the same model fingerprint): its register node
  // answered that existing version (created: false), which keeps the run that first registered it.
  const existing = created ? undefined : answeredVersion(project.metadata, runId, loop.model);
  const challenger = created ?? existing;
  if (!challenger)
    return fail(
      project,
      recorded,
      `the retraining pipeline registered no version of ${loop.model}: add a register block with name ${loop.model}`,
      at,
      { runId },
    );
  const auditId = audit(project, recorded, "monitor.retrain", monitorActor(loop), challenger.version, {
    runId,
    status,
    ...(existing ? { existing: true } : {}),
  });
  if (existing && existing.version === loop.champion) {
    const answered = project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "retraining", claim: null },
      {
        event: {
          message: `run ${runId} answered ${loop.model} v${existing.version}, the champion (the same model, registered by run ${existing.runId})`,
          auditId,
        },
        at,
      },
    );
    if (!answered) return null;
    const reason = `the retraining produced the champion's own model (v${existing.version}) again: nothing to promote`;
    const keptAudit = audit(project, answered, "monitor.kept", monitorActor(loop), existing.version, {
      reason,
      runId,
    });
    return (
      project.metadata.updateMonitorLoop(
        loop.id,
        { stage: "retraining", claim: null },
        { stage: "kept", outcome: reason, event: { message: reason, auditId: keptAudit }, at },
      ) ?? null
    );
  }
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "retraining", claim: null },
      {
        stage: "gating",
        challenger: challenger.version,
        event: {
          message: existing
            ? `run ${runId} answered the existing ${loop.model} v${existing.version} (the same model, registered by run ${existing.runId}): it is the challenger`
            : `run ${runId} registered ${loop.model} v${challenger.version}`,
          auditId,
        },
        at,
      },
    ) ?? null
  );
}

/**
 * The version of `model` a run's register node answered (the newest, when
 * several did), from the node's output as the store keeps it: the register
 * block's `version` port (a modelVersion) summarised with {model, version,
 * created}. For a model registered before, that is the existing version.
 */
function answeredVersion(metadata: MetadataStore, runId: string, model: string): ModelVersion | undefined {
  let best: number | undefined;
  for (const node of metadata.nodeRuns(runId)) {
    if (node.status !== "ran" && node.status !== "cached") continue;
    for (const out of Object.values(node.outputs)) {
      const h = (out as { type?: unknown; headline?: { kind?: unknown; model?: unknown; version?: unknown } })
        ?.headline;
      if ((out as { type?: unknown })?.type !== "modelVersion" || h?.kind !== "version" || h.model !== model)
        continue;
      if (typeof h.version === "number" && (best === undefined || h.version > best)) best = h.version;
    }
  }
  return best === undefined ? undefined : metadata.registry.getVersion(model, best);
}

/** The gate metric of one version on the gate rows, computed by the monitoring's performance code. */
async function scoreOn(
  project: MonitorProject,
  version: ModelVersion,
  gateFile: string,
  labelColumn: string,
  metric: string,
): Promise<{ value: number | null; rows: number }> {
  const model = await readModelFile(project, version);
  const dir = await mkdtemp(join(tmpdir(), "dagwood-gate-"));
  try {
    const output = join(dir, "scored.parquet");
    const { columns } = await predictFile({
      onnxFile: join(project.dir, version.onnxPath),
      model,
      input: gateFile,
      output,
    });
    const inputs = await withSql(async (sql) => {
      await sql.run(`CREATE TABLE g AS SELECT * FROM read_parquet(${literal(gateFile)}) LIMIT 0`);
      return (await sql.columns("g")).map((c) => c.name);
    });
    const prediction = columns.find((c) => !inputs.includes(c))!;
    return await withSql(async (sql) => {
      await sql.run(
        `CREATE TABLE scored AS SELECT *, TIMESTAMPTZ '2000-01-01 00:00:00+00' AS __gate_time FROM read_parquet(${literal(output)})`,
      );
      const task = taskOf(version);
      const result = await performanceOverWindows(
        sql,
        {
          name: "scored",
          columns: await sql.columns("scored"),
          prediction,
          target: labelColumn,
          time: "__gate_time",
        },
        { window: "1d", ...(task ? { task } : {}), minRows: 1 },
      );
      const w = result.windows[0];
      if (!w?.performance) return { value: null, rows: w?.labelled ?? 0 };
      const figure = w.performance[metric];
      if (!figure)
        throw new MonitorError(
          `the gate's metric "${metric}" is not one the gate computes for this task: ${Object.keys(w.performance).join(", ")}; set gate.metric of the monitor in dagwood.json to one of them`,
        );
      return { value: figure.value, rows: w.labelled };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function gate(
  project: MonitorProject,
  loop: MonitorLoop,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  const m = settingsOf(project, loop);
  const now = opts.now ?? Date.now();
  const at = iso(now);
  const champion = requireVersion(project, loop.model, loop.champion, "champion");
  const challenger = requireVersion(project, loop.model, loop.challenger, "challenger");
  const regression = champion.task === "regression";
  const metric = m.gate.metric ?? m.performance?.metric ?? (regression ? "rmse" : "accuracy");
  const direction = metricDirection(metric);
  if (!direction)
    return fail(
      project,
      loop,
      `the gate's metric "${metric}" is not one whose better direction is known: set gate.metric of monitor ${loop.monitor} in dagwood.json to one of ${WINDOW_METRICS[regression ? "regression" : "classification"].join(", ")}`,
      at,
    );
  const gateFile = join(project.dir, loopDataDir(loop.id), "gate.parquet");
  // Claimed, so the versions are scored (and the gate audited) by one process once.
  const rawClaim = project.metadata.monitorLoopClaim(loop.id);
  if (claimBusy(project, loop.id, readClaim(rawClaim))) return null;
  const ended = supersede(project, loop, at);
  if (ended !== undefined) return ended;
  const mine = JSON.stringify({ step: "gate", owner: currentProcess() } satisfies Claim);
  if (!project.metadata.updateMonitorLoop(loop.id, { stage: "gating", claim: rawClaim }, { claim: mine }))
    return null;
  let a: { value: number | null; rows: number };
  let b: { value: number | null; rows: number };
  try {
    [a, b] = await inFlightStep(project, loop.id, async () => {
      const labelColumn = m.retrain?.labelColumn ?? (await readModelFile(project, champion)).target;
      return [
        await scoreOn(project, champion, gateFile, labelColumn, metric),
        await scoreOn(project, challenger, gateFile, labelColumn, metric),
      ] as const;
    });
  } catch (e) {
    return fail(project, loop, `the gate could not score the versions: ${(e as Error).message}`, at);
  }
  // Fair only on the same rows: both versions answer every gate row, so their labelled counts agree.
  if (a.rows !== b.rows)
    return fail(
      project,
      loop,
      `the gate scored the champion on ${a.rows} rows and the challenger on ${b.rows}: no fair comparison, nothing deployed`,
      at,
    );
  const margin = m.gate.margin;
  const diff =
    a.value === null || b.value === null
      ? null
      : direction === "higher"
        ? b.value - a.value
        : a.value - b.value;
  const passed = diff !== null && (margin > 0 ? diff >= margin - 1e-12 : diff > 0);
  const figures: LoopGate = {
    metric,
    higherIsBetter: direction === "higher",
    champion: a.value,
    challenger: b.value,
    margin,
    rows: b.rows,
    passed,
  };
  const versus = `${metric} ${fmt(b.value)} (challenger v${challenger.version}) vs ${fmt(a.value)} (champion v${champion.version}) on ${b.rows} rows`;
  const gateAudit = audit(project, loop, "monitor.gate", monitorActor(loop), challenger.version, {
    ...figures,
  });
  if (!passed) {
    const unscored = [a.value === null ? "champion" : null, b.value === null ? "challenger" : null].filter(
      Boolean,
    );
    const outcome = unscored.length
      ? `champion kept: the gate's ${metric} could not be computed for the ${unscored.join(" and the ")} on the ${b.rows} gate rows (${versus}); check that the gate rows' labels are of the model's classes, or choose another gate.metric in dagwood.json`
      : `champion kept: ${versus}${margin > 0 ? ` (the challenger must win by ${margin})` : ""}`;
    const gated = project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "gating", claim: mine },
      { gate: figures, event: { message: `gate failed: ${versus}`, auditId: gateAudit }, at },
    );
    if (!gated) return null;
    const keptAudit = audit(project, gated, "monitor.kept", monitorActor(loop), champion.version, {
      reason: outcome,
    });
    return (
      project.metadata.updateMonitorLoop(
        loop.id,
        { stage: "gating", claim: mine },
        { stage: "kept", outcome, claim: null, event: { message: outcome, auditId: keptAudit }, at },
      ) ?? null
    );
  }
  const registry = project.metadata.registry;
  if (registry.getVersion(loop.model, "challenger")?.version !== challenger.version)
    registry.setAlias(loop.model, "challenger", challenger.version, monitorActor(loop));
  if (m.promote.mode === "approve") {
    return (
      project.metadata.updateMonitorLoop(
        loop.id,
        { stage: "gating", claim: mine },
        {
          stage: "awaiting-approval",
          gate: figures,
          claim: null,
          event: { message: `gate passed: ${versus}; waiting for a person to approve`, auditId: gateAudit },
          at,
        },
      ) ?? null
    );
  }
  const canary: LoopCanary = {
    target: loop.target,
    version: challenger.version,
    percent: m.promote.percent,
    since: at,
    until: iso(now + parseWindow(m.promote.window)),
    metric,
    primary: null,
    canary: null,
    held: null,
  };
  const deploying = JSON.stringify({ step: "canary", owner: currentProcess() } satisfies Claim);
  const claimed = project.metadata.updateMonitorLoop(
    loop.id,
    { stage: "gating", claim: mine },
    {
      stage: "canary",
      gate: figures,
      canary,
      claim: deploying,
      event: {
        message: `gate passed: ${versus}; deploying v${challenger.version} as a canary on ${loop.target} (${m.promote.percent} %)`,
        auditId: gateAudit,
      },
      at,
    },
  );
  if (!claimed) return null;
  return deployTheCanary(project, claimed, deploying, opts);
}

async function deployTheCanary(
  project: MonitorProject,
  loop: MonitorLoop,
  claim: string,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  const m = settingsOf(project, loop);
  const c = loop.canary!;
  let auditId: number | null;
  try {
    const record = await inFlightStep(project, loop.id, () =>
      deploysOf(opts).deployCanary({
        project: deployProject(project),
        target: c.target,
        name: loop.model,
        ref: c.version,
        percent: c.percent,
        actor: monitorActor(loop),
        ...(opts.tokens ? { tokens: opts.tokens } : {}),
      }),
    );
    auditId = record.auditId ?? null;
  } catch (e) {
    if (isCrash(e)) throw e;
    return fail(
      project,
      loop,
      `the canary of v${c.version} could not be deployed: ${(e as Error).message}`,
      iso(opts.now ?? Date.now()),
    );
  }
  const now = opts.now ?? Date.now();
  const window = parseWindow(m.promote.window);
  const canary: LoopCanary = { ...c, since: iso(now), until: iso(now + window) };
  const loopAudit = audit(project, loop, "monitor.canary", monitorActor(loop), c.version, {
    percent: c.percent,
    since: canary.since,
    until: canary.until,
  });
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "canary", claim },
      {
        canary,
        claim: null,
        event: {
          message: `v${c.version} serves ${c.percent} % of ${c.target} as a canary until ${canary.until}`,
          auditId: auditId ?? loopAudit,
        },
        at: iso(now),
      },
    ) ?? null
  );
}

/** Errors that are not the step's verdict (a deploy refusal) but the process's own failure: let them through. */
function isCrash(e: unknown): boolean {
  return !(e instanceof Error) || !["DeployError", "RegistryError"].includes(e.name);
}

async function canaryStep(
  project: MonitorProject,
  loop: MonitorLoop,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  const m = settingsOf(project, loop);
  const now = opts.now ?? Date.now();
  const at = iso(now);
  const rawClaim = project.metadata.monitorLoopClaim(loop.id);
  const claim = readClaim(rawClaim);
  if (claimBusy(project, loop.id, claim)) return null;
  // A step claimed by a process that stopped: take it again (each is idempotent).
  if (claim?.step === "canary") return deployTheCanary(project, loop, rawClaim!, opts);
  if (claim?.step === "promote" || claim?.step === "remove")
    return endCanary(project, loop, rawClaim!, claim, opts);
  const c = loop.canary!;
  if (now < Date.parse(c.until)) return null;
  const champion = requireVersion(project, loop.model, loop.champion, "champion");
  const figures = await canaryFigures({
    dir: project.dir,
    metadata: project.metadata,
    target: c.target,
    model: m.deployedModel ?? loop.model,
    canaryVersion: c.version,
    since: Date.parse(c.since),
    until: now,
    metric: c.metric,
    task: taskOf(champion) ?? "binary",
    ...(opts.tokens ? { tokens: opts.tokens } : {}),
  });
  // Judged only on a fair comparison: both arms labelled on the same span (a primary with no
  // labelled rows is no evidence that the canary holds).
  const labelled = figures.canary?.labelled ?? 0;
  const primaryLabelled = figures.primary?.labelled ?? 0;
  if (labelled < m.promote.minRows || primaryLabelled < m.promote.minRows) {
    note(
      project,
      loop,
      `waiting for labelled rows: canary ${labelled} of ${m.promote.minRows} (${figures.canary?.rows ?? 0} answered by v${c.version}), primary ${primaryLabelled} of ${m.promote.minRows} (${figures.primary?.rows ?? 0} answered) since ${c.since}`,
      at,
    );
    return null;
  }
  const higher = metricDirection(c.metric) !== "lower";
  const cv = figures.canary?.value ?? null;
  const pv = figures.primary?.value ?? null;
  const tol = m.promote.tolerance;
  const held = cv !== null && pv !== null && (higher ? cv >= pv - tol : cv <= pv + tol);
  const versus = `${c.metric} ${fmt(cv)} (canary v${c.version}, ${labelled} labelled) vs ${fmt(pv)} (primary${figures.primary ? ` v${figures.primary.version}` : ""}, ${figures.primary?.labelled ?? 0} labelled)`;
  const reason = held
    ? `promoted v${c.version}: ${versus}`
    : cv === null || pv === null
      ? `champion kept: the ${cv === null ? "canary's" : "primary's"} ${c.metric} could not be computed on its labelled rows: ${versus}`
      : `champion kept: the canary fell behind by more than ${tol}: ${versus}`;
  const canaryAudit = audit(project, loop, "monitor.canary", monitorActor(loop), c.version, {
    primary: figures.primary,
    canary: figures.canary,
    held,
    metric: c.metric,
  });
  const mine: Claim = { step: held ? "promote" : "remove", owner: currentProcess(), reason };
  const judged = project.metadata.updateMonitorLoop(
    loop.id,
    { stage: "canary", claim: rawClaim },
    {
      canary: { ...c, primary: figures.primary, canary: figures.canary, held },
      claim: JSON.stringify(mine),
      event: { message: `canary judged: ${versus}`, auditId: canaryAudit },
      at,
    },
  );
  if (!judged) return null;
  return endCanary(project, judged, JSON.stringify(mine), mine, opts);
}

async function endCanary(
  project: MonitorProject,
  loop: MonitorLoop,
  rawClaim: string,
  claim: Claim,
  opts: LoopOptions,
): Promise<MonitorLoop | null> {
  const c = loop.canary!;
  const at = () => iso(opts.now ?? Date.now());
  const deploys = deploysOf(opts);
  const base = {
    project: deployProject(project),
    target: c.target,
    name: loop.model,
    version: c.version,
    actor: monitorActor(loop),
    ...(opts.tokens ? { tokens: opts.tokens } : {}),
  };
  const reason = claim.reason ?? "the canary ended";
  // Only the deploy step is judged here: a refusal fails the loop, a crash of this process is let through
  // (the claim stays, and the step is taken again on resume: both deploy steps are idempotent).
  try {
    await inFlightStep(project, loop.id, () =>
      claim.step === "promote" ? deploys.promoteCanary(base) : deploys.removeCanary({ ...base, reason }),
    );
  } catch (e) {
    if (isCrash(e)) throw e;
    const message = (e as Error).message;
    if (claim.step === "remove")
      return fail(
        project,
        loop,
        `taking the canary v${c.version} out of ${c.target} failed: ${message}; it may still take ${c.percent} % of the requests: take it out with dagwood deploy canary remove ${loop.model} --target ${c.target} --version ${c.version} --reason "${reason.replaceAll('"', "'")}"`,
        at(),
      );
    // A promotion refused: the canary takes no more traffic while the loop is failed (best effort; a
    // promotion whose parity failed has taken it out already, and removing it again is a no-op).
    const removal = await inFlightStep(project, loop.id, () =>
      deploys.removeCanary({ ...base, reason: `promotion failed: ${message}` }),
    ).then(
      () => `; the canary v${c.version} was taken out of the traffic, the primary serves all the requests`,
      (r: unknown) =>
        `; the canary v${c.version} could not be taken out (${(r as Error).message}): take it out with dagwood deploy canary remove ${loop.model} --target ${c.target} --version ${c.version} --reason "promotion failed"`,
    );
    return fail(project, loop, `promoting the canary v${c.version} failed: ${message}${removal}`, at());
  }
  if (claim.step === "promote") {
    const registry = project.metadata.registry;
    if (registry.getVersion(loop.model, "champion")?.version !== c.version)
      registry.setAlias(loop.model, "champion", c.version, monitorActor(loop));
    const auditId = audit(project, loop, "monitor.promoted", monitorActor(loop), c.version, { reason });
    return (
      project.metadata.updateMonitorLoop(
        loop.id,
        { stage: "canary", claim: rawClaim },
        { stage: "promoted", outcome: reason, claim: null, event: { message: reason, auditId }, at: at() },
      ) ?? null
    );
  }
  const auditId = audit(project, loop, "monitor.kept", monitorActor(loop), loop.champion, { reason });
  return (
    project.metadata.updateMonitorLoop(
      loop.id,
      { stage: "canary", claim: rawClaim },
      { stage: "kept", outcome: reason, claim: null, event: { message: reason, auditId }, at: at() },
    ) ?? null
  );
}

// ---------------------------------------------------------------------------------------------
// A person's decisions

/** The deploy of an approval claimed before (its process stopped after deploying, before recording it). */
function approvalDeploy(project: MonitorProject, loop: MonitorLoop, claim: Claim | null) {
  if (claim?.step !== "approve") return undefined;
  return project.metadata.registry
    .audit({ model: loop.model, limit: 1000 })
    .find(
      (e) =>
        e.action === "deployment.succeeded" &&
        e.version === loop.challenger &&
        e.details.target === loop.target &&
        e.id > (claim.auditId ?? 0),
    );
}

/** awaiting-approval → deploy (full deployVersion) + alias champion → promoted. */
export async function approveChallenger(
  project: MonitorProject,
  id: number,
  opts: LoopOptions,
): Promise<MonitorLoop> {
  const loop = requireLoop(project.metadata, id);
  if (loop.stage !== "awaiting-approval")
    throw new LoopStateError(
      `loop ${id} is ${loop.stage}, not awaiting approval: only a challenger that passed the gate with promote.mode "approve" can be approved`,
    );
  const actor = opts.actor ?? null;
  const at = () => iso(opts.now ?? Date.now());
  const rawClaim = project.metadata.monitorLoopClaim(id);
  let claim = readClaim(rawClaim);
  if (claimBusy(project, id, claim))
    throw new LoopStateError(`loop ${id} is being approved by another process; try again in a moment`);
  let claimText = rawClaim;
  if (claim?.step !== "approve") {
    const auditId = audit(project, loop, "monitor.approved", actor, loop.challenger, {});
    claim = { step: "approve", owner: currentProcess(), auditId };
    claimText = JSON.stringify(claim);
    const claimed = project.metadata.updateMonitorLoop(
      id,
      { stage: "awaiting-approval", claim: rawClaim },
      {
        claim: claimText,
        event: {
          message: `approved by ${actor ?? "someone"}: deploying v${loop.challenger} to ${loop.target}`,
          auditId,
        },
        at: at(),
      },
    );
    if (!claimed) throw new LoopStateError(`loop ${id} changed meanwhile; look at it again`);
  }
  const version = loop.challenger!;
  const name = loop.model;
  const registry = project.metadata.registry;
  // Resuming an approval whose deploy succeeded: not deployed twice.
  const deployed = approvalDeploy(project, loop, claim);
  let deployAudit = deployed?.id ?? null;
  if (!deployed) {
    try {
      const record = await inFlightStep(project, id, () =>
        deploysOf(opts).deployVersion({
          project: deployProject(project),
          target: loop.target,
          name,
          ref: version,
          actor,
          ...(opts.tokens ? { tokens: opts.tokens } : {}),
        }),
      );
      deployAudit = record.auditId ?? null;
    } catch (e) {
      if (!isCrash(e))
        project.metadata.updateMonitorLoop(
          id,
          { stage: "awaiting-approval", claim: claimText },
          {
            claim: null,
            event: { message: `deploying v${version} failed: ${(e as Error).message}` },
            at: at(),
          },
        );
      throw e;
    }
  }
  if (registry.getVersion(loop.model, "champion")?.version !== version)
    registry.setAlias(loop.model, "champion", version, actor);
  const outcome = `promoted v${version} (approved by ${actor ?? "someone"})${loop.gate ? `: ${loop.gate.metric} ${fmt(loop.gate.challenger)} vs ${fmt(loop.gate.champion)} (champion v${loop.champion}) on ${loop.gate.rows} gate rows` : ""}`;
  const auditId = audit(project, loop, "monitor.promoted", actor, version, {
    reason: outcome,
    deployment: deployAudit,
  });
  const done = project.metadata.updateMonitorLoop(
    id,
    { stage: "awaiting-approval", claim: claimText },
    { stage: "promoted", outcome, claim: null, event: { message: outcome, auditId }, at: at() },
  );
  return done ?? requireLoop(project.metadata, id);
}

/** awaiting-approval | canary → kept (a canary is removed first). */
export async function rejectChallenger(
  project: MonitorProject,
  id: number,
  opts: LoopOptions & { reason?: string },
): Promise<MonitorLoop> {
  const loop = requireLoop(project.metadata, id);
  if (loop.stage !== "awaiting-approval" && loop.stage !== "canary")
    throw new LoopStateError(
      `loop ${id} is ${loop.stage}: only a challenger awaiting approval or serving as a canary can be rejected`,
    );
  const actor = opts.actor ?? null;
  const at = iso(opts.now ?? Date.now());
  const reason = `champion kept: v${loop.challenger} rejected by ${actor ?? "someone"}${opts.reason ? `: ${opts.reason}` : ""}`;
  const rawClaim = project.metadata.monitorLoopClaim(id);
  const claim = readClaim(rawClaim);
  if (claimBusy(project, id, claim))
    throw new LoopStateError(`loop ${id} is taking a step in another process; try again in a moment`);
  if (approvalDeploy(project, loop, claim))
    throw new LoopStateError(
      `loop ${id}: v${loop.challenger} was approved and already serves on ${loop.target} (its process stopped before recording it); finish the approval with dagwood monitor approve ${id}, then roll back with dagwood deploy rollback ${loop.model} --target ${loop.target} --to ${loop.champion} if it should not serve`,
    );
  // Claimed first, so the loop's own canary step (a promotion) cannot start meanwhile in another process.
  const mine = JSON.stringify({ step: "remove", owner: currentProcess(), reason } satisfies Claim);
  if (!project.metadata.updateMonitorLoop(id, { stage: loop.stage, claim: rawClaim }, { claim: mine }))
    throw new LoopStateError(`loop ${id} changed meanwhile; look at it again`);
  if (loop.stage === "canary" && loop.canary) {
    try {
      await inFlightStep(project, id, () =>
        deploysOf(opts).removeCanary({
          project: deployProject(project),
          target: loop.canary!.target,
          name: loop.model,
          version: loop.canary!.version,
          actor,
          reason,
          ...(opts.tokens ? { tokens: opts.tokens } : {}),
        }),
      );
    } catch (e) {
      // Never the canary there (its deploy was claimed by a process that stopped before it): nothing takes traffic.
      const neverServed =
        e instanceof Error && e.name === "DeployError" && (e as { code?: string }).code === "not-found";
      if (!neverServed) {
        project.metadata.updateMonitorLoop(id, { stage: loop.stage, claim: mine }, { claim: rawClaim });
        throw e;
      }
    }
  }
  const auditId = audit(project, loop, "monitor.kept", actor, loop.champion, {
    reason,
    rejected: loop.challenger,
  });
  const done = project.metadata.updateMonitorLoop(
    id,
    { stage: loop.stage, claim: mine },
    { stage: "kept", outcome: reason, claim: null, event: { message: reason, auditId }, at },
  );
  if (!done) throw new LoopStateError(`loop ${id} changed meanwhile; look at it again`);
  return done;
}

/** alerted | failed → acknowledged. */
export function acknowledgeAlert(
  project: MonitorProject,
  id: number,
  opts: { actor: string | null },
): MonitorLoop {
  const loop = requireLoop(project.metadata, id);
  const stage: LoopStage = loop.stage;
  const rawClaim = project.metadata.monitorLoopClaim(id);
  // A loop still waiting for labels has started nothing, and it holds up the monitor's later
  // loops: a person may close it too (compare-and-set on the claim: no run starts meanwhile); so
  // may one whose runs were all stopped before they ended (the app closed), waiting to run again.
  const waiting =
    stage === "retraining" &&
    loop.runId === null &&
    !claimBusy(project, id, readClaim(rawClaim)) &&
    taggedRuns(project.metadata, id).every((r) => STOPPED_RUN.includes(r.status));
  if (stage !== "alerted" && stage !== "failed" && !waiting)
    throw new LoopStateError(
      `loop ${id} is ${stage}: only an alert (alerted), a loop waiting for labels or a failed loop can be acknowledged${
        stage === "retraining" || stage === "gating"
          ? "; its retraining run or gate is under way: look again when it has ended"
          : stage === "awaiting-approval" || stage === "canary"
            ? `; approve or reject its challenger instead (dagwood monitor approve|reject ${id})`
            : ""
      }`,
    );
  const message = `acknowledged by ${opts.actor ?? "someone"}`;
  const auditId = audit(project, loop, "monitor.acknowledged", opts.actor, loop.champion, {});
  const done = project.metadata.updateMonitorLoop(
    id,
    { stage, claim: rawClaim },
    { stage: "acknowledged", outcome: loop.outcome ?? message, claim: null, event: { message, auditId } },
  );
  if (!done) throw new LoopStateError(`loop ${id} changed meanwhile; look at it again`);
  return done;
}
