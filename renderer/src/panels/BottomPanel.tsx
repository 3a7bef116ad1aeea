import type { PointerEvent } from "react";
import { useShallow } from "zustand/react/shallow";
import { useRun } from "../store/run";
import { type BottomTab, useUi } from "../store/ui";
import { useValidation } from "../store/validation";
import { DataDrawer } from "./DataDrawer";
import { Problems } from "./Problems";
import { RunLog } from "./RunLog";

/** Dragging the panel's top edge sets its height (kept between a tab row and most of the window). */
function startResize(e: PointerEvent) {
  e.preventDefault();
  const move = (m: globalThis.PointerEvent) => {
    const height = window.innerHeight - m.clientY - 26;
    useUi.getState().setBottomHeight(Math.max(120, Math.min(window.innerHeight - 160, height)));
  };
  const up = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

/** The bottom drawer: Problems, Run log and Data tabs. */
export function BottomPanel() {
  const { tab, open, height } = useUi(
    useShallow((s) => ({ tab: s.bottomTab, open: s.bottomOpen, height: s.bottomHeight })),
  );
  const problemCount = useValidation((s) => s.problems.length);
  const logCount = useRun((s) => s.log.length);
  const tabs: [BottomTab, string][] = [
    ["problems", `Problems${problemCount ? ` (${problemCount})` : ""}`],
    ["log", `Run log${logCount ? ` (${logCount})` : ""}`],
    ["data", "Data"],
  ];
  return (
    <section className={`bottom-panel${open ? " open" : ""}`} style={open ? { height } : undefined}>
      {open && <div className="panel-resizer" onPointerDown={startResize} title="Drag to resize" />}
      <div className="tabs">
        {tabs.map(([id, label]) => (
          <button
            type="button"
            key={id}
            className={`tab${tab === id && open ? " active" : ""}`}
            data-testid={`tab-${id}`}
            onClick={() =>
              tab === id && open ? useUi.getState().toggleBottom() : useUi.getState().showTab(id)
            }
          >
            {label}
          </button>
        ))}
        <span className="spacer" />
        <button
          type="button"
          className="icon-button"
          title={open ? "Hide the panel" : "Show the panel"}
          onClick={() => useUi.getState().toggleBottom()}
        >
          {open ? "▾" : "▴"}
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
