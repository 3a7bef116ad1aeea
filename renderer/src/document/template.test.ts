import { describe, expect, it } from "vitest";
import { splitEndpoint } from "./endpoints";
import { nodeIdProblem } from "./ids";
import { starterPipeline, stemOf } from "./template";

describe("stemOf", () => {
  it("makes a node id out of a data file's name", () => {
    expect(stemOf("data/seattle-weather.csv")).toBe("seattle-weather");
    expect(stemOf("../shared/Flights 2024.parquet")).toBe("Flights_2024");
    expect(stemOf("logs.ndjson.gz")).toBe("logs");
    expect(stemOf("data/2024.csv")).toBe("data_2024");
    expect(stemOf("data/…….csv")).toBe("data");
  });
});

describe("starterPipeline", () => {
  it("reads the file, profiles it, splits it, trains and evaluates", () => {
    const { document, select } = starterPipeline("data/seattle-weather.csv");
    expect(document.name).toBe("seattle-weather-model");
    expect(document.nodes.map((n) => [n.id, n.block])).toEqual([
      ["seattle-weather", "ingest.file"],
      ["profile", "analyze.profile"],
      ["split", "split"],
      ["gbdt", "train.gbdt"],
      ["eval_gbdt", "evaluate"],
    ]);
    expect(document.nodes[0]!.params).toEqual({ path: "data/seattle-weather.csv" });
    expect(document.edges).toContainEqual({ from: "gbdt.model", to: "eval_gbdt.model" });
    expect(document.edges).toContainEqual({ from: "split.test", to: "eval_gbdt.data" });
    expect(select).toBe("gbdt");
  });

  it("keeps ids unique and valid when the file is named like a block", () => {
    const { document } = starterPipeline("split.csv");
    const ids = document.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(["split", "profile", "split_2", "gbdt", "eval_gbdt"]);
    for (const id of ids) expect(nodeIdProblem({ nodes: [], edges: [] }, "", id)).toBeNull();
    // Every edge joins two nodes of the pipeline, and every node has a position.
    for (const e of document.edges) {
      expect(ids).toContain(splitEndpoint(e.from).node);
      expect(ids).toContain(splitEndpoint(e.to).node);
    }
    expect(Object.keys(document.layout ?? {}).sort()).toEqual([...ids].sort());
    expect(document.edges).toContainEqual({ from: "split.out", to: "split_2.in" });
  });
});
