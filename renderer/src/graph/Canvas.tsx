/** The graph editor: the document drawn with React Flow; every edit becomes a document change. */
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  type EdgeChange,
  type FinalConnectionState,
  MiniMap,
  type NodeChange,
  ReactFlow,
  type ReactFlowState,
  useReactFlow,
  useStore,
  useStoreApi,
  type Viewport,
} from "@xyflow/react";
import { type DragEvent, type MouseEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useShallow } from "zustand/react/shallow";
import { ChangesToggle, GhostNode } from "../changes/ChangesLayer";
import { useChanges } from "../changes/store";
import { moveNodes } from "../document/ops";
import { EmptyState } from "../shell/EmptyState";
import { useCatalog } from "../store/catalog";
import { emptySelection, useEditor } from "../store/editor";
import { useRun } from "../store/run";
import { toast } from "../store/toasts";
import type { PipelineDocument, Position, Selection } from "../store/types";
import { useUi } from "../store/ui";
import { addBlockAt, BLOCK_DRAG_TYPE } from "./addBlock";
import { ConnectionLine } from "./ConnectionLine";
import { connectionProblem, connectNodes, proposedFromHandles } from "./connect";
import { flowRef } from "./flowRef";
import { fittedViewport, geometryStyle, MINIMAP, minimapFits } from "./geometry";
import { layoutPositions } from "./layout";
import { NodeView } from "./NodeView";
import { createEdgeBuilder, createNodeBuilder, type FlowNode } from "./toFlow";

const nodeTypes = { block: NodeView, ghost: GhostNode };

const noFallback: Readonly<Record<string, Position>> = {};
const fallbacks = new WeakMap<PipelineDocument, Record<string, Position>>();

/** Positions for the nodes a document's file gives none (dagre), computed once per opened document. */
function fallbackLayout(doc: PipelineDocument): Readonly<Record<string, Position>> {
  if (!doc.nodes.some((n) => !doc.layout?.[n.id])) return noFallback;
  let positions = fallbacks.get(doc);
  if (!positions) {
    positions = layoutPositions(doc);
    fallbacks.set(doc, positions);
  }
  return positions;
}

/** The fallback layout of the document as it was opened (edits do not move the nodes it placed). */
function useFallbackLayout(): Readonly<Record<string, Position>> {
  const path = useEditor((s) => s.path);
  // biome-ignore lint/correctness/useExhaustiveDependencies: computed once per opened file, not on every edit
  return useMemo(() => {
    const doc = useEditor.getState().document;
    return doc ? fallbackLayout(doc) : noFallback;
  }, [path]);
}

const FIT = { padding: 0.2, maxZoom: 1.2 };

/**
 * Where the user left each pipeline's view (pan and zoom), kept for the session: the editor is
 * unmounted while another view shows, and coming back to it refitted the graph, losing the zoomed
 * in part the user was working on. A pipeline opened anew (another file, or a reload) is fitted.
 */
const leftViewports = new Map<string, Viewport>();
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 2;
const defaultEdgeOptions = { type: "default" };

function withSelection(
  selection: Selection,
  changes: { id: string; selected: boolean }[],
  kind: "nodes" | "edges",
) {
  const next = new Set(selection[kind]);
  for (const c of changes) {
    if (c.selected) next.add(c.id);
    else next.delete(c.id);
  }
  return { ...selection, [kind]: next };
}

const minimapRoom = (s: ReactFlowState) => minimapFits({ width: s.width, height: s.height });

/** The minimap, only where the canvas has room for it (it is drawn over the pipeline). */
function FittingMiniMap() {
  const fits = useStore(minimapRoom);
  if (!fits) return null;
  return (
    <MiniMap
      pannable
      zoomable
      style={MINIMAP}
      nodeStrokeWidth={2}
      nodeColor="#c9d2dc"
      maskColor="rgba(240,243,247,0.7)"
      ariaLabel="Minimap of the pipeline"
    />
  );
}

