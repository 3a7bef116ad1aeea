/**
 * The live figures of a canary: the target's inference log between `since`
 * and `until` (app/monitoring/inference-log.ts), split into the two arms the
 * server logged — role "primary" (the version serving the rest of the
 * requests) and role "canary" (the canary version) — joined with the
 * feedback labels the target received (app/monitoring/labels.ts), and the
 * metric computed per arm on its labelled rows with the code the monitoring
 * report grades windows with (app/monitoring/performance.ts). Requests sent
 * to a version's own URL (role "direct": a deploy's parity check) and shadow
 * runs are not in either arm.
 *
 *   const { primary, canary } = await canaryFigures({ dir, metadata, target: "local", model: "penguins",
 *     canaryVersion: 4, since, until, metric: "accuracy", task: "multiclass" });
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ArtifactError } from "../artifacts/location";
import { ensureProjectVersionFiles } from "../artifacts/version-files";
import { ident, literal } from "../data/sql";
import type { TokenLookup } from "../deploy/targets";
import { readProjectSettings } from "../project/project";
import type { MetadataStore } from "../store/types";
import type { LoopCanaryArm } from "../values/loop";
import { loadInferenceLog } from "./inference-log";
import { feedbackTable, joinLabels, readFeedback } from "./labels";
import { targetLogSource } from "./log-source";
import { type MonitoredTask, performanceOverWindows, WINDOW_METRICS } from "./performance";

export interface CanaryFiguresArgs {
  /** The project folder (its dagwood.json names the target). */
  dir: string;
  metadata: MetadataStore;
  target: string;
  /** The deployed model's name on the target. */
  model: string;
  /** The registered model the versions are of, when its name is not `model` (for a classifier's class order). */
  registeredModel?: string;
  canaryVersion: number;
  /** Epoch ms: entries logged after `since` and at or before `until` count. */
  since: number;
  until: number;
  /** One of the metrics the monitoring report computes for the task (performance.ts WINDOW_METRICS). */
  metric: string;
  task: MonitoredTask;
  tokens?: TokenLookup;
  /** For tests and other transports. */
  fetch?: typeof fetch;
}

export interface CanaryFigures {
  /** Null when the arm answered no request in the span. */
  primary: LoopCanaryArm | null;
  canary: LoopCanaryArm | null;
}

/** A wrong argument or a log that cannot be read: the message says which and what to do. */
export class CanaryFiguresError extends Error {
  override name = "CanaryFiguresError";
}

/**
 * The class names of a registered version, in its probability order (for log loss); none when unknown.
 * A version registered on another machine of a shared store has its files fetched from the project's
 * artifact location first; a fetch that fails is a CanaryFiguresError saying why.
 */
