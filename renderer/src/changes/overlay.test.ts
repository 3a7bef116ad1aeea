import { describe, expect, it } from "vitest";
import type { PipelineDiff } from "../../../app/api/api";
import { buildOverlay, showValue } from "./overlay";

const BASE = {
  format: "dagwood.pipeline/1",
  name: "p",
  params: { seed: 1 },
  nodes: [
    { id: "rows", block: "ingest.file", params: { path: "a.csv" } },
    { id: "split", block: "split", params: { ratio: 0.8, seed: 1 } },
    { id: "tree", block: "train.tree", params: { target: "y", depth: 4 } },
    { id: "mlp", block: "train.mlp", params: { target: "y" } },
  ],
  edges: [
    { from: "rows.out", to: "split.in" },
    { from: "split.train", to: "tree.train" },
    { from: "split.train", to: "mlp.train" },
  ],
  layout: {
    rows: { x: 0, y: 0 },
    split: { x: 200, y: 0 },
    tree: { x: 400, y: 0 },
    mlp: { x: 400, y: 180 },
  },
};

/**
 * What diffPipelines (app/pipeline/diff.ts, as `dagwood diff --json` prints it) answered for BASE against:
 * `a` split's ratio 0.8 → 0.7, tree renamed decision_tree, mlp removed, linear added, split moved;
 * `b` the same and decision_tree's depth 4 → 6 and the pipeline's seed 1 → 2; `same` BASE itself;
 * `moved` only rows moved.
 */
const DIFFS: Record<"a" | "b" | "same" | "moved", PipelineDiff> = {
  a: {
    same: false,
    logicChanged: true,
    name: { old: "p", "new": "p" },
    pipeline: [],
    nodes: {
      added: [{ id: "linear", block: "train.linear", params: { target: "y" } }],
      removed: [{ id: "mlp", block: "train.mlp", params: { target: "y" } }],
      renamed: [
        {
          from: "tree",
          to: "decision_tree",
          block: "train.tree",
          evidence: ["params", "connections", "position"],
        },
      ],
      changed: [{ node: "split", path: "params.ratio", old: 0.8, "new": 0.7 }],
    },
    edges: {
      added: [{ from: "split.train", to: "linear.train" }],
      removed: [{ from: "split.train", to: "mlp.train" }],
    },
    layout: { moved: 1, restyled: 0 },
    sharedNodes: 3,
    unrelated: false,
  },
  b: {
    same: false,
    logicChanged: true,
    name: { old: "p", "new": "p" },
    pipeline: [{ path: "params.seed", old: 1, "new": 2 }],
    nodes: {
      added: [{ id: "linear", block: "train.linear", params: { target: "y" } }],
      removed: [{ id: "mlp", block: "train.mlp", params: { target: "y" } }],
      renamed: [
        { from: "tree", to: "decision_tree", block: "train.tree", evidence: ["connections", "position"] },
      ],
      changed: [
        { node: "decision_tree", path: "params.depth", old: 4, "new": 6 },
        { node: "split", path: "params.ratio", old: 0.8, "new": 0.7 },
      ],
    },
    edges: {
      added: [{ from: "split.train", to: "linear.train" }],
      removed: [{ from: "split.train", to: "mlp.train" }],
    },
    layout: { moved: 1, restyled: 0 },
    sharedNodes: 3,
    unrelated: false,
  },
  same: {
    same: true,
    logicChanged: false,
    name: { old: "p", "new": "p" },
    pipeline: [],
    nodes: { added: [], removed: [], renamed: [], changed: [] },
    edges: { added: [], removed: [] },
    layout: { moved: 0, restyled: 0 },
    sharedNodes: 4,
    unrelated: false,
  },
  moved: {
    same: false,
    logicChanged: false,
    name: { old: "p", "new": "p" },
    pipeline: [],
    nodes: { added: [], removed: [], renamed: [], changed: [] },
    edges: { added: [], removed: [] },
    layout: { moved: 1, restyled: 0 },
    sharedNodes: 4,
    unrelated: false,
  },
};

describe("the changes overlay", () => {
  it("marks added, changed and renamed nodes, ghosts the removed one at its old place, and lists every change", () => {
    const overlay = buildOverlay({
      diff: DIFFS.a,
      basePipeline: BASE,
    })!;
    expect(Object.fromEntries(overlay.marks)).toEqual({
      linear: { kind: "added", changes: [] },
      split: { kind: "changed", changes: [{ path: "params.ratio", old: 0.8, new: 0.7 }] },
      decision_tree: { kind: "renamed", changes: [], renamedFrom: "tree" },
    });
    expect(overlay.ghosts).toEqual([{ id: "mlp", block: "train.mlp", position: { x: 400, y: 180 } }]);
    expect(overlay.lines.map((l) => `${l.sign} ${l.text} @${l.node ?? `ghost ${l.ghost}`}`)).toEqual([
      "~ node tree renamed to decision_tree @decision_tree",
      "- node mlp (train.mlp) @ghost mlp",
      "+ node linear (train.linear) @linear",
      "~ node split params.ratio: 0.8 → 0.7 @split",
      "- edge split.train → mlp.train @ghost mlp",
      "+ edge split.train → linear.train @linear",
    ]);
    // The moved node is counted, not listed.
    expect(overlay.summary).toBe("6 changes, and layout (1 node moved)");
  });

  it("keeps a renamed node's param changes on it, and lists pipeline fields with no node", () => {
    const overlay = buildOverlay({ diff: DIFFS.b, basePipeline: null })!;
    expect(overlay.marks.get("decision_tree")).toEqual({
      kind: "renamed",
      renamedFrom: "tree",
      changes: [{ path: "params.depth", old: 4, new: 6 }],
    });
    expect(overlay.lines.find((l) => l.text.startsWith("pipeline"))).toMatchObject({
      text: "pipeline params.seed: 1 → 2",
      node: null,
    });
    // Without the base's layout a ghost still has a place, left of the graph.
    expect(overlay.ghosts[0]!.position).toEqual({ x: -320, y: 0 });
  });

  it("shows a pipeline with no changes as such, and nothing when there is no diff", () => {
    const same = buildOverlay({ diff: DIFFS.same, basePipeline: null })!;
    expect(same).toMatchObject({ summary: "No changes", lines: [], ghosts: [] });
    expect(same.marks.size).toBe(0);
    expect(buildOverlay({ diff: DIFFS.moved, basePipeline: null })!.summary).toBe(
      "No logic changes, and layout (1 node moved)",
    );
    expect(buildOverlay({ diff: null, basePipeline: null })).toBeNull();
  });

  it("shows values as JSON on one short line", () => {
    expect(showValue("${seed}")).toBe('"${seed}"');
    expect(showValue(undefined)).toBe("(absent)");
    expect(showValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(showValue("x".repeat(100))).toHaveLength(60);
  });
});
