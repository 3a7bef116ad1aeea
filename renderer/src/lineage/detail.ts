/**
 * What the lineage pane says of a node, in words: labelled facts ("Trained by
 * run", "Dataset", "Rows") instead of the core's camelCase keys, hashes short
 * (their first 12 characters, the whole one to copy), times readable, and the
 * node's neighbours in the graph named (a version's run and datasets, a
 * run's datasets and versions, a dataset's runs, an alert's version and its
 * retraining run). An alert (a monitor's breach, one per retraining loop)
 * reads as its window, reasons, stage, gate figures and canary in words.
 */
import type { LineageGraph } from "../../../app/api/api";
import { parityOf, parityText } from "../deployments/format";
import { formatMetric, formatTime, formatValue, shortId } from "../experiments/format";

type LineageNode = LineageGraph["nodes"][number];

/** Characters of a hash shown; the whole hash is copied. */
export const SHORT_HASH = 12;

export type Fact =
  | { label: string; kind: "text"; text: string }
  /** A content hash: shown by its first SHORT_HASH characters, copied whole. */
  | { label: string; kind: "hash"; text: string; full: string }
  /** Other nodes of the graph, by id and label (a click selects one). */
  | { label: string; kind: "nodes"; nodes: { id: string; label: string }[] }
  /** A run id, which opens the run. */
  | { label: string; kind: "run"; text: string; runId: string };

/** Labels for the keys the core sends (app/tracking/lineage.ts), per node kind where they differ. */
const LABELS: Record<string, string> = {
  source: "File",
  digest: "Content hash (sha256)",
  rows: "Rows",
  columns: "Columns",
  fingerprint: "Table fingerprint",
  runId: "Run",
  pipeline: "Pipeline",
  pipelineHash: "Pipeline hash (sha256)",
  startedAt: "Started",
  user: "Started by",
  status: "Status",
  name: "Model",
  version: "Version",
  aliases: "Aliases",
  estimator: "Estimator",
  task: "Task",
  createdAt: "Registered",
  createdBy: "Registered by",
  nodeId: "Trained by node",
  action: "Outcome",
  at: "When",
  actor: "By",
  model: "Model",
  target: "Target",
  url: "Target URL",
  previous: "Previous version",
  restored: "Restored",
  reason: "Reason",
  ms: "Time taken",
  reachableMs: "Reachable before the check",
  sha256: "Model file hash (sha256)",
  note: "Note",
  percent: "Traffic share",
  operation: "Step",
  loop: "Loop",
  monitor: "Monitor",
  onBreach: "On breach",
  window: "Window",
  reasons: "Why",
  stage: "Stage",
  champion: "Champion then",
  challenger: "Challenger",
  gate: "Gate",
  canary: "Canary",
  updatedAt: "Last step",
  auditId: "Audit entry",
};

/** Where a key reads differently on an alert. */
const ALERT_LABELS: Record<string, string> = {
  at: "Raised",
  status: "Alert",
  outcome: "Outcome",
};

/** A deployment's step (details.operation, app/values/deployment.ts DeployOperation) in words. */
const OPERATIONS: Record<string, string> = {
  deploy: "deploy",
  rollback: "roll back",
  canary: "deploy as a canary",
  promote: "promote the canary",
  removeCanary: "remove the canary",
};

/** Keys shown elsewhere in the pane, or not worth a line. */
const SKIPPED = new Set(["metrics", "parity"]);

const TIMES = new Set(["startedAt", "createdAt", "at", "updatedAt"]);
const HEX = /^[0-9a-f]{16,}$/i;

/** "pipelineHash" → "Pipeline hash": a key the table above does not know still reads as words. */
export function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : key;
}

