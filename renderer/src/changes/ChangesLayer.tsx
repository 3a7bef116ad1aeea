/**
 * Beside the canvas: the merge conflicts of the open pipeline (a banner with
 * each conflict and its sides to pick), and the Changes overlay's panel (the
 * base to compare with, and the diff's lines; a click selects and centres the
 * node); over the canvas, the button that turns the overlay on.
 */
import type { NodeProps } from "@xyflow/react";
import { memo, useEffect } from "react";
import { flowRef } from "../graph/flowRef";
import type { FlowNode } from "../graph/toFlow";
import { useEditor } from "../store/editor";
import { toast } from "../store/toasts";
import {
  type Conflict,
  conflictChoices,
  conflictsOf,
  conflictWhere,
  resolveConflict,
  type Side,
} from "./conflicts";
import { GHOST_PREFIX } from "./overlay";
import { useChanges } from "./store";
import "./changes.css";

/** Selects a node of the document (or, for a removed one, nothing) and centres it, at the zoom the user has. */
export function focusNode(id: string | null, ghost?: string) {
  const editor = useEditor.getState();
  if (id) editor.select({ nodes: new Set([id]), edges: new Set() });
  const flow = flowRef.current;
  const node = flow?.getNode(id ?? `${GHOST_PREFIX}${ghost ?? ""}`);
  if (!flow || !node) return;
  const width = node.measured?.width ?? node.initialWidth ?? 0;
  const height = node.measured?.height ?? node.initialHeight ?? 0;
  void flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, {
    zoom: flow.getZoom(),
    duration: 250,
  });
}

/** A removed node, drawn where it was at the base: faded, dashed, not editable. */
function GhostNodeImpl({ data }: NodeProps<FlowNode>) {
  const { node } = data;
  return (
    <div
      className="node ghost-node"
      data-testid={`ghost-${node.id}`}
      title="Removed since the base: not in the pipeline"
    >
      <div className="node-head">
        <span className="node-title">{node.label ?? node.id}</span>
        <span className="node-badge diff-badge diff-badge-removed">removed</span>
      </div>
      <div className="node-sub">
        <span className="node-id">{node.id}</span>
        <span className="node-kind">{node.block}</span>
      </div>
    </div>
  );
}
export const GhostNode = memo(GhostNodeImpl);

function ConflictRow({ conflict, index }: { conflict: Conflict; index: number }) {
  const pick = (side: Side) => {
    const editor = useEditor.getState();
    if (!editor.document) return;
    try {
      const next = resolveConflict(editor.document, index, side);
      editor.commit(next);
      if (!conflictsOf(next).length)
        toast("All conflicts picked: save the pipeline, then git add and commit it.", "info");
    } catch (e) {
      toast((e as Error).message, "error");
    }
  };
  const kept = conflict.kept;
  return (
    <li className="conflict-row" data-testid={`conflict-${conflictWhere(conflict)}`}>
      <button
        type="button"
        className="link conflict-where mono"
        disabled={!conflict.node}
        onClick={() => conflict.node && focusNode(conflict.node)}
        title={conflict.node ? "Show the node" : "A pipeline field"}
      >
        {conflictWhere(conflict)}
      </button>
      <div className="conflict-sides">
        {conflictChoices(conflict).map(({ side, text }) => (
          <button
            type="button"
            key={side}
            className={`conflict-side${side === kept ? " kept" : ""}`}
            onClick={() => pick(side)}
            title={side === kept ? `The file holds ${side} now; pick it to keep it` : `Use ${side}'s value`}
          >
            <span className="conflict-side-name">{side}</span> <span className="mono">{text}</span>
          </button>
        ))}
      </div>
    </li>
  );
}

function ConflictBanner() {
  const conflicts = useEditor((s) => s.document?.conflicts);
  const list = conflictsOf(useEditor.getState().document);
  if (!Array.isArray(conflicts) || !list.length) return null;
  return (
    <section className="conflict-banner" data-testid="conflict-banner" aria-label="Merge conflicts">
      <div className="conflict-head">
        ⚠ {list.length} merge conflict{list.length === 1 ? "" : "s"}: pick a side for each, then save
      </div>
      <ul className="conflict-list">
        {list.map((c, i) => (
          <ConflictRow key={`${c.node ?? ""}:${c.path}`} conflict={c} index={i} />
        ))}
      </ul>
    </section>
  );
}

