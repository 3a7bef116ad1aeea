import { describe, expect, it } from "vitest";
import { formatShortcut, matchesShortcut } from "./shortcuts";

/** A keydown as a browser on Linux or Windows reports it. */
const key = (
  k: string,
  code: string,
  mods: Partial<Record<"ctrl" | "shift" | "alt" | "meta", boolean>> = {},
) =>
  ({
    key: k,
    code,
    ctrlKey: !!mods.ctrl,
    shiftKey: !!mods.shift,
    altKey: !!mods.alt,
    metaKey: !!mods.meta,
  }) as KeyboardEvent;

// New pipeline's (actions/newPipeline.ts; e2e/empty-project.spec.ts presses it in Chromium).
describe("the New pipeline shortcut", () => {
  const shortcut = "Mod+Alt+N";

  it("is Ctrl+Alt+N, which Chromium leaves to the page (Ctrl+N and Ctrl+Shift+N open windows)", () => {
    expect(formatShortcut(shortcut)).toBe("Ctrl+Alt+N");
    expect(matchesShortcut(shortcut, key("n", "KeyN", { ctrl: true, alt: true }))).toBe(true);
    expect(matchesShortcut(shortcut, key("N", "KeyN", { ctrl: true, alt: true, shift: true }))).toBe(false);
    expect(matchesShortcut(shortcut, key("n", "KeyN", { ctrl: true }))).toBe(false);
    expect(matchesShortcut(shortcut, key("n", "KeyN", { alt: true }))).toBe(false);
  });

  it("matches the key when Alt makes it type another character", () => {
    expect(matchesShortcut(shortcut, key("ń", "KeyN", { ctrl: true, alt: true }))).toBe(true);
    // Without Alt in the shortcut, the character decides: Ctrl+Z on a German layout is the key that types "z".
    expect(matchesShortcut("Mod+Z", key("z", "KeyY", { ctrl: true }))).toBe(true);
    expect(matchesShortcut("Mod+Z", key("y", "KeyZ", { ctrl: true }))).toBe(false);
  });
});
