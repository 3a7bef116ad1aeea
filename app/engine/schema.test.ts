/**
 * The walk over a pipeline that infers schemas without running (blocks of
 * their own here; nodes/schema.test.ts checks the real catalog against runs).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Pipeline } from "../pipeline/schema";
import { BlockError, defineBlock, makeCatalog } from "./block";
import { inferSchemas, unknownColumnMessage } from "./schema";

const dir = mkdtempSync(join(tmpdir(), "dagwood-infer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const source = defineBlock({
  kind: "test.source",
  version: 1,
  title: "Source",
  category: "Test",
  description: "columns named by a param",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({ columns: z.array(z.string()).default(["a", "b"]), open: z.boolean().default(false) }),
  outputSchema: (_ctx, _inputs, p) => ({
    out: {
      columns: p.columns.map((name) => ({ name, type: "BIGINT" })),
      ...(p.open ? { open: "and more" } : {}),
    },
  }),
  run: async () => ({}),
});

const pick = defineBlock({
  kind: "test.pick",
  version: 1,
  title: "Pick",
  category: "Test",
  description: "keeps the named columns",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params: z.object({ keep: z.array(z.string()).default([]), sleepMs: z.number().default(0) }),
  async outputSchema(ctx, inputs, p) {
    if (p.sleepMs) await new Promise((r) => setTimeout(r, p.sleepMs));
    const found = ctx.checkColumns("in", ["keep"], p.keep);
    return { out: inputs.in && { columns: found } };
  },
  run: async () => ({}),
});

const refuse = defineBlock({
  kind: "test.refuse",
  version: 1,
  title: "Refuse",
  category: "Test",
  description: "throws",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params: z.object({ block: z.boolean().default(true) }),
  outputSchema(_ctx, _inputs, p) {
    throw p.block ? new BlockError("This cannot be done: do that instead.") : new Error("a bug");
  },
  run: async () => ({}),
});

const opaque = defineBlock({
  kind: "test.opaque",
  version: 1,
  title: "Opaque",
  category: "Test",
  description: "declares no schema",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params: z.object({}),
  run: async () => ({}),
});

/** Runs the statements it is given in the sandbox and records what each did (DuckDB's answer, or its refusal). */
const outcomes = new Map<string, string>();
const statements = defineBlock({
  kind: "test.statements",
  version: 1,
  title: "Statements",
  category: "Test",
  description: "runs SQL in the sandbox",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({ sql: z.array(z.string()) }),
  async outputSchema(ctx, _inputs, p) {
    for (const sql of p.sql) {
      try {
        outcomes.set(sql, `ran: ${JSON.stringify(await ctx.sql.all(sql))}`);
      } catch (e) {
        outcomes.set(sql, `refused: ${(e as Error).message}`);
      }
    }
    return { out: undefined };
  },
  run: async () => ({}),
});

/** Memoizes its columns under `key`; `slow` computes them with a query the time limit cuts off. */
const memoized = defineBlock({
  kind: "test.memo",
  version: 1,
  title: "Memo",
  category: "Test",
  description: "a memoized schema",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({ key: z.string(), slow: z.boolean().default(false) }),
  async outputSchema(ctx, _inputs, p) {
    const columns = await ctx.memo(p.key, async () => {
      if (p.slow) await ctx.sql.all("SELECT count(*) FROM range(1000000000000)");
      return [{ name: "m", type: "INTEGER" }];
    });
    return { out: { columns } };
  },
  run: async () => ({}),
});

const catalog = makeCatalog([source, pick, refuse, opaque, statements, memoized]);

function pipeline(nodes: Pipeline["nodes"], edges: [string, string][]): Pipeline {
  return {
    format: "dagwood.pipeline/1",
    name: "t",
    params: { cols: ["x", "y"] },
    nodes,
    edges: edges.map(([from, to]) => ({ from, to })),
    layout: {},
  } as Pipeline;
}

