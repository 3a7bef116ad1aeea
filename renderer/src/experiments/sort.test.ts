import { describe, expect, it } from "vitest";
import { useExperiments } from "./store";

describe("sorting runs by a metric", () => {
  const sortBy = (field: "metric" | "startedAt", key?: string) => {
    useExperiments.getState().sortBy(field, key);
    return useExperiments.getState().sort;
  };

  it("puts the best first on the first click: an error lowest, a score highest; a second click flips", () => {
    expect(sortBy("metric", "evaluate.rmse")).toEqual({ field: "metric", key: "evaluate.rmse", desc: false });
    expect(sortBy("metric", "evaluate.rmse").desc).toBe(true);
    expect(sortBy("metric", "evaluate.accuracy").desc).toBe(true);
    expect(sortBy("metric", "gbdt.cv_log_loss").desc).toBe(false);
    expect(sortBy("startedAt").desc).toBe(true);
  });
});
