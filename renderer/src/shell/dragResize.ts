/** Drag handles of the editor's panels: follow the pointer until it is released; arrow keys when focused. */
import type { KeyboardEvent, PointerEvent } from "react";
import "./resizer.css";

/**
 * Calls `onMove` with each pointer position from a press on a handle until the button is released.
 * The handle captures the pointer, so a release outside the window still ends the drag; a cancelled
 * pointer (a touch taken over by the browser) or the window losing focus ends it too, so that the
 * panel never keeps following a pointer whose button is up.
 */
export function startDrag(e: PointerEvent, onMove: (x: number, y: number) => void): void {
  if (e.button !== 0) return;
  e.preventDefault();
  const handle = e.currentTarget as Element;
  const pointerId = e.pointerId;
  try {
    handle.setPointerCapture?.(pointerId);
  } catch {
    // A pointer already released (a synthetic event): the window listeners below still end the drag.
  }
  const move = (m: globalThis.PointerEvent) => onMove(m.clientX, m.clientY);
  const end = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", end);
    window.removeEventListener("pointercancel", end);
    window.removeEventListener("blur", end);
    handle.removeEventListener("lostpointercapture", end);
    document.body.classList.remove("resizing");
  };
  document.body.classList.add("resizing");
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", end);
  window.addEventListener("pointercancel", end);
  window.addEventListener("blur", end);
  handle.addEventListener("lostpointercapture", end);
}

/** What a key does to a panel's size from its focused handle: the new size, or null for a key it ignores. */
export interface KeyResize {
  /** The panel's size as drawn now, in pixels. */
  current: number;
  /** The arrow key that makes the panel bigger, and the one that makes it smaller. */
  grow: "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown";
  shrink: "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown";
  limits: { min: number; max: number };
}

/** Pixels an arrow key moves a handle; with Shift, four times as far. */
export const KEY_STEP = 16;

/**
 * The size a key gives, as the WAI-ARIA window splitter pattern has it
 * (https://www.w3.org/WAI/ARIA/apg/patterns/windowsplitter/): the arrows move the handle, Home and
 * End take the panel to its smallest and largest size.
 */
export function keyResizeTo(key: string, shift: boolean, r: KeyResize): number | null {
  const step = shift ? KEY_STEP * 4 : KEY_STEP;
  let next: number;
  if (key === r.grow) next = r.current + step;
  else if (key === r.shrink) next = r.current - step;
  else if (key === "Home") next = r.limits.min;
  else if (key === "End") next = r.limits.max;
  else return null;
  return Math.min(r.limits.max, Math.max(r.limits.min, Math.round(next)));
}

/** The props that make a drag handle a focusable splitter resized by the keyboard too. */
export function splitterProps(
  label: string,
  orientation: "vertical" | "horizontal",
  size: number,
  resize: Omit<KeyResize, "current">,
  set: (size: number) => void,
  /** The panel's size as drawn (it may be less than the stored one in a small window). */
  drawn: (handle: HTMLElement) => number,
) {
  return {
    role: "separator",
    tabIndex: 0,
    "aria-label": label,
    "aria-orientation": orientation,
    "aria-valuenow": Math.round(size),
    "aria-valuemin": resize.limits.min,
    "aria-valuemax": resize.limits.max,
    onKeyDown: (e: KeyboardEvent<HTMLElement>) => {
      const next = keyResizeTo(e.key, e.shiftKey, { ...resize, current: drawn(e.currentTarget) });
      if (next === null) return;
      e.preventDefault();
      set(next);
    },
  } as const;
}
