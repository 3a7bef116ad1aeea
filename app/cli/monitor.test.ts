import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DriftReport } from "../values/drift";
import { ROOT, startDagwood } from "./testing";

const PENGUINS = join(ROOT, "resources", "examples", "starter", "data", "penguins.csv");
const dagwood = (...args: string[]) => startDagwood(args).done;

describe("dagwood monitor drift", () => {
  let dir: string;
  let shifted: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-drift-"));
    // Every body mass scaled by 1.2: the one drifted column.
    shifted = join(dir, "shifted.csv");
    writeFileSync(
      shifted,
      "species,island,beak_length_mm,beak_depth_mm,flipper_length_mm,body_mass_g,sex\nAdelie,Torgersen,39.1,18.7,181,4500,MALE\nAdelie,Biscoe,38.5,18.1,190,4400,FEMALE\nGentoo,Biscoe,47.0,15.0,215,6000,MALE\n",
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints no dataset drift for a file against itself (exit 0), and the JSON report with --json", async () => {
    const same = await dagwood("monitor", "drift", "--reference", PENGUINS, "--current", PENGUINS);
    expect(same.stderr).toBe("");
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/No dataset drift: 0 of 7 columns drifted/);
    expect(same.stdout).toMatch(/body_mass_g\s+numeric\s+ks\s+1\s/);
    const json = await dagwood(
      "monitor",
      "drift",
      "--reference",
      PENGUINS,
      "--current",
      shifted,
      "--json",
      "--columns",
      "body_mass_g,sex",
      "--share-threshold",
      "0.5",
    );
    const report = JSON.parse(json.stdout) as DriftReport;
    expect(report.columns.map((c) => [c.column, c.test])).toEqual([
      ["body_mass_g", "ks"],
      // MALE, FEMALE and "." (a value in the file): three values, so chi-squared.
      ["sex", "chisquare"],
    ]);
    expect(report.columns[0]!.rows).toEqual({ reference: 342, current: 3 });
    expect(json.code).toBe(report.datasetDrift ? 1 : 0);
  });

  it("reports a missing column as schema drift and exits 1 when the dataset drifts", async () => {
    const cut = join(dir, "cut.csv");
    writeFileSync(cut, "species,island\nAdelie,Dream\nAdelie,Dream\n");
    const r = await dagwood("monitor", "drift", "--reference", PENGUINS, "--current", cut);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/! beak_length_mm: The column is missing from the current data/);
    expect(r.stdout).toMatch(/Dataset drift: 5 of 7 columns drifted/);
  });

  it("says what is wrong with bad input (exit 2)", async () => {
    const missing = await dagwood(
      "monitor",
      "drift",
      "--reference",
      PENGUINS,
      "--current",
      join(dir, "nope.csv"),
    );
    expect([missing.code, missing.stderr]).toEqual([
      2,
      `--current: data file not found: ${join(dir, "nope.csv")}\n`,
    ]);
    const col = await dagwood(
      "monitor",
      "drift",
      "--reference",
      PENGUINS,
      "--current",
      PENGUINS,
      "--columns",
      "mass",
    );
    expect(col.code).toBe(2);
    expect(col.stderr).toMatch(/"mass" is not a column of the reference; its columns are species, island/);
    const test = await dagwood(
      "monitor",
      "drift",
      "--reference",
      PENGUINS,
      "--current",
      PENGUINS,
      "--tests",
      "sex=ks",
    );
    expect(test.code).toBe(2);
    expect(test.stderr).toMatch(/Test "ks" needs a numeric column; "sex" is VARCHAR/);
    const usage = await dagwood("monitor", "drift", "--reference", PENGUINS);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/needs --reference FILE \(or --model NAME@ALIAS\) and --current FILE/);
    // --model and --log (app/cli/monitor-model.test.ts runs them on a project): their forms are checked first.
    const model = await dagwood("monitor", "drift", "--model", "@champion", "--current", PENGUINS);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(
      /--model takes NAME@ALIAS or NAME@VERSION, e.g. penguins@champion; got "@champion"/,
    );
    const log = await dagwood("monitor", "drift", "--reference", PENGUINS, "--log", "penguins");
    expect(log.code).toBe(2);
    expect(log.stderr).toMatch(/--log takes TARGET:MODEL, e.g. local:penguins; got "penguins"/);
  });
});
