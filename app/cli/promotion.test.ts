import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { PENGUINS_CSV, penguinTreePipeline } from "../tracking/testing";
import type { AliasChange } from "../values/registry";
import { runDagwood } from "./testing";

const TOKEN = "promotion-token";

/**
 * The penguin tree with a gate on the evaluation beside the register node (register reads the
 * evaluation itself), so a run whose gate fails still registers its model: the version a
 * promotion must refuse.
 */
function gatedPipeline() {
  const p = penguinTreePipeline({ csvPath: "penguins.csv" });
  return {
    ...p,
    name: "penguin-gated",
    params: { ...p.params, minAccuracy: 0.5 },
    nodes: [
      ...p.nodes,
      { id: "gate", block: "gate", params: { metric: "accuracy", op: ">=", threshold: "${minAccuracy}" } },
    ],
    edges: [...p.edges, { from: "evaluate.report", to: "gate.report" }],
  };
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  }).trim();

describe("promotion to production through the CLI", { timeout: 120_000 }, () => {
  let dir: string;
  let repo: string;
  let server: DagwoodServer;
  let commit: string;
  /** The run ids: v1 passed its gate, v2 failed it, v3 had none. */
  const runs: string[] = [];
  const previousUser = process.env.DAGWOOD_USER;
  const cli = (...args: string[]) => runDagwood(...args, "--project", dir);

  beforeAll(async () => {
    process.env.DAGWOOD_USER = "ana";
    process.env.DAGWOOD_TOKEN_STAGING = TOKEN;
    repo = mkdtempSync(join(tmpdir(), "dagwood-promotion-serve-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    dir = mkdtempSync(join(tmpdir(), "dagwood-promotion-"));
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ name: "promo", targets: { staging: { url } } }),
    );
    writeFileSync(join(dir, "penguins.csv"), readFileSync(PENGUINS_CSV));
    writeFileSync(join(dir, "gated.dag.json"), JSON.stringify(gatedPipeline()));
    writeFileSync(
      join(dir, "plain.dag.json"),
      JSON.stringify(penguinTreePipeline({ csvPath: "penguins.csv" })),
    );
    writeFileSync(join(dir, ".gitignore"), ".dagwood/\n");
    git(dir, "init", "-q");
    git(dir, "add", ".");
    git(dir, "commit", "-q", "-m", "pipelines");
    commit = git(dir, "rev-parse", "HEAD");
    for (const [file, params] of [
      ["gated.dag.json", ["depth=3"]],
      ["gated.dag.json", ["depth=1", "minAccuracy=0.999"]],
      ["plain.dag.json", ["depth=2"]],
    ] as const) {
      const r = await runDagwood(
        "run",
        join(dir, file),
        "--json",
        ...params.flatMap((p) => ["--param", p]),
        "--project",
        dir,
      );
      // The second run's gate fails (exit 1), and its model is registered all the same.
      expect(r.code, r.stderr).toBe(runs.length === 1 ? 1 : 0);
      runs.push(JSON.parse(r.stdout).runId);
    }
    const versions = JSON.parse((await cli("models", "show", "penguins", "--json")).stdout).versions as {
      version: number;
      runId: string;
    }[];
    // One version per run, in run order.
    expect(versions.map((v) => [v.version, v.runId]).sort()).toEqual(runs.map((id, i) => [i + 1, id]));
  }, 120_000);
  afterAll(async () => {
    delete process.env.DAGWOOD_TOKEN_STAGING;
    if (previousUser === undefined) delete process.env.DAGWOOD_USER;
    else process.env.DAGWOOD_USER = previousUser;
    await server.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses production before a staging deploy, then moves it, and the history names commit, data and gate figures", async () => {
    const early = await cli("models", "alias", "penguins", "production", "1");
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('Cannot point "production" at penguins v1');
    expect(early.stderr).toContain("dagwood deploy penguins:1 --target staging");
    expect(early.stderr).toContain('--override-reason "…"');
    expect(early.stderr).not.toContain("gate");

    const deployed = await cli("deploy", "penguins:1", "--target", "staging");
    expect(deployed.code, deployed.stderr).toBe(0);
    const moved = await cli("models", "alias", "penguins", "production", "1");
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain("alias production set on v1");
    expect(moved.stdout).toContain(`git ${commit.slice(0, 12)}`);
    expect(moved.stdout).toMatch(/gate +accuracy [\d.]+ >= 0\.5 — passed \(node gate\)/);

    const history = await cli("models", "history", "penguins", "--json");
    expect(history.code).toBe(0);
    const [entry] = JSON.parse(history.stdout) as AliasChange[];
    expect(entry).toMatchObject({ alias: "production", change: "set", from: null, to: 1, actor: "ana" });
    const record = entry!.production!;
    expect(record.run).toMatchObject({ id: runs[0], pipelinePath: "gated.dag.json", gitCommit: commit });
    // The data version by digest: sha256 of the CSV's bytes, computed here from the file.
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256")
      .update(readFileSync(join(dir, "penguins.csv")))
      .digest("hex");
    expect(record.datasets).toEqual([{ source: "penguins.csv", digest, rows: 344 }]);
    // The gate's value is the accuracy in the evaluation report the run wrote (its artifact).
    const shown = JSON.parse((await cli("runs", "show", runs[0]!, "--json")).stdout) as {
      artifacts: { nodeId: string; name: string; path: string }[];
    };
    const reportPath = shown.artifacts.find(
      (a) => a.nodeId === "evaluate" && a.name === "report/report.json",
    )!;
    const report = JSON.parse(readFileSync(join(dir, reportPath.path), "utf8"));
    expect(record.gates).toEqual([
      {
        source: "run",
        node: "gate",
        status: "passed",
        metric: "accuracy",
        op: ">=",
        threshold: 0.5,
        value: report.metrics.accuracy,
        champion: null,
        error: null,
      },
    ]);
    expect(record.staging).toMatchObject({ target: "staging", actor: "ana" });
    expect(record).toMatchObject({ missing: [], reason: null });
  });

  it("refuses a version whose gate failed and one whose run had no gate; an override needs a reason", async () => {
    const failed = await cli("models", "alias", "penguins", "production", "2");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /gate "gate" failed in run \S+ \(Gate failed: accuracy [\d.]+ is not >= 0\.999\)/,
    );
    expect(failed.stderr).toContain("was never deployed there");

    const ungated = await cli("models", "alias", "penguins", "production", "3");
    expect(ungated.code).toBe(1);
    expect(ungated.stderr).toContain(`run ${runs[2]}, which registered v3, has no gate node`);

    const blank = await cli("models", "alias", "penguins", "production", "3", "--override-reason", "  ");
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain("--override-reason needs a reason");
    const blankRemove = await cli(
      "models",
      "alias",
      "penguins",
      "production",
      "--remove",
      "--override-reason",
      " ",
    );
    expect(blankRemove.code).toBe(2);
    expect(blankRemove.stderr).toContain("--override-reason needs a reason: say why this alias is removed");
    const bareRemove = await cli("models", "alias", "penguins", "production", "--remove");
    expect(bareRemove.code).toBe(1);
    expect(bareRemove.stderr).toContain('Cannot remove "production" from penguins v1 without a reason');
    expect(bareRemove.stderr).toContain(
      'dagwood models alias penguins production --remove --override-reason "…"',
    );

    const unknown = await cli(
      "models",
      "alias",
      "penguins",
      "production",
      "9",
      "--override-reason",
      "why not",
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Model "penguins" has no version 9');

    // Nothing moved: production is still v1.
    const show = JSON.parse((await cli("models", "show", "penguins", "--json")).stdout);
    expect(show.model.aliases.production).toBe(1);
  });

  it("moves with an override reason, and lists it newest first with what it overrode", async () => {
    const r = await cli(
      "models",
      "alias",
      "penguins",
      "production",
      "3",
      "--override-reason",
      "hotfix for incident 42",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('alias production moved v1 → v3 (override: "hotfix for incident 42")');
    await cli("models", "alias", "penguins", "staging", "2");
    const text = await cli("models", "history", "penguins");
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines[0]).toBe("penguins: alias changes, newest first");
    expect(lines[1]).toMatch(/ staging {2}set on v2 {2}by ana/);
    expect(lines[2]).toMatch(/ production {2}v1 → v3 {2}by ana {2}OVERRIDE/);
    expect(text.stdout).toContain("reason    hotfix for incident 42");
    expect(text.stdout).toContain("overrode  a passed gate");

    const only = JSON.parse(
      (await cli("models", "history", "penguins", "--alias", "production", "--json")).stdout,
    );
    expect(only.map((c: AliasChange) => [c.change, c.from, c.to])).toEqual([
      ["moved", 1, 3],
      ["set", null, 1],
    ]);
    expect(only[0].production.reason).toBe("hotfix for incident 42");
    expect(only[0].production.missing).toHaveLength(2);

    const nope = await cli("models", "history", "nope");
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain('No registered model "nope"');
  });

  it("removes production only with --override-reason, and the history shows the removal with it", async () => {
    const r = await cli(
      "models",
      "alias",
      "penguins",
      "production",
      "--remove",
      "--override-reason",
      "v3 was never gated; back to no production",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'penguins: alias production removed from v3 (reason: "v3 was never gated; back to no production")\n',
    );
    const text = await cli("models", "history", "penguins", "--alias", "production");
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines[1]).toMatch(/ production {2}removed from v3 {2}by ana {2}\(audit \d+\)$/);
    expect(lines[2]).toBe("    reason    v3 was never gated; back to no production");
    const [latest] = JSON.parse(
      (await cli("models", "history", "penguins", "--alias", "production", "--json")).stdout,
    ) as AliasChange[];
    expect(latest).toMatchObject({
      change: "removed",
      from: 3,
      production: null,
      reason: "v3 was never gated; back to no production",
    });
    // Another alias goes without a reason, as before.
    const staging = await cli("models", "alias", "penguins", "staging", "--remove");
    expect(staging.code, staging.stderr).toBe(0);
  });
});
