/**
 * Schema propagation without running (app/engine/schema.ts and each block's
 * outputSchema), checked against what DuckDB makes in a real run of every
 * example pipeline: the inferred columns must be the run's own.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runPlan } from "../app/engine/engine";
import type { ColumnInfo } from "../app/engine/ports";
import { inferSchemas } from "../app/engine/schema";
import type { Pipeline } from "../app/pipeline/schema";
import { jsonPath, parsePipelineObject, planPipeline } from "../app/pipeline/validate";
import { Project } from "../app/project/project";
import { catalog } from "./index";

const STARTER = resolve(import.meta.dirname, "../resources/examples/starter");
const VEGA_DATA = resolve(import.meta.dirname, "../node_modules/vega-datasets/data");

let dir: string;
let project: Project;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-schema-"));
  cpSync(STARTER, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
  // The copy lives elsewhere: the flights data folder is named by its absolute path.
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "starter", dataFolders: [VEGA_DATA] }));
  project = await Project.open(dir, { threads: 2 });
}, 60_000);

afterAll(() => {
  project?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An example pipeline, with its training made small (schemas do not depend on epochs or trees). */
function example(name: string): Pipeline {
  const json = JSON.parse(readFileSync(join(dir, `${name}.dag.json`), "utf8"));
  for (const node of json.nodes) {
    if (node.block === "train.mlp") node.params.epochs = 2;
    if (node.block === "train.gbdt" || node.block === "train.forest") node.params.trees = 5;
    if (node.block === "ingest.file" && node.params.path.includes("vega-datasets")) {
      node.params.path = join(VEGA_DATA, "flights-3m.parquet");
    }
  }
  const parsed = parsePipelineObject(json);
  if (!parsed.pipeline) throw new Error(JSON.stringify(parsed.problems));
  return parsed.pipeline;
}

const infer = (pipeline: Pipeline, timeoutMs?: number) =>
  inferSchemas({ pipeline, catalog, projectDir: dir, allowedDirs: project.allowedDirs, timeoutMs });

async function tableColumns(table: string): Promise<ColumnInfo[]> {
  const sql = await project.workspace.session();
  try {
    return await sql.columns(table);
  } finally {
    sql.close();
  }
}

/** Runs the pipeline and compares every output with its inferred schema; answers how many matched exactly. */
async function compareWithRun(
  pipeline: Pipeline,
): Promise<{ exact: number; open: number; subset: number; models: number }> {
  const inferred = await infer(pipeline);
  expect(inferred.problems).toEqual([]);
  expect(inferred.timedOut).toEqual([]);
  const { plan, problems } = planPipeline(pipeline, catalog);
  expect(problems).toEqual([]);
  const summary = await runPlan({ project, plan: plan!, cpuSlots: 1 });
  expect(summary.nodes.filter((n) => n.error).map((n) => `${n.id}: ${n.error}`)).toEqual([]);
  const counts = { exact: 0, open: 0, subset: 0, models: 0 };
  for (const node of summary.nodes) {
    for (const [port, out] of Object.entries(node.outputs)) {
      const schema = inferred.schemas[node.id]?.[port];
      const where = `${node.id}.${port}`;
      if (out.type === "table") {
        expect(schema, where).toBeTruthy();
        const real = await tableColumns(out.table!);
        if (schema!.open) {
          // predict's probability_<class> columns: the known ones come first, then the rest.
          expect(real.slice(0, schema!.columns.length), where).toEqual(schema!.columns);
          expect(real.length, where).toBeGreaterThan(schema!.columns.length);
          counts.open++;
        } else if (schema!.subset) {
          // select.features' thresholds: the run keeps some of the inferred columns, in their order.
          expect(
            schema!.columns.filter((c) => real.some((r) => r.name === c.name)),
            where,
          ).toEqual(real);
          counts.subset++;
        } else {
          expect(real, where).toEqual(schema!.columns);
          counts.exact++;
        }
      } else if (out.type === "model") {
        const model = JSON.parse(
          readFileSync(join(dir, ".dagwood", "artifacts", summary.runId, node.id, "model.json"), "utf8"),
        );
        const inputs = model.signature.inputs.map((i: { name: string; sourceType: string }) => ({
          name: i.name,
          type: i.sourceType,
        }));
        expect(schema?.columns, where).toEqual(inputs);
        expect(schema?.target, where).toEqual({ name: model.target, type: model.targetType });
        // The model says binary or multiclass; the schema, classification.
        if (schema?.task) expect(schema.task === "regression", where).toBe(model.task === "regression");
        counts.models++;
      } else {
        expect(schema, where).toBeNull();
      }
    }
  }
  return counts;
}

