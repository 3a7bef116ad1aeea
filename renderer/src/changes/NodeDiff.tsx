/** A node's look under the Changes overlay and merge conflicts: its extra class names and its badge. */
import { useEditor } from "../store/editor";
import { conflictsOf } from "./conflicts";
import type { NodeMarkKind } from "./overlay";
import { useChanges } from "./store";

const BADGE: Record<NodeMarkKind, string> = { added: "new", changed: "changed", renamed: "renamed" };

export function useNodeDiff(id: string): {
  className: string;
  kind: NodeMarkKind | undefined;
  conflicts: number;
} {
  const kind = useChanges((s) => (s.open ? s.overlay?.marks.get(id)?.kind : undefined));
  const conflicts = useEditor((s) =>
    Array.isArray(s.document?.conflicts) ? conflictsOf(s.document).filter((c) => c.node === id).length : 0,
  );
  return {
    kind,
    conflicts,
    className: `${kind ? ` diff-${kind}` : ""}${conflicts ? " has-conflict" : ""}`,
  };
}

export function NodeDiffBadge({
  kind,
  conflicts,
  count,
}: {
  kind?: NodeMarkKind;
  conflicts: number;
  count: number;
}) {
  return (
    <>
      {conflicts > 0 && (
        <span
          className="node-badge diff-badge diff-badge-conflict"
          title="Unresolved merge conflicts: pick a side in the banner"
        >
          ⚠ conflict{conflicts > 1 ? ` ×${conflicts}` : ""}
        </span>
      )}
      {kind && (
        <span
          className={`node-badge diff-badge diff-badge-${kind}`}
          data-testid="diff-badge"
          title={`${BADGE[kind]} since the base`}
        >
          {BADGE[kind]}
          {kind === "changed" && count > 1 ? ` ×${count}` : ""}
        </span>
      )}
    </>
  );
}
