import type { EditorAction } from "./types";

export const fitView: EditorAction = {
  id: "fit-view",
  label: "Fit view",
  shortcuts: ["Shift+F"],
  enabled: ({ flow }) => !!flow,
  perform({ flow }) {
    flow?.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 });
    return undefined;
  },
};
