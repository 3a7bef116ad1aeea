import { describe, expect, it } from "vitest";
import { DEFAULT_LAYOUT, LAYOUT_STORAGE_KEY, readLayout } from "./ui";

const storing = (value: string | null) => ({
  getItem: (key: string) => (key === LAYOUT_STORAGE_KEY ? value : null),
});

describe("readLayout", () => {
  it("gives the default layout when nothing is stored or there is no storage", () => {
    expect(readLayout(undefined)).toEqual(DEFAULT_LAYOUT);
    expect(readLayout(storing(null))).toEqual(DEFAULT_LAYOUT);
  });

  it("keeps the stored sizes and states", () => {
    const stored = {
      paletteOpen: false,
      paletteWidth: 300,
      inspectorOpen: true,
      inspectorWidth: 400,
      bottomOpen: false,
      bottomHeight: 410,
      bottomMaximized: true,
    };
    expect(readLayout(storing(JSON.stringify(stored)))).toEqual(stored);
  });

  it("brings sizes out of range back to the nearest allowed, whole pixels", () => {
    const layout = readLayout(
      storing(JSON.stringify({ paletteWidth: 5, inspectorWidth: 5000, bottomHeight: 10, paletteOpen: true })),
    );
    expect(layout.paletteWidth).toBe(160);
    expect(layout.inspectorWidth).toBe(640);
    expect(layout.bottomHeight).toBe(120);
    expect(readLayout(storing(JSON.stringify({ paletteWidth: 250.6 }))).paletteWidth).toBe(251);
  });

  it("ignores a corrupt entry and values of the wrong type, one by one", () => {
    expect(readLayout(storing("{not json"))).toEqual(DEFAULT_LAYOUT);
    expect(readLayout(storing("[1,2]"))).toEqual(DEFAULT_LAYOUT);
    const layout = readLayout(
      storing(
        JSON.stringify({ paletteOpen: "no", paletteWidth: "300", inspectorWidth: null, bottomHeight: 333 }),
      ),
    );
    expect(layout).toEqual({ ...DEFAULT_LAYOUT, bottomHeight: 333 });
  });
});