function BasePicker() {
  const base = useChanges((s) => s.base);
  const revisions = useChanges((s) => s.revisions);
  const setBase = useChanges((s) => s.setBase);
  const branches = revisions?.branches ?? [];
  const commits = revisions?.commits ?? [];
  const known =
    base === "HEAD" || branches.some((b) => b.name === base) || commits.some((c) => c.commit === base);
  return (
    <select
      className="changes-base"
      aria-label="Compare with"
      data-testid="changes-base"
      value={base}
      onChange={(e) => setBase(e.target.value)}
    >
      <option value="HEAD">HEAD{revisions?.current ? ` (${revisions.current})` : ""}</option>
      {!known && <option value={base}>{base}</option>}
      {branches.length > 0 && (
        <optgroup label="Branches">
          {branches.map((b) => (
            <option key={b.name} value={b.name}>
              {b.name}
            </option>
          ))}
        </optgroup>
      )}
      {commits.length > 0 && (
        <optgroup label="Commits of this pipeline">
          {commits.map((c) => (
            <option key={c.commit} value={c.commit}>
              {c.short} {c.subject.length > 40 ? `${c.subject.slice(0, 39)}…` : c.subject}
            </option>
          ))}
        </optgroup>
      )}
    </select>
  );
}

function ChangesPanel() {
  const { result, overlay, loading, message, setOpen, refresh } = useChanges();
  const path = useEditor((s) => s.path);
  const document = useEditor((s) => s.document);
  // The open document is compared as it is edited (unsaved edits too), a moment after the last edit.
  useEffect(() => {
    const timer = setTimeout(() => void refresh(), document ? 300 : 0);
    return () => clearTimeout(timer);
  }, [document, refresh]);
  useEffect(() => {
    void useChanges.getState().loadRevisions(path);
  }, [path]);
  const unavailable = message ?? result?.unavailable ?? null;
  return (
    <section className="changes-panel" data-testid="changes-panel" aria-label="Changes since a git revision">
      <div className="changes-head">
        <span className="changes-title">Changes since</span>
        <button
          type="button"
          className="icon-button"
          aria-label="Read git again"
          title="Read git again (after a commit or a checkout)"
          data-testid="changes-refresh"
          onClick={() => {
            void refresh();
            void useChanges.getState().loadRevisions(path);
          }}
        >
          ↻
        </button>
        <button
          type="button"
          className="icon-button"
          aria-label="Hide changes"
          title="Hide changes"
          onClick={() => setOpen(false)}
        >
          ✕
        </button>
      </div>
      <div className="changes-base-row">
        <BasePicker />
      </div>
      {unavailable ? (
        <p className="changes-message" data-testid="changes-message">
          {unavailable}
        </p>
      ) : overlay ? (
        <>
          <div className="changes-summary" data-testid="changes-summary">
            {overlay.summary}
            {result?.base.commit && <span className="muted mono"> vs {result.base.commit.slice(0, 7)}</span>}
            {loading && <span className="spinner small" />}
          </div>
          <ul className="changes-list">
            {overlay.lines.map((l) => (
              <li key={l.key}>
                <button
                  type="button"
                  className={`changes-line sign-${l.sign === "+" ? "added" : l.sign === "-" ? "removed" : "changed"}`}
                  onClick={() => focusNode(l.node, l.ghost)}
                  disabled={!l.node && !l.ghost}
                  title={l.text}
                >
                  <span className="changes-sign">{l.sign}</span> {l.text}
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="changes-message muted">{loading ? "Reading git…" : ""}</p>
      )}
    </section>
  );
}

/** The button that turns the overlay on, over the canvas's top-right corner (while it is off). */
export function ChangesToggle() {
  const open = useChanges((s) => s.open);
  const hasDocument = useEditor((s) => !!s.document);
  if (open || !hasDocument) return null;
  return (
    <button
      type="button"
      className="changes-toggle"
      data-testid="changes-toggle"
      onClick={() => useChanges.getState().setOpen(true)}
      title="Draw what changed since a git commit or branch"
    >
      Changes since git…
    </button>
  );
}

/** Beside the canvas: the merge conflicts to pick, and the Changes panel while the overlay is on. */
export function ChangesSide() {
  const open = useChanges((s) => s.open);
  const hasDocument = useEditor((s) => !!s.document);
  const conflicted = useEditor(
    (s) => Array.isArray(s.document?.conflicts) && s.document.conflicts.length > 0,
  );
  if (!hasDocument || (!open && !conflicted)) return null;
  return <ChangesColumn open={open} />;
}

/** The column; the canvas beside it is narrower now, so the pipeline (and any removed node) is fitted into it again. */
function ChangesColumn({ open }: { open: boolean }) {
  useEffect(() => {
    let frame = requestAnimationFrame(() => {
      // A frame for the canvas to take its new width, one for React Flow to read it.
      frame = requestAnimationFrame(
        () => void flowRef.current?.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 }),
      );
    });
    return () => cancelAnimationFrame(frame);
  }, []);
  return (
    <aside className="changes-side" data-testid="changes-side">
      <ConflictBanner />
      {open && <ChangesPanel />}
    </aside>
  );
}
