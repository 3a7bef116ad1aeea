import { describe, expect, it } from "vitest";
import type { BlockInfo } from "../../../app/api/api";
import type { Catalog, PipelineDocument } from "../store/types";
import {
  addConnectedNode,
  connectionProblem,
  connectNodes,
  matchingPort,
  proposedFromHandles,
} from "./connect";

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
    block("read", {}, { out: { type: "table" } }),
    block("shuffle", { in: { type: "table" } }, { out: { type: "table" } }),
    block("profile", { in: { type: "table" } }, { report: { type: "report" } }),
  ].map((b) => [b.kind, b]),
);

const doc: PipelineDocument = {
  nodes: [
    { id: "r", block: "read", params: {} },
    { id: "a", block: "shuffle", params: {} },
    { id: "b", block: "shuffle", params: {} },
    { id: "p", block: "profile", params: {} },
    { id: "u", block: "mystery", params: {} },
  ],
  edges: [
    { from: "r.out", to: "a.in" },
    { from: "a.out", to: "b.in" },
  ],
};

const conn = (source: string, sourceHandle: string, target: string, targetHandle: string) => ({
  source,
  sourceHandle,
  target,
  targetHandle,
});

describe("connectionProblem", () => {
  it("accepts an output feeding a free input of the same type", () => {
    expect(connectionProblem(doc, catalog, conn("r", "out", "p", "in"))).toBeNull();
  });

  it("refuses mismatched types, saying which", () => {
    expect(connectionProblem(doc, catalog, conn("p", "report", "b", "in"))).toBe(
      "A report output cannot feed a table input",
    );
  });

  it("refuses an input that is already connected", () => {
    expect(connectionProblem(doc, catalog, conn("r", "out", "a", "in"))).toMatch(/already connected/);
  });

  it("refuses self-loops and cycles", () => {
    expect(connectionProblem(doc, catalog, conn("a", "out", "a", "in"))).toMatch(/itself/);
    const open = { ...doc, edges: [{ from: "a.out", to: "b.in" }] };
    expect(connectionProblem(open, catalog, conn("b", "out", "a", "in"))).toMatch(/cycle/);
  });

  it("cannot check ports of an unknown block", () => {
    expect(connectionProblem(doc, catalog, conn("r", "out", "u", "in"))).toMatch(/unknown/);
  });
});

describe("proposedFromHandles", () => {
  it("reads a drag from an input backwards", () => {
    expect(
      proposedFromHandles(
        { nodeId: "b", id: "in", type: "target" },
        { nodeId: "r", id: "out", type: "source" },
      ),
    ).toEqual(conn("r", "out", "b", "in"));
  });
});

describe("connectNodes", () => {
  const ml: Catalog = new Map(
    [
      block("split", { in: { type: "table" } }, { train: { type: "table" }, test: { type: "table" } }),
      block("train.logistic", { train: { type: "table" } }, { model: { type: "model" } }),
      block(
        "evaluate",
        { model: { type: "model" }, data: { type: "table" } },
        { report: { type: "report" } },
      ),
    ].map((b) => [b.kind, b]),
  );
  const start: PipelineDocument = {
    nodes: [
      { id: "split", block: "split", params: {} },
      { id: "logistic", block: "train.logistic", params: {} },
      { id: "evaluate", block: "evaluate", params: {} },
      { id: "evaluate_2", block: "evaluate", params: { metrics: "x" } },
    ],
    edges: [{ from: "split.train", to: "logistic.train" }],
    layout: { evaluate_2: { x: 10, y: 20 } },
  };

  it("names an evaluate after the model connected to it, carrying its edges, params and position", () => {
    const withData = connectNodes(start, ml, conn("split", "test", "evaluate_2", "data"));
    expect(withData.renamed).toBeNull();
    const { document, renamed } = connectNodes(
      withData.document,
      ml,
      conn("logistic", "model", "evaluate_2", "model"),
    );
    expect(renamed).toEqual({ from: "evaluate_2", to: "eval_logistic" });
    expect(document.nodes.find((n) => n.id === "eval_logistic")).toEqual({
      id: "eval_logistic",
      block: "evaluate",
      params: { metrics: "x" },
    });
    expect(document.nodes.some((n) => n.id === "evaluate_2")).toBe(false);
    expect(document.edges).toEqual([
      { from: "split.train", to: "logistic.train" },
      { from: "split.test", to: "eval_logistic.data" },
      { from: "logistic.model", to: "eval_logistic.model" },
    ]);
    expect(document.layout).toEqual({ eval_logistic: { x: 10, y: 20 } });
  });

  it("does not rename a train block fed by a table", () => {
    const { document, renamed } = connectNodes(
      { ...start, edges: [] },
      ml,
      conn("split", "train", "logistic", "train"),
    );
    expect(renamed).toBeNull();
    expect(document.edges).toEqual([{ from: "split.train", to: "logistic.train" }]);
  });

  it("leaves a node the user renamed, and renames only once", () => {
    const named = { ...start, nodes: [...start.nodes, { id: "holdout", block: "evaluate", params: {} }] };
    expect(connectNodes(named, ml, conn("logistic", "model", "holdout", "model")).renamed).toBeNull();
    const first = connectNodes(start, ml, conn("logistic", "model", "evaluate", "model"));
    expect(first.renamed?.to).toBe("eval_logistic");
    // Reconnected to another model later: the name it got is kept.
    const cut = {
      ...first.document,
      edges: first.document.edges.filter((e) => e.to !== "eval_logistic.model"),
    };
    const again = connectNodes(
      { ...cut, nodes: [...cut.nodes, { id: "logistic_2", block: "train.logistic", params: {} }] },
      ml,
      conn("logistic_2", "model", "eval_logistic", "model"),
    );
    expect(again.renamed).toBeNull();
  });
});

