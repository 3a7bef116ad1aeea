import { useShallow } from "zustand/react/shallow";
import { formatShortcut } from "../actions/shortcuts";
import { splitterProps, startDrag } from "../shell/dragResize";
import { useEditor } from "../store/editor";
import type { NodeDoc } from "../store/types";
import { PANEL_LIMITS, useUi } from "../store/ui";
import { NodeInspector } from "./NodeInspector";
import { PipelineInspector } from "./PipelineInspector";

/** The right panel: the selected node's form, or the pipeline's when nothing is selected; folds to a rail, resized by its left edge. */
export function Inspector() {
  // Nodes, not the whole document: moving a node changes only the layout and need not redraw the form.
  const { allNodes, selection, open } = useEditor(
    useShallow((s) => ({ allNodes: s.document?.nodes, selection: s.selection, open: !!s.document })),
  );
  const expanded = useUi((s) => s.inspectorOpen);
  const inspectorWidth = useUi((s) => s.inspectorWidth);
  const nodes = allNodes?.filter((n) => selection.nodes.has(n.id)) ?? [];
  const toggleTitle = `${expanded ? "Hide" : "Show"} the inspector (${formatShortcut("Mod+Shift+B")})`;
  if (!expanded)
    return (
      <aside className="inspector-frame side-rail" data-collapsed="true">
        <button
          type="button"
          className="rail-button"
          data-testid="toggle-inspector"
          aria-expanded={false}
          title={toggleTitle}
          onClick={() => useUi.getState().toggleInspector()}
        >
          <span aria-hidden="true">«</span>
          <span className="rail-label">Inspector</span>
        </button>
      </aside>
    );
  return (
    <aside className="inspector-frame" data-collapsed="false">
      <div
        className="side-resizer side-resizer-left"
        data-testid="inspector-resizer"
        title="Drag to resize (or focus it and use the arrow keys)"
        {...splitterProps(
          "Resize the inspector",
          "vertical",
          inspectorWidth,
          { grow: "ArrowLeft", shrink: "ArrowRight", limits: PANEL_LIMITS.inspectorWidth },
          (w) => useUi.getState().setInspectorWidth(w),
          (handle) => handle.parentElement?.getBoundingClientRect().width ?? inspectorWidth,
        )}
        onPointerDown={(e) => {
          const right = e.currentTarget.parentElement?.getBoundingClientRect().right ?? window.innerWidth;
          startDrag(e, (x) => useUi.getState().setInspectorWidth(right - x));
        }}
      />
      <div className="side-bar-head">
        <span className="side-bar-title">Inspector</span>
        <button
          type="button"
          className="icon-button"
          data-testid="toggle-inspector"
          aria-expanded={true}
          title={toggleTitle}
          onClick={() => useUi.getState().toggleInspector()}
        >
          »
        </button>
      </div>
      <InspectorBody open={open} nodes={nodes} />
    </aside>
  );
}

function InspectorBody({ open, nodes }: { open: boolean; nodes: NodeDoc[] }) {
  return (
    <div className="inspector" data-testid="inspector">
      {!open ? (
        <p className="muted">Open a pipeline to edit it.</p>
      ) : nodes.length === 1 ? (
        <NodeInspector key={nodes[0]!.id} node={nodes[0]!} />
      ) : nodes.length > 1 ? (
        <div className="inspector-head">
          <div className="inspector-title">{nodes.length} nodes selected</div>
          <div className="muted">{nodes.map((n) => n.id).join(", ")}</div>
        </div>
      ) : (
        <PipelineInspector />
      )}
    </div>
  );
}
