import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../store/metadata";
import { ROOT, startDagwood } from "./testing";

const PENGUINS = join(ROOT, "resources", "examples", "starter", "data", "penguins.csv");
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe("dagwood governance, models update, and a deprecated pipeline's run", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-governance-"));
    mkdirSync(join(dir, "data"));
    copyFileSync(PENGUINS, join(dir, "data", "penguins.csv"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const dagwood = (...args: string[]) => startDagwood(args).done;
  const settings = (failOn: string[], reviewBy: string) => {
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({
        datasets: {
          penguins: {
            path: "data/penguins.csv",
            owner: "ana",
            deprecated: { reason: "the 2007 survey", replacement: "penguins2" },
          },
          nobody: { path: "data/other.csv" },
        },
        governance: { failOn },
      }),
    );
    writeFileSync(
      join(dir, "train.dag.json"),
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "train",
        owner: "bo",
        reviewBy,
        nodes: [{ id: "in", block: "ingest.file", params: { path: "data/penguins.csv" } }],
      }),
    );
  };

  it("lists the findings; exits 1 only when a found kind is in failOn; due today is not past, yesterday is", async () => {
    settings([], day(-1));
    const open = await dagwood("governance", "--project", dir, "--json");
    expect(open.code).toBe(0);
    const report = JSON.parse(open.stdout);
    expect(report.failed).toBe(false);
    expect(report.failOn).toEqual([]);
    expect(report.today).toBe(day(0));
    expect(Object.keys(report.rules)).toEqual(["noOwner", "pastReview", "deprecatedInUse", "personalData"]);
    expect(
      report.findings.map(
        (f: { kind: string; artifact: { name: string } }) => `${f.kind} ${f.artifact.name}`,
      ),
    ).toEqual(["noOwner nobody", "pastReview train", "deprecatedInUse penguins"]);
    expect(report.findings[2]).toMatchObject({ usedBy: ["train.dag.json"], replacement: "penguins2" });

    settings(["pastReview"], day(-1));
    const failing = await dagwood("governance", "--project", dir);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^Past review date \(1\) {2}— fails the project's policy$/m);
    expect(failing.stdout).toMatch(/^No owner \(1\)$/m);
    expect(failing.stdout).toMatch(/^Deprecated and still used \(1\)$/m);
    expect(failing.stdout).toMatch(
      /1 finding fails the project's policy \(dagwood\.json governance\.failOn: pastReview\): exit 1\./,
    );

    // Due today: not past, so the same policy passes.
    settings(["pastReview"], day(0));
    const dueToday = await dagwood("governance", "--project", dir, "--json");
    expect(dueToday.code).toBe(0);
    expect(JSON.parse(dueToday.stdout)).toMatchObject({ failed: false, failOn: ["pastReview"] });

    settings(["noOwner", "deprecatedInUse"], day(0));
    expect((await dagwood("governance", "--project", dir)).code).toBe(1);
  });

  it("exits 2 for bad arguments and an unreadable dagwood.json, saying what is wrong", async () => {
    writeFileSync(join(dir, "dagwood.json"), '{ "governance": { "failOn": ["noOwners"] } }');
    const bad = await dagwood("governance", "--project", dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/dagwood\.json has invalid settings: governance\.failOn\.0/);
    writeFileSync(join(dir, "dagwood.json"), "{ nope");
    expect((await dagwood("governance", "--project", dir)).stderr).toMatch(/is not valid JSON/);
    const extra = await dagwood("governance", "somewhere");
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/governance takes no positional arguments/);
    const missing = await dagwood("governance", "--project", join(dir, "nope"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/is not a folder/);
    expect((await dagwood("governance", "--frobnicate")).code).toBe(2);
  });

  it("models update deprecates and lifts it (audited), show prints it; bad dates and flags are refused", async () => {
    mkdirSync(join(dir, ".dagwood"));
    const seed = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    seed.registry.upsertModel("churn", { owner: "ana" }, "ana");
    seed.close();
    const models = (...args: string[]) => dagwood("models", ...args, "--project", dir);

    const dep = await models(
      "update",
      "churn",
      "--deprecate",
      "stale",
      "--replacement",
      "churn-v2",
      "--since",
      "2026-12-01",
      "--purpose",
      "churn scores",
      "--review-by",
      "2027-03-31",
    );
    expect(dep.code).toBe(0);
    expect(dep.stdout).toMatch(/DEPRECATED since 2026-12-01: stale \(use churn-v2\)/);
    const shown = await models("show", "churn");
    expect(shown.stdout).toMatch(
      /purpose: churn scores\n {2}review by: 2027-03-31\n {2}DEPRECATED since 2026-12-01: stale \(use churn-v2\)/,
    );
    expect(shown.stdout).toMatch(/model purpose, reviewBy updated; model deprecated \(use churn-v2\)/);
    const json = JSON.parse((await models("show", "churn", "--json")).stdout);
    expect(json.model).toMatchObject({
      purpose: "churn scores",
      reviewBy: "2027-03-31",
      deprecated: { reason: "stale", replacement: "churn-v2", since: "2026-12-01" },
    });

    expect((await models("list")).stdout).toMatch(/^churn .*DEPRECATED \(use churn-v2\)$/m);
    const lifted = await models("update", "churn", "--undeprecate");
    expect(lifted.code).toBe(0);
    expect(lifted.stdout).toMatch(/no longer deprecated/);
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      expect(store.registry.getModel("churn")!.deprecated).toBeNull();
      const updates = store.registry.audit({ model: "churn" }).filter((e) => e.action === "model.updated");
      expect(updates.map((e) => e.details).reverse()).toEqual([
        {
          purpose: "churn scores",
          reviewBy: "2027-03-31",
          deprecated: { reason: "stale", replacement: "churn-v2", since: "2026-12-01" },
        },
        {
          deprecated: null,
          deprecatedBefore: { reason: "stale", replacement: "churn-v2", since: "2026-12-01" },
        },
      ]);
    } finally {
      store.close();
    }

    for (const [args, message] of [
      [["--review-by", "2027-02-30"], /--review-by "2027-02-30": not a calendar date/],
      [["--review-by", "next week"], /--review-by "next week": a date as YYYY-MM-DD/],
      [["--deprecate", "x", "--since", "1.12.2026"], /--since "1\.12\.2026": a date as YYYY-MM-DD/],
      [["--replacement", "churn-v2"], /--replacement goes with --deprecate REASON/],
      [["--deprecate", "x", "--undeprecate"], /contradict/],
      [["--deprecate", " "], /--deprecate needs a reason/],
    ] as const) {
      const r = await models("update", "churn", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
  });

  it("runs a deprecated pipeline with a warning on stderr naming the replacement, counted in the outcome", async () => {
    writeFileSync(
      join(dir, "old.dag.json"),
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "old",
        deprecated: { reason: "superseded", replacement: "train.dag.json" },
        nodes: [{ id: "in", block: "ingest.file", params: { path: "data/penguins.csv" } }],
      }),
    );
    const r = await dagwood("run", join(dir, "old.dag.json"), "--no-attach");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: Pipeline "old" is deprecated: superseded\. Use train\.dag\.json instead\.$/m,
    );
    expect(r.stdout).toMatch(/succeeded with 1 warning in/);
    const json = JSON.parse((await dagwood("run", join(dir, "old.dag.json"), "--json")).stdout);
    expect(json).toMatchObject({
      warnings: 1,
      runWarnings: ['Pipeline "old" is deprecated: superseded. Use train.dag.json instead.'],
    });
    expect(readFileSync(join(dir, "old.dag.json"), "utf8")).toContain("superseded");
  });
});