export function Canvas() {
  const { document, selection, path } = useEditor(
    useShallow((s) => ({ document: s.document, selection: s.selection, path: s.path })),
  );
  const catalog = useCatalog((s) => s.byKind);
  const fallback = useFallbackLayout();
  // The sizes React Flow measured. Held aside, not in state: React Flow keeps them for the node
  // objects it has, so a measurement alone rebuilds no node; a node object built later (moved,
  // selected, edited) carries its size, so React Flow need not measure it again.
  const measured = useRef(new Map<string, { width: number; height: number }>()).current;
  const [measuredPath, setMeasuredPath] = useState<string | null>(null);
  const buildNodes = useRef(createNodeBuilder()).current;
  const buildEdges = useRef(createEdgeBuilder()).current;

  const nodes = useMemo(
    () => (document ? buildNodes(document, catalog, selection, fallback, measured) : []),
    [document, catalog, selection, fallback, measured, buildNodes],
  );
  // The Changes overlay's removed nodes, drawn where they were (never part of the document).
  const ghosts = useChanges((s) => (s.open ? s.ghostNodes : null));
  const drawn = useMemo(() => (ghosts?.length ? [...nodes, ...ghosts] : nodes), [nodes, ghosts]);
  const edges = useMemo(
    () => (document ? buildEdges(document, catalog, selection) : []),
    [document, catalog, selection, buildEdges],
  );

  // A newly opened pipeline is fitted into view before it is drawn, from the sizes its nodes will
  // have: drawn once, at the zoom it is seen at (compact when it is large), and not refitted.
  const fittedPath = useRef<string | null>(null);
  const flowStore = useStoreApi();
  useEffect(
    () =>
      useEditor.subscribe((s, prev) => {
        const flow = flowRef.current;
        // A new file opened (not the same document saved under another name).
        if (s.path === prev.path || s.document === prev.document || !s.path || !s.document || !flow) return;
        const { width, height } = flowStore.getState();
        const viewport = fittedViewport(
          s.document,
          useCatalog.getState().byKind,
          fallbackLayout(s.document),
          { width, height },
          { minZoom: MIN_ZOOM, maxZoom: FIT.maxZoom, padding: FIT.padding },
        );
        if (!viewport) return;
        void flow.setViewport(viewport);
        leftViewports.set(s.path, viewport);
        fittedPath.current = s.path;
      }),
    [flowStore],
  );
  // Otherwise (the canvas was not ready), once its nodes are measured. Through the provider's
  // instance, not flowRef: React Flow calls onInit (which sets flowRef) a timeout after the first
  // draw, so a canvas first shown with its pipeline already open (the app loaded on another view,
  // then Editor) found flowRef empty here and was never fitted, its nodes drawn at 100% from the
  // top-left corner and partly off the canvas.
  const flow = useReactFlow<FlowNode>();
  useEffect(() => {
    if (path && fittedPath.current !== path && measuredPath === path) {
      fittedPath.current = path;
      const left = leftViewports.get(path);
      requestAnimationFrame(() => void (left ? flow.setViewport(left) : flow.fitView(FIT)));
    }
  }, [path, measuredPath, flow]);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      const editor = useEditor.getState();
      const moved: Record<string, Position> = {};
      const selects: { id: string; selected: boolean }[] = [];
      let sizes: Map<string, { width: number; height: number }> | null = null;
      for (const c of changes) {
        if (c.type === "position" && c.position) moved[c.id] = c.position;
        else if (c.type === "select") selects.push(c);
        else if (c.type === "dimensions" && c.dimensions) {
          sizes ??= new Map();
          sizes.set(c.id, c.dimensions);
        }
      }
      if (sizes) {
        for (const [id, size] of sizes) measured.set(id, size);
        if (fittedPath.current !== editor.path) setMeasuredPath(editor.path);
      }
      if (selects.length) editor.select(withSelection(editor.selection, selects, "nodes"));
      const ids = Object.keys(moved);
      if (ids.length && editor.document) {
        // One drag is one undo step: consecutive moves of the same nodes coalesce.
        editor.commit(moveNodes(editor.document, moved), { coalesce: `move:${ids.sort().join(",")}` });
      }
    },
    [measured],
  );

  const onEdgesChange = useCallback((changes: EdgeChange<Edge>[]) => {
    const editor = useEditor.getState();
    const selects = changes.filter((c) => c.type === "select");
    if (selects.length) editor.select(withSelection(editor.selection, selects, "edges"));
  }, []);

  const isValidConnection = useCallback((c: Connection | Edge) => {
    const doc = useEditor.getState().document;
    return !!doc && connectionProblem(doc, useCatalog.getState().byKind, c) === null;
  }, []);

  // A node still named as the editor named it takes the name of what now feeds it (eval_logistic).
  const onConnect = useCallback((c: Connection) => {
    const editor = useEditor.getState();
    if (!editor.document || !c.sourceHandle || !c.targetHandle) return;
    const { document: next, renamed } = connectNodes(editor.document, useCatalog.getState().byKind, {
      source: c.source,
      sourceHandle: c.sourceHandle,
      target: c.target,
      targetHandle: c.targetHandle,
    });
    if (!renamed) {
      editor.commit(next);
      return;
    }
    const swap = (id: string) => (id === renamed.from ? renamed.to : id);
    editor.commit(next, {
      selection: { nodes: new Set([...editor.selection.nodes].map(swap)), edges: new Set() },
    });
  }, []);

  const onConnectEnd = useCallback((e: globalThis.MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (!state.fromHandle) return;
    // Let go on the empty canvas: the quick-add search offers the blocks that can join that port.
    const flow = flowRef.current;
    const point = "changedTouches" in e ? e.changedTouches[0] : e;
    const onPane = (e.target as Element | null)?.classList?.contains("react-flow__pane");
    if (state.isValid === null && !state.toHandle && onPane && flow && point && state.fromHandle.id) {
      const screen = { x: point.clientX, y: point.clientY };
      const { nodeId, id, type } = state.fromHandle;
      useUi.getState().setQuickAdd({
        screen,
        flow: flow.screenToFlowPosition(screen),
        from: { node: nodeId, port: id, side: type },
      });
      return;
    }
    if (state.isValid !== false) return;
    const doc = useEditor.getState().document;
    const proposed = proposedFromHandles(state.fromHandle, state.toHandle);
    const reason = doc && proposed ? connectionProblem(doc, useCatalog.getState().byKind, proposed) : null;
    if (reason) toast(reason, "error");
  }, []);

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(BLOCK_DRAG_TYPE)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, []);

  // On the canvas's frame, so a drop on the empty state's card counts too. With no pipeline open, the
  // block goes into a new one.
  const onDrop = useCallback((e: DragEvent) => {
    const kind = e.dataTransfer.getData(BLOCK_DRAG_TYPE);
    const flow = flowRef.current;
    if (!kind || !flow) return;
    e.preventDefault();
    addBlockAt(kind, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  }, []);

  const onDoubleClick = useCallback((e: MouseEvent) => {
    const target = e.target as HTMLElement;
    const flow = flowRef.current;
    if (!flow || !target.classList.contains("react-flow__pane")) return;
    useUi.getState().setQuickAdd({
      screen: { x: e.clientX, y: e.clientY },
      flow: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }),
    });
  }, []);

  // Clicking a node that has produced something opens its data (an output port click picks the port).
  const onNodeClick = useCallback((_e: MouseEvent, node: FlowNode) => {
    const ui = useUi.getState();
    const ports = Object.keys(useRun.getState().outputs[node.id]?.outputs ?? {});
    if (ports.length) ui.showData(ui.dataPort && ports.includes(ui.dataPort) ? ui.dataPort : ports[0]!);
  }, []);

  const onPaneClick = useCallback(() => useEditor.getState().select(emptySelection), []);

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: double-click on the empty pane opens the quick-add search
    <div
      className="canvas"
      data-testid="canvas"
      onDoubleClick={onDoubleClick}
      onDrop={onDrop}
      onDragOver={onDragOver}
      style={geometryStyle}
    >
      <ReactFlow<FlowNode>
        nodes={drawn}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        connectionLineComponent={ConnectionLine}
        onInit={(instance) => {
          flowRef.current = instance;
        }}
        onMoveEnd={(_event, viewport) => {
          // Each pan or zoom, the user's or a fit: read when the canvas is drawn again (not at
          // unmount, when React Flow has already reset its viewport).
          const current = useEditor.getState().path;
          if (current) leftViewports.set(current, viewport);
        }}
        onNodeClick={onNodeClick}
        onPaneClick={onPaneClick}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Meta", "Control"]}
        zoomOnDoubleClick={false}
        connectOnClick={false}
        onlyRenderVisibleElements
        minZoom={MIN_ZOOM}
        maxZoom={MAX_ZOOM}
        defaultEdgeOptions={defaultEdgeOptions}
      >
        <Background gap={20} size={1} color="#dde2e8" />
        <FittingMiniMap />
        <Controls showInteractive={false} />
      </ReactFlow>
      {!document && <EmptyState />}
      <ChangesToggle />
    </div>
  );
}
