/** What the blocks that read a trained model share (evaluate, explain, predict, register). */
import { BlockError, type BlockInputs } from "../app/engine/block";
import type { PortSchema, SchemaContext } from "../app/engine/schema";
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

/**
 * Before a run: reports data (input `data`) that lacks a column the model on
 * input `model` will read, or its target when `withTarget`, as the blocks'
 * runs would refuse it.
 */
export function checkModelData(
  ctx: SchemaContext,
  inputs: Record<string, PortSchema | undefined>,
  withTarget: boolean,
): void {
  const { model, data } = inputs;
  if (!model || !data || data.open || model.subset) return;
  const has = new Set(data.columns.map((c) => c.name));
  const missing = model.columns.filter((c) => !has.has(c.name)).map((c) => `"${c.name}"`);
  const source = ctx.upstream("data");
  if (missing.length > 0) {
    ctx.problem(
      [],
      `The data (${source}) lacks column(s) ${missing.join(", ")}, which the model (${ctx.upstream("model")}) reads. Its columns are: ${data.columns.map((c) => c.name).join(", ")}.`,
    );
  }
  if (withTarget && model.target && !has.has(model.target.name)) {
    ctx.problem(
      [],
      `The data (${source}) has no column "${model.target.name}", the model's target, to compare the predictions with. Connect rows that hold the true values (e.g. split's test output), or use predict to score unlabeled rows.`,
    );
  }
}
