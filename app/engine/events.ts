import type { NodeStatus, RunStatus } from "../store/types";
import type { LogLevel } from "./block";

export interface OutputSummary {
  type: string;
  /** Workspace table name, for table outputs. */
  table?: string;
  rows?: number;
  columns?: number;
  fingerprint: string;
}

/** What a run reports as it goes; the CLI and the UI subscribe to the same stream. */
export type RunEvent =
  | { type: "run.started"; runId: string; pipeline: string; nodes: string[] }
  | { type: "node.started"; runId: string; nodeId: string; block: string; reason: string }
  | { type: "node.progress"; runId: string; nodeId: string; fraction: number; message?: string }
  | { type: "node.log"; runId: string; nodeId: string; level: LogLevel; message: string }
  | { type: "node.metric"; runId: string; nodeId: string; name: string; value: number; step?: number }
  | {
      type: "node.finished";
      runId: string;
      nodeId: string;
      block: string;
      status: NodeStatus;
      reason?: string;
      ms: number;
      error?: string;
      outputs: Record<string, OutputSummary>;
    }
  | { type: "run.finished"; runId: string; status: RunStatus; ms: number; error?: string };

export interface NodeSummary {
  id: string;
  block: string;
  status: NodeStatus;
  reason?: string;
  ms: number;
  error?: string;
  outputs: Record<string, OutputSummary>;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  status: RunStatus;
  ms: number;
  nodes: NodeSummary[];
  metrics: { node: string; name: string; value: number; step?: number }[];
}
