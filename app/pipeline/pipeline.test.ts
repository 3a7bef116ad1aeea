import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineBlock, makeCatalog } from "../engine/block";
import { serializePipeline } from "./canonical";
import { loadPipelineFile, savePipelineFile } from "./file";
import { parseOverrides, substitute } from "./params";
import { parsePipelineObject, parsePipelineText, planPipeline, validatePipelineText } from "./validate";

const noop = async () => ({});
const source = defineBlock({
  kind: "test.source",
  version: 1,
  title: "Source",
  category: "Test",
  description: "",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({ path: z.string() }),
  run: noop,
});
const pass = defineBlock({
  kind: "test.pass",
  version: 1,
  title: "Pass",
  category: "Test",
  description: "",
  inputs: { in: { type: "table" }, other: { type: "table", optional: true } },
  outputs: { out: { type: "table" } },
  params: z.object({ fraction: z.number().gt(0).lt(1).default(0.5), seed: z.number().int().default(0) }),
  run: noop,
});
const report = defineBlock({
  kind: "test.report",
  version: 1,
  title: "Report",
  category: "Test",
  description: "",
  inputs: { in: { type: "table" } },
  outputs: { report: { type: "report" } },
  params: z.object({}),
  run: noop,
});
const catalog = makeCatalog([source, pass, report]);

const good = {
  format: "dagwood.pipeline/1",
  name: "demo",
  params: { seed: 7 },
  nodes: [
    { id: "src", block: "test.source", params: { path: "data/x.csv" } },
    { id: "b", block: "test.pass", params: { seed: "${seed}", fraction: 0.25 } },
    { id: "r", block: "test.report", params: {} },
  ],
  edges: [
    { from: "b.out", to: "r.in" },
    { from: "src.out", to: "b.in" },
  ],
  layout: { src: { x: 0, y: 0 }, b: { x: 200, y: 0 } },
};

