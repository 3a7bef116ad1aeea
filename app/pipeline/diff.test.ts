import { describe, expect, it } from "vitest";
import { diffPipelines, renderDiffText, renderPipelineText } from "./diff";
import type { Pipeline } from "./schema";
import { parsePipelineObject } from "./validate";

/** A pipeline through the schema, as a file would load. */
function pipeline(over: Partial<Record<keyof Pipeline, unknown>> = {}): Pipeline {
  const parsed = parsePipelineObject({
    format: "dagwood.pipeline/1",
    name: "penguins",
    params: { seed: 7 },
    nodes: [
      { id: "rows", block: "ingest.file", params: { path: "data/penguins.csv" } },
      { id: "split", block: "split", params: { testFraction: 0.25, seed: "${seed}" } },
      { id: "gbdt", block: "train.gbdt", params: { target: "species", trees: 100 } },
      { id: "eval", block: "evaluate", params: {} },
    ],
    edges: [
      { from: "rows.out", to: "split.in" },
      { from: "split.train", to: "gbdt.train" },
      { from: "gbdt.model", to: "eval.model" },
      { from: "split.test", to: "eval.data" },
    ],
    layout: { rows: { x: 0, y: 0 }, split: { x: 200, y: 0 }, gbdt: { x: 400, y: 0 }, eval: { x: 600, y: 0 } },
    ...over,
  });
  if (!parsed.pipeline) throw new Error(JSON.stringify(parsed.problems));
  return parsed.pipeline;
}

const base = pipeline();
const nodesWith = (id: string, change: (n: Record<string, unknown>) => Record<string, unknown>) =>
  base.nodes.map((n) => (n.id === id ? change({ ...n }) : n));

