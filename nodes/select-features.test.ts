import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TableValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import selectFeatures from "./select-features";

describe("select.features", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const names = (v: unknown) => (v as TableValue).columns.map((c) => c.name);
  const messages = () => p.logs.map((l) => l.message);
  const metric = (name: string) => p.metrics.findLast((m) => m.name === name)?.value;
  /** A deterministic pseudo-random integer in [0, mod) per row and stream. */
  const noise = (stream: number, mod: number) => `(hash(i, ${stream}) % ${mod})::DOUBLE`;

  it("drops constant and near-constant columns, and the later of a perfectly correlated pair", async () => {
    const input = await p.table(
      "t",
      `SELECT 1 AS const, CASE WHEN i = 0 THEN 1 ELSE 0 END AS rare, i % 7 AS week,
              i::DOUBLE AS a, -3.0 * i + 1 AS a_copy, ${noise(1, 100)} AS b, 'x' AS label
       FROM range(200) r(i)`,
    );
    const { out } = await p.run(selectFeatures, { in: input }, {});
    expect(names(out)).toEqual(["week", "a", "b"]);
    expect(messages()).toEqual(
      expect.arrayContaining([
        'Dropped "const": constant (every row holds the same value)',
        'Dropped "label": constant (every row holds the same value)',
        'Dropped "rare": near-constant (its most frequent value covers 99.5% of rows, above 99%)',
        'Dropped "a_copy": correlated with "a" (|r| = 1.000, above 0.95)',
      ]),
    );
    expect(metric("features_kept")).toBe(3);
    expect(metric("features_dropped")).toBe(4);
    expect(await p.rows(out, "a LIMIT 1")).toEqual([{ week: 0, a: 0, b: expect.any(Number) }]);
  });

  it("keeps what the thresholds let through", async () => {
    const input = await p.table(
      "t",
      "SELECT 1 AS const, CASE WHEN i = 0 THEN 1 ELSE 0 END AS rare, i AS a, 2 * i AS a2 FROM range(200) r(i)",
    );
    const { out } = await p.run(
      selectFeatures,
      { in: input },
      { dropConstant: false, nearConstantThreshold: 1, correlationThreshold: 1 },
    );
    expect(names(out)).toEqual(["const", "rare", "a", "a2"]);
    expect(p.logs.filter((l) => l.message.startsWith("Dropped"))).toEqual([]);
  });

  it("never drops the target, even when constant or correlated with a feature", async () => {
    const input = await p.table("t", "SELECT 5 AS y, i AS a, 2 * i AS z FROM range(50) r(i)");
    const { out } = await p.run(selectFeatures, { in: input }, { target: "y" });
    expect(names(out)).toEqual(["y", "a"]);
    const copy = await p.table("c", "SELECT i AS a, 2 * i AS y FROM range(50) r(i)");
    const r = await p.run(selectFeatures, { in: copy }, { target: "y" });
    expect(names(r.out)).toEqual(["a", "y"]);
  });

  it("keeps only the keep list and the target, in table order", async () => {
    const input = await p.table("t", "SELECT i AS a, i % 3 AS b, i % 5 AS c, i % 2 AS y FROM range(30) r(i)");
    const { out } = await p.run(selectFeatures, { in: input }, { keep: ["c", "a"], target: "y" });
    expect(names(out)).toEqual(["a", "c", "y"]);
    expect(messages()).toContain('Dropped "b": not in keep');
  });

  it("ranks by |Pearson r| and eta for a numeric target", async () => {
    // y = x1 + 5·x2: x1 explains about 80% of the variance, x2 about 20%; the others are noise.
    // grp is the quartile of x3, which y ignores; tier (a category) follows x2 exactly.
    const input = await p.table(
      "t",
      `SELECT x1, x2, n1, grp, tier, x1 + 5 * x2 AS y FROM (
         SELECT ${noise(1, 1000)} AS x1, ${noise(2, 100)} AS x2, ${noise(3, 1000)} AS n1,
                'g' || (${noise(4, 1000)} // 250)::INT AS grp, 't' || (${noise(2, 100)} // 10)::INT AS tier
         FROM range(500) r(i))`,
    );
    const { out } = await p.run(
      selectFeatures,
      { in: input },
      { target: "y", topK: 2, correlationThreshold: 1 },
    );
    expect(names(out)).toEqual(["x1", "x2", "y"]);
    expect(
      messages()
        .filter((m) => m.startsWith("Dropped"))
        .sort(),
    ).toEqual([
      expect.stringMatching(/^Dropped "grp": not in the top 2 by relevance to "y" \(score 0\.0/),
      expect.stringMatching(/^Dropped "n1": not in the top 2 by relevance to "y" \(score 0\.0/),
      expect.stringMatching(/^Dropped "tier": not in the top 2 by relevance to "y" \(score 0\.4/),
    ]);
    const r = await p.run(
      selectFeatures,
      { in: input },
      { target: "y", topK: 2, keep: ["tier", "grp", "n1"] },
    );
    expect(names(r.out)).toEqual(["n1", "tier", "y"]);
  });

  it("ranks by eta and bias-corrected Cramér's V for a categorical target, ignoring ID-like columns", async () => {
    const input = await p.table(
      "t",
      `SELECT x, noise, id, side, junk, CASE WHEN x > 500 THEN 'hi' ELSE 'lo' END AS cls FROM (
         SELECT ${noise(1, 1000)} AS x, ${noise(2, 1000)} AS noise, 'id' || i AS id,
                CASE WHEN ${noise(1, 1000)} > 500 THEN 'right' ELSE 'left' END AS side, 'j' || hash(i, 3) % 4 AS junk
         FROM range(400) r(i))`,
    );
    const { out } = await p.run(selectFeatures, { in: input }, { target: "cls", topK: 2 });
    expect(names(out)).toEqual(["x", "side", "cls"]);
    expect(messages()).toContainEqual(
      expect.stringMatching(/^Top 2 by relevance to "cls": side \(1\.000\), x \(0\.8/),
    );
    expect(messages()).toContainEqual(expect.stringMatching(/^Dropped "id": .* \(score 0\.000\)/));
  });

  describe("bad input", () => {
    const penguins = "SELECT 'Adelie' AS species, 39.1 AS bill_length_mm, 3750 AS body_mass_g";

    it("names an unknown column in keep or target and lists the columns", async () => {
      const input = await p.table("t", penguins);
      await expect(p.run(selectFeatures, { in: input }, { keep: ["species", "bil_length"] })).rejects.toThrow(
        'Column "bil_length" in keep does not exist. Columns are: species, bill_length_mm, body_mass_g.',
      );
      await expect(p.run(selectFeatures, { in: input }, { target: "mass" })).rejects.toThrow(
        'Column "mass" in target does not exist.',
      );
    });

    it("asks for a target when topK is set", async () => {
      const input = await p.table("t", penguins);
      await expect(p.run(selectFeatures, { in: input }, { topK: 1 })).rejects.toThrow(
        "topK ranks features by relevance to a target, but no target is set. Set target, or clear topK.",
      );
    });

    it("rejects thresholds outside 0..1 and says when nothing is left", async () => {
      const input = await p.table("t", penguins);
      await expect(p.run(selectFeatures, { in: input }, { correlationThreshold: 2 })).rejects.toThrow(
        /correlationThreshold/,
      );
      await expect(p.run(selectFeatures, { in: input }, {})).rejects.toThrow(/Every column was dropped/);
    });
  });
});