describe("pipeline parsing and planning", () => {
  it("plans a valid pipeline in topological order with params resolved", () => {
    const { plan, problems } = validatePipelineText(JSON.stringify(good), catalog);
    expect(problems).toEqual([]);
    expect(plan!.order.map((n) => n.id)).toEqual(["src", "b", "r"]);
    expect(plan!.order[1]!.params).toEqual({ seed: 7, fraction: 0.25 });
    expect(plan!.order[1]!.inputs).toEqual({ in: { node: "src", port: "out" } });
  });

  it("applies --param overrides with their JSON types", () => {
    const overrides = parseOverrides(["seed=11"]);
    const { plan } = validatePipelineText(JSON.stringify(good), catalog, overrides);
    expect(plan!.order[1]!.params).toEqual({ seed: 11, fraction: 0.25 });
    expect(parseOverrides(["name=abc", "list=[1,2]", "flag=true"])).toEqual({
      name: "abc",
      list: [1, 2],
      flag: true,
    });
    expect(() => parseOverrides(["novalue"])).toThrow(/name=value/);
  });

  it("refuses an override for a parameter the pipeline does not declare", () => {
    const { problems } = validatePipelineText(JSON.stringify(good), catalog, { sede: 3 });
    expect(problems).toEqual([{ path: "$.params", message: expect.stringMatching(/no parameter "sede"/) }]);
  });

  it("interpolates references inside longer strings and keeps types for whole ones", () => {
    expect(substitute({ a: "${n}", b: "x-${n}-y", c: ["${s}"] }, { n: 3, s: "t" })).toEqual({
      a: 3,
      b: "x-3-y",
      c: ["t"],
    });
  });

  it("reports text that is not JSON with line and column", () => {
    const { problems } = parsePipelineText('{\n  "format": "dagwood.pipeline/1",\n  "name": \n}');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/Not valid JSON at line 4, column 1/);
  });

  it("refuses an unknown format version and files that are not pipelines", () => {
    expect(parsePipelineText(JSON.stringify({ ...good, format: "dagwood.pipeline/2" })).problems[0]).toEqual({
      path: "$.format",
      message: expect.stringMatching(/Unknown pipeline format version "dagwood.pipeline\/2"/),
    });
    expect(parsePipelineText('{"hello": 1}').problems[0]!.message).toMatch(/no "format" field/);
    expect(parsePipelineText("[1,2]").problems[0]!.message).toMatch(/one JSON object/);
  });

  it("reports every problem at once, each with its JSON path", () => {
    const broken = {
      format: "dagwood.pipeline/1",
      name: "broken",
      params: { seed: 1 },
      nodes: [
        { id: "src", block: "test.source", params: { path: "x.csv" } },
        { id: "src", block: "test.source", params: { path: "y.csv" } },
        { id: "mystery", block: "test.nope", params: {} },
        { id: "b", block: "test.pass", params: { fraction: 2, seed: "${missing}" } },
        { id: "r", block: "test.report", params: {} },
        { id: "r2", block: "test.report", params: {} },
        { id: "c1", block: "test.pass", params: {} },
        { id: "c2", block: "test.pass", params: {} },
        { id: "x", block: "test.pass", params: {} },
      ],
      edges: [
        { from: "src.out", to: "b.in" },
        { from: "src.nothing", to: "r.in" },
        { from: "ghost.out", to: "r2.in" },
        { from: "r.report", to: "x.in" },
        { from: "c1.out", to: "c2.in" },
        { from: "c2.out", to: "c1.in" },
      ],
    };
    const { problems } = validatePipelineText(JSON.stringify(broken), catalog);
    const byPath = problems.map((p) => `${p.path} ${p.message}`);
    expect(byPath).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\$\.nodes\[1\]\.id Duplicate node id "src"/),
        expect.stringMatching(/^\$\.nodes\[2\]\.block Unknown block "test\.nope"/),
        expect.stringMatching(/^\$\.nodes\[3\]\.params\.seed Unknown parameter \$\{missing\}/),
        expect.stringMatching(/^\$\.nodes\[3\]\.params\.fraction .*1/),
        expect.stringMatching(/^\$\.edges\[1\]\.from Block test\.source has no output "nothing"/),
        expect.stringMatching(/^\$\.edges\[2\]\.from Unknown node "ghost"/),
        expect.stringMatching(
          /^\$\.edges\[3\] Port types do not match: r\.report is a report, x\.in takes a table/,
        ),
        expect.stringMatching(/^\$\.edges The graph has a cycle: c1 → c2 → c1/),
      ]),
    );
    // r and r2 have no valid incoming edge; r's "in" is unconnected.
    expect(byPath).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\$\.nodes\[4\] Input "in" of node "r" \(test\.report\) is not connected/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(10);
  });

  it("names the nodes of a longer cycle along the edges", () => {
    const p = {
      ...good,
      nodes: [
        { id: "a", block: "test.pass", params: {} },
        { id: "b", block: "test.pass", params: {} },
        { id: "c", block: "test.pass", params: {} },
      ],
      edges: [
        { from: "a.out", to: "b.in" },
        { from: "b.out", to: "c.in" },
        { from: "c.out", to: "a.in" },
      ],
      layout: undefined,
    };
    const { problems } = validatePipelineText(JSON.stringify(p), catalog);
    expect(problems).toEqual([{ path: "$.edges", message: "The graph has a cycle: a → b → c → a" }]);
  });

  it("reports shape errors with paths (bad ids, bad edges, unknown fields)", () => {
    const p = {
      ...good,
      nodes: [{ id: "has.dot", block: "test.source", params: {}, colour: "red" }],
      edges: [{ from: "nodot", to: "b.in" }],
    };
    const paths = parsePipelineText(JSON.stringify(p)).problems.map((x) => x.path);
    expect(paths).toEqual(expect.arrayContaining(["$.nodes[0].id", "$.nodes[0]", "$.edges[0].from"]));
  });

  it("refuses an input connected twice", () => {
    const p = { ...good, edges: [...good.edges, { from: "src.out", to: "b.in" }] };
    const { problems } = planPipeline(parsePipelineText(JSON.stringify(p)).pipeline!, catalog);
    expect(problems[0]!.message).toMatch(/connected twice/);
  });
});

describe("canonical serialization", () => {
  it("sorts nodes, edges and keys, and round-trips to the same bytes", () => {
    const text = serializePipeline(parsePipelineText(JSON.stringify(good)).pipeline!);
    const parsed = JSON.parse(text);
    expect(parsed.nodes.map((n: { id: string }) => n.id)).toEqual(["b", "r", "src"]);
    expect(parsed.edges[0]).toEqual({ from: "b.out", to: "r.in" });
    expect(Object.keys(parsed)).toEqual(["format", "name", "params", "nodes", "edges", "layout"]);
    expect(Object.keys(parsed.nodes[0].params)).toEqual(["fraction", "seed"]);
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "format"');
    // load + save of the canonical text gives the same bytes
    expect(serializePipeline(parsePipelineText(text).pipeline!)).toBe(text);
  });

  it("keeps a moved node's change to the layout section only", () => {
    const a = serializePipeline(parsePipelineText(JSON.stringify(good)).pipeline!);
    const moved = { ...good, layout: { ...good.layout, src: { x: 50, y: 10 } } };
    const b = serializePipeline(parsePipelineText(JSON.stringify(moved)).pipeline!);
    const logic = (t: string) => t.slice(0, t.indexOf('"layout"'));
    expect(logic(b)).toBe(logic(a));
    expect(b).not.toBe(a);
  });

  it("saves atomically and loads back the same pipeline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-pipe-"));
    const path = join(dir, "p.dag.json");
    const pipeline = parsePipelineText(JSON.stringify(good)).pipeline!;
    await savePipelineFile(path, pipeline);
    const loaded = await loadPipelineFile(path);
    expect(loaded.problems).toEqual([]);
    expect(loaded.text).toBe(readFileSync(path, "utf8"));
    expect(serializePipeline(loaded.pipeline!)).toBe(loaded.text);
    expect(readdirSync(dir)).toEqual(["p.dag.json"]);
    writeFileSync(path, "not json");
    expect((await loadPipelineFile(path)).problems[0]!.message).toMatch(/Not valid JSON/);
    expect((await loadPipelineFile(join(dir, "none.dag.json"))).problems[0]!.message).toMatch(/No such file/);
  });
});

