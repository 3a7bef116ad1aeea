import { describe, expect, it } from "vitest";
import { sampleText, shareText } from "./PersonalData";

describe("the profile's personal-data texts", () => {
  it("says what was scanned", () => {
    expect(sampleText({ rows: 3_000_000, sampled: 10_000, seed: 42 })).toBe(
      "10,000 of 3,000,000 rows (reservoir sample, seed 42)",
    );
    expect(sampleText({ rows: 344, sampled: 344, seed: 42 })).toBe("all 344 rows");
    expect(sampleText({ rows: 1, sampled: 1, seed: 42 })).toBe("all 1 row");
    expect(sampleText({ rows: 0, sampled: 0, seed: 42 })).toBe("all 0 rows");
  });
  it("writes shares as percentages, and kinds found by name as such", () => {
    expect(shareText(1, "values")).toBe("100 %");
    expect(shareText(0.985, "values")).toBe("98.5 %");
    expect(shareText(0.99996, "values")).toBe("99.9 %");
    expect(shareText(0.0001, "values")).toBe("<0.1 %");
    expect(shareText(1, "name")).toBe("by name");
  });
});
