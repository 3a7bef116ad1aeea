import { describe, expect, it } from "vitest";
import type { LineageGraph } from "../../../app/api/api";
import { layoutLineage } from "./layout";

const graph: LineageGraph = {
  nodes: [
    { id: "deployment:local", kind: "deployment", label: "local", detail: {} },
    { id: "version:penguins:1", kind: "modelVersion", label: "penguins v1", detail: {} },
    { id: "run:r1", kind: "run", label: "r1", detail: {} },
    { id: "dataset:abc", kind: "dataset", label: "penguins.csv", detail: {} },
    { id: "dataset:def", kind: "dataset", label: "extra.csv", detail: {} },
  ],
  edges: [
    { from: "dataset:abc", to: "run:r1" },
    { from: "dataset:def", to: "run:r1" },
    { from: "run:r1", to: "version:penguins:1" },
    { from: "version:penguins:1", to: "deployment:local" },
    { from: "run:r1", to: "run:missing" },
  ],
};

describe("layoutLineage", () => {
  it("places data on the left, then runs, versions and deployments", () => {
    const { nodes } = layoutLineage(graph);
    const x = (id: string) => nodes.get(id)!.x;
    expect(x("dataset:abc")).toBeLessThan(x("run:r1"));
    expect(x("dataset:def")).toBe(x("dataset:abc"));
    expect(x("run:r1")).toBeLessThan(x("version:penguins:1"));
    expect(x("version:penguins:1")).toBeLessThan(x("deployment:local"));
    expect(nodes.get("dataset:abc")!.y).not.toBe(nodes.get("dataset:def")!.y);
  });

  it("drops edges to nodes the graph does not hold, and sizes the drawing to fit", () => {
    const layout = layoutLineage(graph);
    expect(layout.edges.map((e) => `${e.from}>${e.to}`)).not.toContain("run:r1>run:missing");
    expect(layout.edges).toHaveLength(4);
    expect(layout.edges[0]!.path).toMatch(/^M[\d.]+,[\d.]+ C/);
    for (const n of layout.nodes.values()) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x + 190).toBeLessThanOrEqual(layout.width);
    }
  });

  it("lays out an empty graph", () => {
    const layout = layoutLineage({ nodes: [], edges: [] });
    expect(layout.nodes.size).toBe(0);
    expect(layout.width).toBe(0);
  });
});
