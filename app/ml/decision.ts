/**
 * How a binary classifier's probabilities become labels: a row is the positive class when its
 * positive-class probability is at least the threshold (scikit-learn's `predict_proba(X)[:, 1] >=
 * threshold`). evaluate scores with this rule, predict labels with it, and a registered version keeps the
 * threshold it was evaluated with, so its served ONNX graph labels the same way (app/ml/onnx/trees.ts,
 * appendLabel). Multiclass models label by the largest probability (their class index).
 */
import { z } from "zod";
import type { Task } from "../values/common";
import type { ClassLabel } from "./model";

/** The params of every block that labels binary rows (evaluate, predict): the same names, text and defaults. */
export const decisionParams = {
  positiveClass: z
    .string()
    .min(1)
    .optional()
    .describe("Binary models: the class counted as positive, as written in the data; unset: the second class")
    .meta({ order: 1 }),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      "Binary models: a row is predicted positive when its positive-class probability is at least this",
    )
    .meta({ order: 2 }),
};

/** A binary decision: the positive class's index (0 or 1) and the threshold on its probability. */
export interface BinaryDecision {
  positive: number;
  threshold: number;
}

/**
 * The positive class's index: `positiveClass` among the model's classes (as text), or the second class
 * when it is unset. `fail` builds the error for a positiveClass that does not apply (not a binary model,
 * not one of the classes); the message says what to do.
 */
export function positiveClassIndex(
  task: Task,
  classes: readonly ClassLabel[],
  positiveClass: string | undefined,
  fail: (message: string) => Error = (m) => new Error(m),
): number {
  if (positiveClass === undefined) return 1;
  if (task !== "binary")
    throw fail(`positiveClass applies to binary models, but this model is ${task}. Clear positiveClass.`);
  const positive = classes.findIndex((c) => String(c) === positiveClass);
  if (positive < 0)
    throw fail(`positiveClass "${positiveClass}" is not one of the model's classes: ${classes.join(", ")}.`);
  return positive;
}

/** The class index of a row whose positive-class probability is `p`. */
export function decideBinary(p: number, decision: BinaryDecision): number {
  return p >= decision.threshold ? decision.positive : 1 - decision.positive;
}

/**
 * The class index of each row of `probabilities` (row-major, 2 columns per row), or of the rows `rows`
 * picks (indexes into it) when given.
 */
export function binaryLabels(
  probabilities: ArrayLike<number>,
  decision: BinaryDecision,
  rows?: ArrayLike<number>,
): Int32Array {
  const n = rows ? rows.length : probabilities.length / 2;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows ? rows[i]! : i;
    out[i] = decideBinary(probabilities[r * 2 + decision.positive]!, decision);
  }
  return out;
}

/**
 * The decision a registered version keeps (its positive class as text), as class indexes of `classes`;
 * undefined without one. Throws when the class is not one of them (the version's files disagree).
 */
export function storedDecision(
  classes: readonly ClassLabel[],
  stored: { threshold: number; positiveClass: string } | null | undefined,
): BinaryDecision | undefined {
  if (!stored) return undefined;
  const positive = classes.findIndex((c) => String(c) === stored.positiveClass);
  if (classes.length !== 2 || positive < 0)
    throw new Error(
      `The decision's positive class "${stored.positiveClass}" is not one of the binary model's classes (${classes.join(", ")})`,
    );
  return { positive, threshold: stored.threshold };
}
