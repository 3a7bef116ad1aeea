import { describe, expect, it } from "vitest";
import { useEditor } from "./editor";
import type { PipelineDocument } from "./types";

const doc = (ids: string[]): PipelineDocument =>
  ({
    format: "dagwood.pipeline/1",
    name: "p",
    params: {},
    nodes: ids.map((id) => ({ id, block: "shuffle", params: {} })),
    edges: [],
  }) as PipelineDocument;

describe("editor store", () => {
  it("drops selected nodes that undo or redo removed", () => {
    const editor = useEditor.getState();
    editor.open("p.dag.json", doc(["a"]), "");
    useEditor.getState().commit(doc(["a", "b"]), { selection: { nodes: new Set(["b"]), edges: new Set() } });
    expect([...useEditor.getState().selection.nodes]).toEqual(["b"]);
    useEditor.getState().undo();
    expect([...useEditor.getState().selection.nodes]).toEqual([]);
    useEditor.getState().select({ nodes: new Set(["a"]), edges: new Set() });
    useEditor.getState().redo();
    expect([...useEditor.getState().selection.nodes]).toEqual(["a"]);
  });

  it("tracks unsaved changes against the saved document, and closes", () => {
    const saved = doc(["a"]);
    useEditor.getState().open("p.dag.json", saved, "");
    useEditor.getState().commit(doc(["a", "b"]));
    expect(useEditor.getState().document).not.toBe(useEditor.getState().savedDocument);
    useEditor.getState().undo();
    expect(useEditor.getState().document).toBe(saved);
    useEditor.getState().markSaved(saved, "q.dag.json");
    expect(useEditor.getState().path).toBe("q.dag.json");
    useEditor.getState().close();
    expect(useEditor.getState().document).toBeNull();
  });
});