describe("inferred schemas equal a real run's", () => {
  it("weather-model: ingest, SQL, stratified split, five models", async () => {
    const counts = await compareWithRun(example("weather-model"));
    // weather.out, features.out, split.train, split.test
    expect(counts).toEqual({ exact: 4, open: 0, subset: 0, models: 5 });
  }, 180_000);

  it("penguins-model: and predict's label before its per-class probabilities", async () => {
    const counts = await compareWithRun(example("penguins-model"));
    // Exact: ingest, the suite check's out and rejected, split's train and test.
    expect(counts).toEqual({ exact: 5, open: 1, subset: 0, models: 5 });
  }, 180_000);

  it("penguins: clean's imputation keeps the columns and types", async () => {
    expect(await compareWithRun(example("penguins"))).toEqual({ exact: 4, open: 0, subset: 0, models: 0 });
  }, 120_000);

  it("cars-model: JSON ingest, casts and date parts in SQL, regression models", async () => {
    expect(await compareWithRun(example("cars-model"))).toEqual({ exact: 4, open: 0, subset: 0, models: 5 });
  }, 180_000);

  it("flights: Parquet ingest of 3 million rows, described without reading them", async () => {
    expect(await compareWithRun(example("flights"))).toEqual({ exact: 4, open: 0, subset: 0, models: 0 });
  }, 180_000);

  it("clean's drop, rename and cast (DuckDB's type names), then shuffle", async () => {
    const pipeline = example("penguins");
    const clean = pipeline.nodes.find((n) => n.id === "clean")!;
    clean.params = {
      drop: ["island"],
      rename: { sex: "gender" },
      cast: { body_mass_g: "double", flipper_length_mm: "int" },
      missing: { strategy: "drop-rows" },
      outliers: { method: "iqr", columns: ["body_mass_g"] },
    };
    pipeline.nodes.push({ id: "shuffled", block: "shuffle", params: {} });
    pipeline.edges.push({ from: "clean.out", to: "shuffled.in" });
    const inferred = await infer(pipeline);
    expect(inferred.schemas.clean?.out?.columns).toContainEqual({
      name: "flipper_length_mm",
      type: "INTEGER",
    });
    expect(await compareWithRun(pipeline)).toEqual({ exact: 5, open: 0, subset: 0, models: 0 });
  }, 120_000);

  it("flights-model (not run: it trains on a million rows): every model's columns known from the SQL", async () => {
    const inferred = await infer(example("flights-model"));
    expect(inferred.problems).toEqual([]);
    const names = (id: string) => inferred.schemas[id]?.model?.columns.map((c) => c.name);
    for (const id of ["gbdt", "forest", "logistic", "mlp", "tree"]) {
      expect(names(id), id).toEqual(["hour", "weekday", "month", "distance", "origin", "destination"]);
      expect(inferred.schemas[id]?.model?.target, id).toEqual({ name: "delayed", type: "BOOLEAN" });
      // A boolean target: classification, whatever the data.
      expect(inferred.schemas[id]?.model?.task, id).toBe("classification");
    }
  }, 60_000);
});

