/**
 * The training rows every train block starts from: the usable feature
 * columns, read with the target in columns, the task decided, rows without a
 * target left out, and a target with a single value refused.
 */
import { isTemporalType } from "../../data/sql";
import {
  type ColumnKind,
  type ColumnTable,
  columnKind,
  type RawColumn,
  readColumns,
  selectRows,
} from "../dataset";
import { type EncodedTarget, encodeTarget } from "../model";
import type { TrainingContext, TrainingTable } from "./context";

export interface TrainingRows {
  targetColumn: { name: string; type: string };
  encoded: EncodedTarget;
  /** The feature columns of the rows that have a target value. */
  rows: ColumnTable;
  /** Rows of the table left out because their target is missing. */
  missingTargetRows: number;
  readMs: number;
}

/** The usable feature columns; unusable defaulted columns are logged and left out, named ones refused. */
function usableFeatures(
  ctx: Pick<TrainingContext, "log">,
  table: TrainingTable,
): { name: string; type: string }[] {
  const target = table.target.name;
  if (table.explicit && table.features.some((c) => c.name === target)) {
    throw new Error(`The target "${target}" is also listed in features; remove it from features.`);
  }
  const chosen = table.features.filter((c) => c.name !== target);
  const usable = chosen.filter((c) => columnKind(c.type));
  const unusable = chosen.filter((c) => !columnKind(c.type)).map((c) => `"${c.name}" (${c.type})`);
  if (unusable.length > 0 && table.explicit) {
    throw new Error(
      `Feature column(s) ${unusable.join(", ")} cannot be used: features must be numbers, booleans, dates or text. Remove them from features, or convert them first (e.g. with transform.sql).`,
    );
  }
  if (unusable.length > 0)
    ctx.log(`Not used as features (unsupported type): ${unusable.join(", ")}.`, "warn");
  return usable;
}

/**
 * Reads the training table: chooses the features, reads them and the target
 * in columns, decides the task (`decideTask` may refuse with the block to use
 * instead), leaves out rows without a target, and refuses a target with a
 * single value.
 */
export async function readTrainingRows(
  ctx: Pick<TrainingContext, "sql" | "signal" | "log">,
  table: TrainingTable,
  decideTask: (target: RawColumn) => "classification" | "regression",
): Promise<TrainingRows> {
  const targetColumn = table.target;
  const name = targetColumn.name;
  const features = usableFeatures(ctx, table);
  if (features.length === 0) {
    throw new Error(
      `There are no feature columns: the table has only the target "${name}" and columns of unsupported types. Add numeric, boolean, date or text columns.`,
    );
  }
  // Boolean and date targets are read as text ("true", "2024-01-31"): labels read well and cast back.
  const asText = targetColumn.type === "BOOLEAN" || isTemporalType(targetColumn.type);
  const targetKind: ColumnKind | undefined = asText ? "categorical" : undefined;
  if (!targetKind && !columnKind(targetColumn.type)) {
    throw new Error(`The target "${name}" has type ${targetColumn.type}, which cannot be predicted.`);
  }
  const started = performance.now();
  const read = await readColumns(
    ctx.sql,
    table.name,
    [...features.map((column) => ({ column })), { column: targetColumn, kind: targetKind }],
    // Shared: the fit and export workers read the columns in place (train.ts), with no copy.
    { signal: ctx.signal, shared: true },
  );
  const target = read.columns.pop()!;
  const readMs = performance.now() - started;
  const encoded = encodeTarget(target, decideTask(target));
  const skipped = read.rows - encoded.rows.length;
  if (skipped > 0) ctx.log(`${skipped} row(s) have no "${name}" value and are left out of training.`, "warn");
  if (encoded.rows.length === 0)
    throw new Error(`The target "${name}" has no values: every row is missing it.`);
  const distinct = encoded.classes?.length ?? new Set(encoded.y).size;
  if (distinct < 2) {
    const value = encoded.classes ? encoded.classes[0] : encoded.y[0];
    throw new Error(
      `The target "${name}" has the same value (${JSON.stringify(value)}) in every training row, so there is nothing to learn. Choose another target, or check the rows reaching this block.`,
    );
  }
  return { targetColumn, encoded, rows: selectRows(read, encoded.rows), missingTargetRows: skipped, readMs };
}
