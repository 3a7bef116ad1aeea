import { describe, expect, it } from "vitest";
import { windowSize } from "./window-size";

describe("windowSize", () => {
  it("opens at 1400×900 where the screen has room", () => {
    expect(windowSize({ width: 1920, height: 1040 })).toEqual({
      width: 1400,
      height: 900,
      minWidth: 1024,
      minHeight: 640,
    });
  });

  it("fills a smaller work area rather than hang off it (1366×768 less a task bar)", () => {
    expect(windowSize({ width: 1366, height: 728 })).toEqual({
      width: 1366,
      height: 728,
      minWidth: 1024,
      minHeight: 640,
    });
  });

  it("never asks for a minimum larger than the screen", () => {
    expect(windowSize({ width: 800, height: 600 })).toEqual({
      width: 800,
      height: 600,
      minWidth: 800,
      minHeight: 600,
    });
  });

  it("falls back to 1400×900 on a nonsense work area", () => {
    expect(windowSize({ width: Number.NaN, height: 0 })).toMatchObject({ width: 1400, height: 900 });
  });
});
