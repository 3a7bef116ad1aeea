import { type DragEvent, useState } from "react";
import type { BlockInfo } from "../../../app/api/api";
import { formatShortcut } from "../actions/shortcuts";
import { addBlockAt, BLOCK_DRAG_TYPE } from "../graph/addBlock";
import { flowRef } from "../graph/flowRef";
import { portColor } from "../graph/ports";
import { splitterProps, startDrag } from "../shell/dragResize";
import { useCatalog } from "../store/catalog";
import { PANEL_LIMITS, useUi } from "../store/ui";
import { groupByCategory, searchBlocks } from "./searchBlocks";

/** Adds a block in the middle of the visible canvas (Enter or double-click on a palette item). */
function addAtViewCenter(kind: string) {
  const flow = flowRef.current;
  const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
  if (!flow || !pane) return;
  const at = flow.screenToFlowPosition({ x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 });
  addBlockAt(kind, { x: at.x - 110, y: at.y - 50 });
}

function PaletteItem({ block }: { block: BlockInfo }) {
  const onDragStart = (e: DragEvent) => {
    e.dataTransfer.setData(BLOCK_DRAG_TYPE, block.kind);
    e.dataTransfer.effectAllowed = "copy";
  };
  const types = [
    ...new Set([...Object.values(block.inputs), ...Object.values(block.outputs)].map((p) => p.type)),
  ];
  return (
    <button
      type="button"
      className="palette-item"
      draggable
      onDragStart={onDragStart}
      onDoubleClick={() => addAtViewCenter(block.kind)}
      onKeyDown={(e) => e.key === "Enter" && addAtViewCenter(block.kind)}
      data-testid={`palette-item-${block.kind}`}
      title={`${block.description}\n\nDrag onto the canvas, or double-click to add.`}
    >
      <span className="palette-title">{block.title}</span>
      <span className="palette-kind mono">{block.kind}</span>
      <span className="palette-types">
        {types.map((t) => (
          <span key={t} className="port-dot" style={{ background: portColor(t) }} title={t} />
        ))}
      </span>
    </button>
  );
}

/** The palette collapsed to a rail: one button brings it back. */
function CollapsedPalette() {
  return (
    <aside className="palette side-rail" data-testid="palette" data-collapsed="true">
      <button
        type="button"
        className="rail-button"
        data-testid="toggle-palette"
        aria-expanded={false}
        title={`Show the blocks (${formatShortcut("Mod+B")})`}
        onClick={() => useUi.getState().togglePalette()}
      >
        <span aria-hidden="true">»</span>
        <span className="rail-label">Blocks</span>
      </button>
    </aside>
  );
}

/** The block catalog by category, with search; drag a block onto the canvas to add it. */
export function Palette() {
  const blocks = useCatalog((s) => s.blocks);
  const open = useUi((s) => s.paletteOpen);
  const paletteWidth = useUi((s) => s.paletteWidth);
  const [query, setQuery] = useState("");
  if (!open) return <CollapsedPalette />;
  const groups = groupByCategory(searchBlocks(blocks, query));
  return (
    <aside className="palette" data-testid="palette" data-collapsed="false">
      <div className="palette-head">
        <input
          className="palette-search"
          data-testid="palette-search"
          type="search"
          placeholder="Search blocks…"
          aria-label="Search blocks"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <button
          type="button"
          className="icon-button"
          data-testid="toggle-palette"
          aria-expanded={true}
          title={`Hide the blocks (${formatShortcut("Mod+B")})`}
          onClick={() => useUi.getState().togglePalette()}
        >
          «
        </button>
      </div>
      <div
        className="side-resizer side-resizer-right"
        data-testid="palette-resizer"
        title="Drag to resize (or focus it and use the arrow keys)"
        {...splitterProps(
          "Resize the blocks panel",
          "vertical",
          paletteWidth,
          { grow: "ArrowRight", shrink: "ArrowLeft", limits: PANEL_LIMITS.paletteWidth },
          (w) => useUi.getState().setPaletteWidth(w),
          (handle) => handle.parentElement?.getBoundingClientRect().width ?? paletteWidth,
        )}
        onPointerDown={(e) => {
          const left = e.currentTarget.parentElement?.getBoundingClientRect().left ?? 0;
          startDrag(e, (x) => useUi.getState().setPaletteWidth(x - left));
        }}
      />
      <div className="palette-groups">
        {groups.map(([category, items]) => (
          <section key={category} className="palette-group">
            <h3>{category}</h3>
            {items.map((b) => (
              <PaletteItem key={b.kind} block={b} />
            ))}
          </section>
        ))}
        {!groups.length && <p className="muted small">No block matches “{query}”.</p>}
      </div>
      <div className="palette-legend">
        {["table", "model", "report", "modelVersion", "deployment"].map((t) => (
          <span key={t}>
            <span className="port-dot" style={{ background: portColor(t) }} /> {t}
          </span>
        ))}
      </div>
    </aside>
  );
}
