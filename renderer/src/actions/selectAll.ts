import { edgeKey } from "../document/endpoints";
import type { EditorAction } from "./types";

export const selectAll: EditorAction = {
  id: "select-all",
  label: "Select all",
  shortcuts: ["Mod+A"],
  enabled: ({ document }) => !!document?.nodes.length,
  perform: ({ document }) =>
    document
      ? {
          selection: {
            nodes: new Set(document.nodes.map((n) => n.id)),
            edges: new Set(document.edges.map(edgeKey)),
          },
        }
      : undefined,
};