describe("unknown params", () => {
  const tuned = defineBlock({
    kind: "test.tuned",
    version: 1,
    title: "Tuned",
    category: "Test",
    description: "",
    inputs: {},
    outputs: { out: { type: "table" } },
    params: z.object({
      maxDepth: z.number().int().default(6),
      minSamplesLeaf: z.number().int().default(1),
      search: z
        .object({ strategy: z.enum(["grid", "random"]).default("grid"), folds: z.number().default(5) })
        .optional(),
      columns: z.record(z.string(), z.string()).default({}),
    }),
    run: noop,
  });
  const withTuned = makeCatalog([tuned]);
  const pipeline = (params: Record<string, unknown>) =>
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "t",
      nodes: [{ id: "t", block: "test.tuned", params }],
    });

  it("refuses a misspelled param, naming the nearest one", () => {
    expect(validatePipelineText(pipeline({ maxdepth: 2 }), withTuned).problems).toEqual([
      {
        path: "$.nodes[0].params.maxdepth",
        message: 'Unknown param "maxdepth" for test.tuned: did you mean "maxDepth"?',
      },
    ]);
    expect(validatePipelineText(pipeline({ minSampleLeaf: 2 }), withTuned).problems[0]!.message).toMatch(
      /did you mean "minSamplesLeaf"\?/,
    );
  });

  it("lists the params when nothing is near, and checks objects inside params", () => {
    expect(validatePipelineText(pipeline({ colour: "red" }), withTuned).problems[0]!.message).toBe(
      'Unknown param "colour" for test.tuned: known params: maxDepth, minSamplesLeaf, search, columns',
    );
    expect(validatePipelineText(pipeline({ search: { strategi: "grid" } }), withTuned).problems).toEqual([
      {
        path: "$.nodes[0].params.search.strategi",
        message: 'Unknown param "strategi" in search for test.tuned: did you mean "strategy"?',
      },
    ]);
    // Reported with the node's other problems, all at once.
    expect(
      validatePipelineText(pipeline({ maxdepth: 2, maxDepth: "deep" }), withTuned).problems.map(
        (p) => p.path,
      ),
    ).toEqual(["$.nodes[0].params.maxdepth", "$.nodes[0].params.maxDepth"]);
    // A record's keys are the user's own names.
    expect(validatePipelineText(pipeline({ columns: { anything: "VARCHAR" } }), withTuned).problems).toEqual(
      [],
    );
  });

  it("refuses unknown params in run as in validate (one planner), and for a ${param} value too", () => {
    const text = pipeline({ maxDepth: 3, maxdepth: "${d}" });
    const parsed = parsePipelineText(text.replace('"name":"t"', '"name":"t","params":{"d":2}'));
    expect(planPipeline(parsed.pipeline!, withTuned).plan).toBeUndefined();
    expect(planPipeline(parsed.pipeline!, withTuned).problems[0]!.path).toBe("$.nodes[0].params.maxdepth");
  });

  it("checks a ${param} that holds an object, and objects inside a union", () => {
    const text = pipeline({ search: "${s}" }).replace(
      '"name":"t"',
      '"name":"t","params":{"s":{"strategy":"grid","fold":3}}',
    );
    expect(validatePipelineText(text, withTuned).problems).toEqual([
      {
        path: "$.nodes[0].params.search.fold",
        message: 'Unknown param "fold" in search for test.tuned: did you mean "folds"?',
      },
    ]);
    const ranged = defineBlock({
      kind: "test.ranged",
      version: 1,
      title: "Ranged",
      category: "Test",
      description: "",
      inputs: {},
      outputs: { out: { type: "table" } },
      run: noop,
      params: z.object({
        space: z.record(
          z.string(),
          z.union([
            z.array(z.number()),
            z.object({ min: z.number(), max: z.number(), log: z.boolean().optional() }),
          ]),
        ),
      }),
    });
    const catalogRanged = makeCatalog([ranged]);
    const node = (space: unknown) =>
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "r",
        nodes: [{ id: "r", block: "test.ranged", params: { space } }],
      });
    expect(
      validatePipelineText(node({ a: [1, 2], b: { min: 1, max: 2, log: true } }), catalogRanged).problems,
    ).toEqual([]);
    expect(validatePipelineText(node({ b: { min: 1, max: 2, lgo: true } }), catalogRanged).problems).toEqual([
      {
        path: "$.nodes[0].params.space.b.lgo",
        message: 'Unknown param "lgo" in space.b for test.ranged: did you mean "log"?',
      },
    ]);
  });
});

