import { insertFragment } from "../document/ops";
import { clipboard } from "./clipboard";
import type { EditorAction } from "./types";

const STEP = 40;

export const paste: EditorAction = {
  id: "paste",
  label: "Paste",
  shortcuts: ["Mod+V"],
  enabled: ({ document }) => !!document && !!clipboard.fragment?.nodes.length,
  perform({ document }) {
    if (!document || !clipboard.fragment) return undefined;
    clipboard.pastes += 1;
    const shift = STEP * clipboard.pastes;
    const { document: next, ids } = insertFragment(document, clipboard.fragment, { x: shift, y: shift });
    return { document: next, selection: { nodes: new Set(ids), edges: new Set() } };
  },
};
