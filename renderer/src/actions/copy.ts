import { extractFragment } from "../document/ops";
import { toast } from "../store/toasts";
import { clipboard } from "./clipboard";
import type { EditorAction } from "./types";

export const copy: EditorAction = {
  id: "copy",
  label: "Copy",
  shortcuts: ["Mod+C"],
  enabled: ({ document, editor }) => !!document && editor.selection.nodes.size > 0,
  perform({ document, editor }) {
    if (!document) return undefined;
    clipboard.fragment = extractFragment(document, editor.selection.nodes);
    clipboard.pastes = 0;
    const n = clipboard.fragment.nodes.length;
    toast(`Copied ${n} node${n === 1 ? "" : "s"}`);
    return undefined;
  },
};
