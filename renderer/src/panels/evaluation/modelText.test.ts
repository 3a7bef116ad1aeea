import { describe, expect, it } from "vitest";
import { modelParityText, parityRowsText, trainedRowsText } from "./modelText";

describe("the model panel's counts add up", () => {
  it("says how many rows were trained on and how many were left out for a missing target", () => {
    expect(trainedRowsText({ trainedRows: 1169, missingTargetRows: 3 })).toBe(
      "trained on 1,169 rows (3 with a missing target left out)",
    );
    expect(trainedRowsText({ trainedRows: 1169, missingTargetRows: 0 })).toBe("trained on 1,169 rows");
    // A model saved before the count was kept.
    expect(trainedRowsText({ trainedRows: 1 })).toBe("trained on 1 row");
  });

  it("splits parity rows into training rows and probe rows", () => {
    const parity = { rows: 1172, probeRows: 3, maxAbsDiff: 0, labelAgreement: 1 };
    expect(parityRowsText(parity, 1169)).toBe(
      "on 1,172 rows: the 1,169 training rows + 3 probe rows (all missing, ±Infinity, unseen categories)",
    );
    expect(modelParityText(parity, 1169)).toBe(
      "ONNX parity: max |Δ| 0, labels 100 % on 1,172 rows: the 1,169 training rows + 3 probe rows (all missing, ±Infinity, unseen categories)",
    );
    // Above 5,000 training rows parity runs on a sample of them.
    expect(parityRowsText({ ...parity, rows: 5003 }, 200_000)).toBe(
      "on 5,003 rows: 5,000 of the 200,000 training rows + 3 probe rows (all missing, ±Infinity, unseen categories)",
    );
    // Older models recorded no probe count: the total alone.
    expect(parityRowsText({ rows: 1172, maxAbsDiff: 1e-12, labelAgreement: 1 }, 1169)).toBe("on 1,172 rows");
    expect(modelParityText({ rows: 10, maxAbsDiff: 2.5e-10, labelAgreement: 0.9 }, 10)).toBe(
      "ONNX parity: max |Δ| 2.5e-10, labels 90.00 % on 10 rows",
    );
  });
});
