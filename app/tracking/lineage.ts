/**
 * The lineage graph of registered models: dataset → run → model version →
 * deployment, built from each version's recorded lineage and the registry's
 * audit log (deployments are audit entries `deployment.*`).
 */
import { basename } from "node:path";
import type { AuditEntry, DatasetRecord, MetadataStore, ModelVersion } from "../store/types";
import { TrackingError } from "./export";

export type LineageNodeKind = "dataset" | "run" | "modelVersion" | "deployment";

export interface LineageGraphData {
  nodes: { id: string; kind: LineageNodeKind; label: string; detail: Record<string, unknown> }[];
  edges: { from: string; to: string }[];
}

export const lineageIds = {
  dataset: (digest: string) => `dataset:${digest}`,
  run: (runId: string) => `run:${runId}`,
  version: (name: string, version: number) => `model:${name}:v${version}`,
  deployment: (entryId: number) => `deployment:${entryId}`,
};

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
  };

  const addDeployment = (e: AuditEntry) => {
    if (e.version === null) return; // a deployment names the version it pushed
    const id = lineageIds.deployment(e.id);
    const target = typeof e.details.target === "string" ? e.details.target : null;
    addNode({
      id,
      kind: "deployment",
      label: `${e.action.slice("deployment.".length)}${target ? ` → ${target}` : ""}`,
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

  for (const name of models) {
    const versions = registry.listVersions(name);
    for (const v of versions) addVersion(v);
    const known = new Set(versions.map((v) => v.version));
    for (const e of registry.audit({ model: name, limit: 10_000 }))
      if (e.action.startsWith("deployment.") && e.version !== null && known.has(e.version)) addDeployment(e);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}
