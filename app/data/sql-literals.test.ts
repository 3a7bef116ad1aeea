import { describe, expect, it } from "vitest";
import { replaceLiterals, stringLiterals } from "./sql-literals";

describe("stringLiterals", () => {
  it("finds literals and unescapes doubled quotes", () => {
    expect(stringLiterals("SELECT 'a', 'it''s' FROM t").map((l) => l.value)).toEqual(["a", "it's"]);
  });

  it("skips comments, quoted identifiers and dollar-quoted strings", () => {
    const sql = `-- don't\nSELECT "it's" AS x, /* 'no' */ $$ 'not' $$, 'yes' FROM read_csv('data/a.csv')`;
    expect(stringLiterals(sql).map((l) => l.value)).toEqual(["yes", "data/a.csv"]);
  });

  it("replaces literals in place, quoting the new values", () => {
    const sql = "SELECT * FROM read_csv('a.csv') WHERE s = 'x'";
    const [file] = stringLiterals(sql);
    expect(replaceLiterals(sql, [{ literal: file!, value: "/p/o'k.csv" }])).toBe(
      "SELECT * FROM read_csv('/p/o''k.csv') WHERE s = 'x'",
    );
  });
});
