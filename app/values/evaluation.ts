/**
 * The report `evaluate` writes (kind "evaluation"), as it crosses ports, the
 * cache and the Api: the block passes it through `jsonSafe`, so every number
 * the data can leave undefined (NaN) or infinite is nullable here, and only
 * those. `gate` passes it on with `champion` added.
 */
import { z } from "zod";
import { ClassLabel, maybeNumber, Task } from "./common";

/** How fairness figures treat missing group values and undefined rates (see app/ml/fairness.ts). */
export const FairnessConventions = z.enum(["fairlearn", "dagwood"]);
export type FairnessConventions = z.infer<typeof FairnessConventions>;

const points = z.array(maybeNumber);

/** A binary (or one-vs-rest) ROC curve; the first threshold is +Infinity, so null. */
export const RocCurve = z.strictObject({
  fpr: points,
  tpr: points,
  thresholds: points,
  /** One-vs-rest curves: the class. */
  label: ClassLabel.optional(),
  auc: maybeNumber.optional(),
});
export type RocCurve = z.infer<typeof RocCurve>;

export const PrCurve = z.strictObject({
  precision: points,
  recall: points,
  thresholds: points,
  label: ClassLabel.optional(),
  averagePrecision: maybeNumber.optional(),
});
export type PrCurve = z.infer<typeof PrCurve>;

export const CalibrationBin = z.strictObject({
  lower: z.number(),
  upper: z.number(),
  count: z.number(),
  /** Bins without rows are left out, and a NaN probability falls in no bin, so this is always defined. */
  meanPredicted: z.number(),
  observed: z.number(),
});
export type CalibrationBin = z.infer<typeof CalibrationBin>;

export const GroupRow = z.strictObject({
  /**
   * The group's value as text, "a × b" for several columns (a missing part
   * reads "(missing)"); null: rows where the one column is missing.
   */
  group: z.string().nullable(),
  /** One value per grouping column; null: missing (a group of its own only under "dagwood" conventions). */
  values: z.array(z.string().nullable()).optional(),
  n: z.number(),
  /** Fewer rows than minGroupSize. */
  small: z.boolean().optional(),
  /** Counted in the gaps: false for a small group left out. */
  counted: z.boolean().optional(),
  metrics: z.record(z.string(), maybeNumber),
});
export type GroupRow = z.infer<typeof GroupRow>;

/** ONNX against the native model: max |difference| and the share of equal labels. */
export const OnnxParity = z.strictObject({
  /** Rows compared: at training, the training rows checked plus `probeRows`. */
  rows: z.number(),
  /** Of `rows`, the made-up rows added at training (all missing, ±Infinity, unseen categories). */
  probeRows: z.number().optional(),
  maxAbsDiff: z.number(),
  labelAgreement: z.number(),
});
export type OnnxParity = z.infer<typeof OnnxParity>;

/** The champion's outcome that `gate` adds to the report it passes on. */
export const ChampionCheck = z.strictObject({
  model: z.string(),
  alias: z.string(),
  /** null: no version holds the alias yet, so the gate did not compare. */
  version: z.number().nullable(),
  /** The champion's metric on the same data. */
  value: z.number().nullable(),
});
export type ChampionCheck = z.infer<typeof ChampionCheck>;

export const EvaluationReport = z.strictObject({
  kind: z.literal("evaluation"),
  task: Task,
  /** Rows evaluated: those with a target value. */
  rows: z.number(),
  /** Rows left out because their target is missing. */
  skippedRows: z.number(),
  /** The evaluated table's content fingerprint, so a gate can check it scores a champion on the same data. */
  dataFingerprint: z.string(),
  target: z.string(),
  /** Classification: the model's classes, then any label in the data the model never saw. */
  classes: z.array(ClassLabel).optional(),
  positiveClass: ClassLabel.optional(),
  threshold: z.number().optional(),
  /** Every scalar metric (also emitted with ctx.metric); with groupBy, the gaps too. */
  metrics: z.record(z.string(), maybeNumber),
  perClass: z
    .array(
      z.strictObject({
        label: ClassLabel,
        /** 0 where the class was never predicted (or never present), as scikit-learn's zero_division=0. */
        precision: z.number(),
        recall: z.number(),
        f1: z.number(),
        support: z.number(),
        /** Multiclass, the model's classes only: one-vs-rest AUC (null: the class is absent or alone). */
        rocAuc: maybeNumber.optional(),
      }),
    )
    .optional(),
  /** Rows: true label, columns: predicted label. */
  confusion: z.strictObject({ labels: z.array(ClassLabel), matrix: z.array(z.array(z.number())) }).optional(),
  roc: z
    .union([
      RocCurve,
      z.strictObject({ average: z.literal("macro"), auc: maybeNumber, perClass: z.array(RocCurve) }),
    ])
    .optional(),
  pr: z.union([PrCurve, z.strictObject({ perClass: z.array(PrCurve) })]).optional(),
  /** Binary: P(positive) against the positive share; multiclass: the top probability against accuracy. */
  calibration: z
    .strictObject({
      of: z.enum(["positive", "confidence"]),
      bins: z.array(CalibrationBin),
      /** Defined: evaluate refuses data with no labelled row. */
      ece: z.number(),
    })
    .optional(),
  /** Regression: a sample of (prediction, truth − prediction); null where a model predicted NaN. */
  residuals: z.strictObject({ predicted: points, residual: points, sampled: z.boolean() }).optional(),
  groups: z
    .strictObject({
      /** The grouping columns as one name, "a × b" for several. */
      column: z.string(),
      columns: z.array(z.string()).optional(),
      /**
       * "fairlearn": rows with a missing group value dropped, an undefined rate
       * (no actual positives / negatives) scored 0; "dagwood": missing is a
       * group, an undefined rate is null and left out of the gaps.
       */
      conventions: FairnessConventions.optional(),
      minGroupSize: z.number().optional(),
      smallGroups: z.enum(["exclude", "include"]).optional(),
      /** Rows dropped because a group value is missing ("fairlearn" conventions). */
      droppedRows: z.number().optional(),
      /** The groups left out of the gaps (too small). */
      leftOut: z.array(z.string().nullable()).optional(),
      rows: z.array(GroupRow),
      /** null: undefined, e.g. fewer than one group counted. */
      gaps: z.record(z.string(), maybeNumber),
      /** Per gap, the bootstrap percentile interval [lower, upper] (null: no resample defined it). */
      intervals: z.record(z.string(), z.tuple([maybeNumber, maybeNumber])).optional(),
      bootstrap: z.strictObject({ resamples: z.number(), seed: z.number(), level: z.number() }).optional(),
    })
    .optional(),
  model: z.strictObject({
    estimator: z.string(),
    task: Task,
    trainedRows: z.number().optional(),
    /** Measured on the evaluated rows, or at training when there are none or the ONNX file is gone. */
    onnxParity: OnnxParity.extend({ on: z.enum(["evaluation", "training"]) }).optional(),
  }),
  /** Added by `gate` when it compared with a champion. */
  champion: ChampionCheck.optional(),
});
export type EvaluationReport = z.infer<typeof EvaluationReport>;
