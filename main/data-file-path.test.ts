import { describe, expect, it } from "vitest";
import { projectRelativePath } from "./data-file-path";

describe("projectRelativePath", () => {
  it("writes a file in the project relative to it, with /", () => {
    expect(projectRelativePath("/home/ann/proj", "/home/ann/proj/data/seattle-weather.csv")).toBe(
      "data/seattle-weather.csv",
    );
  });

  it("writes a file beside the project (a data folder) with ../", () => {
    expect(projectRelativePath("/home/ann/proj", "/home/ann/shared/flights.parquet")).toBe(
      "../shared/flights.parquet",
    );
  });

  it("refuses the project folder itself", () => {
    expect(projectRelativePath("/home/ann/proj", "/home/ann/proj")).toBeUndefined();
  });
});
