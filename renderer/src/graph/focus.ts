import { useEditor } from "../store/editor";
import { flowRef } from "./flowRef";

/** Selects a node and brings it into view. */
export function focusNode(id: string): void {
  const editor = useEditor.getState();
  if (!editor.document?.nodes.some((n) => n.id === id)) return;
  editor.select({ nodes: new Set([id]), edges: new Set() });
  const node = flowRef.current?.getNode(id);
  if (node) {
    const w = node.measured?.width ?? 220;
    const h = node.measured?.height ?? 110;
    void flowRef.current?.setCenter(node.position.x + w / 2, node.position.y + h / 2, {
      zoom: Math.max(flowRef.current.getZoom(), 0.8),
      duration: 250,
    });
  }
}
