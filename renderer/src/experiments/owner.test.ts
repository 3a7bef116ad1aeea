import { describe, expect, it } from "vitest";
import { loadMine, mineTitle, ownerTitle, saveMine } from "./owner";

describe("a run's owner as the table shows it", () => {
  it("says who and where in full in the tooltip, and what is unknown", () => {
    expect(ownerTitle({ user: "ana", host: "ws-1.lab.example" })).toBe("ana on ws-1.lab.example");
    expect(ownerTitle({ user: null, host: null })).toMatch(/^an unknown user on a machine not recorded/);
  });

  it("tells how to get a user name when the engine has none", () => {
    expect(mineTitle({ user: "ana", host: "h" })).toContain("started by ana");
    expect(mineTitle({ user: null, host: "h" })).toContain("set DAGWOOD_USER");
  });

  it("remembers Only my runs, and reads anything else as off", () => {
    const map = new Map<string, string>();
    const store = {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
    };
    expect(loadMine(store)).toBe(false);
    saveMine(true, store);
    expect(loadMine(store)).toBe(true);
    saveMine(false, store);
    expect(loadMine(store)).toBe(false);
    map.set("dagwood.runs.mine", "yes");
    expect(loadMine(store)).toBe(false);
    expect(loadMine(undefined)).toBe(false);
    const refusing = {
      getItem: () => {
        throw new Error("denied");
      },
    };
    expect(loadMine(refusing)).toBe(false);
  });
});
