import { useChanges } from "../changes/store";
import type { EditorAction } from "./types";

/** The Changes overlay: what changed since a git commit or branch, drawn on the canvas (renderer/src/changes). */
export const toggleChanges: EditorAction = {
  id: "toggle-changes",
  label: "Show or hide changes since git",
  enabled: ({ document }) => !!document,
  perform() {
    const changes = useChanges.getState();
    changes.setOpen(!changes.open);
    return undefined;
  },
};
