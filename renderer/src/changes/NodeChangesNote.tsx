/** In the node's inspector: what changed in it since the Changes overlay's base (old → new), and its merge conflicts. */
import { useEditor } from "../store/editor";
import { conflictsOf } from "./conflicts";
import { showValue } from "./overlay";
import { useChanges } from "./store";
import "./changes.css";

export function NodeChangesNote({ id }: { id: string }) {
  const mark = useChanges((s) => (s.open ? s.overlay?.marks.get(id) : undefined));
  const base = useChanges((s) => s.result?.base.label ?? s.base);
  const conflicts = useEditor((s) => s.document?.conflicts);
  const mine = Array.isArray(conflicts)
    ? conflictsOf(useEditor.getState().document).filter((c) => c.node === id)
    : [];
  return (
    <>
      {mark && (
        <div className={`inspector-changes ${mark.kind}`} data-testid="inspector-changes">
          {mark.kind === "added" && <>New since {base}.</>}
          {mark.kind === "renamed" && (
            <>
              Renamed from <b className="mono">{mark.renamedFrom}</b> since {base}.
            </>
          )}
          {mark.kind === "changed" && <>Changed since {base}:</>}
          {mark.changes.length > 0 && (
            <ul>
              {mark.changes.map((c) => (
                <li key={c.path} className="mono">
                  {c.path}: <span className="old">{showValue(c.old)}</span> →{" "}
                  <span className="new">{showValue(c.new)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {mine.length > 0 && (
        <div
          className="inspector-changes"
          data-testid="inspector-conflicts"
          style={{ borderLeftColor: "var(--danger)" }}
        >
          {mine.length} merge conflict{mine.length === 1 ? "" : "s"} on this node: pick a side in the banner
          over the canvas.
        </div>
      )}
    </>
  );
}