describe("--param names", () => {
  it("refuses __proto__ and other names the pipeline does not declare, as any undeclared name", () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      const overrides = parseOverrides([`${name}=1`]);
      expect(Object.keys(overrides)).toEqual([name]);
      const { plan, problems } = validatePipelineText(JSON.stringify(good), catalog, overrides);
      expect(plan, name).toBeUndefined();
      expect(problems, name).toEqual([
        { path: "$.params", message: expect.stringContaining(`no parameter "${name}"`) },
      ]);
    }
    expect(Object.getPrototypeOf(parseOverrides(['__proto__={"polluted":1}']))).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses an override nested too deep", () => {
    const deep = `${"[".repeat(200)}${"]".repeat(200)}`;
    const { problems } = validatePipelineText(
      JSON.stringify(good),
      catalog,
      parseOverrides([`seed=${deep}`]),
    );
    expect(problems[0]!.message).toMatch(/--param seed: .*nested more than 64 levels/);
  });
});

describe("limits on pipeline files", () => {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-limits-"));

  it("refuses deep nesting with a message instead of overflowing the stack", async () => {
    // 6 KB, nested 3,000 levels: the walks over params used to overflow the stack.
    const deep = `${"[".repeat(3000)}${"]".repeat(3000)}`;
    const text = JSON.stringify({
      ...good,
      nodes: [{ id: "src", block: "test.source", params: { path: "x" } }],
    }).replace('"path":"x"', `"path":${deep}`);
    expect(text.length).toBeLessThan(7000);
    const { problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([
      {
        path: "$",
        message: expect.stringMatching(/^At line 1, column \d+: nested more than 64 levels deep/),
      },
    ]);
    // 200,000 levels, and objects rather than arrays, in a file.
    const path = join(dir, "deep.dag.json");
    writeFileSync(
      path,
      `{"format":"dagwood.pipeline/1","name":"x","nodes":${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}}`,
    );
    expect((await loadPipelineFile(path)).problems[0]!.message).toMatch(/nested more than 64 levels deep/);
    // A parsed document (the Api's) is checked without recursion too.
    let nested: unknown = 1;
    for (let i = 0; i < 100_000; i++) nested = [nested];
    expect(parsePipelineObject({ ...good, params: { seed: nested } }).problems[0]).toEqual({
      path: expect.stringMatching(/^\$\.params\.seed(\[0\]){62}$/),
      message: expect.stringMatching(/nested more than 64 levels deep/),
    });
  });

  it("accepts a UTF-8 byte order mark", async () => {
    const path = join(dir, "bom.dag.json");
    writeFileSync(path, `\uFEFF${JSON.stringify(good)}`);
    const loaded = await loadPipelineFile(path);
    expect(loaded.problems).toEqual([]);
    expect(loaded.pipeline!.name).toBe("demo");
  });

  it("refuses a file over 16 MiB before reading it, and strings over their limits, with their paths", async () => {
    const big = join(dir, "big.dag.json");
    writeFileSync(big, JSON.stringify({ ...good, description: "x".repeat(17 * 1024 * 1024) }));
    expect((await loadPipelineFile(big)).problems).toEqual([
      {
        path: "$",
        message: expect.stringMatching(/^The file is 17\.0 MiB; a pipeline file may be at most 16\.0 MiB/),
      },
    ]);
    expect((await loadPipelineFile(dir)).problems[0]!.message).toMatch(/is a folder/);
    const long = (extra: object) => parsePipelineText(JSON.stringify({ ...good, ...extra })).problems;
    expect(long({ description: "d".repeat(10_001) })).toEqual([
      { path: "$.description", message: "a description is at most 10,000 characters" },
    ]);
    expect(long({ description: "d".repeat(10_000) })).toEqual([]);
    expect(long({ name: "n".repeat(201) })[0]).toEqual({
      path: "$.name",
      message: "a name is at most 200 characters",
    });
    expect(long({ params: { seed: "s".repeat(100_001) } })[0]).toEqual({
      path: "$.params.seed",
      message: "This text is 100,001 characters long; at most 100,000 are allowed",
    });
    expect(long({ params: { ["k".repeat(100_001)]: 1 } })[0]!.message).toMatch(
      /^This key is 100,001 characters long/,
    );
  });
});
