/**
 * The rule for the `production` alias, checked by the registry on every move
 * (Api, CLI, app, register block, monitoring loop): the version passed its
 * gate and was deployed successfully to the `staging` target, or a person
 * gives a reason to override. The record of what was checked (the pipeline's
 * commit, the data versions, the gate figures, the staging deploy) goes into
 * the move's audit entry.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  type GateFigures,
  type ModelVersion,
  PRODUCTION_ALIAS,
  type ProductionRecord,
  STAGING_TARGET,
} from "../values/registry";
import type { AuditEntry, MetadataStore } from "./types";

/** What the check reads about the run that registered a version. */
export type RunFacts = Pick<
  MetadataStore,
  "getRun" | "nodeRuns" | "metrics" | "resolvedParams" | "artifacts"
>;

/** Deploy entries that made a version serve on a target after its parity check passed. */
const SERVED = new Set(["deployment.succeeded", "deployment.rolledBack"]);

const numberOr = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const stringOr = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The report a passed gate put out (its artifact), for the champion's figures. */
function gateReport(projectDir: string, path: string | undefined): Record<string, unknown> | null {
  if (path === undefined) return null;
  const file = resolve(projectDir, path);
  if (!existsSync(file)) return null;
  try {
    const data = JSON.parse(readFileSync(file, "utf8"));
    return data && typeof data === "object" ? (data as Record<string, unknown>) : null;
  } catch {
    // An unreadable report leaves the champion's figures out; the gate's status stands.
    return null;
  }
}

/** A node run's error without the engine's `Node "gate" (gate) failed: ` prefix (the record names the node). */
function nodeError(error: string | null): string | null {
  return error === null ? null : error.replace(/^Node "[^"]*" \([^)]*\) failed: /, "");
}

/** The gate nodes of the run, with their params, the metric they checked and how they ended. */
function runGates(facts: RunFacts, projectDir: string, runId: string): GateFigures[] {
  const gates = facts.nodeRuns(runId).filter((n) => n.block === "gate");
  if (gates.length === 0) return [];
  const params = facts.resolvedParams(runId);
  const metrics = facts.metrics(runId);
  const artifacts = facts.artifacts(runId);
  return gates.map((g): GateFigures => {
    const p = (key: string) => params[`${g.nodeId}.${key}`];
    const metric = stringOr(p("metric"));
    // The value the gate checked: the metric its report input's node logged (the latest).
    const from = g.inputs.report?.node;
    const logged = metrics.filter((m) => m.nodeId === from && m.name === metric);
    const report = gateReport(
      projectDir,
      artifacts.find((a) => a.nodeId === g.nodeId && a.name === "report/report.json")?.path,
    );
    const reported = (report?.metrics as Record<string, unknown> | undefined)?.[metric ?? ""];
    const value = numberOr(logged.at(-1)?.value) ?? numberOr(reported);
    const championModel = stringOr(p("champion.model"));
    const scored = (report?.champion ?? null) as Record<string, unknown> | null;
    const threshold = numberOr(p("threshold"));
    return {
      source: "run",
      node: g.nodeId,
      status: g.status === "failed" ? "failed" : g.status === "skipped" ? "not reached" : "passed",
      metric,
      op: threshold === null ? null : (stringOr(p("op")) ?? ">="),
      threshold,
      value,
      champion:
        championModel === null
          ? null
          : {
              model: championModel,
              alias: stringOr(p("champion.alias")) ?? "champion",
              margin: numberOr(p("champion.margin")) ?? 0,
              version: numberOr(scored?.version),
              value: numberOr(scored?.value),
            },
      error: g.status === "failed" || g.status === "skipped" ? nodeError(g.error ?? g.reason) : null,
    };
  });
}

/** The latest retraining loop's gate on this version (app/monitoring/loop.ts audits `monitor.gate`). */
function monitorGate(audit: readonly AuditEntry[], version: number): GateFigures | null {
  const e = audit.find((a) => a.action === "monitor.gate" && a.version === version);
  if (!e) return null;
  const d = e.details;
  const passed = d.passed === true;
  return {
    source: "monitor",
    node: stringOr(d.monitor) ?? "monitor",
    status: passed ? "passed" : "failed",
    metric: stringOr(d.metric),
    op: null,
    threshold: null,
    value: numberOr(d.challenger),
    champion: {
      model: e.model,
      alias: "champion",
      margin: numberOr(d.margin) ?? 0,
      version: null,
      value: numberOr(d.champion),
    },
    error: passed ? null : "the challenger did not beat the champion on the loop's gate rows",
  };
}

