import { useEffect } from "react";
import { useShallow } from "zustand/react/shallow";
import { pipelineName } from "../document/shape";
import { selectDirty, useEditor } from "../store/editor";

/** "• penguins — Dagwood" while there are unsaved changes; leaving then asks first. */
export function useDocumentTitle(): void {
  const { name, dirty } = useEditor(
    useShallow((s) => ({ name: s.path ? pipelineName(s.document, s.path) : null, dirty: selectDirty(s) })),
  );
  useEffect(() => {
    document.title = `${dirty ? "• " : ""}${name ? `${name} — ` : ""}Dagwood`;
  }, [name, dirty]);
  useEffect(() => {
    if (!dirty) return;
    const ask = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [dirty]);
}