/** A pipeline over the project's penguins.csv. */
function penguinsPipeline(nodes: Pipeline["nodes"], edges: [string, string][]): Pipeline {
  const parsed = parsePipelineObject({
    format: "dagwood.pipeline/1",
    name: "blocks",
    params: {},
    nodes,
    edges: edges.map(([from, to]) => ({ from, to })),
    layout: {},
  });
  if (!parsed.pipeline) throw new Error(JSON.stringify(parsed.problems));
  return parsed.pipeline;
}

describe("each block's declaration, against a run", () => {
  it("ingest overrides, select.features' keep, regression predict, SQL over two inputs and a project file", async () => {
    const pipeline = penguinsPipeline(
      [
        {
          id: "penguins",
          block: "ingest.file",
          params: { path: "data/penguins.csv", columns: { body_mass_g: "DOUBLE", sex: "VARCHAR" } },
        },
        {
          id: "pick",
          block: "select.features",
          params: {
            target: "species",
            keep: ["island", "beak_length_mm", "body_mass_g"],
            dropConstant: false,
            nearConstantThreshold: 1,
            correlationThreshold: 1,
          },
        },
        { id: "split", block: "split", params: { testFraction: 0.3, seed: 1 } },
        { id: "ridge", block: "train.linear", params: { target: "body_mass_g" } },
        { id: "scores", block: "predict", params: {} },
        {
          id: "joined",
          block: "transform.sql",
          params: {
            query:
              "SELECT i.*, o.n, o.n * 1.5 AS half_again FROM input i CROSS JOIN (SELECT count(*)::INTEGER AS n FROM other) o",
          },
        },
        {
          id: "file",
          block: "transform.sql",
          params: {
            query: "SELECT species, avg(flipper_length_mm) AS flipper FROM 'data/penguins.csv' GROUP BY ALL",
          },
        },
      ],
      [
        ["penguins.out", "pick.in"],
        ["pick.out", "split.in"],
        ["split.train", "ridge.train"],
        ["ridge.model", "scores.model"],
        ["split.test", "scores.data"],
        ["scores.out", "joined.in"],
        ["split.train", "joined.other"],
        ["penguins.out", "file.in"],
      ],
    );
    const inferred = await infer(pipeline);
    expect(inferred.schemas.scores?.out?.columns.at(-1)).toEqual({ name: "prediction", type: "DOUBLE" });
    expect(inferred.schemas.ridge?.model?.task).toBe("regression");
    expect(await compareWithRun(pipeline)).toEqual({ exact: 7, open: 0, subset: 0, models: 1 });
  }, 120_000);

  it("SELECT * over input and other: the names both hold, as DuckDB renames them in the run", async () => {
    const pipeline = penguinsPipeline(
      [
        { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
        { id: "split", block: "split", params: { testFraction: 0.3, seed: 1 } },
        { id: "cross", block: "transform.sql", params: { query: "SELECT * FROM input, other LIMIT 3" } },
        {
          id: "using",
          block: "transform.sql",
          params: {
            query: 'SELECT *, input."Island" AS "ISLAND" FROM input JOIN other USING (species) LIMIT 3',
          },
        },
      ],
      [
        ["penguins.out", "split.in"],
        ["split.train", "cross.in"],
        ["split.test", "cross.other"],
        ["split.train", "using.in"],
        ["split.test", "using.other"],
      ],
    );
    const inferred = await infer(pipeline);
    expect(inferred.schemas.cross?.out?.columns.map((c) => c.name)).toContain("species_1");
    expect(await compareWithRun(pipeline)).toEqual({ exact: 5, open: 0, subset: 0, models: 0 });
  }, 120_000);

  it("select.features with its thresholds on: the columns it may keep", async () => {
    const pipeline = penguinsPipeline(
      [
        { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
        { id: "pick", block: "select.features", params: { target: "species", topK: 2 } },
      ],
      [["penguins.out", "pick.in"]],
    );
    const inferred = await infer(pipeline);
    expect(inferred.schemas.pick?.out?.subset).toMatch(/outside the top k/);
    expect(await compareWithRun(pipeline)).toEqual({ exact: 1, open: 0, subset: 1, models: 0 });
  }, 60_000);
});

describe("a block's own refusals, before any run", () => {
  const one = (node: Pipeline["nodes"][number]) =>
    penguinsPipeline(
      [{ id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } }, node],
      [["penguins.out", `${node.id}.in`]],
    );

  it("a time split on a text column", async () => {
    const { problems } = await infer(
      one({ id: "s", block: "split", params: { strategy: "time", column: "island" } }),
    );
    expect(problems).toEqual([
      {
        path: "$.nodes[1].params.column",
        message:
          'The time split orders rows by "island", which is VARCHAR. Choose a date, timestamp or numeric column, or cast it first (e.g. with transform.sql).',
      },
    ]);
  });

  it("clean: a type DuckDB does not know, a rename of a dropped column, a cast under the old name", async () => {
    const { problems, schemas } = await infer(
      one({
        id: "c",
        block: "clean",
        params: {
          drop: ["island"],
          rename: { island: "isle", sex: "gender" },
          cast: { sex: "VARCHAR", body_mass_g: "MONEY" },
        },
      }),
    );
    expect(problems).toEqual([
      { path: "$.nodes[1].params.rename.island", message: 'rename names "island", which drop removes.' },
      {
        path: "$.nodes[1].params.cast.body_mass_g",
        message: expect.stringMatching(/^Unknown type "MONEY" for column "body_mass_g" in cast/),
      },
      {
        path: "$.nodes[1].params.cast.sex",
        message: expect.stringMatching(
          /^cast "sex" is not a column of penguins\.out after drop and rename \(columns: .*gender/,
        ),
      },
    ]);
    expect(schemas.c?.out?.columns.map((c) => c.name)).toContain("gender");
  });

  it("ingest: an override for a column the file lacks", async () => {
    const pipeline = penguinsPipeline(
      [{ id: "p", block: "ingest.file", params: { path: "data/penguins.csv", columns: { mass: "DOUBLE" } } }],
      [],
    );
    const { problems } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: "$.nodes[0].params.path",
        message: expect.stringMatching(
          /^"columns" sets a type for "mass", but data\/penguins\.csv has no such column/,
        ),
      },
    ]);
  });
});

