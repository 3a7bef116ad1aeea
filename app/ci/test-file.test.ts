import { describe, expect, it } from "vitest";
import { parseTestFile, TEST_FORMAT } from "./test-file";

const base = {
  format: TEST_FORMAT,
  pipeline: "p.dag.json",
  assertions: [{ node: "a", rows: 3 }],
};
const parse = (value: unknown) => parseTestFile(JSON.stringify(value), "tests/t.test.json");

describe("pipeline test files", () => {
  it("reads a minimal file, with fixtures, params and nodeParams defaulting to none", async () => {
    const { test, problems } = await parse(base);
    expect(problems).toEqual([]);
    expect(test).toEqual({ ...base, params: {}, fixtures: {}, nodeParams: {} });
  });

  it("reads every kind of assertion", async () => {
    const assertions = [
      { node: "a", rows: { min: 1, max: 5 } },
      { node: "a", port: "train", columns: ["x", "y"] },
      { node: "a", columns: { include: ["x"], exclude: ["z"] } },
      { node: "e", metric: "accuracy", min: 0.5 },
      { node: "a", expect: "expectations/s.json", name: "suite" },
      { node: "g", fails: "below" },
      { node: "g", fails: true },
    ];
    const { problems } = await parse({ ...base, assertions });
    expect(problems).toEqual([]);
  });

  it("says where text that is not JSON breaks, by line and column", async () => {
    const { problems } = await parseTestFile(
      '{\n  "format": "dagwood.test/1",\n  "pipeline": }',
      "t.test.json",
    );
    expect(problems).toEqual([
      {
        file: "t.test.json",
        path: "$",
        message: expect.stringMatching(/^not valid JSON \(ValueExpected at line 3, column 15\)/),
      },
    ]);
  });

  it("names a missing or unknown format", async () => {
    expect((await parse({ pipeline: "p.dag.json" })).problems).toEqual([
      {
        file: "tests/t.test.json",
        path: "$.format",
        message: `a pipeline test starts with "format": "${TEST_FORMAT}"`,
      },
    ]);
    expect((await parse({ ...base, format: "dagwood.test/9" })).problems[0]!.message).toBe(
      `unknown format "dagwood.test/9": this Dagwood reads "${TEST_FORMAT}"`,
    );
  });

  it("reports every problem at once, each at its JSON path", async () => {
    const { test, problems } = await parse({
      ...base,
      pipeline: "p.json",
      fixtures: { "bad.id": "x.csv" },
      assertions: [
        { node: "a", rows: 3, columns: ["x"] },
        { node: "a" },
        { node: "e", metric: "auc" },
        { node: "a", min: 1 },
        { node: "e", metric: "auc", min: 2, max: 1 },
        { node: "a", rows: -1 },
        { node: "a", rows: 1, colour: "red" },
      ],
    });
    expect(test).toBeUndefined();
    const at = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(at).toMatchObject({
      "$.pipeline": "a pipeline file (*.dag.json)",
      "$.assertions[0]": "one check per assertion, found rows and columns: split it into 2 assertions",
      "$.assertions[1]": "say what to check: one of rows, columns, metric, expect, fails",
      "$.assertions[2].metric": "give the metric's range: min, max or both",
      "$.assertions[3].min": 'min bounds a metric: add "metric", or use "rows": { "min": … } for a row count',
      "$.assertions[4].min": "min (2) is above max (1)",
      "$.assertions[5].rows": expect.any(String),
    });
    expect(problems.some((p) => p.path.startsWith("$.fixtures"))).toBe(true);
    expect(problems.find((p) => p.path === "$.assertions[6]")?.message).toMatch(/colour/);
    expect(problems.every((p) => p.file === "tests/t.test.json")).toBe(true);
  });

  it("needs at least one assertion", async () => {
    expect((await parse({ ...base, assertions: [] })).problems).toEqual([
      {
        file: "tests/t.test.json",
        path: "$.assertions",
        message: "a test asserts something: add at least one assertion",
      },
    ]);
  });
});