const infer = (p: Pipeline, timeoutMs?: number) =>
  inferSchemas({ pipeline: p, catalog, projectDir: dir, allowedDirs: [dir], timeoutMs });

describe("inferSchemas", () => {
  it("carries columns down the graph and names each unknown one with its path, table and nearest name", async () => {
    const { schemas, problems } = await infer(
      pipeline(
        [
          { id: "src", block: "test.source", params: { columns: ["alpha", "beta", "gamma"] } },
          { id: "p", block: "test.pick", params: { keep: ["alpha", "betta", "zzz"] } },
          { id: "q", block: "test.pick", params: { keep: ["alpha"] } },
        ],
        [
          ["src.out", "p.in"],
          ["p.out", "q.in"],
        ],
      ),
    );
    expect(problems).toEqual([
      {
        path: "$.nodes[1].params.keep[1]",
        message:
          'keep "betta" is not a column of src.out (columns: alpha, beta, gamma; did you mean "beta"?)',
      },
      {
        path: "$.nodes[1].params.keep[2]",
        message: 'keep "zzz" is not a column of src.out (columns: alpha, beta, gamma)',
      },
    ]);
    expect(schemas.q?.out?.columns).toEqual([{ name: "alpha", type: "BIGINT" }]);
  });

  it("resolves ${params}; leaves unknown a node whose params do not parse, and what follows it", async () => {
    const { schemas, problems } = await infer(
      pipeline(
        [
          { id: "src", block: "test.source", params: { columns: "${cols}" } },
          { id: "bad", block: "test.pick", params: { keep: 7 } },
          { id: "after", block: "test.pick", params: { keep: ["nothing"] } },
        ],
        [
          ["src.out", "bad.in"],
          ["bad.out", "after.in"],
        ],
      ),
    );
    expect(schemas.src?.out?.columns.map((c) => c.name)).toEqual(["x", "y"]);
    expect(schemas.bad).toEqual({ out: null });
    expect(schemas.after).toEqual({ out: null });
    // Validation reports the bad param; nothing is reported against a schema nobody knows.
    expect(problems).toEqual([]);
  });

  it("reports no unknown column against an open schema", async () => {
    const { problems } = await infer(
      pipeline(
        [
          { id: "src", block: "test.source", params: { open: true } },
          { id: "p", block: "test.pick", params: { keep: ["probability_x"] } },
        ],
        [["src.out", "p.in"]],
      ),
    );
    expect(problems).toEqual([]);
  });

  it("turns a block's refusal into a problem on the node; any other failure leaves it unknown", async () => {
    const { schemas, problems } = await infer(
      pipeline(
        [
          { id: "src", block: "test.source", params: {} },
          { id: "no", block: "test.refuse", params: {} },
          { id: "bug", block: "test.refuse", params: { block: false } },
          { id: "dark", block: "test.opaque", params: {} },
        ],
        [
          ["src.out", "no.in"],
          ["src.out", "bug.in"],
          ["src.out", "dark.in"],
        ],
      ),
    );
    expect(problems).toEqual([{ path: "$.nodes[1]", message: "This cannot be done: do that instead." }]);
    expect(schemas.bug).toEqual({ out: null });
    expect(schemas.dark).toEqual({ out: null });
  });

  it("survives a cycle and an unknown block", async () => {
    const { schemas } = await infer(
      pipeline(
        [
          { id: "a", block: "test.pick", params: {} },
          { id: "b", block: "test.pick", params: {} },
          { id: "x", block: "from.the.future", params: {} },
        ],
        [
          ["a.out", "b.in"],
          ["b.out", "a.in"],
        ],
      ),
    );
    expect(schemas).toEqual({ a: { out: null }, b: { out: null } });
  });

  it("gives up on a node that outlasts the time limit, and on the rest", async () => {
    const { schemas, timedOut } = await infer(
      pipeline(
        [
          { id: "src", block: "test.source", params: {} },
          { id: "slow", block: "test.pick", params: { keep: ["a"], sleepMs: 5000 } },
          { id: "after", block: "test.pick", params: { keep: ["a"] } },
        ],
        [
          ["src.out", "slow.in"],
          ["slow.out", "after.in"],
        ],
      ),
      300,
    );
    expect(timedOut).toEqual(["slow", "after"]);
    expect(schemas.src?.out?.columns).toHaveLength(2);
    expect(schemas.slow).toEqual({ out: null });
  });
});