describe("ingest.file: a malformed CSV, before any run", () => {
  it("names the row at fault as the run does, rather than describe one column", async () => {
    writeFileSync(join(dir, "data", "bad-rows.csv"), "a,b\n1,2\n3,4\n5,6,7\n8,9\n");
    writeFileSync(join(dir, "data", "short-rows.csv"), "a,b\n1,2\n3\n4,5\n");
    for (const [file, line, fields] of [
      ["bad-rows.csv", 4, 3],
      ["short-rows.csv", 3, 1],
    ] as const) {
      const pipeline = penguinsPipeline(
        [{ id: "p", block: "ingest.file", params: { path: `data/${file}` } }],
        [],
      );
      const message = `Could not read data/${file}: line ${line} has ${fields} fields, expected 2`;
      const { problems, schemas } = await infer(pipeline);
      expect(problems, file).toEqual([
        { path: "$.nodes[0].params.path", message: expect.stringContaining(message) },
      ]);
      expect(schemas.p?.out, file).toBeNull();
      const { plan } = planPipeline(pipeline, catalog);
      const summary = await runPlan({ project, plan: plan!, cpuSlots: 1 });
      expect(summary.nodes[0]?.error, file).toContain(message);
    }
  });
});

/** The weather-model example with one node's params changed. */
function weatherWith(id: string, params: Record<string, unknown>): { pipeline: Pipeline; index: number } {
  const pipeline = example("weather-model");
  const index = pipeline.nodes.findIndex((n) => n.id === id);
  pipeline.nodes[index]!.params = { ...pipeline.nodes[index]!.params, ...params };
  return { pipeline, index };
}