describe("diffPipelines", () => {
  it("finds nothing between the same pipeline written in another order", () => {
    const shuffled = pipeline({
      nodes: [...base.nodes].reverse().map((n) => ({ params: n.params, block: n.block, id: n.id })),
      edges: [...base.edges].reverse(),
      params: { seed: 7 },
    });
    const d = diffPipelines(base, shuffled);
    expect(d.same).toBe(true);
    expect(d.logicChanged).toBe(false);
    expect(d.sharedNodes).toBe(4);
    expect(renderDiffText(d, { old: "a", new: "b" })).toBe('pipeline "penguins": a → b\nno differences\n');
  });

  it("lists params by path, old → new, nested values and arrays by index", () => {
    const next = pipeline({
      params: { seed: 8, extra: true },
      nodes: nodesWith("gbdt", (n) => ({
        ...n,
        params: { target: "species", trees: 200, grid: { depth: [3, 5] }, drop: ["a", "b"] },
      })),
    });
    const prev = pipeline({
      nodes: nodesWith("gbdt", (n) => ({
        ...n,
        params: { target: "species", trees: 100, grid: { depth: [3, 4] }, drop: ["a"] },
      })),
    });
    const d = diffPipelines(prev, next);
    expect(d.pipeline).toEqual([
      { path: "params.extra", new: true },
      { path: "params.seed", old: 7, new: 8 },
    ]);
    expect(d.nodes.changed).toEqual([
      { node: "gbdt", path: "params.drop", old: ["a"], new: ["a", "b"] },
      { node: "gbdt", path: "params.grid.depth[1]", old: 4, new: 5 },
      { node: "gbdt", path: "params.trees", old: 100, new: 200 },
    ]);
    expect(d.edges).toEqual({ added: [], removed: [] });
    expect(d.same).toBe(false);
  });

  it("takes a node whose id changed, with its edges rewritten, as renamed and not as removed and added", () => {
    const next = pipeline({
      nodes: [
        ...base.nodes.filter((n) => n.id !== "gbdt"),
        { id: "boosted", block: "train.gbdt", params: { target: "species", trees: 300 } },
      ],
      edges: [
        { from: "rows.out", to: "split.in" },
        { from: "split.train", to: "boosted.train" },
        { from: "boosted.model", to: "eval.model" },
        { from: "split.test", to: "eval.data" },
      ],
      layout: {
        rows: { x: 0, y: 0 },
        split: { x: 200, y: 0 },
        boosted: { x: 400, y: 0 },
        eval: { x: 600, y: 0 },
      },
    });
    const d = diffPipelines(base, next);
    expect(d.nodes.renamed).toEqual([
      { from: "gbdt", to: "boosted", block: "train.gbdt", evidence: ["connections", "position"] },
    ]);
    expect(d.nodes.added).toEqual([]);
    expect(d.nodes.removed).toEqual([]);
    expect(d.nodes.changed).toEqual([{ node: "boosted", path: "params.trees", old: 100, new: 300 }]);
    expect(d.edges).toEqual({ added: [], removed: [] });
    expect(d.layout).toEqual({ moved: 0, restyled: 0 });
    expect(renderDiffText(d, { old: "a", new: "b" })).toContain(
      "~ node gbdt renamed to boosted (same block, connections and position)",
    );
  });

  it("does not take a new node of the same block elsewhere in the graph, with other params, as a rename", () => {
    const next = pipeline({
      nodes: [
        ...base.nodes.filter((n) => n.id !== "gbdt"),
        { id: "gbdt2", block: "train.gbdt", params: { target: "island", trees: 5 } },
      ],
      edges: [
        { from: "rows.out", to: "split.in" },
        { from: "split.test", to: "gbdt2.train" },
        { from: "split.test", to: "eval.data" },
      ],
    });
    const d = diffPipelines(base, next);
    expect(d.nodes.renamed).toEqual([]);
    expect(d.nodes.removed.map((n) => n.id)).toEqual(["gbdt"]);
    expect(d.nodes.added.map((n) => n.id)).toEqual(["gbdt2"]);
    expect(d.edges.removed).toEqual([
      { from: "gbdt.model", to: "eval.model" },
      { from: "split.train", to: "gbdt.train" },
    ]);
    expect(d.edges.added).toEqual([{ from: "split.test", to: "gbdt2.train" }]);
  });

  it("reports a changed block and label on the same id", () => {
    const next = pipeline({
      nodes: nodesWith("gbdt", (n) => ({ ...n, block: "train.forest", label: "Forest" })),
    });
    const d = diffPipelines(base, next);
    expect(d.nodes.changed).toEqual([
      { node: "gbdt", path: "block", old: "train.gbdt", new: "train.forest" },
      { node: "gbdt", path: "label", new: "Forest" },
    ]);
    const text = renderDiffText(d, { old: "a", new: "b" });
    expect(text).toContain('~ node gbdt block: "train.gbdt" → "train.forest"\n');
    expect(text).toContain('~ node gbdt label: "Forest" (added)\n');
  });

  it("counts layout changes without listing them, and a layout-only change is not a logic change", () => {
    const next = pipeline({
      layout: {
        rows: { x: 10, y: 0 },
        split: { x: 200, y: 50 },
        gbdt: { x: 400, y: 0, w: 300 },
        eval: { x: 600, y: 0 },
      },
    });
    const d = diffPipelines(base, next);
    expect(d.layout).toEqual({ moved: 2, restyled: 1 });
    expect(d.same).toBe(false);
    expect(d.logicChanged).toBe(false);
    const text = renderDiffText(d, { old: "a", new: "b" });
    expect(text).toBe(
      'pipeline "penguins": a → b\n  layout: 2 nodes moved, 1 node resized or restyled (not listed)\nlayout only: no logic changes\n',
    );
  });

  it("diffs two unrelated pipelines, saying that they share no nodes", () => {
    const other = pipeline({
      name: "flights",
      params: {},
      nodes: [{ id: "flights", block: "ingest.file", params: { path: "flights.parquet" } }],
      edges: [],
      layout: undefined,
    });
    const d = diffPipelines(base, other);
    expect(d.unrelated).toBe(true);
    expect(d.sharedNodes).toBe(0);
    expect(d.nodes.removed).toHaveLength(4);
    expect(d.nodes.added).toHaveLength(1);
    const text = renderDiffText(d, { old: "a", new: "b" });
    expect(text).toContain('pipeline "penguins" → "flights": a → b');
    expect(text).toContain("share no nodes");
  });

  it("orders the text by section and id, and colours it only when asked", () => {
    const next = pipeline({
      nodes: [
        ...nodesWith("split", (n) => ({ ...n, params: { testFraction: 0.3, seed: "${seed}" } })).filter(
          (n) => n.id !== "eval",
        ),
        { id: "a_first", block: "evaluate", params: { k: 1 } },
      ],
      edges: [
        { from: "rows.out", to: "split.in" },
        { from: "split.train", to: "gbdt.train" },
      ],
    });
    const d = diffPipelines(base, next);
    const plain = renderDiffText(d, { old: "a", new: "b" });
    expect(plain.split("\n")).toEqual([
      'pipeline "penguins": a → b',
      "  - node eval (evaluate)",
      '  + node a_first (evaluate) {"k":1}',
      "  ~ node split params.testFraction: 0.25 → 0.3",
      "  - edge gbdt.model → eval.model",
      "  - edge split.test → eval.data",
      "5 changes",
      "",
    ]);
    expect(plain).not.toContain("\u001b[");
    const colored = renderDiffText(d, { old: "a", new: "b" }, { color: true });
    expect(colored).toContain("\u001b[31m-\u001b[0m node eval");
    expect(colored.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g"), "")).toBe(plain);
  });

  it("shortens a long string to where the two differ", () => {
    const sql = (n: number) =>
      `SELECT species, bill_length_mm, bill_depth_mm, flipper_length_mm FROM penguins WHERE body_mass_g > ${n} ORDER BY species, island, sex`;
    const prev = pipeline({ nodes: nodesWith("rows", (n) => ({ ...n, params: { query: sql(3000) } })) });
    const next = pipeline({ nodes: nodesWith("rows", (n) => ({ ...n, params: { query: sql(4000) } })) });
    const text = renderDiffText(diffPipelines(prev, next), { old: "a", new: "b" });
    expect(text).toContain(
      '~ node rows params.query: …"WHERE body_mass_g > 3000 ORDER BY species"… → …"WHERE body_mass_g > 4000 ORDER BY species"…',
    );
  });
});

describe("renderPipelineText (the textconv)", () => {
  const lines = (p: Pipeline) => renderPipelineText(p).split("\n");
  /** The lines of `b` not in `a`, and of `a` not in `b` (what a line diff shows). */
  const lineDiff = (a: Pipeline, b: Pipeline) => {
    const la = lines(a);
    const lb = lines(b);
    return { added: lb.filter((l) => !la.includes(l)), removed: la.filter((l) => !lb.includes(l)) };
  };

  it("puts each param leaf and each input on its own line, nodes by id", () => {
    const text = renderPipelineText(base);
    expect(text).toContain(
      [
        "node gbdt (train.gbdt)",
        '  params.target: "species"',
        "  params.trees: 100",
        "  inputs.train ← split.train",
      ].join("\n"),
    );
    expect(text.indexOf("node eval")).toBeLessThan(text.indexOf("node gbdt"));
    expect(text).toMatch(/^pipeline "penguins"\n {2}params.seed: 7\n/);
  });

  it("changes one line for a changed param and one line for a moved node", () => {
    const param = lineDiff(
      base,
      pipeline({ nodes: nodesWith("gbdt", (n) => ({ ...n, params: { target: "species", trees: 200 } })) }),
    );
    expect(param).toEqual({ added: ["  params.trees: 200"], removed: ["  params.trees: 100"] });
    const moved = lineDiff(base, pipeline({ layout: { ...base.layout, eval: { x: 650, y: 0 } } }));
    expect(moved.added).toHaveLength(1);
    expect(moved.added[0]).toMatch(/^layout: 4 nodes placed \(fingerprint [0-9a-f]{12}\)$/);
    expect(moved.removed).toHaveLength(1);
  });

  it("writes a multi-line string (a SQL query) one line per line", () => {
    const p = pipeline({
      nodes: nodesWith("rows", (n) => ({ ...n, params: { query: "SELECT *\nFROM t\nWHERE x > 1\n" } })),
    });
    expect(renderPipelineText(p)).toContain(
      "  params.query: |\n      SELECT *\n      FROM t\n      WHERE x > 1\n",
    );
  });

  it("lists unresolved conflicts", () => {
    const p = pipeline({
      conflicts: [{ node: "gbdt", path: "params.trees", base: 100, ours: 200, theirs: 300, kept: "ours" }],
    });
    expect(renderPipelineText(p)).toContain(
      "conflict gbdt params.trees: base 100, ours 200, theirs 300; kept ours",
    );
  });
});
