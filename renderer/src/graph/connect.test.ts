import { describe, expect, it } from "vitest";
import type { BlockInfo } from "../../../app/api/api";
import type { Catalog, PipelineDocument } from "../store/types";
import { connectionProblem, proposedFromHandles } from "./connect";

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
