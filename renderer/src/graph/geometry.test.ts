import { describe, expect, it } from "vitest";
import type { BlockInfo } from "../../../app/api/api";
import type { Catalog, PipelineDocument } from "../store/types";
import {
  fittedViewport,
  minimapFits,
  nodeHeight,
  nodeInnerHeight,
  portRowCenter,
  portRows,
} from "./geometry";

const block = (inputs: string[], outputs: string[]) =>
  ({
    inputs: Object.fromEntries(inputs.map((p) => [p, { type: "table" }])),
    outputs: Object.fromEntries(outputs.map((p) => [p, { type: "table" }])),
  }) as unknown as BlockInfo;

const catalog: Catalog = new Map([
  ["split", block(["in"], ["train", "test"])],
  ["ingest.file", block([], ["out"])],
]);

const doc = (layout: PipelineDocument["layout"]): PipelineDocument =>
  ({
    format: "dagwood.pipeline/1",
    name: "t",
    params: {},
    nodes: [
      { id: "a", block: "ingest.file", params: {} },
      { id: "b", block: "split", params: {} },
    ],
    edges: [],
    layout,
  }) as unknown as PipelineDocument;

describe("node geometry", () => {
  it("adds the rows up: border, title, id row, then the port rows with their padding", () => {
    // 28 + 21 + 4 + 17 × rows + 6, and 1.5 px of border above and below
    expect(nodeInnerHeight(1)).toBe(76);
    expect(nodeInnerHeight(2)).toBe(93);
    expect(nodeHeight(2)).toBe(96);
    // No ports: the ports area keeps its 12 px minimum.
    expect(nodeInnerHeight(0)).toBe(28 + 21 + 12);
    expect(portRowCenter(0)).toBe(28 + 21 + 4 + 8.5);
    expect(portRowCenter(1)).toBe(28 + 21 + 4 + 17 + 8.5);
  });
  it("counts a block's longer port side, and guessed ports for an unknown block", () => {
    expect(portRows({ id: "b", block: "split", params: {} }, catalog)).toBe(2);
    expect(
      portRows({ id: "x", block: "nope", params: {} }, catalog, { inputs: ["a", "b", "c"], outputs: [] }),
    ).toBe(3);
    expect(portRows({ id: "x", block: "nope", params: {} }, catalog)).toBe(0);
  });
});

describe("fittedViewport", () => {
  const pane = { width: 1000, height: 600 };
  const limits = { minZoom: 0.1, maxZoom: 1.2, padding: 0.2 };

  it("centres the nodes' bounding box (positions and drawn sizes) in the pane", () => {
    const v = fittedViewport(doc({ a: { x: 0, y: 0 }, b: { x: 2000, y: 300 } }), catalog, {}, pane, limits)!;
    // Box: x 0 … 2000 + 220, y 0 … 300 + nodeHeight(2) = 396; its centre lands on the pane's centre.
    const [cx, cy] = [(0 + 2220) / 2, (0 + 396) / 2];
    expect(v.x + cx * v.zoom).toBeCloseTo(pane.width / 2, 6);
    expect(v.y + cy * v.zoom).toBeCloseTo(pane.height / 2, 6);
    // The box fits with room to spare, and the width is what limits the zoom.
    expect(2220 * v.zoom).toBeLessThan(pane.width);
    expect(2220 * v.zoom).toBeGreaterThan(pane.width * 0.6);
  });

  it("places nodes the file gives no position by the fallback layout, and stays within the zoom limits", () => {
    const v = fittedViewport(doc({ a: { x: 0, y: 0 } }), catalog, { b: { x: 100, y: 0 } }, pane, limits)!;
    expect(v.zoom).toBe(1.2);
    expect(v.x + ((0 + 320) / 2) * v.zoom).toBeCloseTo(500, 6);
    const far = fittedViewport(doc({ a: { x: 0, y: 0 }, b: { x: 1e6, y: 0 } }), catalog, {}, pane, limits)!;
    expect(far.zoom).toBe(0.1);
  });

  it("gives nothing to fit for an empty document or a pane not laid out yet", () => {
    expect(fittedViewport({ ...doc({}), nodes: [] }, catalog, {}, pane, limits)).toBeNull();
    expect(fittedViewport(doc({}), catalog, {}, { width: 0, height: 0 }, limits)).toBeNull();
  });
});

describe("minimapFits", () => {
  it("leaves the minimap out of a canvas it would cover much of, as at 1280×720 with the bottom panel open", () => {
    // The canvas's sizes measured in the app: 1280×720 with the panel open, then folded; 1366×768 open.
    expect(minimapFits({ width: 740, height: 390 })).toBe(false);
    expect(minimapFits({ width: 826, height: 453 })).toBe(false);
    expect(minimapFits({ width: 740, height: 616 })).toBe(false);
    // 1920×1080 with the panel open; 1366×768 with both side panels folded; a canvas narrowed by a wide inspector.
    expect(minimapFits({ width: 1380, height: 760 })).toBe(true);
    expect(minimapFits({ width: 1306, height: 640 })).toBe(true);
    expect(minimapFits({ width: 600, height: 760 })).toBe(false);
    // A pane not laid out yet.
    expect(minimapFits({ width: 0, height: 0 })).toBe(false);
  });
});
