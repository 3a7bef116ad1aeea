import { describe, expect, it } from "vitest";
import { inferredColumns, tableSources } from "./upstreamSchema";

const col = (name: string) => ({ name, type: "VARCHAR" });

describe("tableSources", () => {
  it("lists what feeds the node's table inputs, in edge order, skipping its model input", () => {
    const edges = [
      { from: "gbdt.model", to: "eval.model" },
      { from: "split.test", to: "eval.data" },
      { from: "split.train", to: "gbdt.train" },
    ];
    expect(tableSources(edges, "eval", (port) => port === "data")).toEqual([{ node: "split", port: "test" }]);
  });
});

describe("inferredColumns", () => {
  const schemas = {
    split: { train: { columns: [col("a"), col("b")] }, test: null },
    scores: { out: { columns: [col("a"), col("label")], open: "and probability_<class> per class" } },
  };

  it("takes the first source whose schema is known", () => {
    expect(
      inferredColumns(
        [
          { node: "split", port: "test" },
          { node: "split", port: "train" },
        ],
        schemas,
      ),
    ).toEqual({ names: ["a", "b"], open: false });
  });

  it("says when more columns follow than are known", () => {
    expect(inferredColumns([{ node: "scores", port: "out" }], schemas)).toEqual({
      names: ["a", "label"],
      open: true,
    });
  });

  it("knows nothing of a source not inferred (yet)", () => {
    expect(inferredColumns([{ node: "missing", port: "out" }], schemas)).toBeUndefined();
    expect(inferredColumns([], schemas)).toBeUndefined();
  });
});
