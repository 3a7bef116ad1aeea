import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import {
  type CategoricalColumn,
  categoryAt,
  columnKind,
  type NumericColumn,
  readColumns,
  selectRows,
} from "./dataset";

describe("readColumns", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("reads numbers, booleans, dates and text into typed arrays, NULL as NaN or -1", async () => {
    const t = await p.table(
      "t",
      `SELECT * FROM (VALUES
         (1, 2.5::DECIMAL(4,1), true, DATE '1970-01-02', TIMESTAMP '1970-01-01 00:00:01', 'a', 'nan'::DOUBLE),
         (NULL, NULL, NULL, NULL, NULL, NULL, 'inf'::DOUBLE),
         (3, -1.0, false, DATE '1969-12-31', NULL, 'b', 4.0),
         (4, 0.0, true, NULL, NULL, 'a', NULL)) AS v(i, d, b, day, ts, s, f)`,
    );
    const read = await readColumns(
      p.sql,
      t.name,
      t.columns.map((column) => ({ column })),
    );
    expect(read.rows).toBe(4);
    const values = (k: number) => Array.from((read.columns[k] as NumericColumn).values);
    expect(values(0)).toEqual([1, Number.NaN, 3, 4]);
    expect(values(1)).toEqual([2.5, Number.NaN, -1, 0]);
    expect(values(2)).toEqual([1, Number.NaN, 0, 1]);
    expect(values(3)).toEqual([86_400_000, Number.NaN, -86_400_000, Number.NaN]);
    expect(values(4)).toEqual([1000, Number.NaN, Number.NaN, Number.NaN]);
    expect(values(6)).toEqual([Number.NaN, Number.POSITIVE_INFINITY, 4, Number.NaN]);
    const s = read.columns[5] as CategoricalColumn;
    expect(s).toMatchObject({ kind: "categorical", type: "VARCHAR", dictionary: ["a", "b"] });
    expect(Array.from(s.codes)).toEqual([0, -1, 1, 0]);
    expect([0, 1, 2].map((r) => categoryAt(s, r))).toEqual(["a", null, "b"]);
    const picked = selectRows(read, Int32Array.from([2, 0]));
    expect(picked.rows).toBe(2);
    expect(Array.from((picked.columns[0] as NumericColumn).values)).toEqual([3, 1]);
    expect(Array.from((picked.columns[5] as CategoricalColumn).codes)).toEqual([1, 0]);
  });

  it("reads a column as the kind asked for (a model's), text that is not a number as missing", async () => {
    const t = await p.table("t", "SELECT * FROM (VALUES ('1.5', 7), ('x', 8)) AS v(n, c)");
    const read = await readColumns(p.sql, t.name, [
      { column: t.columns[0]!, kind: "numeric" },
      { column: t.columns[1]!, kind: "categorical" },
    ]);
    expect(Array.from((read.columns[0] as NumericColumn).values)).toEqual([1.5, Number.NaN]);
    expect((read.columns[1] as CategoricalColumn).dictionary).toEqual(["7", "8"]);
  });

  it("reads into shared memory when asked, the same values as into plain arrays", async () => {
    const t = await p.table(
      "t",
      "SELECT * FROM (VALUES (1.5, 'a'), (NULL, NULL), (-2.0, 'b'), (4.0, 'a')) AS v(x, s)",
    );
    const requests = t.columns.map((column) => ({ column }));
    const plain = await readColumns(p.sql, t.name, requests);
    const shared = await readColumns(p.sql, t.name, requests, { shared: true });
    const x = (r: typeof plain) => (r.columns[0] as NumericColumn).values;
    const s = (r: typeof plain) => r.columns[1] as CategoricalColumn;
    expect(x(plain).buffer).toBeInstanceOf(ArrayBuffer);
    expect(x(shared).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(s(shared).codes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(x(shared))).toEqual([1.5, Number.NaN, -2, 4]);
    expect(Array.from(x(shared))).toEqual(Array.from(x(plain)));
    expect(Array.from(s(shared).codes)).toEqual([0, -1, 1, 0]);
    expect(s(shared).dictionary).toEqual(["a", "b"]);
    expect(Array.from(shared.rowid)).toEqual(Array.from(plain.rowid));
  });

  it("knows which types can be features", () => {
    expect(
      ["BIGINT", "DOUBLE", "DECIMAL(9,2)", "BOOLEAN", "DATE", "TIMESTAMP WITH TIME ZONE"].map(columnKind),
    ).toEqual(Array(6).fill("numeric"));
    expect(["VARCHAR", "UUID", "ENUM('a', 'b')"].map(columnKind)).toEqual(Array(3).fill("categorical"));
    expect(["BIGINT[]", "STRUCT(a INTEGER)", "BLOB", "INTERVAL"].map(columnKind)).toEqual(
      Array(4).fill(undefined),
    );
  });

  it("loads 1M rows × 6 columns into typed arrays and dictionaries", async () => {
    const t = await p.table(
      "big",
      `SELECT range::DOUBLE AS a, (range * 7 % 1000)::INTEGER AS b, random() AS c, DATE '2020-01-01' + (range % 1000)::INTEGER AS d,
              'cat' || (range % 50) AS e, CASE WHEN range % 10 = 0 THEN NULL ELSE 'o' || (range % 300) END AS f
       FROM range(1000000)`,
    );
    const read = await readColumns(
      p.sql,
      t.name,
      t.columns.map((column) => ({ column })),
    );
    expect(read.rows).toBe(1_000_000);
    expect((read.columns[0] as NumericColumn).values[999_999]).toBe(999_999);
    expect((read.columns[4] as CategoricalColumn).dictionary).toHaveLength(50);
  });

  it("stops when aborted", async () => {
    const t = await p.table("t", "SELECT range AS x FROM range(10)");
    const controller = new AbortController();
    controller.abort();
    await expect(
      readColumns(p.sql, t.name, [{ column: t.columns[0]! }], { signal: controller.signal }),
    ).rejects.toThrow();
  });
});
