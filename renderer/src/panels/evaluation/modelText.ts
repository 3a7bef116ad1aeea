/**
 * The model panel's counts in words, so the numbers a user sees add up: the
 * rows trained on (and those left out for a missing target), and the rows
 * parity was checked on (training rows, or a sample of them, plus probe rows).
 */
import type { OnnxParity } from "../../../../app/values/evaluation";
import type { ModelSummary } from "../../../../app/values/model";

const count = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** "trained on 1,169 rows (3 with a missing target left out)". */
export function trainedRowsText(model: Pick<ModelSummary, "trainedRows" | "missingTargetRows">): string {
  const left = model.missingTargetRows ?? 0;
  const out = left > 0 ? ` (${left.toLocaleString("en-US")} with a missing target left out)` : "";
  return `trained on ${count(model.trainedRows, "row")}${out}`;
}

/**
 * "on 1,172 rows: the 1,169 training rows + 3 probe rows (all missing,
 * ±Infinity, unseen categories)"; a model from before probe rows were
 * counted says only its rows.
 */
export function parityRowsText(parity: OnnxParity, trainedRows: number): string {
  const total = `on ${count(parity.rows, "row")}`;
  if (parity.probeRows === undefined) return total;
  const training = parity.rows - parity.probeRows;
  const which =
    training >= trainedRows
      ? `the ${count(training, "training row")}`
      : `${training.toLocaleString("en-US")} of the ${count(trainedRows, "training row")}`;
  return `${total}: ${which} + ${count(parity.probeRows, "probe row")} (all missing, ±Infinity, unseen categories)`;
}

/** "ONNX parity: max |Δ| 0, labels 100 % on 1,172 rows: …". */
export function modelParityText(parity: OnnxParity, trainedRows: number): string {
  const diff = parity.maxAbsDiff === 0 ? "0" : parity.maxAbsDiff.toExponential(1);
  const labels = parity.labelAgreement === 1 ? "100 %" : `${(parity.labelAgreement * 100).toFixed(2)} %`;
  return `ONNX parity: max |Δ| ${diff}, labels ${labels} ${parityRowsText(parity, trainedRows)}`;
}
