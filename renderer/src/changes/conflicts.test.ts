import { describe, expect, it } from "vitest";
import { emptyHistory, record, redo, undo } from "../store/history";
import type { PipelineDocument } from "../store/types";
import { conflictChoices, conflictsOf, conflictWhere, parsePath, resolveConflict } from "./conflicts";

// What `dagwood merge` (app/pipeline/merge.ts) wrote for: base mix.seed 1, params.seed 1, mix.out → mix2.in;
// ours mix.seed 2, params.seed 10, rows.out → mix2.in; theirs mix.seed 3, params.seed 20, mix2.in unconnected.
const MERGED = {
  format: "dagwood.pipeline/1",
  name: "p",
  params: { seed: 10 },
  nodes: [
    { id: "mix", block: "shuffle", params: { seed: 2 } },
    { id: "mix2", block: "shuffle", params: { seed: 5 } },
    { id: "rows", block: "ingest.file", params: { path: "a.csv" } },
  ],
  edges: [
    { from: "rows.out", to: "mix.in" },
    { from: "rows.out", to: "mix2.in" },
  ],
  conflicts: [
    { node: "mix", path: "params.seed", base: 1, ours: 2, theirs: 3, kept: "ours" },
    { node: "mix2", path: "inputs.in", base: "mix.out", ours: "rows.out", kept: "ours" },
    { path: "params.seed", base: 1, ours: 10, theirs: 20, kept: "ours" },
  ],
  layout: { mix: { x: 200, y: 0 }, mix2: { x: 400, y: 0 }, rows: { x: 0, y: 0 } },
};

// The same base; ours changed mix2's seed to 9, theirs deleted mix2.
const DELETED = {
  format: "dagwood.pipeline/1",
  name: "p",
  params: { seed: 1 },
  nodes: [
    { id: "mix", block: "shuffle", params: { seed: 1 } },
    { id: "mix2", block: "shuffle", params: { seed: 9 } },
    { id: "rows", block: "ingest.file", params: { path: "a.csv" } },
  ],
  edges: [
    { from: "rows.out", to: "mix.in" },
    { from: "mix.out", to: "mix2.in" },
  ],
  conflicts: [
    {
      node: "mix2",
      path: "",
      base: { id: "mix2", block: "shuffle", params: { seed: 5 } },
      ours: { id: "mix2", block: "shuffle", params: { seed: 9 } },
      kept: "ours",
    },
  ],
  layout: { mix: { x: 200, y: 0 }, mix2: { x: 400, y: 0 }, rows: { x: 0, y: 0 } },
};

const conflicted = () => structuredClone(MERGED) as unknown as PipelineDocument;

describe("merge conflicts in the editor", () => {
  it("lists what the merge wrote, and validation refuses the file until each is picked", () => {
    const doc = conflicted();
    expect(conflictsOf(doc).map(conflictWhere)).toEqual(["mix.params.seed", "mix2.inputs.in", "params.seed"]);
    expect(conflictChoices(conflictsOf(doc)[0]!)).toEqual([
      { side: "ours", text: "2" },
      { side: "theirs", text: "3" },
      { side: "base", text: "1" },
    ]);
  });

  it("writes the picked side's value and drops the entry, and the list when the last is picked", () => {
    let doc = conflicted();
    const at = (where: string) => conflictsOf(doc).findIndex((c) => conflictWhere(c) === where);
    doc = resolveConflict(doc, at("mix.params.seed"), "theirs");
    expect(doc.nodes.find((n) => n.id === "mix")!.params).toEqual({ seed: 3 });
    doc = resolveConflict(doc, at("params.seed"), "base");
    expect(doc.params).toEqual({ seed: 1 });
    expect(conflictsOf(doc).map(conflictWhere)).toEqual(["mix2.inputs.in"]);
    // Theirs removed the edge into mix2.in: picking theirs leaves that input unconnected.
    doc = resolveConflict(doc, 0, "theirs");
    expect(doc.edges.filter((e) => e.to === "mix2.in")).toEqual([]);
    expect("conflicts" in doc).toBe(false);
    const withOurs = resolveConflict(conflicted(), 1, "ours");
    expect(withOurs.edges.filter((e) => e.to === "mix2.in")).toEqual([{ from: "rows.out", to: "mix2.in" }]);
  });

  it("is undone like any edit: the history gives back the conflicted document", () => {
    const before = conflicted();
    const after = resolveConflict(before, 0, "ours");
    const history = record(emptyHistory(), before);
    const back = undo(history, after);
    expect(back.document).toBe(before);
    expect(redo(back.history, back.document!).document).toBe(after);
  });

  it("keeps or deletes a node changed on one side and deleted on the other", () => {
    const doc = structuredClone(DELETED) as unknown as PipelineDocument;
    const c = conflictsOf(doc)[0]!;
    expect(conflictWhere(c)).toBe("node mix2");
    expect(conflictChoices(c)).toEqual([
      { side: "ours", text: "keep the node" },
      { side: "theirs", text: "delete the node" },
    ]);
    const deleted = resolveConflict(doc, 0, "theirs");
    expect(deleted.nodes.map((n) => n.id)).toEqual(["mix", "rows"].sort());
    expect(deleted.edges.some((e) => e.to.startsWith("mix2."))).toBe(false);
    expect(deleted.layout?.mix2).toBeUndefined();
    const kept = resolveConflict(doc, 0, "ours");
    expect(kept.nodes.find((n) => n.id === "mix2")!.params).toEqual({ seed: 9 });
    expect("conflicts" in kept || "conflicts" in deleted).toBe(false);
  });

  it("renames for an id conflict (and the other entries follow), refusing an id another node has", () => {
    const doc: PipelineDocument = {
      ...conflicted(),
      conflicts: [
        { node: "mix", path: "id", base: "mix", ours: "mix", theirs: "shuffled", kept: "ours" },
        { node: "mix", path: "label", ours: "A", theirs: "B", kept: "ours" },
        { node: "mix2", path: "id", ours: "mix2", theirs: "rows", kept: "ours" },
      ],
    };
    const renamed = resolveConflict(doc, 0, "theirs");
    expect(renamed.nodes.map((n) => n.id)).toContain("shuffled");
    expect(renamed.edges).toContainEqual({ from: "rows.out", to: "shuffled.in" });
    expect(conflictsOf(renamed)[0]).toMatchObject({ node: "shuffled", path: "label" });
    expect(resolveConflict(renamed, 0, "theirs").nodes.find((n) => n.id === "shuffled")!.label).toBe("B");
    expect(() => resolveConflict(renamed, 1, "theirs")).toThrow(/Another node is already called rows/);
  });

  it("reads nested and quoted paths, and refuses a path it cannot read", () => {
    expect(parsePath('params.cols[2]["odd key"].x')).toEqual(["params", "cols", 2, "odd key", "x"]);
    const doc: PipelineDocument = {
      ...conflicted(),
      conflicts: [{ node: "rows", path: 'params["odd key"]', ours: 1, theirs: 2, kept: "ours" }],
    };
    expect(resolveConflict(doc, 0, "theirs").nodes.find((n) => n.id === "rows")!.params).toEqual({
      path: "a.csv",
      "odd key": 2,
    });
    // Base absent: picking base removes the value.
    expect(resolveConflict(doc, 0, "base").nodes.find((n) => n.id === "rows")!.params).toEqual({
      path: "a.csv",
    });
    expect(() => parsePath("params..x")).toThrow(/Cannot read the conflict's path/);
    expect(() => resolveConflict(doc, 5, "ours")).toThrow(/no longer in the pipeline/);
  });
});
