import { useShallow } from "zustand/react/shallow";
import { formatShortcut } from "../actions/shortcuts";
import { splitterProps, startDrag } from "../shell/dragResize";
import { useRun } from "../store/run";
import { type BottomTab, PANEL_LIMITS, useUi } from "../store/ui";
import { useValidation } from "../store/validation";
import { DataDrawer } from "./DataDrawer";
import { Problems } from "./Problems";
import { RunLog } from "./RunLog";

/** The bottom drawer: Problems, Run log and Data tabs; resized by its top edge, maximised, or folded to its tab row. */
export function BottomPanel() {
  const { tab, open, height, maximized } = useUi(
    useShallow((s) => ({
      tab: s.bottomTab,
      open: s.bottomOpen,
      height: s.bottomHeight,
      maximized: s.bottomOpen && s.bottomMaximized,
    })),
  );
  const problemCount = useValidation((s) => s.problems.length);
  const logCount = useRun((s) => s.log.length);
  const tabs: [BottomTab, string][] = [
    ["problems", `Problems${problemCount ? ` (${problemCount})` : ""}`],
    ["log", `Run log${logCount ? ` (${logCount})` : ""}`],
    ["data", "Data"],
  ];
  const state = maximized ? "maximized" : open ? "open" : "collapsed";
  // The canvas keeps at least 120 px whatever height was stored (a smaller window than last time).
  const style = open && !maximized ? { height: `min(${height}px, calc(100% - 120px))` } : undefined;
  return (
    <section className={`bottom-panel ${state}`} style={style} data-testid="bottom-panel" data-state={state}>
      {open && !maximized && (
        <div
          className="panel-resizer"
          data-testid="bottom-resizer"
          title="Drag to resize (or focus it and use the arrow keys)"
          {...splitterProps(
            "Resize the bottom panel",
            "horizontal",
            height,
            { grow: "ArrowUp", shrink: "ArrowDown", limits: PANEL_LIMITS.bottomHeight },
            (h) => useUi.getState().setBottomHeight(h),
            (handle) => handle.parentElement?.getBoundingClientRect().height ?? height,
          )}
          onPointerDown={(e) => {
            const bottom =
              e.currentTarget.parentElement?.getBoundingClientRect().bottom ?? window.innerHeight;
            startDrag(e, (_x, y) => useUi.getState().setBottomHeight(bottom - y));
          }}
        />
      )}
      <div className="tabs">
        {tabs.map(([id, label]) => (
          <button
            type="button"
            key={id}
            className={`tab${tab === id && open ? " active" : ""}`}
            data-testid={`tab-${id}`}
            aria-pressed={tab === id && open}
            title={tab === id && open ? "Click again to fold the panel" : undefined}
            onClick={() =>
              tab === id && open ? useUi.getState().toggleBottom() : useUi.getState().showTab(id)
            }
          >
            {label}
          </button>
        ))}
        <span className="spacer" />
        {!open && <span className="panel-folded muted small">Panel folded</span>}
        {open && (
          <button
            type="button"
            className="icon-button panel-button"
            data-testid="maximize-drawer"
            aria-pressed={maximized}
            title={`${maximized ? "Restore the panel's height" : "Maximise the panel"} (${formatShortcut("Shift+M")})`}
            onClick={() => useUi.getState().toggleBottomMaximized()}
          >
            {maximized ? "⤡" : "⤢"}
          </button>
        )}
        <button
          type="button"
          className="icon-button panel-button"
          data-testid="toggle-drawer"
          aria-expanded={open}
          title={`${open ? "Fold the panel" : "Unfold the panel"} (${formatShortcut("Mod+J")})`}
          onClick={() => useUi.getState().toggleBottom()}
        >
          {open ? "⌄" : "⌃"}
        </button>
      </div>
      {open && (
        <div className="panel-body">
          {tab === "problems" && <Problems />}
          {tab === "log" && <RunLog />}
          {tab === "data" && <DataDrawer />}
        </div>
      )}
    </section>
  );
}
