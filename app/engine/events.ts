import type { NodeStatus, RunStatus } from "../store/types";
import type { ColumnTag } from "../values/privacy";
import type { LogLevel } from "./block";

export interface OutputSummary {
  type: string;
  /** Workspace table name, for table outputs. */
  table?: string;
  rows?: number;
  columns?: number;
  fingerprint: string;
  /** Table outputs: the columns that carry tags (app/privacy/tags.ts), with their tags; absent when none does. */
  tags?: Record<string, ColumnTag[]>;
  /** The figure the node shows after a run, for outputs other than tables (app/engine/headline.ts). */
  headline?: OutputHeadline;
}

/** An output's headline: what the canvas shows on the node that produced it. */
export type OutputHeadline =
  /** An evaluation's main metric (accuracy, or rmse for regression) over `rows`; null: not defined. */
  | { kind: "metric"; name: string; value: number | null; rows: number }
  /** A model's ONNX parity with its native form, measured at training. */
  | { kind: "parity"; maxAbsDiff: number; labelAgreement: number; rows: number }
  /** A registered version; `created` false: the same model was registered before as this version. */
  | { kind: "version"; model: string; version: number; created: boolean }
  /** A deployed version on a target, and what served there before (null: nothing). */
  | { kind: "deployment"; target: string; model: string; version: number; previous: number | null }
  /**
   * An expectation suite's result (validate.expectations): how many
   * expectations ran and failed over `rows`; `rejected` rows quarantine moved
   * out (null: not quarantined); `onFailure` what the block did.
   */
  | {
      kind: "validation";
      suite: string;
      evaluated: number;
      failed: number;
      rows: number;
      rejected: number | null;
      onFailure: "fail" | "warn" | "quarantine" | null;
    }
  /** A drift report (monitor.drift): how many of the columns tested drifted, and the dataset's verdict. */
  | { kind: "drift"; drifted: number; considered: number; datasetDrift: boolean; rows: number };

/** What a run reports as it goes; the CLI and the UI subscribe to the same stream. */
export type RunEvent =
  | { type: "run.started"; runId: string; pipeline: string; nodes: string[] }
  /**
   * A warning about the run as a whole, not one node: running a deprecated
   * pipeline (its `deprecated` field) names the replacement. Counted in the
   * run's warnings; recorded in its log under node id "".
   */
  | { type: "run.warning"; runId: string; message: string }
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
      /** Messages the node logged at level warn in this run (a cached node: in the run that computed it). */
      warnings?: number;
    }
  | {
      type: "run.finished";
      runId: string;
      status: RunStatus;
      ms: number;
      error?: string;
      /** Warnings logged by the run's nodes, and the run's own (run.warning), in all. */
      warnings?: number;
    };

export interface NodeSummary {
  id: string;
  block: string;
  status: NodeStatus;
  reason?: string;
  ms: number;
  error?: string;
  outputs: Record<string, OutputSummary>;
  /** Messages the node logged at level warn (absent: none). */
  warnings?: number;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  status: RunStatus;
  ms: number;
  nodes: NodeSummary[];
  metrics: { node: string; name: string; value: number; step?: number }[];
  /** Warnings logged by the nodes, and the run's own, in all (absent: not counted, as in a summary folded from old events). */
  warnings?: number;
  /** The run's own warnings (run.warning events), e.g. that the pipeline is deprecated. */
  runWarnings?: string[];
}
