import { describe, expect, it } from "vitest";
import type { PipelineDocument } from "../store/types";
import { locateProblem, parseJsonPath, validPart } from "./problems";

const doc: PipelineDocument = {
  nodes: [
    { id: "read", block: "ingest.file", params: {} },
    { id: "split", block: "split", params: {} },
    { id: "after", block: "shuffle", params: {} },
    { id: "other", block: "shuffle", params: {} },
  ],
  edges: [
    { from: "read.out", to: "split.in" },
    { from: "split.train", to: "after.in" },
    { from: "read.out", to: "other.in" },
  ],
};

describe("problem paths", () => {
  it("parses JSON paths", () => {
    expect(parseJsonPath('$.nodes[3].params["odd key"].x')).toEqual(["nodes", 3, "params", "odd key", "x"]);
  });

  it("maps a param problem to its node and param path", () => {
    const p = locateProblem(doc, { path: "$.nodes[1].params.missing.strategy", message: "bad" });
    expect(p.nodeId).toBe("split");
    expect(p.param).toEqual(["missing", "strategy"]);
  });

  it("maps an edge problem to the node it points into", () => {
    expect(locateProblem(doc, { path: "$.edges[1].to", message: "x" }).nodeId).toBe("after");
  });

  it("leaves out nodes with problems and everything downstream", () => {
    const part = validPart(doc, [{ path: "$.nodes[1]", message: "x", nodeId: "split" }]);
    expect(part?.nodes.map((n) => n.id)).toEqual(["read", "other"]);
    expect(part?.edges).toEqual([{ from: "read.out", to: "other.in" }]);
    expect(validPart(doc, [{ path: "$.params", message: "x" }])).toBeNull();
  });
});
