import { describe, expect, it } from "vitest";
import { binOf, binRows, fitBins, float32Threshold, MISSING_BIN, thresholdOf } from "./binning";
import { categorical, dataset, numeric } from "./testing";
import { FLOAT32_MAX } from "./types";

describe("binning", () => {
  it("puts each distinct value in its own bin when there are few, with float32 midpoints as edges", () => {
    const data = dataset(numeric("x", [3, 1, 2, 2, Number.NaN, 4]));
    const mapper = fitBins(data);
    const bins = mapper.features[0]!;
    expect(bins.numBins).toBe(4);
    expect(Array.from(bins.edges)).toEqual([1.5, 2.5, 3.5]);
    expect(Array.from(binRows(mapper, data))).toEqual([2, 0, 1, 1, MISSING_BIN, 3]);
  });

  it("makes at most maxBins quantile bins whose rule bin <= t is x <= edges[t]", () => {
    const values = Float64Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 100);
    const data = dataset(numeric("x", values));
    const mapper = fitBins(data, { maxBins: 16 });
    const bins = mapper.features[0]!;
    expect(bins.numBins).toBe(16);
    const codes = binRows(mapper, data);
    const counts = new Array<number>(16).fill(0);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) {
      counts[codes[i]!]!++;
      for (let t = 0; t < bins.edges.length; t++)
        if (codes[i]! <= t !== values[i]! <= bins.edges[t]!) mismatches++;
    }
    expect(mismatches).toBe(0);
    // Roughly equal-frequency.
    for (const c of counts) expect(c).toBeGreaterThan(400);
  });

  it("chooses float32 thresholds that separate the float32-rounded neighbours", () => {
    for (const [a, b] of [
      [0.1, 0.2],
      [1, 1 + 2 ** -20],
      [-3.3, -3.2999],
      [1e-40, 2e-40],
      [100.1, 1e30],
    ] as const) {
      const t = float32Threshold(a, b);
      expect(Math.fround(t)).toBe(t);
      expect(a <= t && t < b).toBe(true);
      expect(Math.fround(a) <= t && t < Math.fround(b)).toBe(true);
    }
    // Values that are one float32 are one bin: there is no split between them.
    const data = dataset(numeric("x", [1, 1 + 2 ** -40, 2]));
    expect(fitBins(data).features[0]!.numBins).toBe(2);
  });

  it("uses categorical codes as bins; an unseen code is missing", () => {
    const data = dataset(categorical("c", [0, 2, 1, Number.NaN]));
    const mapper = fitBins(data);
    expect(mapper.features[0]!.numBins).toBe(3);
    expect(Array.from(mapper.features[0]!.edges)).toEqual([0.5, 1.5]);
    const unseen = dataset(categorical("c", [7, 1]));
    expect(Array.from(binRows(mapper, unseen))).toEqual([MISSING_BIN, 1]);
    expect(binOf(mapper.features[0]!, Number.NaN)).toBe(MISSING_BIN);
    expect(thresholdOf(mapper.features[0]!, 2)).toBe(FLOAT32_MAX);
  });

  it("refuses more than 255 categories and says what to do", () => {
    const data = dataset(
      categorical(
        "city",
        Array.from({ length: 300 }, (_, i) => i),
      ),
    );
    expect(() => fitBins(data)).toThrow(/"city" has 300 categories.*at most 255.*most frequent/);
  });

  it("refuses codes that are not integers", () => {
    expect(() => fitBins(dataset(categorical("c", [0, 1.5])))).toThrow(/integer codes/);
  });
});
