/**
 * What the `deploy` block puts on its `deployment` port, and what a
 * deployment's audit entry holds in its details: target, versions, the parity
 * check on the served model, and how it ended.
 */
import type { ParityFigures } from "./model";

/**
 * The parity check of a served version against the registry's predictions.
 * Its maxAbsDiff is finite on a `deployment` port (the deploy passed); in a
 * failed deployment's audit details it may be null (an infinite difference,
 * which JSON cannot hold).
 */
export interface DeployParity extends ParityFigures {
  /** "heldout": the rows kept with the version; "probe": rows built from the model's signature. */
  source: "heldout" | "probe";
  /** Why the rows are not the held-out ones although the version has them. */
  note?: string;
}

/** A deployment as the audit log and the `deployment` port carry it. */
export interface DeploymentRecord {
  status: "succeeded" | "failed" | "rolledBack";
  target: string;
  url: string;
  kind: "dagwood" | "triton";
  model: string;
  version: number;
  /** What served before (null: the model was not on the target). */
  previous: number | null;
  parity: DeployParity | null;
  ms: number;
  actor: string | null;
  /** Why it failed. */
  reason?: string;
  /** After a failure: the version serving again (null: the model was unloaded). */
  restored?: number | null;
  /**
   * After a failure: how long the failed version could answer infer-by-model
   * (from its upload to the restore) — on a first deploy, and always on Triton.
   */
  reachableMs?: number;
  /** "rollback": the record of a rollback (absent: a deploy). */
  operation?: "rollback";
  auditId: number;
}
