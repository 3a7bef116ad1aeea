import { describe, expect, it } from "vitest";
import type { BlockInfo } from "../../../../app/api/api";
import { emptyHistory, record, redo, undo } from "../../store/history";
import type { Catalog, PipelineDocument } from "../../store/types";
import { freeSpotRightOf, insertValidateNode, profiledSource, suggestedSuiteName } from "./insertValidate";

const block = (kind: string, inputs: BlockInfo["inputs"], outputs: BlockInfo["outputs"]): BlockInfo => ({
  kind,
  version: 1,
  title: kind,
  category: "x",
  description: "",
  inputs,
  outputs,
  paramsSchema: {},
});

const catalog: Catalog = new Map(
  [
    block("ingest.file", {}, { out: { type: "table" } }),
    block("split", { in: { type: "table" } }, { train: { type: "table" }, test: { type: "table" } }),
    block("analyze.profile", { in: { type: "table" } }, { report: { type: "report" } }),
    block(
      "validate.expectations",
      { in: { type: "table" } },
      { out: { type: "table" }, rejected: { type: "table" }, report: { type: "report" } },
    ),
  ].map((b) => [b.kind, b]),
);

const doc: PipelineDocument = {
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    { id: "split", block: "split", params: {} },
    { id: "profile", block: "analyze.profile", params: {} },
    { id: "profile_test", block: "analyze.profile", params: {} },
    { id: "lonely", block: "analyze.profile", params: {} },
  ],
  edges: [
    { from: "penguins.out", to: "split.in" },
    { from: "penguins.out", to: "profile.in" },
    { from: "split.test", to: "profile_test.in" },
  ],
  layout: { penguins: { x: 100, y: 40 }, split: { x: 380, y: 40 } },
};

describe("the profiled table's producer", () => {
  it("is the output feeding the profile node's input", () => {
    expect(profiledSource(doc, "profile")).toEqual({ node: "penguins", port: "out" });
    expect(profiledSource(doc, "profile_test")).toEqual({ node: "split", port: "test" });
    expect(profiledSource(doc, "lonely")).toBeNull();
    expect(profiledSource(doc, "no-such-node")).toBeNull();
  });

  it("names the suite after the file an ingest.file reads, else the node", () => {
    expect(suggestedSuiteName(doc, { node: "penguins", port: "out" })).toBe("penguins");
    expect(suggestedSuiteName(doc, { node: "split", port: "test" })).toBe("split");
    expect(suggestedSuiteName(doc, null)).toBe("suite");
    const param = { ...doc, nodes: [{ id: "in", block: "ingest.file", params: { path: "${file}" } }] };
    expect(suggestedSuiteName(param, { node: "in", port: "out" })).toBe("in");
  });
});

describe("inserting validate.expectations after the producer", () => {
  it("takes the first spot right of the producer that no node covers", () => {
    // penguins at (100, 40); split sits at (380, 40), right where the new node would go: it goes below.
    expect(freeSpotRightOf(doc, "penguins")).toEqual({ x: 400, y: 210 });
    const crowded = { ...doc, layout: { ...doc.layout, profile: { x: 420, y: 200 } } };
    expect(freeSpotRightOf(crowded, "penguins")).toEqual({ x: 400, y: 380 });
    // Layout entries of nodes that are gone do not count.
    const stale = { ...doc, layout: { ...doc.layout, gone: { x: 400, y: 210 } } };
    expect(freeSpotRightOf(stale, "penguins")).toEqual({ x: 400, y: 210 });
  });

  it("adds one node wired to the producer's output, with the suite's path, beside it", () => {
    const added = insertValidateNode(
      doc,
      catalog,
      { node: "split", port: "test" },
      "expectations/split.json",
    );
    expect(added).not.toBeNull();
    const { document, id } = added!;
    expect(document.nodes).toHaveLength(doc.nodes.length + 1);
    const node = document.nodes.find((n) => n.id === id)!;
    expect(node.block).toBe("validate.expectations");
    expect(node.params).toEqual({ suite: { path: "expectations/split.json" } });
    expect(document.edges).toContainEqual({ from: "split.test", to: `${id}.in` });
    expect(document.edges).toHaveLength(doc.edges.length + 1);
    // Right of split, in its row: nothing is there.
    expect(document.layout?.[id]).toEqual({ x: 380 + 220 + 80, y: 40 });
    // The document it came from is untouched (the history keeps it).
    expect(doc.nodes).toHaveLength(5);
  });

  it("a second insert gets a fresh id; undo takes the node and its edge away in one step", () => {
    const first = insertValidateNode(doc, catalog, { node: "penguins", port: "out" }, "expectations/p.json")!;
    const second = insertValidateNode(
      first.document,
      catalog,
      { node: "penguins", port: "out" },
      "expectations/p.json",
    )!;
    expect(second.id).not.toBe(first.id);
    const history = record(emptyHistory(), doc);
    const back = undo(history, first.document);
    expect(back.document).toBe(doc);
    expect(redo(back.history, doc).document).toBe(first.document);
  });

  it("is refused when the block is unknown or the producer cannot feed it", () => {
    const without: Catalog = new Map([...catalog].filter(([k]) => k !== "validate.expectations"));
    expect(
      insertValidateNode(doc, without, { node: "penguins", port: "out" }, "expectations/p.json"),
    ).toBeNull();
    expect(
      insertValidateNode(doc, catalog, { node: "profile", port: "report" }, "expectations/p.json"),
    ).toBeNull();
  });
});
