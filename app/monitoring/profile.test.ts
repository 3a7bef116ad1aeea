import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import { computeDrift } from "./drift";
import { buildReferenceProfile, profileTable } from "./profile";
import { PROFILE_QUANTILES } from "./types";

const VEGA = resolve(import.meta.dirname, "../../node_modules/vega-datasets/data");

let p: TestProject;
beforeAll(async () => {
  p = await createTestProject();
  copyFileSync(join(VEGA, "penguins.json"), join(p.dir, "data", "penguins.json"));
});
afterAll(() => p.close());

describe("reference profiles", () => {
  it("give the very report the raw reference gives when they keep values and frequencies", async () => {
    const src = `read_json_auto('${join(p.dir, "data", "penguins.json")}')`;
    const ref = await p.table("pr_ref", `SELECT * FROM ${src}`);
    const cur = await p.table(
      "pr_cur",
      `SELECT * REPLACE ("Body Mass (g)" * 1.05 AS "Body Mass (g)") FROM ${src} WHERE Island <> 'Dream'`,
    );
    const profile = await buildReferenceProfile(p.sql, ref);
    expect(profile.columns.find((c) => c.name === "Body Mass (g)")!.values).toHaveLength(342);
    expect(profile.columns.find((c) => c.name === "Species")!.frequencies).toEqual([
      { value: "Adelie", count: 152 },
      { value: "Chinstrap", count: 68 },
      { value: "Gentoo", count: 124 },
    ]);
    // Small: the JSON a version would store.
    expect(JSON.stringify(profile).length).toBeLessThan(20_000);
    const rebuilt = await profileTable(p.sql, profile, "pr_rebuilt");
    const fromTable = await computeDrift(p.sql, ref, cur);
    const fromProfile = await computeDrift(p.sql, rebuilt, cur, {
      tests: { Species: "psi", Island: "jensenshannon" },
    });
    const fromTable2 = await computeDrift(p.sql, ref, cur, {
      tests: { Species: "psi", Island: "jensenshannon" },
    });
    expect(await computeDrift(p.sql, rebuilt, cur)).toEqual(fromTable);
    expect(fromProfile).toEqual(fromTable2);
  });

  it("keep the quantile function of a large numeric column: Wasserstein within its resolution", async () => {
    const ref = await p.table(
      "pq_ref",
      "SELECT (hash(i) % 100003) / 1000.0 AS x, CASE WHEN i % 9 = 0 THEN NULL ELSE i % 7 END AS k FROM range(20000) AS t(i)",
    );
    const cur = await p.table(
      "pq_cur",
      "SELECT (hash(i, 1) % 100003) / 1000.0 * 1.1 AS x, i % 6 AS k FROM range(5000) AS t(i)",
    );
    const profile = await buildReferenceProfile(p.sql, ref);
    const x = profile.columns.find((c) => c.name === "x")!;
    expect(x.quantiles).toHaveLength(PROFILE_QUANTILES + 1);
    expect(x.values).toBeNull();
    const rebuilt = await profileTable(p.sql, profile, "pq_rebuilt");
    const a = await computeDrift(p.sql, ref, cur);
    const b = await computeDrift(p.sql, rebuilt, cur);
    const [wa, wb] = [a, b].map((r) => r.columns.find((c) => c.column === "x")!);
    expect(wb!.rows).toEqual(wa!.rows);
    expect(wb!.test).toBe("wasserstein");
    // (max - min) / Q per unit of std: the bound types.ts states.
    expect(Math.abs(wb!.statistic! - wa!.statistic!)).toBeLessThan(
      (x.max! - x.min!) / PROFILE_QUANTILES / x.std!,
    );
    // The categorical column (frequencies) is exact, missing values included.
    expect(b.columns.find((c) => c.column === "k")).toEqual(a.columns.find((c) => c.column === "k"));
  });
});
