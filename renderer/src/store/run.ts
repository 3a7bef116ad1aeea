/**
 * What the core reports about runs, folded from the RunEvent stream: each
 * node's state and progress, the outputs each node last produced, the log.
 * It mirrors the events; it does not recompute engine state.
 */
import { create } from "zustand";
import type { RunEvent } from "../../../app/api/api";
import type { NodeState } from "./types";

export type OutputSummary = Extract<RunEvent, { type: "node.finished" }>["outputs"][string];

export interface NodeRun {
  state: NodeState;
  progress?: number;
  message?: string;
  error?: string;
  reason?: string;
  ms?: number;
  /** Warnings the node logged in this run (a cached node: repeated from the run that computed it). */
  warnings?: number;
  /** Their first messages (WARNING_MESSAGES at most), for the node's badge. */
  warningMessages?: string[];
}

/** Messages kept per node for its warning badge's tooltip; the run log has them all. */
export const WARNING_MESSAGES = 5;

export interface LogEntry {
  seq: number;
  at: number;
  nodeId?: string;
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

/** The outputs a node last produced, and the run that holds them (for getReport). */
export interface NodeOutputs {
  runId: string;
  outputs: Record<string, OutputSummary>;
  /** The warnings logged where these outputs were computed (the first messages, and how many). */
  warnings?: NodeWarnings;
}

export interface NodeWarnings {
  count: number;
  /** The first WARNING_MESSAGES messages. */
  messages: string[];
}

export type RunStatus = "idle" | "starting" | "running" | "succeeded" | "failed" | "canceled" | "interrupted";

interface RunState {
  runId: string | null;
  status: RunStatus;
  /** Per node in the current or last run. */
  nodes: Record<string, NodeRun>;
  /** The document changed since the last run ended: its states give way to the cache states. */
  editedSinceRun: boolean;
  outputs: Record<string, NodeOutputs>;
  log: LogEntry[];
  error?: string;
  /** Warnings logged in the current or last run, in all. */
  warnings: number;
  /** How long the last run took, once it ended. */
  ms?: number;
  /** The run log shows only this node's lines (a node's warning badge sets it); null: every line. */
  logFilter: string | null;
  starting(): void;
  begin(runId: string): void;
  abandon(): void;
  apply(event: RunEvent): void;
  markEdited(): void;
  setOutputs(outputs: Record<string, NodeOutputs>): void;
  clearLog(): void;
  setLogFilter(nodeId: string | null): void;
}

const LOG_LIMIT = 5000;
let seq = 0;
/** Events of a run whose id startRun has not returned yet (the run may start before the reply). */
const early = new Map<string, RunEvent[]>();

const finishedState = { ran: "done", cached: "cached", failed: "failed", skipped: "skipped" } as const;

function logLine(event: RunEvent): LogEntry | null {
  const base = { seq: seq++, at: Date.now() };
  switch (event.type) {
    case "run.started":
      return { ...base, level: "info", message: `Run ${event.runId} started: ${event.nodes.length} nodes` };
    case "run.warning":
      return { ...base, level: "warn", message: event.message };
    case "node.log":
      return { ...base, nodeId: event.nodeId, level: event.level, message: event.message };
    case "node.started":
      return { ...base, nodeId: event.nodeId, level: "debug", message: `started (${event.reason})` };
    case "node.finished": {
      const why = event.reason ? ` (${event.reason})` : "";
      const level = event.status === "failed" ? "error" : "info";
      const text = event.error
        ? `${event.status}: ${event.error}`
        : `${event.status}${why} in ${event.ms} ms`;
      return { ...base, nodeId: event.nodeId, level, message: text };
    }
    case "run.finished":
      return {
        ...base,
        level: event.status === "succeeded" ? (event.warnings ? "warn" : "info") : "error",
        message: `Run ${runOutcome(event.status, event.warnings ?? 0)} in ${event.ms} ms${event.error ? `: ${event.error}` : ""}`,
      };
    default:
      return null;
  }
}

function nextNodes(nodes: Record<string, NodeRun>, event: RunEvent): Record<string, NodeRun> {
  switch (event.type) {
    case "run.started":
      return Object.fromEntries(event.nodes.map((id) => [id, { state: "queued" as const }]));
    case "node.started":
      return { ...nodes, [event.nodeId]: { state: "running", progress: 0, reason: event.reason } };
    case "node.progress": {
      const prev = nodes[event.nodeId];
      return {
        ...nodes,
        [event.nodeId]: { ...prev, state: "running", progress: event.fraction, message: event.message },
      };
    }
    case "node.log": {
      if (event.level !== "warn") return nodes;
      const prev = nodes[event.nodeId] ?? { state: "running" };
      const messages = prev.warningMessages ?? [];
      return {
        ...nodes,
        [event.nodeId]: {
          ...prev,
          warnings: (prev.warnings ?? 0) + 1,
          warningMessages: messages.length < WARNING_MESSAGES ? [...messages, event.message] : messages,
        },
      };
    }
    case "node.finished": {
      const prev = nodes[event.nodeId];
      // The engine's count is the node's; the messages are those its log events brought.
      const warnings = event.warnings ?? prev?.warnings ?? 0;
      return {
        ...nodes,
        [event.nodeId]: {
          state: finishedState[event.status],
          error: event.error,
          reason: event.reason,
          ms: event.ms,
          ...(warnings ? { warnings, warningMessages: prev?.warningMessages ?? [] } : {}),
        },
      };
    }
    case "run.finished":
      // Nodes that never started (canceled, or behind a failure) fall back to their cache state.
      return Object.fromEntries(
        Object.entries(nodes).filter(([, n]) => n.state !== "queued" && n.state !== "running"),
      );
    default:
      return nodes;
  }
}

/** "1 warning", "2 warnings". */
export const warningCount = (n: number) => `${n.toLocaleString("en-US")} warning${n === 1 ? "" : "s"}`;

/** How a run ended, with its warnings: "succeeded", "succeeded with 2 warnings". */
export function runOutcome(status: string, warnings: number): string {
  return warnings > 0 ? `${status} with ${warningCount(warnings)}` : status;
}

export const useRun = create<RunState>()((set, get) => ({
  runId: null,
  status: "idle",
  nodes: {},
  editedSinceRun: false,
  outputs: {},
  log: [],
  warnings: 0,
  logFilter: null,

  starting() {
    set({ status: "starting", error: undefined });
  },

  begin(runId) {
    set({
      runId,
      status: "running",
      nodes: {},
      editedSinceRun: false,
      warnings: 0,
      ms: undefined,
      logFilter: null,
    });
    const buffered = early.get(runId) ?? [];
    early.clear();
    for (const e of buffered) get().apply(e);
  },

  abandon() {
    set({ status: "idle" });
  },

  apply(event) {
    const { runId, status } = get();
    if (event.runId !== runId) {
      // Ours, but startRun has not answered yet: keep it for begin().
      if (status === "starting") early.set(event.runId, [...(early.get(event.runId) ?? []), event]);
      return;
    }
    const line = logLine(event);
    const nodes = nextNodes(get().nodes, event);
    let outputs = get().outputs;
    if (event.type === "node.finished" && (event.status === "ran" || event.status === "cached")) {
      const warned = nodes[event.nodeId];
      const warnings = warned?.warnings
        ? { count: warned.warnings, messages: warned.warningMessages ?? [] }
        : undefined;
      outputs = { ...outputs, [event.nodeId]: { runId: event.runId, outputs: event.outputs, warnings } };
    }
    set((s) => ({
      nodes,
      outputs,
      log: line ? [...s.log.slice(-(LOG_LIMIT - 1)), line] : s.log,
      ...((event.type === "node.log" && event.level === "warn") || event.type === "run.warning"
        ? { warnings: s.warnings + 1 }
        : {}),
      ...(event.type === "run.finished"
        ? { status: event.status, error: event.error, warnings: event.warnings ?? s.warnings, ms: event.ms }
        : {}),
    }));
  },

  markEdited() {
    if (!get().editedSinceRun) set({ editedSinceRun: true });
  },

  setOutputs(outputs) {
    set({ outputs });
  },

  clearLog() {
    set({ log: [], logFilter: null });
  },

  setLogFilter(logFilter) {
    set({ logFilter });
  },
}));

export const isRunActive = (status: RunStatus) => status === "starting" || status === "running";