describe("addConnectedNode (a block picked after dragging from a port onto the empty canvas)", () => {
  const ml: Catalog = new Map(
    [
      block("read", {}, { out: { type: "table" } }),
      block("split", { in: { type: "table" } }, { train: { type: "table" }, test: { type: "table" } }),
      block("train.gbdt", { train: { type: "table" } }, { model: { type: "model" } }),
      block(
        "evaluate",
        { model: { type: "model" }, data: { type: "table" } },
        { report: { type: "report" } },
      ),
      block("profile", { in: { type: "table" } }, { report: { type: "report" } }),
    ].map((b) => [b.kind, b]),
  );
  const start: PipelineDocument = {
    nodes: [
      { id: "read", block: "read", params: {} },
      { id: "split", block: "split", params: {} },
      { id: "gbdt", block: "train.gbdt", params: {} },
    ],
    edges: [
      { from: "read.out", to: "split.in" },
      { from: "split.train", to: "gbdt.train" },
    ],
  };
  const at = { x: 500.4, y: 99.6 };

  it("joins the new block's first input that takes the dragged output, and names it after its model", () => {
    expect(matchingPort(ml, "evaluate", "model", "source")).toBe("model");
    expect(matchingPort(ml, "evaluate", "table", "source")).toBe("data");
    expect(matchingPort(ml, "profile", "model", "source")).toBeNull();
    const added = addConnectedNode(start, ml, "evaluate", at, {
      node: "gbdt",
      port: "model",
      side: "source",
    });
    expect(added?.id).toBe("eval_gbdt");
    expect(added?.document.edges).toContainEqual({ from: "gbdt.model", to: "eval_gbdt.model" });
    expect(added?.document.layout).toEqual({ eval_gbdt: { x: 500, y: 100 } });
  });

  it("keeps a table-fed block's short name", () => {
    const added = addConnectedNode(start, ml, "profile", at, { node: "read", port: "out", side: "source" });
    expect(added?.id).toBe("profile");
    expect(added?.document.edges).toContainEqual({ from: "read.out", to: "profile.in" });
  });

  it("dragged from an input, feeds it from the new block's output, naming the node it feeds", () => {
    const withEval = { ...start, nodes: [...start.nodes, { id: "evaluate", block: "evaluate", params: {} }] };
    const added = addConnectedNode(withEval, ml, "train.gbdt", at, {
      node: "evaluate",
      port: "model",
      side: "target",
    });
    expect(added?.id).toBe("gbdt_2");
    expect(added?.document.edges).toContainEqual({ from: "gbdt_2.model", to: "eval_gbdt_2.model" });
    expect(added?.document.nodes.map((n) => n.id)).toEqual([
      "read",
      "split",
      "gbdt",
      "eval_gbdt_2",
      "gbdt_2",
    ]);
  });

  it("adds nothing when the block cannot join the port, or the input is taken", () => {
    expect(
      addConnectedNode(start, ml, "profile", at, { node: "gbdt", port: "model", side: "source" }),
    ).toBeNull();
    expect(addConnectedNode(start, ml, "read", at, { node: "split", port: "in", side: "target" })).toBeNull();
    expect(
      addConnectedNode(start, ml, "evaluate", at, { node: "ghost", port: "model", side: "source" }),
    ).toBeNull();
  });
});
