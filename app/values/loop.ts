/**
 * The retraining loop's record (kind "monitor-loop"): one per breach a
 * monitor alerted on. It is both the alert the app shows (open until the
 * loop ends or a person acknowledges it) and the loop's memory, so a loop
 * resumes from its record after a restart and never deploys twice:
 * alerted → retraining → gating → (awaiting-approval | canary) → promoted,
 * or kept (the challenger lost the gate or its canary), or failed (the
 * retraining run failed: the alert stays open, nothing is deployed).
 * Every step is also in the model's audit history (`monitor.*` actions).
 */
import { z } from "zod";

/** Monitor names in dagwood.json: they name the monitor in `dagwood monitor run` and in its alerts. */
export const MONITOR_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
export const MONITOR_NAME_MESSAGE = "a monitor name: a letter, then letters, digits, _ . - (at most 64)";

export const LoopStage = z.enum([
  /** A breach was alerted; with action "alert" the loop stays here until acknowledged. */
  "alerted",
  /** The retraining pipeline is running (runId set once started). */
  "retraining",
  /** The challenger is scored against the champion on the freshest labelled rows. */
  "gating",
  /** The challenger passed the gate and waits for a person to approve it (promote.mode "approve"). */
  "awaiting-approval",
  /** The challenger takes `canary.percent` of the traffic until its window has passed. */
  "canary",
  /** The challenger serves and holds the champion alias. */
  "promoted",
  /** The champion still serves: the challenger lost the gate or the canary, or a person rejected it (`outcome` says which). */
  "kept",
  /** The retraining (or a step after it) failed; the alert stays open, nothing was deployed by this step. */
  "failed",
  /** A person closed the alert (action "alert", or a failed loop). */
  "acknowledged",
]);
export type LoopStage = z.infer<typeof LoopStage>;

/** Stages at which a loop is over (status "closed"), except "failed", whose alert stays open. */
export const FINAL_STAGES: readonly LoopStage[] = ["promoted", "kept", "acknowledged"];

export const LoopGate = z.strictObject({
  metric: z.string(),
  /** Higher is better for the metric (accuracy), or lower (rmse). */
  higherIsBetter: z.boolean(),
  champion: z.number().nullable(),
  challenger: z.number().nullable(),
  /** The challenger must beat the champion by at least this much. */
  margin: z.number(),
  /** Labelled rows the two were scored on (the freshest, kept out of the retraining data). */
  rows: z.number(),
  passed: z.boolean(),
});
export type LoopGate = z.infer<typeof LoopGate>;

export const LoopCanaryArm = z.strictObject({
  version: z.number(),
  /** Requests it answered since the canary started, and how many of them were labelled. */
  rows: z.number(),
  labelled: z.number(),
  value: z.number().nullable(),
});
export type LoopCanaryArm = z.infer<typeof LoopCanaryArm>;

export const LoopCanary = z.strictObject({
  target: z.string(),
  version: z.number(),
  percent: z.number(),
  /** ISO: when the canary took traffic, and when its window ends. */
  since: z.string(),
  until: z.string(),
  metric: z.string(),
  /** Filled when the canary is judged. */
  primary: LoopCanaryArm.nullable(),
  canary: LoopCanaryArm.nullable(),
  held: z.boolean().nullable(),
});
export type LoopCanary = z.infer<typeof LoopCanary>;

export const LoopEvent = z.strictObject({
  at: z.string(),
  stage: LoopStage,
  message: z.string(),
  /** The audit entry that records this step, when there is one. */
  auditId: z.number().nullable(),
});
export type LoopEvent = z.infer<typeof LoopEvent>;

export const MonitorLoop = z.strictObject({
  kind: z.literal("monitor-loop"),
  id: z.number(),
  monitor: z.string(),
  /** The registered model, and the deploy target it is served on. */
  model: z.string(),
  target: z.string(),
  action: z.enum(["alert", "retrain"]),
  /** The breached window (ISO) and why. */
  window: z.strictObject({ start: z.string(), end: z.string() }),
  reasons: z.array(z.string()),
  status: z.enum(["open", "closed"]),
  stage: LoopStage,
  /** The champion's version when the alert was raised. */
  champion: z.number().nullable(),
  /** The retraining run, and the version it registered. */
  runId: z.string().nullable(),
  challenger: z.number().nullable(),
  gate: LoopGate.nullable(),
  canary: LoopCanary.nullable(),
  /** How the loop ended, in words ("promoted v4: accuracy 0.93 vs 0.71 on 40 labelled rows"). */
  outcome: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  history: z.array(LoopEvent),
});
export type MonitorLoop = z.infer<typeof MonitorLoop>;