/** "accuracy: challenger 0.93 vs champion 0.71 on 40 labelled rows: passed". */
export function gateText(gate: Record<string, unknown>): string {
  const fig = (v: unknown) => (typeof v === "number" ? formatMetric(v) : "—");
  const margin =
    typeof gate.margin === "number" && gate.margin !== 0 ? ` (margin ${formatMetric(gate.margin)})` : "";
  const rows = typeof gate.rows === "number" ? ` on ${gate.rows.toLocaleString("en-US")} labelled rows` : "";
  return `${String(gate.metric ?? "metric")}: challenger ${fig(gate.challenger)} vs champion ${fig(gate.champion)}${rows}${margin}: ${gate.passed ? "passed" : "failed"}`;
}

/** "v2 took 20 % of local from … to …: held (accuracy 0.93 vs 0.90)", or "being judged" before its window ends. */
export function canaryText(canary: Record<string, unknown>): string {
  const arm = (a: unknown) =>
    a && typeof a === "object" && typeof (a as { value?: unknown }).value === "number"
      ? formatMetric((a as { value: number }).value)
      : "—";
  const head = `v${String(canary.version)} took ${String(canary.percent)} % of ${String(canary.target)} from ${formatTime(String(canary.since))} to ${formatTime(String(canary.until))}`;
  if (canary.held === null || canary.held === undefined) return `${head}: being judged`;
  const figures = `${String(canary.metric)} ${arm(canary.canary)} vs ${arm(canary.primary)}`;
  return `${head}: ${canary.held ? "held" : "fell behind"} (${figures})`;
}

function deploymentAction(action: string, outcome: unknown): string {
  if (action === "deployment.canaryEnded") return `canary ${outcome === "promoted" ? "promoted" : "removed"}`;
  const step = action.replace(/^deployment\./, "");
  return step === "rolledBack" ? "rolled back" : step;
}

function factOf(key: string, value: unknown, node: LineageNode): Fact | null {
  if (SKIPPED.has(key) || value === undefined) return null;
  const label = (node.kind === "alert" ? ALERT_LABELS[key] : undefined) ?? LABELS[key] ?? humanize(key);
  if (typeof value === "string" && HEX.test(value))
    return { label, kind: "hash", text: value.slice(0, SHORT_HASH), full: value };
  if (key === "runId" && typeof value === "string")
    return { label, kind: "run", text: shortId(value), runId: value };
  if (value === null || value === "") return { label, kind: "text", text: "—" };
  if (TIMES.has(key) && typeof value === "string") return { label, kind: "text", text: formatTime(value) };
  if (key === "action" && typeof value === "string")
    return { label, kind: "text", text: deploymentAction(value, node.detail.outcome) };
  if (node.kind === "alert") {
    if (key === "window" && typeof value === "object") {
      const w = value as { start?: string; end?: string };
      return { label, kind: "text", text: `${formatTime(w.start)} – ${formatTime(w.end)}` };
    }
    if (key === "reasons" && Array.isArray(value))
      return { label, kind: "text", text: value.length ? value.map(String).join("; ") : "—" };
    if (key === "stage" && typeof value === "string")
      return { label, kind: "text", text: value.replace(/-/g, " ") };
    if (key === "gate" && typeof value === "object")
      return { label, kind: "text", text: gateText(value as Record<string, unknown>) };
    if (key === "canary" && typeof value === "object")
      return { label, kind: "text", text: canaryText(value as Record<string, unknown>) };
    if ((key === "loop" || key === "auditId") && typeof value === "number")
      return { label, kind: "text", text: `#${value}` };
  }
  if (key === "percent" && typeof value === "number") return { label, kind: "text", text: `${value} %` };
  if (key === "operation" && typeof value === "string")
    return { label, kind: "text", text: OPERATIONS[value] ?? value };
  if ((key === "ms" || key === "reachableMs") && typeof value === "number")
    return { label, kind: "text", text: `${(value / 1000).toFixed(1)} s` };
  if (
    (key === "version" ||
      key === "previous" ||
      key === "restored" ||
      key === "champion" ||
      key === "challenger") &&
    typeof value === "number"
  )
    return { label, kind: "text", text: `v${value}` };
  if (Array.isArray(value))
    return { label, kind: "text", text: value.length ? value.map(String).join(", ") : "none" };
  if (typeof value === "number") return { label, kind: "text", text: value.toLocaleString("en-US") };
  return { label, kind: "text", text: formatValue(value) };
}

