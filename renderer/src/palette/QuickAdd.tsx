import { useState } from "react";
import { addBlockAt, blockJoins } from "../graph/addBlock";
import { ListSearch } from "../shell/ListSearch";
import { useCatalog } from "../store/catalog";
import { useUi } from "../store/ui";
import { searchBlocks } from "./searchBlocks";

/** The search that a double-click on the empty canvas opens: pick a block to add it there. */
export function QuickAdd() {
  const at = useUi((s) => s.quickAdd);
  if (!at) return null;
  return <QuickAddPopup key={`${at.screen.x},${at.screen.y}`} />;
}

function QuickAddPopup() {
  const at = useUi((s) => s.quickAdd)!;
  const blocks = useCatalog((s) => s.blocks);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  // Dragged from a port: only the blocks that can join it.
  const shown = searchBlocks(blocks, query)
    .filter((b) => !at.from || blockJoins(b.kind, at.from))
    .slice(0, 12);
  const close = () => useUi.getState().setQuickAdd(null);
  const choose = (i: number) => {
    const block = shown[i];
    if (!block) return;
    close();
    addBlockAt(block.kind, at.flow, at.from);
  };
  const left = Math.min(at.screen.x, window.innerWidth - 300);
  const top = Math.min(at.screen.y, window.innerHeight - 340);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click outside closes the popup
    <div
      className="overlay clear"
      onMouseDown={(e) => e.target === e.currentTarget && close()}
      role="presentation"
    >
      <div className="quick-add" style={{ left, top }} data-testid="quick-add">
        <ListSearch
          query={query}
          count={shown.length}
          placeholder={at.from ? `Add a block joined to ${at.from.node}.${at.from.port}…` : "Add a block…"}
          testId="quick-add-search"
          onQuery={setQuery}
          onActive={setActive}
          onPick={() => choose(active)}
          onClose={close}
        />
        <div className="command-list">
          {shown.map((b, i) => (
            <button
              type="button"
              key={b.kind}
              className={`command-item${i === active ? " active" : ""}`}
              data-testid={`quick-add-${b.kind}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => choose(i)}
            >
              <span>{b.title}</span>
              <span className="mono muted small">{b.kind}</span>
            </button>
          ))}
          {!shown.length && <p className="muted panel-empty">No block matches.</p>}
        </div>
      </div>
    </div>
  );
}
