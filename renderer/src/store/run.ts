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
}

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
  starting(): void;
  begin(runId: string): void;
  abandon(): void;
  apply(event: RunEvent): void;
  markEdited(): void;
  setOutputs(outputs: Record<string, NodeOutputs>): void;
  clearLog(): void;
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
        level: event.status === "succeeded" ? "info" : "error",
        message: `Run ${event.status} in ${event.ms} ms${event.error ? `: ${event.error}` : ""}`,
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
    case "node.finished":
      return {
        ...nodes,
        [event.nodeId]: {
          state: finishedState[event.status],
          error: event.error,
          reason: event.reason,
          ms: event.ms,
        },
      };
    case "run.finished":
      // Nodes that never started (canceled, or behind a failure) fall back to their cache state.
      return Object.fromEntries(
        Object.entries(nodes).filter(([, n]) => n.state !== "queued" && n.state !== "running"),
      );
    default:
      return nodes;
  }
}

export const useRun = create<RunState>()((set, get) => ({
  runId: null,
  status: "idle",
  nodes: {},
  editedSinceRun: false,
  outputs: {},
  log: [],

  starting() {
    set({ status: "starting", error: undefined });
  },

  begin(runId) {
    set({ runId, status: "running", nodes: {}, editedSinceRun: false });
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
    const outputs =
      event.type === "node.finished" && (event.status === "ran" || event.status === "cached")
        ? { ...get().outputs, [event.nodeId]: { runId: event.runId, outputs: event.outputs } }
        : get().outputs;
    set((s) => ({
      nodes: nextNodes(s.nodes, event),
      outputs,
      log: line ? [...s.log.slice(-(LOG_LIMIT - 1)), line] : s.log,
      ...(event.type === "run.finished" ? { status: event.status, error: event.error } : {}),
    }));
  },

  markEdited() {
    if (!get().editedSinceRun) set({ editedSinceRun: true });
  },

  setOutputs(outputs) {
    set({ outputs });
  },

  clearLog() {
    set({ log: [] });
  },
}));

export const isRunActive = (status: RunStatus) => status === "starting" || status === "running";
