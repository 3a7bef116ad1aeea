/** What the blocks that read a trained model share (evaluate, explain, predict, register). */
import { BlockError, type BlockInputs } from "../app/engine/block";
import { asModel, missingInputs } from "../app/ml/model";

/**
 * The model on input `model`, checked. `hint` follows "is not connected"
 * when the input is missing (e.g. ": connect a train block's model output.").
 */
export function requireModel(inputs: BlockInputs, hint = ""): ReturnType<typeof asModel> {
  const input = inputs.model;
  if (!input) throw new BlockError(`Input "model" is not connected${hint}`);
  if (input.type !== "model") throw new BlockError(`Input "model" must be a model, got ${input.type}`);
  try {
    return asModel(input.data);
  } catch (e) {
    throw new BlockError((e as Error).message);
  }
}

/** Refuses data that lacks a column the model was trained on, naming them and the data's columns. */
export function requireModelColumns(
  model: ReturnType<typeof asModel>,
  columns: readonly { name: string }[],
): void {
  const missing = missingInputs(model, columns);
  if (missing.length > 0) {
    throw new BlockError(
      `The data lacks column(s) ${missing.map((n) => `"${n}"`).join(", ")}, which the model was trained on. Its columns are: ${columns.map((c) => c.name).join(", ")}.`,
    );
  }
}

/** JSON has no NaN or Infinity (an undefined metric, the ROC's +Infinity threshold): a report holds null instead. */
export function jsonSafe<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
  );
}
