import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../app/engine/testing";
import shuffle from "./shuffle";

describe("shuffle", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("keeps every row, reorders them, and repeats the order for the same seed", async () => {
    const input = await p.table("nums", "SELECT range AS i FROM range(200)");
    const a = await p.run(shuffle, { in: input }, { seed: 7 });
    const b = await p.run(shuffle, { in: input }, { seed: 7 });
    const c = await p.run(shuffle, { in: input }, { seed: 8 });
    const order = async (v: typeof a.out) => (await p.rows(v)).map((r) => r.i as number);
    const oa = await order(a.out);
    expect(oa).toHaveLength(200);
    expect([...oa].sort((x, y) => x - y)).toEqual([...Array(200).keys()]);
    expect(oa).not.toEqual([...Array(200).keys()]);
    expect(await order(b.out)).toEqual(oa);
    expect(await order(c.out)).not.toEqual(oa);
    // Same content, same fingerprint: shuffling does not change what the table holds.
    expect(a.out?.fingerprint).toBe(input.fingerprint);
  });

  it("gives the same order for the same rows arriving in another order", async () => {
    const x = await p.table("x", "SELECT range AS i FROM range(50)");
    const y = await p.table("y", "SELECT range AS i FROM range(50) ORDER BY range DESC");
    const a = await p.run(shuffle, { in: x }, { seed: 1 });
    const b = await p.run(shuffle, { in: y }, { seed: 1 });
    expect(await p.rows(a.out)).toEqual(await p.rows(b.out));
  });

  it("rejects a seed that is not an integer", async () => {
    const x = await p.table("x", "SELECT 1 AS i");
    await expect(p.run(shuffle, { in: x }, { seed: "abc" })).rejects.toThrow(/seed/);
  });
});
