/**
 * The lineage graph of registered models: dataset → run → model version →
 * deployment (and feature service → the versions it feeds), built from each version's recorded lineage and the registry's
 * audit log (deployments are audit entries `deployment.*`, canaries
 * included). The retraining loop (app/monitoring/loop.ts) adds an alert per
 * loop record: the version that was serving (the loop's champion) → alert →
 * the retraining run → the version it registered → its canary and promotion.
 */
import { basename } from "node:path";
import type { AuditEntry, DatasetRecord, MetadataStore, ModelVersion, RunRecord } from "../store/types";
import type { MonitorLoop } from "../values/loop";
import { TrackingError } from "./export";

export type LineageNodeKind = "dataset" | "run" | "modelVersion" | "deployment" | "alert" | "featureService";

export interface LineageGraphData {
  nodes: { id: string; kind: LineageNodeKind; label: string; detail: Record<string, unknown> }[];
  edges: { from: string; to: string }[];
}

export const lineageIds = {
  dataset: (digest: string) => `dataset:${digest}`,
  run: (runId: string) => `run:${runId}`,
  version: (name: string, version: number) => `model:${name}:v${version}`,
  deployment: (entryId: number) => `deployment:${entryId}`,
  /** A monitor's breach, by the id of its loop record. */
  alert: (loopId: number) => `alert:${loopId}`,
  /** A feature service (features/*.json) whose features fill a version's inputs. */
  featureService: (name: string) => `feature-service:${name}`,
};

/**
 * A deployment entry's label: its outcome and target ("succeeded → local",
 * "canary 20% → local", "canary promoted → local", "canary failed → local").
 */
export function deploymentLabel(e: Pick<AuditEntry, "action" | "details">): string {
  const d = e.details;
  const target = typeof d.target === "string" ? ` → ${d.target}` : "";
  const percent = typeof d.percent === "number" ? ` ${d.percent}%` : "";
  switch (e.action) {
    case "deployment.canary":
      return `canary${percent}${target}`;
    case "deployment.canaryEnded":
      return `canary ${d.outcome === "promoted" ? "promoted" : "removed"}${target}`;
    case "deployment.rolledBack":
      return `rolled back${target}`;
    case "deployment.failed": {
      // details.operation (app/values/deployment.ts DeployOperation) names the step that failed; absent: a deploy.
      const step =
        d.operation === "canary" || d.operation === "removeCanary"
          ? "canary "
          : d.operation === "promote"
            ? "promotion "
            : d.operation === "rollback"
              ? "rollback "
              : "";
      return `${step}failed${target}`;
    }
    default:
      return `${e.action.slice("deployment.".length)}${target}`;
  }
}

