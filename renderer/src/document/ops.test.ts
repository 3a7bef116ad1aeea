import { describe, expect, it } from "vitest";
import type { PipelineDocument } from "../store/types";
import { uniqueId } from "./ids";
import {
  addNode,
  extractFragment,
  insertFragment,
  moveNodes,
  newNode,
  removeElements,
  renameNode,
} from "./ops";

const doc = (): PipelineDocument => ({
  format: "dagwood.pipeline/1",
  name: "t",
  params: {},
  nodes: [
    { id: "read", block: "ingest.file", params: { path: "a.csv" } },
    { id: "split", block: "split", params: { seed: 1 } },
    { id: "prof", block: "analyze.profile", params: {} },
  ],
  edges: [
    { from: "read.out", to: "split.in" },
    { from: "read.out", to: "prof.in" },
  ],
  layout: { read: { x: 0, y: 0 }, split: { x: 200, y: 0 }, prof: { x: 200, y: 150 } },
});

describe("document edits", () => {
  it("gives new nodes readable, unique ids", () => {
    const d = doc();
    expect(newNode(d, "split").id).toBe("split_2");
    expect(newNode(d, "train.gbdt").id).toBe("gbdt");
    expect(uniqueId(d, "split_2", new Set(["split_2"]))).toBe("split_3");
  });

  it("moves change only the layout, and leave untouched nodes as they were", () => {
    const d = doc();
    const moved = moveNodes(d, { split: { x: 10.4, y: 20.6 } });
    expect(moved.layout?.split).toEqual({ x: 10, y: 21 });
    expect(moved.nodes).toBe(d.nodes);
    expect(moved.edges).toBe(d.edges);
  });

  it("removes a node with its edges and layout", () => {
    const d = removeElements(doc(), new Set(["read"]));
    expect(d.nodes.map((n) => n.id)).toEqual(["split", "prof"]);
    expect(d.edges).toEqual([]);
    expect(d.layout?.read).toBeUndefined();
  });

  it("removes edges by key", () => {
    const d = removeElements(doc(), new Set(), new Set(["read.out->prof.in"]));
    expect(d.edges).toEqual([{ from: "read.out", to: "split.in" }]);
  });

  it("renames a node in its edges and layout", () => {
    const d = renameNode(doc(), "read", "penguins");
    expect(d.nodes[0]!.id).toBe("penguins");
    expect(d.edges.map((e) => e.from)).toEqual(["penguins.out", "penguins.out"]);
    expect(d.layout?.penguins).toEqual({ x: 0, y: 0 });
    expect(d.layout?.read).toBeUndefined();
  });

  it("pastes a copy with fresh ids, edges among the copied nodes, shifted", () => {
    const d = doc();
    const fragment = extractFragment(d, new Set(["read", "split"]));
    expect(fragment.edges).toEqual([{ from: "read.out", to: "split.in" }]);
    const { document, ids } = insertFragment(d, fragment, { x: 40, y: 40 });
    expect(ids).toEqual(["read_2", "split_2"]);
    expect(document.edges.at(-1)).toEqual({ from: "read_2.out", to: "split_2.in" });
    expect(document.layout?.split_2).toEqual({ x: 240, y: 40 });
    // a deep copy: editing the paste leaves the original alone
    (document.nodes.at(-1)!.params as { seed: number }).seed = 9;
    expect(d.nodes[1]!.params.seed).toBe(1);
  });

  it("keeps fields it does not know", () => {
    const d = { ...doc(), futureField: { keep: true } };
    const next = addNode(d, { id: "x", block: "shuffle", params: {} }, { x: 1, y: 2 });
    expect(next.futureField).toEqual({ keep: true });
  });
});
