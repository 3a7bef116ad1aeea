import { describe, expect, it } from "vitest";
import { wrapFocus } from "./useFocusTrap";

describe("wrapFocus", () => {
  const controls = ["alias", "cancel", "confirm"];

  it("wraps Tab from the last control to the first, and Shift+Tab from the first to the last", () => {
    expect(wrapFocus(controls, "confirm", false)).toBe("alias");
    expect(wrapFocus(controls, "alias", true)).toBe("confirm");
  });

  it("leaves a move inside the dialog to the browser", () => {
    expect(wrapFocus(controls, "alias", false)).toBeNull();
    expect(wrapFocus(controls, "cancel", false)).toBeNull();
    expect(wrapFocus(controls, "confirm", true)).toBeNull();
  });

  it("brings a focus that is outside the dialog (or nowhere) back in", () => {
    expect(wrapFocus(controls, "run-button", false)).toBe("alias");
    expect(wrapFocus(controls, "run-button", true)).toBe("confirm");
    expect(wrapFocus(controls, null, false)).toBe("alias");
  });

  it("keeps a single control, and has nothing to do in a dialog without one", () => {
    expect(wrapFocus(["close"], "close", false)).toBe("close");
    expect(wrapFocus(["close"], "close", true)).toBe("close");
    expect(wrapFocus([], null, false)).toBeNull();
  });
});
