import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineBlock, makeCatalog } from "../engine/block";
import { missingParamMessage, paramWords } from "./param-ui";
import { validatePipelineText } from "./validate";

const train = defineBlock({
  kind: "test.train",
  version: 1,
  title: "Train",
  category: "Test",
  description: "",
  inputs: {},
  outputs: {},
  params: z
    .object({
      target: z.string().min(1).meta({ order: 1, picker: "column" }),
      features: z.array(z.string()).min(1).meta({ order: 2, picker: "columns" }),
      query: z.string().min(1, "write a SELECT query").meta({ order: 3, label: "SQL query" }),
      path: z.string().min(1).meta({ order: 4, picker: "file" }),
      maxDepth: z.number().int().meta({ order: 5 }),
      mode: z.enum(["fast", "exact"]).meta({ order: 6 }),
      search: z
        .object({ strategy: z.enum(["grid", "random"]), space: z.record(z.string(), z.array(z.number())) })
        .optional()
        .meta({ order: 7 }),
      column: z.string().optional().meta({ order: 8, picker: "column" }),
    })
    .superRefine((p, issue) => {
      if (!p.column)
        issue.addIssue({ code: "custom", path: ["column"], message: 'set "column" to the class column' });
    }),
  run: async () => ({}),
});
const catalog = makeCatalog([train]);

function problemsFor(params: Record<string, unknown>): Record<string, string> {
  const doc = {
    format: "dagwood.pipeline/1",
    name: "p",
    nodes: [{ id: "t", block: "test.train", params }],
    edges: [],
  };
  const { problems } = validatePipelineText(JSON.stringify(doc), catalog);
  return Object.fromEntries(problems.map((p) => [p.path.replace("$.nodes[0].params.", ""), p.message]));
}

describe("the message for a missing required param", () => {
  it("says what to do, from the param's picker, label or type", () => {
    expect(problemsFor({})).toEqual({
      target: "Choose the target column",
      features: "Choose the columns for features",
      query: "Enter the SQL query",
      path: "Choose a file",
      maxDepth: "Enter the max depth",
      mode: "Choose the mode",
    });
  });

  it("asks for a turned-on section's required fields, and only then", () => {
    const given = {
      target: "y",
      features: ["x"],
      query: "SELECT 1",
      path: "a.csv",
      maxDepth: 3,
      mode: "fast",
      column: "y",
    };
    expect(problemsFor(given)).toEqual({});
    // The block's own check, which runs once the rest is valid, keeps its words.
    expect(problemsFor({ ...given, column: undefined })).toEqual({
      column: 'set "column" to the class column',
    });
    expect(problemsFor({ ...given, search: {} })).toEqual({
      "search.strategy": "Choose the strategy",
      "search.space": "Enter the space",
    });
  });

  it("keeps zod's message for a value that is given but wrong", () => {
    const wrong = problemsFor({ target: 5, query: "", mode: "slow", maxDepth: 1.5 });
    expect(wrong.target).toBe("Invalid input: expected string, received number");
    expect(wrong.query).toBe("write a SELECT query");
    expect(wrong.mode).toMatch(/^Invalid option: expected one of "fast"\|"exact"$/);
    expect(wrong.maxDepth).toMatch(/expected int/);
  });

  it("reads a camelCase name as words", () => {
    expect(paramWords("maxCategories")).toBe("max categories");
    expect(paramWords("l2")).toBe("l2");
    expect(missingParamMessage("groupBy", { picker: "column" })).toBe("Choose the group by column");
    expect(missingParamMessage("name", { label: "model name" })).toBe("Enter the model name");
    expect(missingParamMessage("suite", { picker: "suite" })).toBe(
      "Choose a suite of the project, or write one inline",
    );
  });
});
