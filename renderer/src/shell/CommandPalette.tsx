import { useMemo, useState } from "react";
import { actionContext, actions, isEnabled, performAction } from "../actions";
import { formatShortcut } from "../actions/shortcuts";
import { useUi } from "../store/ui";
import { ListSearch } from "./ListSearch";

/** Every action with its shortcut, filtered as you type; Enter runs the highlighted one. */
export function CommandPalette() {
  const open = useUi((s) => s.commandPaletteOpen);
  if (!open) return null;
  return <PaletteDialog />;
}

function PaletteDialog() {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const ctx = useMemo(() => actionContext(), []);
  const shown = actions.filter(
    (a) => a.id !== "command-palette" && a.label.toLowerCase().includes(query.trim().toLowerCase()),
  );
  const close = () => useUi.getState().setCommandPalette(false);
  const choose = (index: number) => {
    const action = shown[index];
    if (!action || !isEnabled(action, ctx)) return;
    close();
    void performAction(action);
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes the dialog
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && close()} role="presentation">
      <div
        className="command-palette"
        data-testid="command-palette"
        role="dialog"
        aria-label="Command palette"
      >
        <ListSearch
          query={query}
          count={shown.length}
          placeholder="Type a command…"
          onQuery={setQuery}
          onActive={setActive}
          onPick={() => choose(active)}
          onClose={close}
        />
        <div className="command-list" role="listbox">
          {shown.map((a, i) => {
            const enabled = isEnabled(a, ctx);
            return (
              <button
                type="button"
                role="option"
                aria-selected={i === active}
                key={a.id}
                data-testid={`command-${a.id}`}
                className={`command-item${i === active ? " active" : ""}`}
                disabled={!enabled}
                onMouseEnter={() => setActive(i)}
                onClick={() => choose(i)}
              >
                <span>{a.label}</span>
                <span className="command-keys">
                  {(a.shortcuts ?? []).map((s) => (
                    <kbd key={s}>{formatShortcut(s)}</kbd>
                  ))}
                </span>
              </button>
            );
          })}
          {!shown.length && <p className="muted panel-empty">No command matches “{query}”.</p>}
        </div>
      </div>
    </div>
  );
}
