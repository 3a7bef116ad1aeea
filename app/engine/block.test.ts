/**
 * The lazy catalog (the CLI bundle's, bin/build.mjs): a block's declaration
 * without its module, the module on first use, the same answers as the
 * catalog of loaded blocks.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validatePipelineText } from "../pipeline/validate";
import { type AnyBlock, blockDeclaration, defineBlock, makeCatalog, makeLazyCatalog } from "./block";

const read = defineBlock({
  kind: "test.read",
  version: 2,
  title: "Read",
  category: "Data",
  description: "a table",
  inputs: {},
  outputs: { out: { type: "table", description: "the rows" } },
  params: z.object({ path: z.string() }),
  externalFingerprint: async (_ctx, p) => p.path,
  run: async () => ({}),
});

const fit = defineBlock({
  kind: "test.fit",
  cpu: "all",
  version: 1,
  title: "Fit",
  category: "Model",
  description: "a model",
  inputs: { train: { type: "table" }, extra: { type: "table", optional: true } },
  outputs: { model: { type: "model" } },
  params: z.object({ depth: z.number().int().min(1).default(3) }),
  run: async () => ({}),
});

const blocks: AnyBlock[] = [read, fit];

/** A lazy catalog of `blocks` that counts the loads of each kind. */
function lazyCatalog(declarations = blocks.map(blockDeclaration), modules = blocks) {
  const loads: string[] = [];
  const catalog = makeLazyCatalog(declarations, (kind) => {
    loads.push(kind);
    const b = modules.find((m) => m.kind === kind);
    if (!b) throw new Error(`no block ${kind}`);
    return b;
  });
  return { catalog, loads };
}

const pipeline = (depth: unknown) =>
  JSON.stringify({
    format: "dagwood.pipeline/1",
    name: "p",
    params: {},
    nodes: [
      { id: "fit", block: "test.fit", params: { depth } },
      { id: "read", block: "test.read", params: { path: "a.csv" } },
    ],
    edges: [{ from: "read.out", to: "fit.train" }],
  });

describe("blockDeclaration", () => {
  it("is a block's data as JSON carries it, without params or functions", () => {
    expect(blockDeclaration(fit)).toEqual({
      kind: "test.fit",
      version: 1,
      title: "Fit",
      category: "Model",
      description: "a model",
      inputs: { train: { type: "table" }, extra: { type: "table", optional: true } },
      outputs: { model: { type: "model" } },
      cpu: "all",
    });
    // No cpu key where the block has none.
    expect(Object.keys(blockDeclaration(read))).not.toContain("cpu");
  });
});

describe("makeLazyCatalog", () => {
  it("answers kinds, ports and titles without loading a block", () => {
    const { catalog, loads } = lazyCatalog();
    expect([...catalog.keys()]).toEqual(["test.read", "test.fit"]);
    const b = catalog.get("test.fit")!;
    expect([b.kind, b.version, b.title, b.category, b.cpu]).toEqual(["test.fit", 1, "Fit", "Model", "all"]);
    expect(Object.keys(b.inputs)).toEqual(["train", "extra"]);
    expect(catalog.get("test.read")!.cpu).toBeUndefined();
    expect(loads).toEqual([]);
  });

  it("loads a block once, on the first use of its params or functions, and forwards them", async () => {
    const { catalog, loads } = lazyCatalog();
    const b = catalog.get("test.read")!;
    expect(b.params).toBe(read.params);
    expect(b.run).toBe(read.run);
    expect("externalFingerprint" in b).toBe(true);
    expect("outputSchema" in b).toBe(false);
    expect(b.outputSchema).toBeUndefined();
    expect(await b.externalFingerprint!({} as never, { path: "x.csv" })).toBe("x.csv");
    expect(loads).toEqual(["test.read"]);
    // Spread or listed, it is the loaded block's properties.
    expect(Object.keys(b).sort()).toEqual(Object.keys(read).sort());
    expect({ ...b }.params).toBe(read.params);
  });

  it("validates a pipeline as the catalog of loaded blocks does, loading only the blocks it uses", () => {
    const { catalog, loads } = lazyCatalog();
    for (const depth of [4, 0, "deep"]) {
      const lazy = validatePipelineText(pipeline(depth), catalog);
      const eager = validatePipelineText(pipeline(depth), makeCatalog(blocks));
      expect(lazy.problems).toEqual(eager.problems);
      expect(lazy.plan?.order.map((n) => [n.id, n.params])).toEqual(
        eager.plan?.order.map((n) => [n.id, n.params]),
      );
    }
    expect(validatePipelineText(pipeline(0), catalog).problems[0]!.path).toBe("$.nodes[0].params.depth");
    expect([...new Set(loads)].sort()).toEqual(["test.fit", "test.read"]);

    // A graph problem in a pipeline of unknown blocks loads nothing.
    const none = lazyCatalog();
    const r = validatePipelineText(
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "p",
        params: {},
        nodes: [{ id: "x", block: "nope", params: {} }],
        edges: [],
      }),
      none.catalog,
    );
    expect(r.problems).toEqual([{ path: "$.nodes[0].block", message: 'Unknown block "nope"' }]);
    expect(none.loads).toEqual([]);
  });

  it("refuses a loaded block whose declaration is not the one it was listed with, and says to rebuild", () => {
    const changed = {
      ...fit,
      outputs: { model: { type: "model" }, report: { type: "json" } },
    } as unknown as AnyBlock;
    const { catalog } = lazyCatalog(blocks.map(blockDeclaration), [read, changed]);
    const b = catalog.get("test.fit")!;
    expect(Object.keys(b.outputs)).toEqual(["model"]);
    expect(() => b.params).toThrow(
      /Block "test\.fit" is not the block the catalog was built with.*rebuild the CLI/,
    );
  });

  it("refuses two declarations of one kind, as makeCatalog does", () => {
    expect(() => makeLazyCatalog([blockDeclaration(read), blockDeclaration(read)], () => read)).toThrow(
      /registered twice/,
    );
  });
});