describe("problems found before any run", () => {
  it("names an unknown target, the table it is not in, its columns and the nearest name", async () => {
    const { pipeline, index } = weatherWith("gbdt", { target: "weathr" });
    const { problems, schemas } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.target`,
        message:
          'target "weathr" is not a column of split.train (columns: month, precipitation, temp_max, temp_min, wind, weather; did you mean "weather"?)',
      },
    ]);
    expect(schemas.gbdt?.model).toBeNull();
    // The other models are unaffected.
    expect(schemas.forest?.model?.target).toEqual({ name: "weather", type: "VARCHAR" });
  });

  it("names each unknown feature at its index, and a stratify column in any letter case passes", async () => {
    const { pipeline, index } = weatherWith("tree", { features: ["wind", "tmp_max", "month"] });
    pipeline.nodes.find((n) => n.id === "split")!.params.column = "WEATHER";
    const { problems, schemas } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.features[1]`,
        message: expect.stringMatching(
          /^features "tmp_max" is not a column of split\.train \(columns: .*; did you mean "temp_max"\?\)$/,
        ),
      },
    ]);
    expect(schemas.tree?.model?.columns.map((c) => c.name)).toEqual(["wind", "month"]);
  });

  it("reports SQL that DuckDB refuses with DuckDB's message, and leaves what follows unknown", async () => {
    const { pipeline, index } = weatherWith("features", {
      query: "SELECT month(date) AS month, nope FROM input",
    });
    const { problems, schemas } = await infer(pipeline);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(`$.nodes[${index}].params.query`);
    expect(problems[0]!.message).toMatch(
      /^SQL error in transform\.sql: Binder Error: Referenced column "nope" not found/,
    );
    expect(schemas.features?.out).toBeNull();
    expect(schemas.split?.train).toBeNull();
    // Nothing downstream is reported against a schema nobody knows.
    expect(schemas.gbdt?.model).toBeNull();
  });

  it("refuses what the run refuses: input and other are views there, with no rowid", async () => {
    const { pipeline, index } = weatherWith("features", {
      query: "SELECT rowid AS r, month(date) AS month, * EXCLUDE (date) FROM input",
    });
    const { problems } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.query`,
        message: expect.stringMatching(/^SQL error in transform\.sql: Binder Error: .*"rowid" not found/),
      },
    ]);
    const { plan } = planPipeline(pipeline, catalog);
    const summary = await runPlan({ project, plan: plan!, targets: ["features"], cpuSlots: 1 });
    const ran = summary.nodes.find((n) => n.id === "features");
    expect(ran?.status).toBe("failed");
    expect(ran?.error).toMatch(/"rowid" not found/);
  });

  it("refuses a statement that is not a SELECT without running it", async () => {
    const { pipeline, index } = weatherWith("features", { query: "DROP TABLE input" });
    const { problems } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.query`,
        message: expect.stringMatching(/runs a single SELECT .*found DROP/),
      },
    ]);
  });

  it("reports a missing file at its path param", async () => {
    const { pipeline, index } = weatherWith("weather", { path: "data/no-such.csv" });
    const { problems, schemas } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.path`,
        message: "File not found: data/no-such.csv. Check the path; it is relative to the project folder.",
      },
    ]);
    expect(schemas.weather?.out).toBeNull();
  });

  it("reports a file outside the project, and never reads it", async () => {
    const { pipeline, index } = weatherWith("weather", { path: "/etc/passwd" });
    const { problems } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}].params.path`,
        message: expect.stringMatching(/is outside the project folder/),
      },
    ]);
  });

  it("reports data that lacks the model's columns on evaluate", async () => {
    const pipeline = example("weather-model");
    // eval_gbdt scores the raw table, before the SQL made "month".
    pipeline.edges = pipeline.edges.map((e) =>
      e.to === "eval_gbdt.data" ? { from: "weather.out", to: "eval_gbdt.data" } : e,
    );
    const index = pipeline.nodes.findIndex((n) => n.id === "eval_gbdt");
    const { problems } = await infer(pipeline);
    expect(problems).toEqual([
      {
        path: `$.nodes[${index}]`,
        message: expect.stringMatching(
          /^The data \(weather\.out\) lacks column\(s\) "month", which the model \(gbdt\.model\) reads/,
        ),
      },
    ]);
  });

  it("writes nothing in the project, and gives up on what the time limit does not reach", async () => {
    const before = readdirSync(dir, { recursive: true }).sort();
    const { schemas, timedOut, problems } = await infer(example("weather-model"), 0);
    expect(problems).toEqual([]);
    expect(timedOut).toContain("weather");
    expect(schemas.weather?.out).toBeNull();
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(before);
  });
});