async function classesOf(args: CanaryFiguresArgs): Promise<string[] | undefined> {
  const version = args.metadata.registry.getVersion(args.registeredModel ?? args.model, args.canaryVersion);
  if (!version) return undefined;
  try {
    await ensureProjectVersionFiles(args.dir, version);
  } catch (e) {
    if (e instanceof ArtifactError)
      throw new CanaryFiguresError(`the class names of the canary's model: ${e.message}`);
    throw e;
  }
  try {
    const model = JSON.parse(readFileSync(resolve(args.dir, version.nativePath), "utf8")) as {
      classes?: unknown;
    };
    return Array.isArray(model.classes) ? model.classes.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The metric per arm between `since` and `until`. An arm's `rows` are the
 * logged rows it answered (a row per row of each request), `labelled` those
 * with a feedback label, and `value` the metric on the labelled ones (null
 * when none is labelled). The primary arm is the version that answered as
 * primary last in the span (one version: a primary moved midway is not mixed in).
 */
export async function canaryFigures(args: CanaryFiguresArgs): Promise<CanaryFigures> {
  const { since, until, metric, task } = args;
  if (!Number.isFinite(since) || !Number.isFinite(until) || until <= since)
    throw new CanaryFiguresError(
      `the canary's span must end after it starts (since ${since}, until ${until}, epoch ms)`,
    );
  if (!Number.isSafeInteger(args.canaryVersion) || args.canaryVersion < 1)
    throw new CanaryFiguresError(
      `the canary's version must be a version number (1, 2, …), got ${String(args.canaryVersion)}`,
    );
  const metrics = WINDOW_METRICS[task === "regression" ? "regression" : "classification"];
  if (!metrics.includes(metric))
    throw new CanaryFiguresError(
      `metric "${metric}" is not graded for a ${task} model; use one of ${metrics.join(", ")}`,
    );
  const source = targetLogSource(
    args.dir,
    readProjectSettings(args.dir),
    args.target,
    args.model,
    args.tokens,
  );
  if (!source)
    throw new CanaryFiguresError(
      `target "${args.target}" is a Triton server, which keeps no inference log Dagwood can read: a canary runs on a dagwood serve target`,
    );

  const { Workspace } = await import("../data/workspace");
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [args.dir], threads: 2 });
  const sql = await workspace.session();
  try {
    const classNames = await classesOf(args);
    let log: Awaited<ReturnType<typeof loadInferenceLog>>;
    try {
      log = await loadInferenceLog(sql, source, {
        table: "canary_log",
        since,
        roles: ["primary", "canary"],
        ...(classNames ? { classNames } : {}),
        ...(args.fetch ? { fetch: args.fetch } : {}),
      });
    } catch (e) {
      throw new CanaryFiguresError(
        `the inference log of ${args.target}:${args.model}: ${(e as Error).message}`,
      );
    }
    const time = ident(log.meta.time);
    const role = ident(log.meta.role);
    const version = ident(log.meta.version);
    if (log.rows > 0)
      await sql.run(
        `DELETE FROM ${ident(log.name)} WHERE ${time} IS NULL OR epoch_ms(${time}) > ${Math.floor(until)}`,
      );

    // The arms: the canary version as canary; as primary, the version that answered last.
    const arms = await sql.all<{ arm: string; version: number; rows: number }>(
      `SELECT ${role} AS arm, ${version}::DOUBLE AS version, count(*)::DOUBLE AS rows, max(${ident(log.meta.seq)})::DOUBLE AS last
       FROM ${ident(log.name)}
       WHERE (${role} = 'canary' AND ${version} = ${args.canaryVersion}) OR ${role} = 'primary'
       GROUP BY ALL ORDER BY last DESC`,
    );
    const primaryArm = arms.find((a) => a.arm === "primary");
    const canaryArm = arms.find((a) => a.arm === "canary");
    if (!primaryArm && !canaryArm) return { primary: null, canary: null };

    const records = await readFeedback(source, { since, ...(args.fetch ? { fetch: args.fetch } : {}) }).catch(
      (e: Error) => {
        throw new CanaryFiguresError(`the feedback of ${args.target}:${args.model}: ${e.message}`);
      },
    );
    const labelled = records.length
      ? await joinLabels(sql, log, await feedbackTable(sql, "canary_labels", records), {
          table: "canary_labelled",
        })
      : undefined;

    const figure = async (
      arm: { arm: string; version: number; rows: number } | undefined,
    ): Promise<LoopCanaryArm | null> => {
      if (!arm) return null;
      const base = { version: arm.version, rows: arm.rows };
      if (!labelled?.prediction) return { ...base, labelled: 0, value: null };
      // One arm's labelled rows, all at one time: graded as one window by the report's code.
      const view = `canary_arm_${arm.arm}`;
      await sql.run(
        `CREATE OR REPLACE TEMP VIEW ${ident(view)} AS
         SELECT * REPLACE (TIMESTAMPTZ '2000-01-01 00:00:00+00' AS ${time})
         FROM ${ident(labelled.name)} WHERE ${role} = ${literal(arm.arm)} AND ${version} = ${arm.version}`,
      );
      const result = await performanceOverWindows(
        sql,
        {
          name: view,
          columns: labelled.columns,
          prediction: labelled.prediction,
          target: labelled.target,
          time: log.meta.time,
        },
        { window: "1d", task, ...(classNames ? { classes: classNames } : {}) },
      );
      const window = result.windows[0];
      return {
        ...base,
        labelled: window?.labelled ?? 0,
        value: window?.performance?.[metric]?.value ?? null,
      };
    };
    return { primary: await figure(primaryArm), canary: await figure(canaryArm) };
  } finally {
    sql.close();
    workspace.close();
  }
}
