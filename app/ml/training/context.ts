/**
 * What training needs from its caller (a train block passes its BlockContext,
 * which has all of it): where to write the model file, and where progress,
 * logs, metrics and search trials go.
 */
import type { SqlSession } from "../../data/sql";

export interface TrainingContext {
  /** The DuckDB session the training table is read with. */
  sql: SqlSession;
  /** Absolute path of the project folder (the model file is logged relative to it). */
  projectDir: string;
  /** The folder model.onnx is written to, created on demand. */
  artifactDir(): Promise<string>;
  progress(fraction: number, message?: string): void;
  metric(name: string, value: number, step?: number): void;
  log(message: string, level?: "info" | "warn"): void;
  /** Aborting it stops the training: reads, fits and the export. */
  signal: AbortSignal;
  /** One hyperparameter-search trial (a child run). */
  trial(index: number, params: Record<string, unknown>, metrics: Record<string, number>): void;
  /** The params the model was made with where a search chose them. */
  chosenParams(params: Record<string, unknown>): void;
  /** Facts about where the training ran (the TensorFlow.js backend). */
  environment(facts: { tfjsBackend?: string }): void;
}

/** A training table: its workspace name and the columns the caller resolved. */
export interface TrainingTable {
  /** The workspace table name. */
  name: string;
  target: { name: string; type: string };
  /** The candidate feature columns: the ones named in `features`, or every column but the target. */
  features: { name: string; type: string }[];
  /** Whether `features` was given explicitly (then an unusable column is an error, not a warning). */
  explicit: boolean;
}