type ZodDef = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> };
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** Every param a block declares as naming a column (meta picker "column" or "columns"), with its path. */
function columnParams(schema: z.ZodType, path: string[] = []): { path: string[]; list: boolean }[] {
  let s: z.ZodType | undefined = schema;
  let picker: unknown;
  while (s) {
    picker ??= (z.globalRegistry.get(s) as { picker?: unknown } | undefined)?.picker;
    const def = defOf(s);
    if (def.type === "object") {
      return Object.entries(def.shape!).flatMap(([key, child]) => columnParams(child, [...path, key]));
    }
    s = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
  }
  return picker === "column" || picker === "columns" ? [{ path, list: picker === "columns" }] : [];
}

describe("every param that names a column is checked before a run", () => {
  const found = [...catalog.values()].flatMap((block) =>
    columnParams(block.params).map((param) => ({ block, ...param })),
  );

  it("finds the column params the blocks declare", () => {
    // A guard against a walk that finds nothing: the train blocks' target alone is six.
    expect(found.length).toBeGreaterThanOrEqual(12);
  });

  for (const { block, path, list } of found) {
    it(`${block.kind} ${path.join(".")}`, async () => {
      // rows.csv (a, b, y) feeds the block; a model, where it takes one, is a tree on the same rows.
      writeFileSync(join(dir, "data", "rows.csv"), "a,b,y\n1,2,x\n3,4,z\n5,6,x\n");
      const params: Record<string, unknown> = block.kind.startsWith("train.")
        ? { target: "y" }
        : block.kind === "split"
          ? { strategy: "stratified", column: "y" }
          : block.kind === "clean" && path[0] === "outliers"
            ? { outliers: { method: "iqr" } }
            : {};
      let at: Record<string, unknown> = params;
      for (const key of path.slice(0, -1)) {
        at[key] ??= {};
        at = at[key] as Record<string, unknown>;
      }
      at[path.at(-1)!] = list ? ["a", "nope"] : "nope";
      const nodes: Pipeline["nodes"] = [
        { id: "rows", block: "ingest.file", params: { path: "data/rows.csv" } },
        { id: "tree", block: "train.tree", params: { target: "y" } },
        { id: "x", block: block.kind, params },
      ];
      const table = Object.entries(block.inputs).find(([, spec]) => spec.type === "table")![0];
      const edges: [string, string][] = [
        ["rows.out", "tree.train"],
        ["rows.out", `x.${table}`],
      ];
      if (block.inputs.model) edges.push(["tree.model", "x.model"]);
      const { problems } = await infer(penguinsPipeline(nodes, edges));
      expect(problems).toEqual([
        {
          path: jsonPath(["nodes", 2, "params", ...path, ...(list ? [1] : [])]),
          // clean's later steps see the columns after drop, rename and cast, and say so.
          message: expect.stringMatching(
            /"nope" is not a column of rows\.out( after [a-z ,]+)? \(columns: a, b, y\)$/,
          ),
        },
      ]);
    });
  }
});