describe("an aborted call", () => {
  it("stops the statement under way and answers, the rest left unknown", { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    const call = inferSchemas({
      pipeline: pipeline(
        [
          { id: "src", block: "test.source", params: {} },
          { id: "endless", block: "test.memo", params: { key: `abort-${Math.random()}`, slow: true } },
        ],
        [],
      ),
      catalog,
      projectDir: dir,
      allowedDirs: [dir],
      timeoutMs: 10 * 60_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 200);
    const { schemas, timedOut } = await call;
    expect(timedOut).toEqual(["endless"]);
    expect(schemas.src?.out?.columns).toHaveLength(2);
    expect(schemas.endless).toEqual({ out: null });
  });
});

describe("values memoized across calls", () => {
  it("a call does not take the failure of another call's computation, cut off by that call's time limit", async () => {
    const key = `memo-${Math.random()}`;
    const first = infer(pipeline([{ id: "m", block: "test.memo", params: { key, slow: true } }], []), 300);
    await new Promise((r) => setTimeout(r, 100));
    const second = infer(pipeline([{ id: "m", block: "test.memo", params: { key } }], []));
    expect((await first).timedOut).toEqual(["m"]);
    const { schemas, problems } = await second;
    expect(problems).toEqual([]);
    expect(schemas.m?.out?.columns).toEqual([{ name: "m", type: "INTEGER" }]);
  });
});

describe("the sandbox a block's schema code runs in", () => {
  it("reads the allowed folders only, and writes nothing anywhere: no COPY, ATTACH, EXPORT, INSTALL, LOAD, SET", async () => {
    const box = mkdtempSync(join(dir, "box-"));
    writeFileSync(join(box, "a.csv"), "x,y\n1,2\n");
    const reads = [
      `SELECT * FROM read_csv('${box}/a.csv')`,
      "CREATE OR REPLACE TEMP TABLE t AS SELECT 1 AS a",
      "DESCRIBE t",
      "DROP TABLE temp.main.t",
    ];
    const refused = [
      `COPY (SELECT 1) TO '${box}/out.csv'`,
      `ATTACH '${box}/x.duckdb' AS x`,
      `EXPORT DATABASE '${box}/export'`,
      `SELECT 1; COPY (SELECT 1) TO '${box}/two.csv'`,
      "INSTALL httpfs",
      "LOAD httpfs",
      "SET enable_external_access = true",
      "SET allowed_directories = ['/']",
      "SELECT * FROM read_text('/etc/hostname')",
    ];
    outcomes.clear();
    const { problems } = await infer(
      pipeline([{ id: "s", block: "test.statements", params: { sql: [...reads, ...refused] } }], []),
    );
    expect(problems).toEqual([]);
    expect(outcomes.get(reads[0]!)).toBe('ran: [{"x":1,"y":2}]');
    for (const sql of reads) expect(outcomes.get(sql), sql).toMatch(/^ran: /);
    for (const sql of refused) expect(outcomes.get(sql), sql).toMatch(/^refused: /);
    expect(readdirSync(box)).toEqual(["a.csv"]);
    expect(existsSync(join(box, "export"))).toBe(false);
  });
});

describe("unknownColumnMessage", () => {
  it("lists at most twelve columns", () => {
    const columns = Array.from({ length: 20 }, (_, i) => ({ name: `c${i}`, type: "INTEGER" }));
    expect(unknownColumnMessage("target", "nope", "t.out", columns)).toBe(
      'target "nope" is not a column of t.out (columns: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, …)',
    );
  });
});
