import { describe, expect, it } from "vitest";
import { KEY_STEP, keyResizeTo } from "./dragResize";

// The inspector sits on the right: its handle is on its left edge, so ArrowLeft makes it wider.
const inspector = {
  current: 320,
  grow: "ArrowLeft",
  shrink: "ArrowRight",
  limits: { min: 260, max: 640 },
} as const;

describe("keyResizeTo", () => {
  it("moves the handle by a step per arrow key, four steps with Shift, in the panel's own direction", () => {
    expect(KEY_STEP).toBe(16);
    expect(keyResizeTo("ArrowLeft", false, inspector)).toBe(336);
    expect(keyResizeTo("ArrowRight", false, inspector)).toBe(304);
    expect(keyResizeTo("ArrowLeft", true, inspector)).toBe(384);
    // The bottom panel grows upwards.
    const bottom = {
      current: 260,
      grow: "ArrowUp",
      shrink: "ArrowDown",
      limits: { min: 120, max: 2000 },
    } as const;
    expect(keyResizeTo("ArrowUp", false, bottom)).toBe(276);
    expect(keyResizeTo("ArrowDown", true, bottom)).toBe(196);
  });

  it("takes Home and End to the limits, and never past them", () => {
    expect(keyResizeTo("Home", false, inspector)).toBe(260);
    expect(keyResizeTo("End", false, inspector)).toBe(640);
    expect(keyResizeTo("ArrowRight", true, { ...inspector, current: 270 })).toBe(260);
    expect(keyResizeTo("ArrowLeft", false, { ...inspector, current: 635 })).toBe(640);
    // A size drawn between whole pixels comes back whole.
    expect(keyResizeTo("ArrowLeft", false, { ...inspector, current: 300.4 })).toBe(316);
  });

  it("leaves other keys to the page (Tab moves focus on, Enter and letters do nothing)", () => {
    for (const key of ["Tab", "Enter", " ", "a", "ArrowUp", "ArrowDown", "PageUp"])
      expect(keyResizeTo(key, false, inspector), key).toBeNull();
  });
});
