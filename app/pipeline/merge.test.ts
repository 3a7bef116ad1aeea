import { describe, expect, it } from "vitest";
import type { Catalog } from "../engine/block";
import { serializePipeline } from "./canonical";
import { mergePipelines } from "./merge";
import type { Pipeline } from "./schema";
import { parsePipelineObject, parsePipelineText, planPipeline } from "./validate";

/** A pipeline file's JSON, loosely typed for editing in tests. */
interface Doc {
  params: Record<string, unknown>;
  nodes: { id: string; block: string; params: Record<string, unknown>; label?: string }[];
  edges: { from: string; to: string }[];
  layout: Record<string, { x: number; y: number }>;
}
type Edit = (p: Doc) => void;

const BASE = {
  format: "dagwood.pipeline/1",
  name: "penguins",
  params: { seed: 7 },
  nodes: [
    { id: "rows", block: "ingest.file", params: { path: "data/penguins.csv" } },
    { id: "split", block: "split", params: { testFraction: 0.25, seed: "${seed}" } },
    { id: "gbdt", block: "train.gbdt", params: { target: "species", trees: 100, depth: 6 } },
    { id: "eval", block: "evaluate", params: {} },
  ],
  edges: [
    { from: "rows.out", to: "split.in" },
    { from: "split.train", to: "gbdt.train" },
    { from: "gbdt.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
  ],
  layout: { rows: { x: 0, y: 0 }, split: { x: 200, y: 0 }, gbdt: { x: 400, y: 0 }, eval: { x: 600, y: 0 } },
};

/** The base pipeline with `edit` applied to a copy, through the schema. */
function variant(edit: Edit = () => {}): Pipeline {
  const json = structuredClone(BASE) as unknown as Doc;
  edit(json);
  const parsed = parsePipelineObject(json);
  if (!parsed.pipeline) throw new Error(JSON.stringify(parsed.problems));
  return parsed.pipeline;
}

const node = (p: Doc, id: string) => p.nodes.find((n) => n.id === id)!;
const merged = (ours: Edit, theirs: Edit) => mergePipelines(variant(), variant(ours), variant(theirs));
const nodeOf = (p: Pipeline, id: string) => p.nodes.find((n) => n.id === id);
const edgesOf = (p: Pipeline) => p.edges.map((e) => `${e.from} → ${e.to}`).sort();

describe("mergePipelines", () => {
  it("takes a change from each side when they touch different values, nodes and edges", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "gbdt").params.trees = 200;
        p.params.seed = 8;
        p.layout.eval = { x: 650, y: 40 };
      },
      (p) => {
        node(p, "gbdt").params.depth = 4;
        node(p, "split").label = "Hold out 25%";
        p.nodes.push({ id: "forest", block: "train.forest", params: { target: "species" } });
        p.edges.push({ from: "split.train", to: "forest.train" });
        p.layout.forest = { x: 400, y: 200 };
      },
    );
    expect(conflicts).toEqual([]);
    expect(pipeline.conflicts).toBeUndefined();
    expect(nodeOf(pipeline, "gbdt")!.params).toEqual({ target: "species", trees: 200, depth: 4 });
    expect(nodeOf(pipeline, "split")!.label).toBe("Hold out 25%");
    expect(nodeOf(pipeline, "forest")!.block).toBe("train.forest");
    expect(pipeline.params).toEqual({ seed: 8 });
    expect(edgesOf(pipeline)).toContain("split.train → forest.train");
    expect(pipeline.layout!.eval).toEqual({ x: 650, y: 40 });
    expect(pipeline.layout!.forest).toEqual({ x: 400, y: 200 });
  });

  it("takes the same change made on both sides once", () => {
    const same: Edit = (p) => {
      node(p, "gbdt").params.trees = 300;
      p.edges = p.edges.filter((e: { to: string }) => e.to !== "eval.data");
      p.edges.push({ from: "rows.out", to: "eval.data" });
    };
    const { pipeline, conflicts } = merged(same, same);
    expect(conflicts).toEqual([]);
    expect(nodeOf(pipeline, "gbdt")!.params.trees).toBe(300);
    expect(edgesOf(pipeline).filter((e) => e.endsWith("eval.data"))).toEqual(["rows.out → eval.data"]);
  });

  it("records one param changed both ways as a conflict, keeps ours, and validation refuses the file", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "gbdt").params.trees = 200;
      },
      (p) => {
        node(p, "gbdt").params.trees = 500;
      },
    );
    expect(conflicts).toEqual([
      { node: "gbdt", path: "params.trees", base: 100, ours: 200, theirs: 500, kept: "ours" },
    ]);
    expect(nodeOf(pipeline, "gbdt")!.params.trees).toBe(200);
    // The written file reads back through the schema, byte for byte.
    const text = serializePipeline(pipeline);
    const reread = parsePipelineText(text);
    expect(reread.problems).toEqual([]);
    expect(serializePipeline(reread.pipeline!)).toBe(text);
    // Resolved (the list emptied), the file is written as if it never conflicted.
    expect(serializePipeline({ ...reread.pipeline!, conflicts: [] })).toBe(
      serializePipeline({ ...reread.pipeline!, conflicts: undefined }),
    );
    expect(serializePipeline({ ...reread.pipeline!, conflicts: [] })).not.toContain('"conflicts"');
    const { problems } = planPipeline(reread.pipeline!, new Map() as Catalog);
    const conflict = problems.find((p) => p.path === "$.conflicts[0]");
    expect(conflict?.message).toBe(
      'Unresolved merge conflict at gbdt.params.trees: ours 200, theirs 500 (base 100); the file holds ours. Pick one in the app, or edit the value and delete this entry from "conflicts".',
    );
  });

  it("keeps a node one side deleted and the other changed, with its edges, as a conflict", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        p.nodes = p.nodes.filter((n: { id: string }) => n.id !== "gbdt");
        p.edges = p.edges.filter((e: { from: string; to: string }) => !`${e.from}${e.to}`.includes("gbdt."));
        delete p.layout.gbdt;
      },
      (p) => {
        node(p, "gbdt").params.trees = 400;
      },
    );
    expect(conflicts).toEqual([
      {
        node: "gbdt",
        path: "",
        base: { id: "gbdt", block: "train.gbdt", params: { target: "species", trees: 100, depth: 6 } },
        theirs: { id: "gbdt", block: "train.gbdt", params: { target: "species", trees: 400, depth: 6 } },
        kept: "theirs",
      },
    ]);
    expect(nodeOf(pipeline, "gbdt")!.params.trees).toBe(400);
    expect(edgesOf(pipeline)).toEqual(edgesOf(variant()));
    expect(planPipeline(pipeline, new Map() as Catalog).problems).toContainEqual({
      path: "$.conflicts[0]",
      message:
        'Unresolved merge conflict: node gbdt was deleted on ours\' side and changed on the other; the file keeps the changed node. Keep it or delete it (in the app, or here), then delete this entry from "conflicts".',
    });
    expect(pipeline.layout!.gbdt).toEqual({ x: 400, y: 0 });
  });

  it("deletes cleanly a node the other side left alone, and its edges", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "split").params.testFraction = 0.3;
      },
      (p) => {
        p.nodes = p.nodes.filter((n: { id: string }) => n.id !== "eval");
        p.edges = p.edges.filter((e: { to: string }) => !e.to.startsWith("eval."));
        delete p.layout.eval;
      },
    );
    expect(conflicts).toEqual([]);
    expect(nodeOf(pipeline, "eval")).toBeUndefined();
    expect(edgesOf(pipeline)).toEqual(["rows.out → split.in", "split.train → gbdt.train"]);
    expect(nodeOf(pipeline, "split")!.params.testFraction).toBe(0.3);
    expect(Object.keys(pipeline.layout!).sort()).toEqual(["gbdt", "rows", "split"]);
  });

  it("treats an edge added from a node the other side deleted as a change to that node", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        p.nodes = p.nodes.filter((n: { id: string }) => n.id !== "rows");
        p.edges = p.edges.filter((e: { from: string }) => !e.from.startsWith("rows."));
      },
      (p) => {
        p.edges = p.edges.filter((e: { to: string }) => e.to !== "eval.data");
        p.edges.push({ from: "rows.out", to: "eval.data" });
      },
    );
    expect(conflicts.map((c) => [c.node, c.path, c.kept])).toEqual([["rows", "", "theirs"]]);
    expect(nodeOf(pipeline, "rows")).toBeDefined();
    expect(edgesOf(pipeline)).toContain("rows.out → eval.data");
  });

  it("follows a node renamed on one side with a param changed on the other", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "gbdt").id = "boosted";
        p.edges = p.edges.map((e: { from: string; to: string }) => ({
          from: e.from.replace(/^gbdt\./, "boosted."),
          to: e.to.replace(/^gbdt\./, "boosted."),
        }));
        p.layout.boosted = p.layout.gbdt!;
        delete p.layout.gbdt;
      },
      (p) => {
        node(p, "gbdt").params.trees = 250;
        p.layout.gbdt = { x: 420, y: 10 };
      },
    );
    expect(conflicts).toEqual([]);
    expect(nodeOf(pipeline, "gbdt")).toBeUndefined();
    expect(nodeOf(pipeline, "boosted")!.params.trees).toBe(250);
    expect(edgesOf(pipeline)).toEqual([
      "boosted.model → eval.model",
      "rows.out → split.in",
      "split.test → eval.data",
      "split.train → boosted.train",
    ]);
    expect(pipeline.layout!.boosted).toEqual({ x: 420, y: 10 });
  });

  it("records two different edges into one input as a conflict on that input", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "eval").params = {};
        p.edges = p.edges.map((e: { from: string; to: string }) =>
          e.to === "eval.data" ? { from: "split.train", to: "eval.data" } : e,
        );
      },
      (p) => {
        p.edges = p.edges.map((e: { from: string; to: string }) =>
          e.to === "eval.data" ? { from: "rows.out", to: "eval.data" } : e,
        );
      },
    );
    expect(conflicts).toEqual([
      {
        node: "eval",
        path: "inputs.data",
        base: "split.test",
        ours: "split.train",
        theirs: "rows.out",
        kept: "ours",
      },
    ]);
    expect(edgesOf(pipeline).filter((e) => e.endsWith("eval.data"))).toEqual(["split.train → eval.data"]);
  });

  it("never conflicts on layout: a node both moved takes ours", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        p.layout.gbdt = { x: 1, y: 1 };
      },
      (p) => {
        p.layout.gbdt = { x: 2, y: 2 };
        p.layout.split = { x: 3, y: 3 };
      },
    );
    expect(conflicts).toEqual([]);
    expect(pipeline.layout!.gbdt).toEqual({ x: 1, y: 1 });
    expect(pipeline.layout!.split).toEqual({ x: 3, y: 3 });
  });

  it("merges a node both sides added under one id: once when equal, with conflicts where they differ", () => {
    const add =
      (trees: number): Edit =>
      (p) => {
        p.nodes.push({ id: "forest", block: "train.forest", params: { target: "species", trees } });
      };
    expect(merged(add(50), add(50)).conflicts).toEqual([]);
    expect(merged(add(50), add(50)).pipeline.nodes.filter((n) => n.id === "forest")).toHaveLength(1);
    const { conflicts } = merged(add(50), add(80));
    expect(conflicts).toEqual([{ node: "forest", path: "params.trees", ours: 50, theirs: 80, kept: "ours" }]);
  });

  it("gives a free id to a node whose id the other side took for a renamed node, as a conflict", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        node(p, "gbdt").id = "boosted";
        p.edges = p.edges.map((e) => ({
          from: e.from.replace(/^gbdt\./, "boosted."),
          to: e.to.replace(/^gbdt\./, "boosted."),
        }));
      },
      (p) => {
        p.nodes.push({ id: "boosted", block: "train.forest", params: { target: "species" } });
        p.edges.push({ from: "split.train", to: "boosted.train" });
      },
    );
    expect(pipeline.nodes.map((n) => `${n.id}:${n.block}`).sort()).toEqual([
      "boosted:train.gbdt",
      "boosted_2:train.forest",
      "eval:evaluate",
      "rows:ingest.file",
      "split:split",
    ]);
    expect(conflicts).toEqual([{ node: "boosted_2", path: "id", theirs: "boosted", kept: "ours" }]);
    expect(edgesOf(pipeline)).toContain("split.train → boosted_2.train");
    expect(edgesOf(pipeline)).toContain("split.train → boosted.train");
  });

  it("records a pipeline parameter changed both ways", () => {
    const { pipeline, conflicts } = merged(
      (p) => {
        p.params.seed = 1;
      },
      (p) => {
        p.params.seed = 2;
      },
    );
    expect(conflicts).toEqual([{ path: "params.seed", base: 7, ours: 1, theirs: 2, kept: "ours" }]);
    expect(pipeline.params.seed).toBe(1);
  });
});
