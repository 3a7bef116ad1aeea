import { describe, expect, it } from "vitest";
import type { LineageGraph } from "../../../app/api/api";
import { fitTransform, layoutLineage, MAX_ZOOM, MIN_ZOOM, zoomAt } from "./layout";

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

describe("fit and zoom", () => {
  it("fits a wide graph into the panel, centred, every corner inside", () => {
    const size = { width: 2000, height: 400 };
    const viewport = { width: 800, height: 500 };
    const t = fitTransform(size, viewport, 10);
    expect(t.k).toBeCloseTo(780 / 2000, 10);
    // The graph's corners land inside the viewport (screen = graph × k + offset).
    for (const [gx, gy] of [
      [0, 0],
      [2000, 400],
    ] as const) {
      const sx = gx * t.k + t.x;
      const sy = gy * t.k + t.y;
      expect(sx).toBeGreaterThanOrEqual(0);
      expect(sx).toBeLessThanOrEqual(800);
      expect(sy).toBeGreaterThanOrEqual(0);
      expect(sy).toBeLessThanOrEqual(500);
    }
    // Centred: equal margins left and right.
    expect(t.x).toBeCloseTo(800 - (2000 * t.k + t.x), 10);
  });

  it("keeps a small graph at its size, and never shrinks past the minimum", () => {
    expect(fitTransform({ width: 200, height: 100 }, { width: 800, height: 500 }).k).toBe(1);
    expect(fitTransform({ width: 1e6, height: 100 }, { width: 800, height: 500 }).k).toBe(MIN_ZOOM);
  });

  it("zooms about the pointer: the graph point under it stays put", () => {
    const t = { x: 30, y: -10, k: 0.8 };
    const at = { x: 250, y: 140 };
    const z = zoomAt(t, 1.25, at);
    expect(z.k).toBeCloseTo(1, 10);
    const before = { x: (at.x - t.x) / t.k, y: (at.y - t.y) / t.k };
    const after = { x: (at.x - z.x) / z.k, y: (at.y - z.y) / z.k };
    expect(after.x).toBeCloseTo(before.x, 10);
    expect(after.y).toBeCloseTo(before.y, 10);
    expect(zoomAt(t, 100, at).k).toBe(MAX_ZOOM);
  });
});
