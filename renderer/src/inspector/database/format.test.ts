import { describe, expect, it } from "vitest";
import { rowsEstimateText } from "./format";

describe("rowsEstimateText", () => {
  it("rounds a row estimate as a person reads it, and says nothing without one", () => {
    expect(rowsEstimateText(null)).toBe("");
    // PostgreSQL's reltuples is -1 for a table never analysed: no estimate.
    expect(rowsEstimateText(-1)).toBe("");
    expect(rowsEstimateText(0)).toBe("~0 rows");
    expect(rowsEstimateText(1)).toBe("~1 row");
    expect(rowsEstimateText(999)).toBe("~999 rows");
    expect(rowsEstimateText(1234)).toBe("~1.2k rows");
    expect(rowsEstimateText(56_789)).toBe("~57k rows");
    expect(rowsEstimateText(3_400_000)).toBe("~3.4M rows");
    expect(rowsEstimateText(2_000_000_000)).toBe("~2.0G rows");
  });
});
