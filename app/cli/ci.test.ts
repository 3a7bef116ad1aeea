/**
 * `dagwood ci`: validate, test and run a project's pipelines; one JUnit file
 * and a Markdown summary; exit codes as `run`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeCiProject, PIPELINE, writeTest } from "../ci/testing";
import { runDagwood, startDagwood } from "./testing";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function project(): string {
  const dir = makeCiProject();
  dirs.push(dir);
  return dir;
}

/** The test cases of a JUnit file: suite name, case name, and failure/error/skipped if any. */
function cases(xml: string): { suite: string; name: string; outcome: string }[] {
  const out: { suite: string; name: string; outcome: string }[] = [];
  let suite = "";
  for (const m of xml.matchAll(
    /<testsuite name="([^"]*)"|<testcase name="([^"]*)"[^>]*?(\/>|>\s*<(failure|error|skipped))/g,
  )) {
    if (m[1] !== undefined) suite = m[1];
    else out.push({ suite, name: m[2]!, outcome: m[4] ?? "passed" });
  }
  return out;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.email=ci@example.com", "-c", "user.name=ci", ...args], {
    cwd,
    encoding: "utf8",
  });

describe("dagwood ci", () => {
  it("says so for a project with no pipelines, and exits 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-ci-empty-"));
    dirs.push(dir);
    writeFileSync(join(dir, "dagwood.json"), "{}");
    const r = await runDagwood("ci", "--project", dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `No pipelines in ${dir}: dagwood ci checks a project's *.dag.json files. Give --project DIR for the project's folder, or save a pipeline there first.\n`,
    );
    const outside = await runDagwood("ci", "--project", dir, join(tmpdir(), "elsewhere.dag.json"));
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain(`: not in the project ${dir}.`);
  });

  it("validates every pipeline, runs the valid ones and the tests, and exits 2 for an invalid one", async () => {
    const dir = project();
    const broken = structuredClone(PIPELINE);
    broken.name = "broken";
    broken.nodes[3]!.params = { target: "labl" };
    writeFileSync(join(dir, "broken.dag.json"), JSON.stringify(broken));
    writeTest(dir, "small", {
      fixtures: { src: "tests/fixtures/small.csv" },
      assertions: [
        { node: "feat", rows: 24 },
        { node: "split", port: "train", columns: ["x"] },
      ],
    });
    const junit = join(dir, "ci.xml");
    const summary = join(dir, "summary.md");
    const r = await runDagwood("ci", "--project", dir, "--junit", junit, "--summary", summary);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Invalid: 1 of 2 pipelines succeeded, 1 invalid; 1 of 1 tests passed in /);
    expect(r.stderr).toContain("⛔ broken.dag.json: 1 problem");
    expect(r.stderr).toMatch(/\$\.nodes\[3\]\.params\.target: .*labl/);
    const all = cases(readFileSync(junit, "utf8"));
    expect(all.filter((c) => c.suite === "broken.dag.json")).toEqual([
      { suite: "broken.dag.json", name: "validate", outcome: "error" },
    ]);
    expect(all.filter((c) => c.suite === "tests/small.test.json")).toEqual([
      { suite: "tests/small.test.json", name: "feat rows = 24", outcome: "passed" },
      { suite: "tests/small.test.json", name: "split.train columns include x", outcome: "passed" },
    ]);
    // The valid pipeline ran in full: one case per node, as `run --junit` writes.
    expect(all.filter((c) => c.suite === "small").map((c) => [c.name, c.outcome])).toEqual(
      ["src", "feat", "split", "tree", "eval", "gate", "register"].map((n) => [n, "passed"]),
    );
    const md = readFileSync(summary, "utf8");
    expect(md).toMatch(/^## Dagwood CI: ⛔ invalid\n/);
    expect(md).toContain("| broken.dag.json | ⛔ invalid | — | — |");
    expect(md).toContain("| small.dag.json | ✅ succeeded | 7 ran | ");
    expect(md).toContain("| ✅ tests/small.test.json | small.dag.json | 2 / 2 |");
    expect(md).toContain("**small-model** v1 (node `register`): no champion yet, nothing to compare with.");
    expect(md).toMatch(/### What changed\n\nNot shown: not in a git repository/);
  }, 60_000);

  it("refuses while the app has the project open, where dagwood test still runs", async () => {
    const dir = project();
    writeTest(dir, "small", {
      fixtures: { src: "tests/fixtures/small.csv" },
      assertions: [{ node: "feat", rows: 24 }],
    });
    const ui = startDagwood(["ui", "--project", dir, "--port", "0"]);
    try {
      await new Promise<void>((resolve) =>
        ui.child.stdout!.on("data", (d: Buffer) => {
          if (String(d).includes("Dagwood is running at")) resolve();
        }),
      );
      const refused = await runDagwood("ci", "--project", dir);
      expect(refused.code).toBe(1);
      const pid = /\(PID (\d+)\)/.exec(refused.stderr)?.[1];
      expect(refused.stderr).toBe(
        `The project ${dir} is open in Dagwood (PID ${pid}); dagwood ci runs its pipelines itself. Close it there and run again.\n`,
      );
      expect(Number(pid)).toBeGreaterThan(0);
      const tested = await runDagwood("test", "--project", dir);
      expect(tested.code).toBe(0);
      expect(tested.stdout).toMatch(/^1 of 1 test passed/);
    } finally {
      ui.child.kill("SIGTERM");
      await ui.done;
    }
  }, 60_000);

  it("shows only the branch's own pipeline changes, from where it left the base branch", async () => {
    const dir = project();
    const save = (edit: (p: typeof PIPELINE) => void) => {
      const p = structuredClone(PIPELINE);
      edit(p);
      writeFileSync(join(dir, "small.dag.json"), JSON.stringify(p, null, 2));
    };
    git(dir, "init", "-q", "-b", "main");
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "first");
    git(dir, "checkout", "-qb", "feature");
    save((p) => {
      p.nodes[3]!.params.maxDepth = 2;
    });
    git(dir, "commit", "-qam", "shallower tree");
    git(dir, "checkout", "-q", "main");
    save((p) => {
      p.params.seed = 4;
    });
    git(dir, "commit", "-qam", "another seed on main");
    git(dir, "checkout", "-q", "feature");
    const summary = join(dir, "summary.md");
    const r = await runDagwood("ci", "--project", dir, "--no-tests", "--base", "main", "--summary", summary);
    expect(r.code).toBe(0);
    const md = readFileSync(summary, "utf8");
    const base = git(dir, "merge-base", "HEAD", "main").trim();
    expect(md).toContain(`### What changed since main (merge base ${base.slice(0, 12)})`);
    expect(md).toContain("~ node tree params.maxDepth: 3 → 2");
    expect(md).not.toContain("seed");
    // A --base that git would read as an option is refused before any pipeline runs.
    const option = await runDagwood(
      "ci",
      "--project",
      dir,
      "--no-tests",
      "--base=--output=x",
      "--summary",
      summary,
    );
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('--base "--output=x" is not a revision (it starts with "-")');
    expect(option.stdout).toBe("");
    const missing = await runDagwood("ci", "--project", dir, "--no-tests", "--summary", summary);
    expect(missing.code).toBe(0);
    expect(readFileSync(summary, "utf8")).toContain(
      "Not shown: no base to compare with: there is no origin/main here (fetch it, or pass --base REV).",
    );
  }, 60_000);

  it("exits 1 when a gate fails, with the gate's failure in the JUnit file and the summary", async () => {
    const dir = project();
    const strict = structuredClone(PIPELINE);
    strict.params.minAccuracy = 1.01;
    writeFileSync(join(dir, "small.dag.json"), JSON.stringify(strict));
    const junit = join(dir, "ci.xml");
    const summary = join(dir, "summary.md");
    const r = await runDagwood("ci", "--project", dir, "--junit", junit, "--summary", summary, "--no-tests");
    expect(r.code).toBe(1);
    const all = cases(readFileSync(junit, "utf8"));
    expect(all.find((c) => c.name === "gate")?.outcome).toBe("failure");
    expect(all.find((c) => c.name === "register")?.outcome).toBe("skipped");
    const md = readFileSync(summary, "utf8");
    expect(md).toMatch(/^## Dagwood CI: ❌ failed\n/);
    expect(md).toMatch(/- ❌ `gate`: .*1\.01/);
  }, 60_000);

  it("compares a registered model with the champion before the run, says what changed since --base, and appends to $GITHUB_STEP_SUMMARY", async () => {
    const dir = project();
    git(dir, "init", "-q");
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "first");
    const first = await runDagwood("ci", "--project", dir, "--no-tests");
    expect(first.code).toBe(0);
    expect((await runDagwood("models", "alias", "small-model", "champion", "1", "--project", dir)).code).toBe(
      0,
    );
    const changed = structuredClone(PIPELINE);
    changed.nodes[3]!.params = { ...changed.nodes[3]!.params, maxDepth: 1 };
    writeFileSync(join(dir, "small.dag.json"), JSON.stringify(changed, null, 2));
    const stepSummary = join(dir, "step-summary.md");
    writeFileSync(stepSummary, "# earlier step\n");
    const saved = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = stepSummary;
    let r: Awaited<ReturnType<typeof runDagwood>>;
    try {
      r = await runDagwood("ci", "--project", dir, "--no-tests", "--base", "HEAD");
    } finally {
      if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = saved;
    }
    expect(r.code).toBe(0);
    const md = readFileSync(stepSummary, "utf8");
    expect(md.startsWith("# earlier step\n## Dagwood CI: ✅ passed\n")).toBe(true);
    expect(md).toContain("**small-model** v2 (node `register`) against the champion v1:");
    // The figures are the registry's own for each version.
    const shown = async (ref: string) =>
      JSON.parse((await runDagwood("models", "show", ref, "--project", dir, "--json")).stdout) as {
        metrics: Record<string, number>;
      };
    const [v1, v2] = [(await shown("small-model:1")).metrics, (await shown("small-model:2")).metrics];
    const row = md.split("\n").find((l) => l.startsWith("| log_loss |"))!;
    const cells = row.split("|").map((c) => c.trim());
    expect(Number(cells[2])).toBeCloseTo(v1.log_loss!, 4);
    expect(Number(cells[3])).toBeCloseTo(v2.log_loss!, 4);
    expect(Math.abs(v2.log_loss! - v1.log_loss!)).toBeGreaterThan(1e-3);
    expect(Number(cells[4])).toBeCloseTo(v2.log_loss! - v1.log_loss!, 4);
    expect(md).toContain("### What changed since HEAD (merge base ");
    expect(md).toContain("- `small.dag.json`: 1 change");
    expect(md).toContain("~ node tree params.maxDepth: 3 → 1");
  }, 90_000);
});
