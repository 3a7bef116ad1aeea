import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import profileBlock from "../../../nodes/analyze-profile";
import { catalog } from "../../../nodes/index";
import { createTestProject, penguinsTable } from "../../engine/testing";
import { ExpectationSuite } from "../../values/expectations";
import type { ProfileReport } from "../../values/profile";
import { ApiError } from "../api";
import { type CoreApi, createCoreApi } from "../core";

const SUITE = {
  expectation_suite_name: "penguins",
  ge_cloud_id: null,
  expectations: [
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "species" }, meta: {} },
    {
      expectation_type: "expect_column_values_to_be_between",
      kwargs: { column: "body_mass_g", min_value: 2500, max_value: 6500, mostly: 0.99 },
      meta: { notes: "grams" },
    },
  ],
  data_asset_type: null,
  meta: {
    great_expectations_version: "0.18.8",
    dagwood: { owner: "data-team", reviewBy: "2027-03-31" },
  },
};

/** The status an Api call fails with (undefined when it succeeds). */
async function status(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
    return undefined;
  } catch (e) {
    if (e instanceof ApiError) return e.status;
    throw e;
  }
}

describe("suite Api", () => {
  let dir: string;
  let outside: string;
  let api: CoreApi;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-suites-"));
    outside = mkdtempSync(join(tmpdir(), "dagwood-suites-outside-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "suites" }\n');
    api = await createCoreApi({ catalog, projectDir: dir });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("saves a suite as Great Expectations writes it, lists it with its governance, and loads it back", async () => {
    expect(await api.listSuites({})).toEqual([]);
    expect(await api.saveSuite({ path: "expectations/penguins.json", suite: SUITE, create: true })).toEqual({
      path: "expectations/penguins.json",
    });
    const text = readFileSync(join(dir, "expectations", "penguins.json"), "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "expectation_suite_name",
      "ge_cloud_id",
      "expectations",
      "data_asset_type",
      "meta",
    ]);
    expect(JSON.parse(text)).toEqual(SUITE);
    expect(
      await status(api.saveSuite({ path: "expectations/penguins.json", suite: SUITE, create: true })),
    ).toBe(409);
    await api.saveSuite({ path: "expectations/penguins.json", suite: { ...SUITE, expectations: [] } });

    mkdirSync(join(dir, "expectations", "team"));
    writeFileSync(join(dir, "expectations", "team", "broken.json"), "{ not json");
    writeFileSync(join(dir, "expectations", "notes.txt"), "not a suite");
    expect(await api.listSuites({})).toEqual([
      {
        path: "expectations/penguins.json",
        name: "penguins",
        expectations: 0,
        governance: { owner: "data-team", reviewBy: "2027-03-31" },
        problems: 0,
      },
      { path: "expectations/team/broken.json", name: "broken", expectations: 0, governance: {}, problems: 1 },
    ]);

    const loaded = await api.loadSuite({ path: "expectations/penguins.json" });
    expect(loaded.suite?.expectation_suite_name).toBe("penguins");
    expect(loaded.problems).toEqual([]);
    expect(loaded.text).toBe(readFileSync(join(dir, "expectations", "penguins.json"), "utf8"));
    const broken = await api.loadSuite({ path: "expectations/team/broken.json" });
    expect(broken.suite).toBeNull();
    expect(broken.problems[0]?.message).toMatch(/not valid JSON.*line 1/);
    expect(await status(api.loadSuite({ path: "expectations/none.json" }))).toBe(404);
  });

  it("reports an unusable suite's problems on load and refuses to save one", async () => {
    const typo = {
      expectation_suite_name: "t",
      expectations: [{ expectation_type: "expect_column_values_to_be_betwen", kwargs: { column: "x" } }],
    };
    mkdirSync(join(dir, "expectations"));
    writeFileSync(join(dir, "expectations", "t.json"), JSON.stringify(typo));
    const loaded = await api.loadSuite({ path: "expectations/t.json" });
    expect(loaded.suite).not.toBeNull();
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]!.message).toMatch(/Did you mean "expect_column_values_to_be_between"/);
    expect((await api.listSuites({}))[0]).toMatchObject({
      path: "expectations/t.json",
      problems: 1,
      expectations: 1,
    });
    await expect(api.saveSuite({ path: "expectations/u.json", suite: typo })).rejects.toThrow(
      /Not saved.*betwen/,
    );
  });

  it("refuses paths outside expectations/: traversal, absolute, not .json, links leading out", async () => {
    mkdirSync(join(dir, "expectations"));
    writeFileSync(join(outside, "secret.json"), JSON.stringify(SUITE));
    symlinkSync(join(outside, "secret.json"), join(dir, "expectations", "link.json"));
    symlinkSync(outside, join(dir, "expectations", "out"));
    const cases: [string, number][] = [
      ["../x.json", 403],
      ["expectations/../../x.json", 403],
      ["expectations/../dagwood.json", 403],
      [join(outside, "secret.json"), 403],
      ["expectations/x.yaml", 400],
      ["expectations/x", 400],
      ["pipelines/x.json", 400],
      ["expectations/.json", 400],
      ["expectations/link.json", 403],
      ["expectations/out/secret.json", 403],
      ["expectations/out/new.json", 403],
    ];
    for (const [path, code] of cases) {
      expect(await status(api.loadSuite({ path })), `load ${path}`).toBe(code);
      expect(await status(api.saveSuite({ path, suite: SUITE })), `save ${path}`).toBe(code);
    }
    // Nothing was written outside, and the link's target is not listed as the project's suite.
    expect(readFileSync(join(outside, "secret.json"), "utf8")).toBe(JSON.stringify(SUITE));
    expect((await api.listSuites({})).map((s) => s.path)).toEqual([]);
  });

  it("suggests a suite from a profile report, and lists the expectation types", async () => {
    const p = await createTestProject();
    let profile: ProfileReport;
    try {
      const out = await p.run(profileBlock, { in: await penguinsTable(p) });
      profile = (out.report as { data: ProfileReport }).data;
    } finally {
      await p.close();
    }
    const suite = await api.suggestSuite({ profile, name: "penguins", margin: 0.1 });
    expect(ExpectationSuite.parse(suite).expectation_suite_name).toBe("penguins");
    expect(
      suite.expectations.find((e) => e.expectation_type === "expect_table_row_count_to_be_between")?.kwargs,
    ).toEqual(expect.objectContaining({ min_value: expect.any(Number), max_value: expect.any(Number) }));
    await api.saveSuite({ path: "expectations/suggested.json", suite, create: true });
    expect((await api.listSuites({}))[0]).toMatchObject({ path: "expectations/suggested.json", problems: 0 });
    expect(await status(api.suggestSuite({ profile, name: "", margin: 0.1 }))).toBe(400);
    expect(
      await status(api.suggestSuite({ profile: { kind: "profile" } as never, name: "x", margin: 0.1 })),
    ).toBe(400);

    const types = await api.listExpectationTypes({});
    expect(types.map((t) => t.type)).toContain("expect_column_values_to_not_be_null");
    expect(
      types.find((t) => t.type === "expect_column_values_to_be_between")?.kwargs.map((k) => k.name),
    ).toEqual(expect.arrayContaining(["column", "min_value", "max_value", "mostly"]));
  });
});
