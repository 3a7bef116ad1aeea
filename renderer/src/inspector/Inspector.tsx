import { useShallow } from "zustand/react/shallow";
import { useEditor } from "../store/editor";
import { NodeInspector } from "./NodeInspector";
import { PipelineInspector } from "./PipelineInspector";

/** The right panel: the selected node's form, or the pipeline's when nothing is selected. */
export function Inspector() {
  // Nodes, not the whole document: moving a node changes only the layout and need not redraw the form.
  const { allNodes, selection, open } = useEditor(
    useShallow((s) => ({ allNodes: s.document?.nodes, selection: s.selection, open: !!s.document })),
  );
  const nodes = allNodes?.filter((n) => selection.nodes.has(n.id)) ?? [];
  return (
    <aside className="inspector" data-testid="inspector">
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
    </aside>
  );
}