/** The graph of one model (or of every registered model), each node and edge once. */
export function lineageGraph(metadata: MetadataStore, opts: { model?: string } = {}): LineageGraphData {
  const { registry } = metadata;
  const models = opts.model === undefined ? registry.listModels().map((m) => m.name) : [opts.model];
  if (opts.model !== undefined && !registry.getModel(opts.model))
    throw new TrackingError(
      `No registered model "${opts.model}". \`dagwood models list\` shows them.`,
      "not-found",
    );

  const nodes = new Map<string, LineageGraphData["nodes"][number]>();
  const edges = new Map<string, { from: string; to: string }>();
  const addNode = (n: LineageGraphData["nodes"][number]) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
  };
  const addEdge = (from: string, to: string) => edges.set(`${from}\n${to}`, { from, to });

  const addDataset = (d: DatasetRecord) =>
    addNode({
      id: lineageIds.dataset(d.digest),
      kind: "dataset",
      label: basename(d.source),
      detail: {
        source: d.source,
        digest: d.digest,
        rows: d.rows,
        columns: d.schema.length,
        fingerprint: d.fingerprint,
      },
    });

  const addRunRecord = (run: RunRecord) => {
    const runNode = lineageIds.run(run.id);
    if (nodes.has(runNode)) return;
    addNode({
      id: runNode,
      kind: "run",
      label: `${run.pipeline} · ${run.id}`,
      detail: {
        runId: run.id,
        pipeline: run.pipeline,
        pipelineHash: run.pipelineHash,
        startedAt: run.startedAt,
        user: run.user,
        status: run.status,
      },
    });
    for (const d of metadata.datasets(run.id)) {
      addDataset(d);
      addEdge(lineageIds.dataset(d.digest), runNode);
    }
  };

  const addVersion = (v: ModelVersion) => {
    const runNode = lineageIds.run(v.runId);
    const run = metadata.getRun(v.runId);
    addNode({
      id: runNode,
      kind: "run",
      label: `${v.lineage.run.pipeline} · ${v.runId}`,
      detail: {
        runId: v.runId,
        pipeline: v.lineage.run.pipeline,
        pipelineHash: v.lineage.run.pipelineHash,
        startedAt: v.lineage.run.startedAt,
        user: v.lineage.run.user,
        // The run may have been deleted since; its lineage snapshot still stands.
        status: run?.status ?? null,
      },
    });
    for (const d of v.lineage.datasets) {
      addDataset(d);
      addEdge(lineageIds.dataset(d.digest), runNode);
    }
    const versionNode = lineageIds.version(v.name, v.version);
    addNode({
      id: versionNode,
      kind: "modelVersion",
      label: `${v.name} v${v.version}`,
      detail: {
        name: v.name,
        version: v.version,
        status: v.status,
        aliases: v.aliases,
        estimator: v.estimator,
        task: v.task,
        createdAt: v.createdAt,
        createdBy: v.createdBy,
        nodeId: v.nodeId,
        metrics: v.metrics,
      },
    });
    addEdge(runNode, versionNode);
    // Called by entity: the service's features fill its inputs (what it holds is in features/*.json).
    if (v.featureService !== null) {
      const serviceNode = lineageIds.featureService(v.featureService);
      addNode({
        id: serviceNode,
        kind: "featureService",
        label: v.featureService,
        detail: { service: v.featureService },
      });
      addEdge(serviceNode, versionNode);
    }
  };

  const addDeployment = (e: AuditEntry) => {
    if (e.version === null) return; // a deployment names the version it pushed
    const id = lineageIds.deployment(e.id);
    addNode({
      id,
      kind: "deployment",
      label: deploymentLabel(e),
      detail: {
        ...e.details,
        action: e.action,
        at: e.at,
        actor: e.actor,
        model: e.model,
        version: e.version,
      },
    });
    addEdge(lineageIds.version(e.model, e.version), id);
  };

  /**
   * A loop's alert: from the version that served when it was raised, to the
   * retraining run (shown even when it failed or still runs, with the
   * datasets it read so far; a run deleted since is left out).
   */
  const addAlert = (loop: MonitorLoop, known: Set<number>) => {
    const id = lineageIds.alert(loop.id);
    addNode({
      id,
      kind: "alert",
      label: `alert · ${loop.monitor}`,
      // In the order the Lineage view's pane shows them.
      detail: {
        monitor: loop.monitor,
        window: loop.window,
        reasons: loop.reasons,
        stage: loop.stage,
        outcome: loop.outcome,
        onBreach: loop.action,
        model: loop.model,
        target: loop.target,
        champion: loop.champion,
        runId: loop.runId,
        challenger: loop.challenger,
        gate: loop.gate,
        canary: loop.canary,
        status: loop.status,
        at: loop.createdAt,
        updatedAt: loop.updatedAt,
        loop: loop.id,
        /** The `monitor.alert` audit entry. */
        auditId: loop.history[0]?.auditId ?? null,
      },
    });
    if (loop.champion !== null && known.has(loop.champion))
      addEdge(lineageIds.version(loop.model, loop.champion), id);
    if (loop.runId !== null) {
      const run = metadata.getRun(loop.runId);
      if (run) addRunRecord(run);
      if (nodes.has(lineageIds.run(loop.runId))) addEdge(id, lineageIds.run(loop.runId));
    }
  };

  for (const name of models) {
    const versions = registry.listVersions(name);
    for (const v of versions) addVersion(v);
    const known = new Set(versions.map((v) => v.version));
    for (const e of registry.audit({ model: name, limit: 10_000 }))
      if (e.action.startsWith("deployment.") && e.version !== null && known.has(e.version)) addDeployment(e);
    // Oldest first, so the graph's order follows the loops'.
    for (const loop of metadata.monitorLoops({ model: name }).reverse()) addAlert(loop, known);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}
