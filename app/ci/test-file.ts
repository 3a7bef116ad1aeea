/**
 * A pipeline test file (`tests/<name>.test.json`): which pipeline, which of its
 * nodes read small fixture files instead of their usual input, and what the
 * outputs must then hold. `dagwood test` runs it (app/ci/pipeline-test.ts).
 *
 *   { "format": "dagwood.test/1",
 *     "pipeline": "penguins-model.dag.json",
 *     "fixtures": { "penguins": "tests/fixtures/penguins-40.csv" },
 *     "nodeParams": { "gbdt": { "trees": 10 } },
 *     "assertions": [
 *       { "node": "check", "rows": 40 },
 *       { "node": "split", "port": "train", "columns": ["species", "island"] },
 *       { "node": "eval_gbdt", "metric": "accuracy", "min": 0.8 },
 *       { "node": "penguins", "expect": "expectations/penguins.json" },
 *       { "node": "gate", "fails": "accuracy" } ] }
 */
import { z } from "zod";
import { NODE_ID, PORT_NAME } from "../pipeline/schema";

export const TEST_FORMAT = "dagwood.test/1";
/** Test files are the project's `tests/*.test.json`. */
export const TEST_DIR = "tests";
export const TEST_SUFFIX = ".test.json";

const nodeId = z.string().regex(NODE_ID, "a node id of the pipeline");
const filePath = z.string().min(1, "a file path, relative to the project").max(4096);
const count = z.number().int("a whole number").nonnegative("at least 0");

/** A range: both ends optional, inclusive. */
const Range = z.strictObject({ min: z.number().optional(), max: z.number().optional() });

const Columns = z.union([
  z.array(z.string().min(1)).min(1),
  z.strictObject({
    /** Each must be there. */
    include: z.array(z.string().min(1)).optional(),
    /** None may be there. */
    exclude: z.array(z.string().min(1)).optional(),
    /** Exactly these, in any order. */
    exactly: z.array(z.string().min(1)).optional(),
  }),
]);

/** What an assertion checks: exactly one of these keys. */
export const ASSERTION_KINDS = ["rows", "columns", "metric", "expect", "fails"] as const;

export const Assertion = z
  .strictObject({
    /** The node whose output (or outcome) is checked. */
    node: nodeId,
    /** Its output port, for rows, columns and expect: needed when the node has more than one table output. */
    port: z.string().regex(PORT_NAME, "a port name").optional(),
    /** Its name in reports (JUnit); default: what it checks. */
    name: z.string().min(1).max(200).optional(),
    /** The table's row count: a number, or { min, max }. */
    rows: z.union([count, Range]).optional(),
    /** Columns of the table: names that must be there, or { include, exclude, exactly }. */
    columns: Columns.optional(),
    /** A metric the node recorded (its latest value), with `min` and/or `max`. */
    metric: z.string().min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** An expectation suite file of the project, run on the table. */
    expect: filePath.optional(),
    /** The node must fail: true, or a text its error contains. */
    fails: z.union([z.literal(true), z.string().min(1)]).optional(),
  })
  .superRefine((a, ctx) => {
    const kinds = ASSERTION_KINDS.filter((k) => a[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: "custom",
        path: [],
        message:
          kinds.length === 0
            ? `say what to check: one of ${ASSERTION_KINDS.join(", ")}`
            : `one check per assertion, found ${kinds.join(" and ")}: split it into ${kinds.length} assertions`,
      });
    if (a.metric !== undefined && a.min === undefined && a.max === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["metric"],
        message: "give the metric's range: min, max or both",
      });
    if (a.metric === undefined)
      for (const k of ["min", "max"] as const)
        if (a[k] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [k],
            message: `${k} bounds a metric: add "metric", or use "rows": { "${k}": … } for a row count`,
          });
    const range = a.metric !== undefined ? a : typeof a.rows === "object" ? a.rows : undefined;
    if (range && range.min !== undefined && range.max !== undefined && range.min > range.max)
      ctx.addIssue({
        code: "custom",
        path: a.metric !== undefined ? ["min"] : ["rows", "min"],
        message: `min (${range.min}) is above max (${range.max})`,
      });
    if (typeof a.rows === "object" && a.rows.min === undefined && a.rows.max === undefined)
      ctx.addIssue({ code: "custom", path: ["rows"], message: "give min, max or both (or a number)" });
  });
export type Assertion = z.output<typeof Assertion>;

export const PipelineTestFile = z.strictObject({
  format: z.literal(TEST_FORMAT),
  description: z.string().max(10_000).optional(),
  /** The pipeline file, relative to the project. */
  pipeline: filePath.regex(/\.dag\.json$/, "a pipeline file (*.dag.json)"),
  /** Pipeline parameters, as `--param` gives them. */
  params: z.record(z.string(), z.unknown()).default({}),
  /**
   * node id → the file its table output is read from instead (relative to the
   * project); for a node with several table outputs, port → file.
   */
  fixtures: z.record(nodeId, z.union([filePath, z.record(z.string(), filePath)])).default({}),
  /** node id → params that replace the node's own (e.g. fewer trees, so the test runs fast). */
  nodeParams: z.record(nodeId, z.record(z.string(), z.unknown())).default({}),
  assertions: z.array(Assertion).min(1, "a test asserts something: add at least one assertion"),
});
export type PipelineTestFile = z.output<typeof PipelineTestFile>;

/** One thing wrong with a test file: where (file, JSON path) and what. */
export interface TestProblem {
  /** As given, or relative to the project. */
  file: string;
  /** "$.assertions[2].node"; "$" for the whole file. */
  path: string;
  message: string;
}

export function formatTestProblems(problems: readonly TestProblem[]): string {
  return problems.map((p) => `  ${p.file} at ${p.path}: ${p.message}`).join("\n");
}

/** `["assertions", 2, "node"]` → `$.assertions[2].node`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = "$";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

/** The line and column (1-based) of an offset in `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Parses and checks a test file's text against the schema; every problem at once. */
export async function parseTestFile(
  text: string,
  file: string,
): Promise<{ test?: PipelineTestFile; problems: TestProblem[] }> {
  const { parse, printParseErrorCode } = await import("jsonc-parser");
  const errors: import("jsonc-parser").ParseError[] = [];
  const json: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length) {
    const e = errors[0]!;
    return {
      problems: [
        {
          file,
          path: "$",
          message: `not valid JSON (${printParseErrorCode(e.error)} at ${lineColumn(text, e.offset)}): fix the file's syntax`,
        },
      ],
    };
  }
  if (json && typeof json === "object" && !Array.isArray(json)) {
    const format = (json as { format?: unknown }).format;
    if (format !== TEST_FORMAT)
      return {
        problems: [
          {
            file,
            path: "$.format",
            message:
              format === undefined
                ? `a pipeline test starts with "format": "${TEST_FORMAT}"`
                : `unknown format ${JSON.stringify(format)}: this Dagwood reads "${TEST_FORMAT}"`,
          },
        ],
      };
  }
  const result = PipelineTestFile.safeParse(json);
  if (!result.success)
    return {
      problems: result.error.issues.map((i) => ({ file, path: jsonPath(i.path), message: i.message })),
    };
  return { test: result.data, problems: [] };
}
