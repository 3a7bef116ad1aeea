import { describe, expect, it } from "vitest";
import { COALESCE_MS, emptyHistory, record, redo, undo } from "./history";
import type { PipelineDocument } from "./types";

const d = (name: string): PipelineDocument => ({ name, nodes: [], edges: [] });

describe("history", () => {
  it("undoes and redoes recorded changes", () => {
    const a = d("a");
    const b = d("b");
    let h = record(emptyHistory(), a);
    const back = undo(h, b);
    expect(back.document).toBe(a);
    h = back.history;
    expect(redo(h, a).document).toBe(b);
  });

  it("coalesces a burst of the same change into one step", () => {
    let h = record(emptyHistory(), d("0"), "move:x", 1000);
    h = record(h, d("1"), "move:x", 1000 + COALESCE_MS / 2);
    h = record(h, d("2"), "move:x", 1000 + COALESCE_MS);
    expect(h.past.map((x) => x.name)).toEqual(["0"]);
    h = record(h, d("3"), "params:y", 1000 + COALESCE_MS);
    expect(h.past.map((x) => x.name)).toEqual(["0", "3"]);
  });

  it("a new change clears what could be redone", () => {
    const h = undo(record(emptyHistory(), d("a")), d("b")).history;
    expect(h.future).toHaveLength(1);
    expect(record(h, d("a")).future).toEqual([]);
  });
});
