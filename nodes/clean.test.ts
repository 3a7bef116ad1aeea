import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TableValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import clean from "./clean";

describe("clean", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const metric = (name: string) => p.metrics.findLast((m) => m.name === name)?.value;
  const columns = (v: unknown) => (v as TableValue).columns;

  it("copies the table unchanged with default params", async () => {
    const input = await p.table("t", "SELECT range AS i, 'x' || range AS s FROM range(5)");
    const { out } = await p.run(clean, { in: input }, {});
    expect(out?.fingerprint).toBe(input.fingerprint);
    expect(metric("rows_dropped")).toBe(0);
    // Temporary step tables do not outlive the run.
    expect(await p.sql.all("SELECT * FROM duckdb_tables() WHERE temporary")).toEqual([]);
  });

  it("drops, renames and casts in that order", async () => {
    const input = await p.table("t", "SELECT * FROM (VALUES ('1', 'x'), ('2', 'y'), ('30', 'z')) v(s, junk)");
    const { out } = await p.run(
      clean,
      { in: input },
      { drop: ["junk"], rename: { s: "n" }, cast: { n: "INTEGER" } },
    );
    expect(columns(out)).toEqual([{ name: "n", type: "INTEGER" }]);
    expect(await p.rows(out, "n")).toEqual([{ n: 1 }, { n: 2 }, { n: 30 }]);
    expect(p.logs.map((l) => l.message)).toContain("Dropped columns: junk");
  });

  it("treats column names like constructor as plain names", async () => {
    const input = await p.table("t", 'SELECT 1 AS "constructor", 2 AS "toString"');
    const { out } = await p.run(clean, { in: input }, { rename: { toString: "s" } });
    expect(await p.rows(out)).toEqual([{ constructor: 1, s: 2 }]);
  });

  describe("missing values", () => {
    const data =
      "SELECT * FROM (VALUES (1, 1.0, 'a'), (2, 2.0, 'b'), (3, NULL, 'a'), (4, 9.0, NULL), (5, 'nan'::DOUBLE, 'b'), (6, 3.0, 'a'), (NULL, 5.0, 'c')) v(i, x, s)";

    it("imputes the mean (rounded for integers) and the mode", async () => {
      const input = await p.table("t", data);
      const { out } = await p.run(clean, { in: input }, { missing: { strategy: "impute" } });
      const rows = await p.rows(out, "s, x");
      // x: NULL and NaN are missing; mean of 1, 2, 9, 3, 5 = 4. i: mean of 1..6 = 3.5 → 4. s: 'a' appears 3 times.
      expect(rows.find((r) => r.i === 3)).toEqual({ i: 3, x: 4, s: "a" });
      expect(rows.find((r) => r.i === 5)).toEqual({ i: 5, x: 4, s: "b" });
      expect(rows.find((r) => r.i === 4)).toEqual({ i: 4, x: 9, s: "a" });
      expect(rows.find((r) => r.s === "c")).toEqual({ i: 4, x: 5, s: "c" });
      expect(columns(out)).toEqual(input.columns);
      expect(metric("values_imputed")).toBe(4);
      expect(p.logs.map((l) => l.message)).toContain('Imputed 2 missing value(s) in "x" with 4.0');
    });

    it("imputes the median, only in the named columns", async () => {
      const input = await p.table("t", data);
      const { out } = await p.run(
        clean,
        { in: input },
        { missing: { strategy: "impute", numeric: "median", columns: ["x"] } },
      );
      const rows = await p.rows(out, "i NULLS LAST");
      // Median of 1, 2, 3, 5, 9 = 3.
      expect(rows.map((r) => r.x)).toEqual([1, 2, 3, 9, 3, 3, 5]);
      expect(rows.map((r) => r.i)).toEqual([1, 2, 3, 4, 5, 6, null]);
      expect(rows[3]?.s).toBeNull();
    });

    it("picks the smallest of tied modes, whatever the row order", async () => {
      const a = await p.table("a", "SELECT * FROM (VALUES ('q'), ('p'), ('q'), ('p'), (NULL)) v(s)");
      const b = await p.table("b", "SELECT * FROM (VALUES (NULL), ('p'), ('q'), ('p'), ('q')) v(s)");
      for (const input of [a, b]) {
        const { out } = await p.run(clean, { in: input }, { missing: { strategy: "impute" } });
        expect((await p.rows(out, "s")).map((r) => r.s)).toEqual(["p", "p", "p", "q", "q"]);
      }
    });

    it("fills with constants", async () => {
      const input = await p.table("t", data);
      const { out } = await p.run(
        clean,
        { in: input },
        { missing: { strategy: "impute", numeric: "constant", categorical: "constant", constant: -1 } },
      );
      const rows = await p.rows(out, "i");
      expect(rows.map((r) => r.i)).toEqual([-1, 1, 2, 3, 4, 5, 6]);
      expect(rows.map((r) => r.x)).toEqual([5, 1, 2, -1, 9, -1, 3]);
      expect(rows.map((r) => r.s)).toEqual(["c", "a", "b", "a", "-1", "b", "a"]);
    });

    it("drops rows with a missing value", async () => {
      const input = await p.table("t", data);
      const { out } = await p.run(clean, { in: input }, { missing: { strategy: "drop-rows" } });
      expect((await p.rows(out, "i")).map((r) => r.i)).toEqual([1, 2, 6]);
      expect(metric("rows_dropped")).toBe(4);
      expect(p.logs.map((l) => l.message)).toContain("Dropped 4 row(s) with missing values");
    });

    it("asks for missing.constant when a constant strategy has none, and rejects one of the wrong type", async () => {
      const input = await p.table("t", data);
      await expect(
        p.run(clean, { in: input }, { missing: { strategy: "impute", numeric: "constant" } }),
      ).rejects.toThrow(/missing\.constant is not set/);
      await expect(
        p.run(
          clean,
          { in: input },
          { missing: { strategy: "impute", numeric: "constant", constant: "none" } },
        ),
      ).rejects.toThrow(/"none" cannot be stored in column "i" of type INTEGER/);
    });
  });

  describe("outliers", () => {
    // Sorted: -50, 1..8, 100. Q1 = 2.25, Q3 = 6.75, IQR = 4.5, so the 1.5·IQR fences are -4.5 and 13.5.
    const data =
      "SELECT v AS d, v::INTEGER AS n, 'k' || v AS s FROM unnest([-50, 1, 2, 3, 4, 5, 6, 7, 8, 100]) t(v)";

    it("clips to the IQR fences, inward to whole numbers for integer columns", async () => {
      const input = await p.table("t", data.replace("v AS d", "v::DOUBLE AS d"));
      const { out } = await p.run(clean, { in: input }, { outliers: { method: "iqr" } });
      const rows = await p.rows(out, "s");
      const bySource = Object.fromEntries(rows.map((r) => [r.s, [r.d, r.n]]));
      expect(bySource["k-50"]).toEqual([-4.5, -4]);
      expect(bySource.k100).toEqual([13.5, 13]);
      expect(bySource.k5).toEqual([5, 5]);
      expect(columns(out)).toEqual(input.columns);
      expect(metric("values_clipped")).toBe(4);
      expect(p.logs.map((l) => l.message)).toContain(
        'Clipped 2 outlier(s) in "d" outside [-4.5, 13.5] (IQR × 1.5)',
      );
    });

    it("honours a custom threshold and column list", async () => {
      const input = await p.table("t", data.replace("v AS d", "v::DOUBLE AS d"));
      // Fences at t = 10: 2.25 - 45 = -42.75 and 6.75 + 45 = 51.75.
      const { out } = await p.run(
        clean,
        { in: input },
        { outliers: { method: "iqr", threshold: 10, columns: ["d"] } },
      );
      const rows = await p.rows(out, "d");
      expect(rows[0]).toEqual({ d: -42.75, n: -50, s: "k-50" });
      expect(rows[9]).toEqual({ d: 51.75, n: 100, s: "k100" });
    });

    it("drops rows more than 3 standard deviations out, keeping rows with missing values", async () => {
      // Ten 10s, ten 12s and a 100: mean 15.24, population sd 18.98, so 100 has z = 4.47 and the rest |z| < 0.3.
      const input = await p.table(
        "t",
        "SELECT * FROM (SELECT 10.0 AS x FROM range(10) UNION ALL SELECT 12.0 FROM range(10) UNION ALL SELECT 100.0 UNION ALL SELECT NULL)",
      );
      const { out } = await p.run(clean, { in: input }, { outliers: { method: "zscore", action: "drop" } });
      const rows = await p.rows(out);
      expect(rows).toHaveLength(21);
      expect(rows.some((r) => r.x === 100)).toBe(false);
      expect(rows.some((r) => r.x === null)).toBe(true);
      expect(metric("rows_dropped")).toBe(1);
    });

    it("rejects a non-numeric column", async () => {
      const input = await p.table("t", data);
      await expect(
        p.run(clean, { in: input }, { outliers: { method: "iqr", columns: ["s"] } }),
      ).rejects.toThrow('Column "s" in outliers.columns is VARCHAR, not numeric');
    });
  });

  describe("dedupe", () => {
    it("drops exact duplicates", async () => {
      const input = await p.table(
        "t",
        "SELECT * FROM (VALUES (1, 'a'), (1, 'a'), (1, 'b'), (2, 'b')) v(k, s)",
      );
      const { out } = await p.run(clean, { in: input }, { dedupe: true });
      expect(await p.rows(out, "k, s")).toEqual([
        { k: 1, s: "a" },
        { k: 1, s: "b" },
        { k: 2, s: "b" },
      ]);
      expect(metric("rows_dropped")).toBe(1);
    });

    it("keeps one row per key, the same one whatever the row order", async () => {
      const rows = "(1, 10), (1, 20), (1, 30), (2, 40), (2, 50), (3, 60)";
      const a = await p.table("a", `SELECT * FROM (VALUES ${rows}) v(k, v)`);
      const b = await p.table("b", `SELECT * FROM (VALUES ${rows}) v(k, v) ORDER BY v DESC`);
      const ra = await p.run(clean, { in: a }, { dedupeOn: ["k"] });
      const rb = await p.run(clean, { in: b }, { dedupeOn: ["k"] });
      const kept = await p.rows(ra.out, "k");
      expect(kept.map((r) => r.k)).toEqual([1, 2, 3]);
      expect(await p.rows(rb.out, "k")).toEqual(kept);
      expect(ra.out?.fingerprint).toBe(rb.out?.fingerprint);
    });
  });

  describe("bad input", () => {
    const penguins = "SELECT 'Adelie' AS species, 39.1 AS bill_length_mm, '3750' AS body_mass_g";

    it.each([
      ["drop", { drop: ["bil_length"] }],
      ["rename", { rename: { bil_length: "b" } }],
      ["cast", { cast: { bil_length: "DOUBLE" } }],
      ["missing.columns", { missing: { strategy: "impute", columns: ["bil_length"] } }],
      ["outliers.columns", { outliers: { method: "iqr", columns: ["bil_length"] } }],
      ["dedupeOn", { dedupeOn: ["bil_length"] }],
    ])("names an unknown column in %s and lists the columns", async (param, params) => {
      const input = await p.table("t", penguins);
      await expect(p.run(clean, { in: input }, params)).rejects.toThrow(
        `Column "bil_length" in ${param} does not exist. Columns are: species, bill_length_mm, body_mass_g.`,
      );
    });

    it("explains a name that was dropped or renamed earlier", async () => {
      const input = await p.table("t", penguins);
      await expect(
        p.run(clean, { in: input }, { drop: ["species"], rename: { species: "s" } }),
      ).rejects.toThrow('Column "species" in rename does not exist. It is listed in drop.');
      await expect(
        p.run(clean, { in: input }, { rename: { body_mass_g: "mass" }, cast: { body_mass_g: "INTEGER" } }),
      ).rejects.toThrow('It was renamed to "mass"; cast uses names after rename.');
      await expect(p.run(clean, { in: input }, { drop: ["Species"] })).rejects.toThrow(
        'Did you mean "species"?',
      );
    });

    it("reports a failing cast with an example, and turns bad values into NULL on request", async () => {
      const input = await p.table("t", "SELECT * FROM (VALUES ('1'), ('abc'), ('3'), (NULL)) v(n)");
      await expect(p.run(clean, { in: input }, { cast: { n: "INTEGER" } })).rejects.toThrow(
        'Column "n" cannot be cast to INTEGER: 1 value(s) do not convert, e.g. "abc". Fix the data, choose another type, or set castErrors to "null"',
      );
      const { out } = await p.run(clean, { in: input }, { cast: { n: "INTEGER" }, castErrors: "null" });
      expect((await p.rows(out, "n")).map((r) => r.n)).toEqual([1, 3, null, null]);
      expect(p.logs).toContainEqual({
        level: "warn",
        message: 'Cast "n" to INTEGER: 1 value(s) did not convert and became NULL',
      });
    });

    it("rejects type names that are unknown or could carry SQL", async () => {
      const input = await p.table("t", penguins);
      await expect(p.run(clean, { in: input }, { cast: { body_mass_g: "INTEGR" } })).rejects.toThrow(
        'Unknown type "INTEGR" for column "body_mass_g" in cast',
      );
      await expect(
        p.run(clean, { in: input }, { cast: { body_mass_g: "INTEGER); DROP TABLE t; --" } }),
      ).rejects.toThrow(/cast\.body_mass_g: must be a DuckDB type name/);
      const { out } = await p.run(clean, { in: input }, { cast: { body_mass_g: "DECIMAL(8, 1)" } });
      expect(columns(out)[2]).toEqual({ name: "body_mass_g", type: "DECIMAL(8,1)" });
    });

    it("rejects renames that collide", async () => {
      const input = await p.table("t", penguins);
      await expect(
        p.run(clean, { in: input }, { rename: { species: "x", bill_length_mm: "x" } }),
      ).rejects.toThrow('Two columns would be named "x" (from "species" and "bill_length_mm")');
      await expect(p.run(clean, { in: input }, { rename: { species: "Body_Mass_G" } })).rejects.toThrow(
        /Two columns would be named "body_mass_g"/,
      );
      // Swapping two names is fine.
      const { out } = await p.run(
        clean,
        { in: input },
        { rename: { species: "body_mass_g", body_mass_g: "species" } },
      );
      expect(columns(out).map((c) => c.name)).toEqual(["body_mass_g", "bill_length_mm", "species"]);
    });

    it("refuses to drop every column", async () => {
      const input = await p.table("t", "SELECT 1 AS a");
      await expect(p.run(clean, { in: input }, { drop: ["a"] })).rejects.toThrow(/drop removes every column/);
    });
  });
});
