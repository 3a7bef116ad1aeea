/**
 * The shapes the editor holds. The pipeline document mirrors
 * app/pipeline/schema.ts (the renderer may import only app/api types, so the
 * shape is restated here); unknown fields are carried along untouched so that
 * nothing in a file is lost on save.
 */
import type { BlockInfo, PortSpec } from "../../../app/api/api";

export type PortType = PortSpec["type"];

export interface NodeDoc {
  id: string;
  block: string;
  params: Record<string, unknown>;
  label?: string;
  description?: string;
  [extra: string]: unknown;
}

export interface EdgeDoc {
  /** "nodeId.port" of an output. */
  from: string;
  /** "nodeId.port" of an input. */
  to: string;
}

export interface Position {
  x: number;
  y: number;
}

/** A pipeline document as the editor holds it (dagwood.pipeline/1). */
export interface PipelineDocument {
  format?: unknown;
  name?: unknown;
  params?: Record<string, unknown>;
  nodes: NodeDoc[];
  edges: EdgeDoc[];
  layout?: Record<string, Position & Record<string, unknown>>;
  [extra: string]: unknown;
}

/** What a node shows: before a run its cache state, during and after one its run state. */
export type NodeState = "idle" | "stale" | "queued" | "running" | "cached" | "done" | "failed" | "skipped";

export type Catalog = ReadonlyMap<string, BlockInfo>;

/** Where an edge ends: node and port, as React Flow's source/target + handle. */
export interface Endpoint {
  node: string;
  port: string;
}

/** Undo history: snapshots of the document before each recorded change. */
export interface History {
  past: PipelineDocument[];
  future: PipelineDocument[];
  /** The last recorded change, so a burst of the same change (a drag, typing) is one step. */
  last: { key: string; at: number } | null;
}

export interface Selection {
  nodes: ReadonlySet<string>;
  edges: ReadonlySet<string>;
}

/** How a change is recorded: `coalesce` merges it with the previous change of the same key. */
export interface CommitOptions {
  coalesce?: string;
  selection?: Selection;
}

export interface EditorState {
  /** The pipeline file, relative to the project folder. */
  path: string | null;
  /** The document being edited; null when nothing is open or the file cannot be drawn. */
  document: PipelineDocument | null;
  /** The document as last loaded or saved: the editor is dirty when `document` is another object. */
  savedDocument: PipelineDocument | null;
  /** A file the canvas cannot hold (not JSON, no nodes array): shown as text, never overwritten. */
  unreadable: { text: string } | null;
  history: History;
  selection: Selection;
  open(path: string, document: PipelineDocument | null, text: string): void;
  /** Shows no pipeline (another project was opened). */
  close(): void;
  /** Marks the document saved, under a new path after Save As. */
  markSaved(document: PipelineDocument, path?: string): void;
  commit(document: PipelineDocument, options?: CommitOptions): void;
  undo(): void;
  redo(): void;
  select(selection: Selection): void;
}
