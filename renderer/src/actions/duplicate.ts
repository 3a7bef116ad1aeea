import { extractFragment, insertFragment } from "../document/ops";
import type { EditorAction } from "./types";

export const duplicate: EditorAction = {
  id: "duplicate",
  label: "Duplicate",
  shortcuts: ["Mod+D"],
  enabled: ({ document, editor }) => !!document && editor.selection.nodes.size > 0,
  perform({ document, editor }) {
    if (!document) return undefined;
    const fragment = extractFragment(document, editor.selection.nodes);
    const { document: next, ids } = insertFragment(document, fragment, { x: 40, y: 40 });
    return { document: next, selection: { nodes: new Set(ids), edges: new Set() } };
  },
};