/**
 * What moving `production` to this version would record, with the requirements it does not meet
 * (`missing`, each saying what to do). `audit` is the model's audit log, newest first.
 */
export function productionRecord(
  facts: RunFacts,
  projectDir: string,
  version: ModelVersion,
  audit: readonly AuditEntry[],
): ProductionRecord {
  const ref = `${version.name}:${version.version}`;
  const missing: string[] = [];
  const run = facts.getRun(version.runId);
  const lineageRun = version.lineage.run;
  const env = run?.environment ?? version.lineage.environment;
  const gates = run ? runGates(facts, projectDir, run.id) : [];
  const loopGate = monitorGate(audit, version.version);
  if (loopGate) gates.push(loopGate);

  const failed = gates.filter((g) => g.status !== "passed");
  if (!run && !loopGate) {
    missing.push(
      `a passed gate: the run that registered v${version.version} (${version.runId}) is not in this project's metadata, so no gate result can be found`,
    );
  } else if (gates.length === 0) {
    missing.push(
      `a passed gate: run ${version.runId}, which registered v${version.version}, has no gate node (add a gate to the pipeline, e.g. accuracy >= a threshold, and register again)`,
    );
  } else {
    for (const g of failed)
      missing.push(
        `a passed gate: gate "${g.node}" ${g.status === "failed" ? "failed" : "was not reached"}${g.source === "run" ? ` in run ${version.runId}` : ""}${g.error ? ` (${g.error})` : ""}`,
      );
  }

  const deploys = audit.filter(
    (a) =>
      a.version === version.version &&
      a.details.target === STAGING_TARGET &&
      (SERVED.has(a.action) || a.action === "deployment.failed"),
  );
  const served = deploys.find((a) => SERVED.has(a.action));
  if (!served) {
    const lastFailure = deploys.find((a) => a.action === "deployment.failed");
    missing.push(
      `a successful deploy to the "${STAGING_TARGET}" target: v${version.version} ${lastFailure ? `failed there (${stringOr(lastFailure.details.reason) ?? "see dagwood deploy status"})` : "was never deployed there"} (deploy it with: dagwood deploy ${ref} --target ${STAGING_TARGET})`,
    );
  }

  return {
    run: {
      id: version.runId,
      pipeline: run?.pipeline ?? lineageRun.pipeline,
      pipelinePath: run?.pipelinePath ?? lineageRun.pipelinePath,
      pipelineHash: run?.pipelineHash ?? lineageRun.pipelineHash,
      gitCommit: stringOr(env.gitCommit),
      gitDirty: typeof env.gitDirty === "boolean" ? env.gitDirty : null,
    },
    datasets: version.lineage.datasets.map((d) => ({ source: d.source, digest: d.digest, rows: d.rows })),
    gates,
    staging: served
      ? { target: STAGING_TARGET, auditId: served.id, at: served.at, actor: served.actor }
      : null,
    missing,
    reason: null,
  };
}

/** The refusal when `production` would move without its requirements and without a reason. */
export function productionRefusal(
  version: Pick<ModelVersion, "name" | "version">,
  missing: string[],
): string {
  const { name, version: v } = version;
  return `Cannot point "${PRODUCTION_ALIAS}" at ${name} v${v}: it needs ${missing.join("; and ")}. ${missing.length === 1 ? "Meet it" : "Meet these"} first, or override with a reason that goes into the audit history: dagwood models alias ${name} ${PRODUCTION_ALIAS} ${v} --override-reason "…" (in the app: the reason field of the alias dialog).`;
}

/**
 * The refusal when `production` would be removed without a reason: removing its alias, or archiving
 * the version it points at (which removes it), takes production away and is audited like a move.
 */
export function productionRemovalRefusal(name: string, version: number, how: "remove" | "archive"): string {
  const what =
    how === "remove"
      ? `Cannot remove "${PRODUCTION_ALIAS}" from ${name} v${version} without a reason`
      : `Cannot archive ${name} v${version} without a reason: it holds "${PRODUCTION_ALIAS}", which archiving removes`;
  const fix =
    how === "remove"
      ? `dagwood models alias ${name} ${PRODUCTION_ALIAS} --remove --override-reason "…" (in the app: the reason field of the remove dialog)`
      : `the reason field of the archive dialog in the app, or \`reason\` of the archiveVersion Api call (or first remove it: dagwood models alias ${name} ${PRODUCTION_ALIAS} --remove --override-reason "…")`;
  return `${what}: a production change is always deliberate and goes into the audit history with its reason. Give one: ${fix}.`;
}
