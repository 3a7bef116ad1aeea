/**
 * What the `deploy` block puts on its `deployment` port, and what a
 * deployment's audit entry holds in its details: target, versions, the parity
 * check on the served model, and how it ended.
 */
import type { ParityFigures } from "./model";

/**
 * The request ids a deploy's own parity check sends (followed by a random
 * UUID): the server logs them like any request to a version's URL, and the
 * monitoring leaves them out, since they are the registry's held-out rows,
 * not traffic.
 */
export const CHECK_REQUEST_PREFIX = "dagwood-check-";

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

/** What a deployment record is of: a deploy, a rollback, or a canary step (app/deploy/canary.ts). */
export type DeployOperation = "deploy" | "rollback" | "canary" | "promote" | "removeCanary";

/** A deployment as the audit log and the `deployment` port carry it. */
export interface DeploymentRecord {
  /**
   * "canary": the version takes `percent` of the traffic beside the primary
   * (`previous`); "canaryEnded": a canary was removed (`reason`), the primary
   * untouched. A promoted canary is "succeeded".
   */
  status: "succeeded" | "failed" | "rolledBack" | "canary" | "canaryEnded";
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
  /** Why it failed (a "canaryEnded" record: why the canary was removed). */
  reason?: string;
  /** A canary's share of the requests, 0–100 (status "canary" and "canaryEnded", and a promoted canary). */
  percent?: number;
  /** After a failure: the version serving again (null: the model was unloaded). */
  restored?: number | null;
  /**
   * After a failure: how long the failed version could answer infer-by-model
   * (from its upload to the restore) — on a first deploy, and always on Triton.
   */
  reachableMs?: number;
  /** What the record is of (absent: a deploy): a rollback, or a canary step of app/deploy/canary.ts. */
  operation?: Exclude<DeployOperation, "deploy">;
  auditId: number;
}
