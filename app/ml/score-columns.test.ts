import { describe, expect, it } from "vitest";
import { freeName } from "./score-columns";

describe("freeName", () => {
  it("keeps a free name and takes it", () => {
    const taken = new Set(["x"]);
    expect(freeName("label", taken)).toBe("label");
    expect([...taken]).toEqual(["x", "label"]);
  });

  it("counts up past names the input has, in any case, and past the ones it gave", () => {
    const taken = new Set(["prediction", "prediction_1"]);
    expect(freeName("prediction", taken)).toBe("prediction_2");
    expect(freeName("prediction", taken)).toBe("prediction_3");
    // DuckDB's column names are case-insensitive: "Label" and "label" would clash.
    expect(freeName("Label", new Set(["label"]))).toBe("Label_1");
  });
});
