import { moveNodes } from "../document/ops";
import { DEFAULT_NODE_SIZE, layoutPositions } from "../graph/layout";
import type { EditorAction } from "./types";

export const autoLayout: EditorAction = {
  id: "auto-layout",
  label: "Auto-layout (left to right)",
  shortcuts: ["Mod+Shift+L"],
  enabled: ({ document }) => !!document?.nodes.length,
  perform({ document, flow }) {
    if (!document) return undefined;
    const sizeOf = (id: string) => {
      const m = flow?.getNode(id)?.measured;
      return m?.width && m.height ? { width: m.width, height: m.height } : DEFAULT_NODE_SIZE;
    };
    const next = moveNodes(document, layoutPositions(document, sizeOf));
    requestAnimationFrame(() => flow?.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 }));
    return { document: next };
  },
};