function neighbours(
  graph: LineageGraph,
  node: LineageNode,
  direction: "in" | "out",
  kind: LineageNode["kind"],
): { id: string; label: string }[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  return graph.edges
    .filter((e) => (direction === "in" ? e.to === node.id : e.from === node.id))
    .map((e) => byId.get(direction === "in" ? e.from : e.to))
    .filter((n): n is LineageNode => n?.kind === kind)
    .map((n) => ({ id: n.id, label: n.kind === "run" ? runLabel(n) : n.label }));
}

function runLabel(n: LineageNode): string {
  const id = typeof n.detail.runId === "string" ? shortId(n.detail.runId) : n.label;
  return typeof n.detail.pipeline === "string" ? `${n.detail.pipeline} · ${id}` : id;
}

/** The facts of a node, in the order the pane shows them, its graph neighbours included. */
export function nodeFacts(node: LineageNode, graph: LineageGraph): Fact[] {
  const facts: Fact[] = [];
  const push = (f: Fact | null) => f && facts.push(f);
  const links = (label: string, nodes: { id: string; label: string }[]) =>
    nodes.length && push({ label, kind: "nodes", nodes });
  if (node.kind === "modelVersion") {
    links("Trained by run", neighbours(graph, node, "in", "run"));
    const runs = graph.nodes.filter((n) => neighbours(graph, node, "in", "run").some((r) => r.id === n.id));
    links(
      "Datasets",
      runs.flatMap((r) => neighbours(graph, r, "in", "dataset")),
    );
  }
  if (node.kind === "run") {
    links("Started by alert", neighbours(graph, node, "in", "alert"));
    links("Datasets read", neighbours(graph, node, "in", "dataset"));
  }
  const skipped = new Set<string>();
  if (node.kind === "alert") {
    const served = neighbours(graph, node, "in", "modelVersion");
    const run = neighbours(graph, node, "out", "run");
    links("Raised on version", served);
    links("Retraining run", run);
    // Said by the links above when their nodes are in the graph; an outcome key of a deployment is its action's.
    if (served.length) skipped.add("champion");
    if (run.length) skipped.add("runId");
    const challenger = graph.nodes.find(
      (n) =>
        n.kind === "modelVersion" &&
        n.detail.name === node.detail.model &&
        n.detail.version === node.detail.challenger,
    );
    if (challenger) {
      skipped.add("challenger");
      links("Challenger", [{ id: challenger.id, label: challenger.label }]);
    }
  }
  if (node.kind === "deployment") skipped.add("outcome");
  for (const [key, value] of Object.entries(node.detail))
    if (!skipped.has(key)) push(factOf(key, value, node));
  if (node.kind === "run") links("Model versions", neighbours(graph, node, "out", "modelVersion"));
  if (node.kind === "dataset") links("Read by runs", neighbours(graph, node, "out", "run"));
  if (node.kind === "modelVersion") {
    links("Alerts", neighbours(graph, node, "out", "alert"));
    links("Deployments", neighbours(graph, node, "out", "deployment"));
  }
  if (node.kind === "deployment") {
    const parity = parityOf(node.detail);
    if (parity) push({ label: "Parity", kind: "text", text: parityText(parity) });
  }
  return facts;
}

/** A version's metrics as "accuracy 0.951", for the pane's metric list. */
export function metricFacts(node: LineageNode): { key: string; text: string }[] {
  const metrics = node.detail.metrics;
  if (!metrics || typeof metrics !== "object") return [];
  return Object.entries(metrics as Record<string, unknown>)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([key, value]) => ({ key, text: formatMetric(value) }));
}

/** A version node's aliases (the core sends them in its detail). */
export function aliasesOf(node: LineageNode): string[] {
  const a = node.detail.aliases;
  return Array.isArray(a) ? a.filter((x): x is string => typeof x === "string") : [];
}
