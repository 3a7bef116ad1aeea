/** Drag handles of the editor's panels: follow the pointer until it is released. */
import type { PointerEvent } from "react";

/** Calls `onMove` with each pointer position from a press on a handle until the button is released. */
export function startDrag(e: PointerEvent, onMove: (x: number, y: number) => void): void {
  if (e.button !== 0) return;
  e.preventDefault();
  const move = (m: globalThis.PointerEvent) => onMove(m.clientX, m.clientY);
  const up = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    document.body.classList.remove("resizing");
  };
  document.body.classList.add("resizing");
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}
