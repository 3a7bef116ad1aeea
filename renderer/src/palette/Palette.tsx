import { type DragEvent, useState } from "react";
import type { BlockInfo } from "../../../app/api/api";
import { addBlockAt, BLOCK_DRAG_TYPE } from "../graph/addBlock";
import { flowRef } from "../graph/flowRef";
import { portColor } from "../graph/ports";
import { useCatalog } from "../store/catalog";
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

/** The block catalog by category, with search; drag a block onto the canvas to add it. */
export function Palette() {
  const blocks = useCatalog((s) => s.blocks);
  const [query, setQuery] = useState("");
  const groups = groupByCategory(searchBlocks(blocks, query));
  return (
    <aside className="palette" data-testid="palette">
      <input
        className="palette-search"
        data-testid="palette-search"
        type="search"
        placeholder="Search blocks…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
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
