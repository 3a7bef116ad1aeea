/**
 * The size of a node on the canvas, known before it is drawn: the rows of a
 * node have fixed heights (set as CSS variables on the canvas, read by
 * canvas.css), so a node's box follows from its port count. The compact
 * drawing of a zoomed-out node and the first fit of a newly opened pipeline
 * use the same numbers as the full drawing.
 */

import { getViewportForBounds, type Viewport } from "@xyflow/react";
import type { CSSProperties } from "react";
import type { Catalog, NodeDoc, PipelineDocument, Position } from "../store/types";

export const NODE_GEOMETRY = {
  width: 220,
  /** The node's border, each side. */
  border: 1.5,
  /** Title row, its 4 px state stripe included. */
  head: 28,
  /** Id and kind row, its bottom rule included. */
  sub: 21,
  portsPaddingTop: 4,
  portsPaddingBottom: 6,
  /** A port row with no ports still keeps the ports area this tall. */
  portsMinHeight: 12,
  row: 17,
  /** The headline row under the ports after a run (graph/headline.ts), its bottom margin included. */
  headline: 24,
} as const;

/** The CSS variables canvas.css sizes the node rows with. */
export const geometryStyle = {
  "--node-head-height": `${NODE_GEOMETRY.head}px`,
  "--node-sub-height": `${NODE_GEOMETRY.sub}px`,
  "--port-row-height": `${NODE_GEOMETRY.row}px`,
  "--node-headline-height": `${NODE_GEOMETRY.headline - 6}px`,
} as CSSProperties;

/**
 * Below this zoom a node is drawn compact: its box, state stripe, title and
 * port handles, without the port names, kind and badge, which are under 6 px
 * tall there. As React Flow's "contextual zoom" example
 * (reactflow.dev/examples/interaction/contextual-zoom) and litegraph's
 * low-quality mode (low_quality_zoom_threshold, 0.6 by default) do, this
 * saves drawing thousands of unreadable elements when a large pipeline is
 * seen whole.
 */
export const COMPACT_BELOW_ZOOM = 0.5;

/**
 * Height inside the border of a node in its usual state (no progress bar,
 * error or problems line) with this many port rows. The border is left out:
 * browsers round a 1.5 px border to whole device pixels.
 */
export function nodeInnerHeight(rows: number): number {
  const g = NODE_GEOMETRY;
  const ports = rows > 0 ? g.portsPaddingTop + rows * g.row + g.portsPaddingBottom : g.portsMinHeight;
  return g.head + g.sub + Math.max(ports, g.portsMinHeight);
}

/** The same with the border, about what the node's box measures. */
export function nodeHeight(rows: number): number {
  return 2 * NODE_GEOMETRY.border + nodeInnerHeight(rows);
}

/** Centre of port row `i`, from the top of the node's padding box (inside its border). */
export function portRowCenter(i: number): number {
  const g = NODE_GEOMETRY;
  return g.head + g.sub + g.portsPaddingTop + (i + 0.5) * g.row;
}

/** The port rows a node draws: its block's inputs or outputs, whichever are more. */
export function portRows(
  node: NodeDoc,
  catalog: Catalog,
  guessed?: { inputs: string[]; outputs: string[] },
): number {
  const block = catalog.get(node.block);
  if (block) return Math.max(Object.keys(block.inputs).length, Object.keys(block.outputs).length);
  return Math.max(guessed?.inputs.length ?? 0, guessed?.outputs.length ?? 0);
}

/** Where a node is drawn: its position in the file, else the fallback layout's, else a diagonal. */
export function nodePosition(
  doc: PipelineDocument,
  fallback: Readonly<Record<string, Position>>,
  id: string,
  index: number,
): Position {
  const at = doc.layout?.[id] as Position | undefined;
  if (at && typeof at.x === "number" && typeof at.y === "number") return at;
  return fallback[id] ?? { x: index * 40, y: index * 40 };
}

/**
 * The viewport that fits a document's nodes into a `width` × `height` pane,
 * from their positions and sizes before any is drawn (unknown blocks count
 * as one port row).
 */
export function fittedViewport(
  doc: PipelineDocument,
  catalog: Catalog,
  fallback: Readonly<Record<string, Position>>,
  pane: { width: number; height: number },
  limits: { minZoom: number; maxZoom: number; padding: number },
): Viewport | null {
  if (!doc.nodes.length || pane.width <= 0 || pane.height <= 0) return null;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  doc.nodes.forEach((n, i) => {
    const p = nodePosition(doc, fallback, n.id, i);
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x + NODE_GEOMETRY.width);
    y1 = Math.max(y1, p.y + nodeHeight(Math.max(1, portRows(n, catalog))));
  });
  return getViewportForBounds(
    { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
    pane.width,
    pane.height,
    limits.minZoom,
    limits.maxZoom,
    limits.padding,
  );
}

/** The minimap's box (React Flow's default size) and the margin kept around it. */
export const MINIMAP = { width: 200, height: 150 };

/**
 * Whether the canvas has room for the minimap without it hiding the pipeline: at 1280×720 with
 * the bottom panel open the canvas is about 740×390 px, and a 200×150 minimap in its corner
 * covered the last node's headline once the graph was fitted into view; with the panel folded
 * (740×616) it still covered the bottom evaluate of weather-model. It shows on a canvas at least
 * 5.5 minimaps wide and 4 high (1920×1080 with every panel open, 1366×768 with the side panels folded).
 */
export function minimapFits(pane: { width: number; height: number }): boolean {
  return pane.width >= MINIMAP.width * 5.5 && pane.height >= MINIMAP.height * 4;
}
