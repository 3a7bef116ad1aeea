import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import split from "./split";

/** Rows as sorted JSON strings: equal arrays mean equal multisets. */
function multiset(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort();
}

describe("split", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const ids = async (v: PortValue | undefined) => (await p.rows(v)).map((r) => r.id as number);

  describe("random", () => {
    it("puts exactly round(n × fraction) rows in test, disjoint from train and covering the input", async () => {
      const input = await p.table("nums", "SELECT range AS id, range * 2.5 AS x FROM range(200)");
      const out = await p.run(split, { in: input }, { testFraction: 0.2, seed: 3 });
      const train = await ids(out.train);
      const test = await ids(out.test);
      expect(test).toHaveLength(40);
      expect(train).toHaveLength(160);
      expect(train.filter((i) => test.includes(i))).toEqual([]);
      expect([...train, ...test].sort((a, b) => a - b)).toEqual([...Array(200).keys()]);
      expect(out.train?.type === "table" && out.train.columns.map((c) => c.name)).toEqual(["id", "x"]);
      expect(p.metrics).toEqual([
        { name: "train_rows", value: 160, step: undefined },
        { name: "test_rows", value: 40, step: undefined },
      ]);
    });

    it("rounds the test size to the nearest row", async () => {
      const input = await p.table("ten", "SELECT range AS id FROM range(10)");
      const out = await p.run(split, { in: input }, { testFraction: 0.25 });
      expect(await ids(out.test)).toHaveLength(3);
      expect(await ids(out.train)).toHaveLength(7);
    });

    it("keeps duplicate rows: train and test together are the input as a multiset", async () => {
      const input = await p.table("dups", "SELECT range % 7 AS v, (range % 3)::VARCHAR AS s FROM range(50)");
      const out = await p.run(split, { in: input }, { testFraction: 0.3, seed: 5 });
      const both = [...(await p.rows(out.train)), ...(await p.rows(out.test))];
      expect(multiset(both)).toEqual(multiset(await p.rows(input)));
      expect(out.test?.type === "table" && out.test.rows).toBe(15);
    });

    it("repeats the split for a seed, changes it for another seed", async () => {
      const input = await p.table("nums", "SELECT range AS id FROM range(100)");
      const a = await p.run(split, { in: input }, { seed: 1 });
      const b = await p.run(split, { in: input }, { seed: 1 });
      const c = await p.run(split, { in: input }, { seed: 2 });
      expect(await ids(a.test)).toEqual(await ids(b.test));
      expect(a.test?.fingerprint).toBe(b.test?.fingerprint);
      const sorted = async (v: PortValue | undefined) => (await ids(v)).sort((x, y) => x - y);
      expect(await sorted(c.test)).not.toEqual(await sorted(a.test));
    });

    it("gives the same split, in the same order, for the same rows arriving in another order", async () => {
      const x = await p.table("x", "SELECT range AS id, range % 4 AS g FROM range(60)");
      const y = await p.table("y", "SELECT range AS id, range % 4 AS g FROM range(60) ORDER BY range DESC");
      for (const params of [{ seed: 9 }, { strategy: "stratified", column: "g", seed: 9 }]) {
        const a = await p.run(split, { in: x }, params);
        const b = await p.run(split, { in: y }, params);
        expect(await p.rows(a.test)).toEqual(await p.rows(b.test));
        expect(await p.rows(a.train)).toEqual(await p.rows(b.train));
      }
    });

    it("shuffles the outputs by default, and sorts them when shuffle is off, whatever the input order", async () => {
      const input = await p.table("nums", "SELECT range AS id FROM range(100) ORDER BY hash(range)");
      const shuffled = await ids((await p.run(split, { in: input }, {})).train);
      expect(shuffled).not.toEqual([...shuffled].sort((a, b) => a - b));
      const kept = await ids((await p.run(split, { in: input }, { shuffle: false })).train);
      expect(kept).toEqual([...kept].sort((a, b) => a - b));
    });
  });

  describe("stratified", () => {
    it("takes round(count × fraction) test rows from every class, null being a class of its own", async () => {
      const input = await p.table(
        "labelled",
        `SELECT range AS id,
           CASE WHEN range < 50 THEN 'a' WHEN range < 80 THEN 'b' WHEN range < 100 THEN 'c'
                WHEN range < 110 THEN NULL ELSE 'd' END AS label
         FROM range(112)`,
      );
      const out = await p.run(
        split,
        { in: input },
        { strategy: "stratified", column: "label", testFraction: 0.2 },
      );
      const count = async (v: PortValue | undefined) => {
        const rows = (await p.rows(v)).map((r) => (r.label ?? "∅") as string);
        const counts: Record<string, number> = {};
        for (const label of rows) counts[label] = (counts[label] ?? 0) + 1;
        return counts;
      };
      // a: 50 → 10, b: 30 → 6, c: 20 → 4, null: 10 → 2, d: 2 → round(0.4) = 0, raised to 1.
      expect(await count(out.test)).toEqual({ a: 10, b: 6, c: 4, "∅": 2, d: 1 });
      expect(await count(out.train)).toEqual({ a: 40, b: 24, c: 16, "∅": 8, d: 1 });
      const classSizes = { a: 50, b: 30, c: 20, "∅": 10, d: 2 };
      const test = await count(out.test);
      for (const [label, n] of Object.entries(classSizes)) {
        expect(Math.abs((test[label] as number) - n * 0.2)).toBeLessThan(1);
      }
      const all = [...(await ids(out.train)), ...(await ids(out.test))].sort((a, b) => a - b);
      expect(all).toEqual([...Array(112).keys()]);
      expect(p.metrics.map((m) => [m.name, m.value])).toEqual([
        ["train_rows", 89],
        ["test_rows", 23],
      ]);
    });

    it("warns about a class with a single row and keeps it in train", async () => {
      const input = await p.table(
        "rare",
        "SELECT range AS id, CASE WHEN range = 0 THEN 'lonely' ELSE 'common' END AS label FROM range(21)",
      );
      const out = await p.run(
        split,
        { in: input },
        { strategy: "stratified", column: "label", testFraction: 0.25 },
      );
      expect(await ids(out.test)).toHaveLength(5);
      expect(await ids(out.train)).toContain(0);
      expect(p.logs).toEqual([
        expect.objectContaining({ level: "warn", message: expect.stringMatching(/"lonely"/) }),
      ]);
      expect(p.logs[0]?.message).toMatch(/single row.*stay in train/);
    });

    it("fails when every class has a single row", async () => {
      const input = await p.table("unique", "SELECT range AS id FROM range(5)");
      await expect(
        p.run(split, { in: input }, { strategy: "stratified", column: "id", testFraction: 0.5 }),
      ).rejects.toThrow(/5 rows.*testFraction 0.5.*no class of "id" has two or more rows/);
    });

    it("requires a column, and one that exists", async () => {
      const input = await p.table("t", "SELECT 1 AS id, 'x' AS label");
      await expect(p.run(split, { in: input }, { strategy: "stratified" })).rejects.toThrow(
        /column: the stratified strategy needs a column/,
      );
      await expect(
        p.run(split, { in: input }, { strategy: "stratified", column: "species" }),
      ).rejects.toThrow(/Column "species" is not in the input\. Its columns are: "id", "label"/);
    });
  });

  describe("time", () => {
    it("puts the latest rows in test, with equal times on one side of the cut", async () => {
      // 40 rows over 10 days, 4 rows a day: a quarter is 10 rows, and whole days give 8 or 12.
      const input = await p.table(
        "events",
        "SELECT range AS id, DATE '2024-01-01' + (range // 4)::INTEGER AS day FROM range(40) ORDER BY hash(range)",
      );
      const out = await p.run(split, { in: input }, { strategy: "time", column: "day", testFraction: 0.25 });
      const days = async (v: PortValue | undefined) =>
        (await p.rows(v)).map((r) => (r.day as Date).getTime());
      const train = await days(out.train);
      const test = await days(out.test);
      expect([8, 12]).toContain(test.length);
      expect(train.length + test.length).toBe(40);
      expect(Math.min(...test)).toBeGreaterThan(Math.max(...train));
    });

    it("keeps the outputs in time order when shuffle is off", async () => {
      const input = await p.table(
        "readings",
        "SELECT range AS id, 1000 - range * 3.5 AS t FROM range(30) ORDER BY hash(range)",
      );
      const out = await p.run(
        split,
        { in: input },
        { strategy: "time", column: "t", testFraction: 0.3, shuffle: false },
      );
      const times = async (v: PortValue | undefined) => (await p.rows(v)).map((r) => r.t as number);
      const train = await times(out.train);
      const test = await times(out.test);
      expect(test).toHaveLength(9);
      expect(train).toEqual([...train].sort((a, b) => a - b));
      expect(test).toEqual([...test].sort((a, b) => a - b));
      expect(Math.min(...test)).toBeGreaterThanOrEqual(Math.max(...train));
    });

    it("keeps rows without a time in train, with a warning", async () => {
      const input = await p.table(
        "gaps",
        "SELECT range AS id, CASE WHEN range % 5 = 0 THEN NULL ELSE range END AS t FROM range(20)",
      );
      const out = await p.run(split, { in: input }, { strategy: "time", column: "t" });
      expect((await ids(out.test)).sort((a, b) => a - b)).toEqual([16, 17, 18, 19]);
      expect(await ids(out.train)).toEqual(expect.arrayContaining([0, 5, 10, 15]));
      expect(p.logs).toEqual([
        { level: "warn", message: 'Time split: 4 row(s) have no "t"; they stay in train.' },
      ]);
    });

    it("refuses a column that is not a time or a number", async () => {
      const input = await p.table("t", "SELECT range AS id, range::VARCHAR AS name FROM range(10)");
      await expect(p.run(split, { in: input }, { strategy: "time", column: "name" })).rejects.toThrow(
        /"name", which is VARCHAR\. Choose a date, timestamp or numeric column/,
      );
    });

    it("fails when every row has the same time", async () => {
      const input = await p.table("flat", "SELECT range AS id, TIMESTAMP '2024-01-01' AS ts FROM range(10)");
      await expect(p.run(split, { in: input }, { strategy: "time", column: "ts" })).rejects.toThrow(
        /10 rows.*leaves test empty: every row has the same "ts"/,
      );
    });
  });

  describe("bad input", () => {
    it("refuses a split that leaves one side empty, naming the row count and fraction", async () => {
      const one = await p.table("one", "SELECT 1 AS id");
      await expect(p.run(split, { in: one }, { testFraction: 0.5 })).rejects.toThrow(
        /Splitting 1 rows with testFraction 0.5 gives .* both sides need at least one\. A split needs at least 2 rows/,
      );
      const ten = await p.table("ten", "SELECT range AS id FROM range(10)");
      await expect(p.run(split, { in: ten }, { testFraction: 0.01 })).rejects.toThrow(
        /Splitting 10 rows with testFraction 0.01 gives 0 test and 10 train rows.*at least 0.05/,
      );
      await expect(p.run(split, { in: ten }, { testFraction: 0.99 })).rejects.toThrow(
        /gives 10 test and 0 train rows.*below 0.95/,
      );
    });

    it("validates the params", async () => {
      const input = await p.table("t", "SELECT range AS id FROM range(10)");
      await expect(p.run(split, { in: input }, { testFraction: 1 })).rejects.toThrow(/testFraction/);
      await expect(p.run(split, { in: input }, { testFraction: 0 })).rejects.toThrow(/testFraction/);
      await expect(p.run(split, { in: input }, { strategy: "kfold" })).rejects.toThrow(/strategy/);
      await expect(p.run(split, { in: input }, { strategy: "time" })).rejects.toThrow(
        /column: the time strategy needs a column/,
      );
    });
  });
});
