import { describe, expect, it } from "vitest";
import type { DatasetTest } from "../../../app/values/datasets";
import {
  diffSummary,
  formatKwargs,
  pipelineFile,
  reviewOverdue,
  schemaDiff,
  shortDigest,
  sparkPath,
  suiteLabel,
  testResult,
  testStrips,
  unexpectedText,
  versionNumbers,
} from "./format";

const test = (over: Partial<DatasetTest>): DatasetTest => ({
  runId: "r",
  nodeId: "n",
  digest: "d1",
  suite: "expectations/a.json",
  success: true,
  evaluated: 3,
  successful: 3,
  at: "2026-12-06T10:00:00.000Z",
  failed: [],
  ...over,
});

describe("the Data view's formats", () => {
  it("shortens a digest and names a suite by its file", () => {
    expect(shortDigest("a".repeat(64))).toBe("aaaaaaaaaaaa");
    expect(shortDigest("abc")).toBe("abc");
    expect(suiteLabel("expectations/penguins.json")).toBe("penguins");
  });

  it("reads a last test as passed, n failed, or none", () => {
    expect(testResult(null)).toEqual({ state: "none", text: "—" });
    expect(testResult(test({}))).toEqual({ state: "passed", text: "✓ passed" });
    expect(testResult(test({ success: false, evaluated: 5, successful: 3 }))).toEqual({
      state: "failed",
      text: "✗ 2 failed",
    });
  });

  it("draws rows over versions inside the box, higher counts higher up", () => {
    expect(sparkPath([], 60, 16)).toBe("");
    expect(sparkPath([5], 60, 16)).toBe("M1.5 8.0L58.5 8.0");
    expect(sparkPath([3, 3], 60, 16)).toBe("M1.5 8.0L58.5 8.0");
    // min at the bottom edge (16 - 1.5), max at the top (1.5), the middle value half way.
    expect(sparkPath([0, 10, 5], 60, 16)).toBe("M1.5 14.5L30.0 1.5L58.5 8.0");
  });

  it("diffs two schemas: added, removed, retyped and unchanged columns", () => {
    const rows = schemaDiff(
      [
        { name: "id", type: "BIGINT" },
        { name: "mass", type: "BIGINT" },
        { name: "gone", type: "VARCHAR" },
      ],
      [
        { name: "id", type: "BIGINT" },
        { name: "mass", type: "VARCHAR" },
        { name: "new", type: "DOUBLE" },
      ],
    );
    expect(rows).toEqual([
      { name: "id", change: "same", from: "BIGINT", to: "BIGINT" },
      { name: "mass", change: "retyped", from: "BIGINT", to: "VARCHAR" },
      { name: "new", change: "added", to: "DOUBLE" },
      { name: "gone", change: "removed", from: "VARCHAR" },
    ]);
    expect(diffSummary(rows)).toBe("1 added, 1 removed, 1 retyped");
    expect(diffSummary(schemaDiff([{ name: "a", type: "X" }], [{ name: "a", type: "X" }]))).toBe("no change");
  });

  it("numbers versions by when they were first seen and lays tests out oldest left", () => {
    const versions = [
      { digest: "d2", firstSeen: "2026-12-06T11:00:00Z" },
      { digest: "d1", firstSeen: "2026-12-06T10:00:00Z" },
    ];
    expect([...versionNumbers(versions)]).toEqual([
      ["d1", 1],
      ["d2", 2],
    ]);
    // The Api lists tests newest first.
    const tests = [
      test({ digest: "d2", at: "2026-12-06T11:00:00Z", success: false, successful: 2 }),
      test({ digest: "d2", at: "2026-12-06T11:00:00Z", suite: "expectations/b.json" }),
      test({ digest: "d1", at: "2026-12-06T10:00:00Z" }),
      test({ digest: "gone", at: "2026-12-06T09:00:00Z" }),
    ];
    const strips = testStrips(tests, versions);
    expect(strips.map((s) => s.suite)).toEqual(["expectations/a.json", "expectations/b.json"]);
    expect(strips[0]!.cells.map((c) => [c.index, c.version, c.test.success])).toEqual([
      [3, 0, true],
      [2, 1, true],
      [0, 2, false],
    ]);
    expect(strips[1]!.cells.map((c) => c.index)).toEqual([1]);
  });

  it("writes kwargs and unexpected counts as a reader expects", () => {
    expect(formatKwargs({ column: "mass", min_value: 0, result_format: "BASIC" })).toBe(
      'column="mass", min_value=0',
    );
    expect(unexpectedText(null, null)).toBe("—");
    expect(unexpectedText(1, 50)).toBe("1 row (50 %)");
    expect(unexpectedText(812, 0.027066)).toBe("812 rows (0.027 %)");
    expect(unexpectedText(1500, 12.3456)).toBe("1,500 rows (12.35 %)");
  });

  it("finds the file a used-by pipeline opens, by path or by name", () => {
    const files = ["penguins.dag.json", "sub/flights.dag.json"];
    expect(pipelineFile("penguins.dag.json", files)).toBe("penguins.dag.json");
    expect(pipelineFile("penguins", files)).toBe("penguins.dag.json");
    expect(pipelineFile("flights", files)).toBe("sub/flights.dag.json");
    expect(pipelineFile("cars", files)).toBeNull();
  });
});

describe("reviewOverdue", () => {
  it("is past the day after the review date, as dagwood governance finds it, and never when unset", () => {
    expect(reviewOverdue("2026-12-05", "2026-12-06")).toBe(true);
    expect(reviewOverdue("2026-12-06", "2026-12-06")).toBe(false);
    expect(reviewOverdue("2027-01-01", "2026-12-31")).toBe(false);
    expect(reviewOverdue("2025-12-31", "2026-01-01")).toBe(true);
    expect(reviewOverdue(undefined, "2026-12-06")).toBe(false);
  });
});
