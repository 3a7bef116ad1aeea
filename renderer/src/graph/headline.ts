/**
 * What a node shows under its ports after a run, from the outputs summary of
 * its node.finished event (the engine's headline per output, and the row
 * count of tables): "258 / 86 rows", "accuracy 0.919", "RMSE 3.21", "parity
 * ok", "penguins v3", "v3 on staging", "2 of 20 failed". Orange shows the same kind of count on
 * its links; here it sits on the node, readable at 100% zoom.
 */
import {
  type NodeOutputs,
  type NodeRun,
  type NodeWarnings,
  type OutputSummary,
  warningCount,
} from "../store/run";
import type { NodeState } from "../store/types";

export interface NodeHeadline {
  /** One short line. */
  text: string;
  /** The longer explanation (the node's tooltip). */
  title: string;
}

const count = (n: number) => n.toLocaleString("en-US");

/** 4 significant digits, no exponent for ordinary sizes: 0.9186 → "0.9186", 1234.5678 → "1,235". */
function figure(v: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

const METRIC_LABEL: Record<string, string> = { accuracy: "accuracy", rmse: "RMSE" };

type Headline = NonNullable<OutputSummary["headline"]>;

function describeHeadline(h: Headline): NodeHeadline {
  switch (h.kind) {
    case "metric": {
      const label = METRIC_LABEL[h.name] ?? h.name;
      if (h.value === null)
        return { text: `${label} —`, title: `${label} is not defined on these ${count(h.rows)} rows` };
      return { text: `${label} ${figure(h.value)}`, title: `${label} ${h.value} on ${count(h.rows)} rows` };
    }
    case "parity": {
      const agree = `${Number((h.labelAgreement * 100).toPrecision(4))}%`;
      const detail = `ONNX against the native model on ${count(h.rows)} rows: max |difference| ${h.maxAbsDiff.toExponential(1)}, labels agree on ${agree}`;
      return {
        text: h.labelAgreement === 1 ? "parity ok" : `parity: labels ${agree}`,
        title: detail,
      };
    }
    case "version":
      return {
        text: `${h.model} v${h.version}`,
        title: h.created
          ? `Registered ${h.model} version ${h.version}`
          : `The same model was registered before, as ${h.model} version ${h.version}`,
      };
    case "deployment":
      return {
        text: `v${h.version} on ${h.target}`,
        title: `${h.model} version ${h.version} serves on ${h.target}${h.previous !== null ? ` (was version ${h.previous})` : ""}`,
      };
    case "validation":
      return validationHeadline(h);
    case "drift":
      return {
        text: h.drifted === 0 ? "no drift" : `${h.drifted} of ${h.considered} drifted`,
        title: `${h.drifted} of ${h.considered} columns drifted on ${count(h.rows)} current rows: ${h.datasetDrift ? "dataset drift" : "no dataset drift"}`,
      };
  }
}

/**
 * An expectation suite's result: "20/20 passed", "2 of 20 failed", and with
 * quarantine the rows it moved out ("2 of 20 failed · 812 rejected").
 */
function validationHeadline(h: Extract<Headline, { kind: "validation" }>): NodeHeadline {
  const passed = h.evaluated - h.failed;
  const rejected = h.rejected ? ` · ${count(h.rejected)} rejected` : "";
  const text = h.failed === 0 ? `${passed}/${h.evaluated} passed` : `${h.failed} of ${h.evaluated} failed`;
  const lines = [
    `Suite ${h.suite} on ${count(h.rows)} rows: ${passed} of ${h.evaluated} expectations passed`,
  ];
  if (h.rejected !== null)
    lines.push(`${count(h.rejected)} row${h.rejected === 1 ? "" : "s"} moved to rejected (quarantine)`);
  else if (h.failed > 0 && h.onFailure === "warn")
    lines.push("onFailure is warn: the node succeeded with a warning");
  return { text: `${text}${rejected}`, title: lines.join("\n") };
}

/**
 * The headline of a node's outputs, taken in its block's port order: a
 * suite's result, else the row counts of its tables ("258 / 86 rows"), else
 * the first output that has a headline of its own; null when there is nothing
 * to show.
 */
export function nodeHeadline(
  outputs: Readonly<Record<string, OutputSummary>> | undefined,
  portOrder: readonly string[],
): NodeHeadline | null {
  if (!outputs) return null;
  const ports = [
    ...portOrder.filter((p) => outputs[p]),
    ...Object.keys(outputs).filter((p) => !portOrder.includes(p)),
  ];
  // A suite's result says more than the row counts beside it (validate.expectations' out and rejected).
  const validation = ports.find((p) => outputs[p]!.headline?.kind === "validation");
  if (validation) return describeHeadline(outputs[validation]!.headline!);
  const tables = ports.filter((p) => outputs[p]!.type === "table" && typeof outputs[p]!.rows === "number");
  if (tables.length > 0) {
    const rows = tables.map((p) => outputs[p]!.rows!);
    return {
      text: `${rows.map(count).join(" / ")} rows`,
      title: tables
        .map((p, i) => `${p}: ${count(rows[i]!)} rows, ${outputs[p]!.columns ?? "?"} columns`)
        .join("\n"),
    };
  }
  for (const p of ports) {
    const h = outputs[p]!.headline;
    if (h) return describeHeadline(h);
  }
  return null;
}

/** The warning badge's tooltip: the count and the first messages. */
export function warningTitle(count: number, messages: readonly string[]): string {
  const head = `${warningCount(count)} — click to see them in the run log`;
  const more = count > messages.length ? [`… and ${count - messages.length} more`] : [];
  return [head, ...messages.map((m) => `• ${m}`), ...more].join("\n");
}

/**
 * The warnings a node shows: those of the outputs it shows (done or cached, also
 * outputs an earlier session's run computed), else those of the run it is in
 * (running, failed); none once an edit makes it stale.
 */
export function shownWarnings(
  state: NodeState,
  run: NodeRun | undefined,
  produced: NodeOutputs | undefined,
): NodeWarnings | null {
  if (state === "done" || state === "cached") return produced?.warnings?.count ? produced.warnings : null;
  if (run?.warnings && state === run.state)
    return { count: run.warnings, messages: run.warningMessages ?? [] };
  return null;
}
