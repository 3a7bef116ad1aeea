/**
 * Reading a pipeline change in the editor: the Changes overlay against git
 * (HEAD, a branch) on a project that is a real git repository, and merge
 * conflicts written by `dagwood merge` picked side by side until the file
 * validates. `DAGWOOD_SCREENSHOTS=1` also writes renderer/docs/changes*.png.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { mergePipelines } from "../app/pipeline/merge";
import type { Pipeline } from "../app/pipeline/schema";
import { validatePipelineText } from "../app/pipeline/validate";
import { catalog } from "../nodes/index";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const FILE = "penguins.dag.json";

/** git in the project, with no user or system config but the author. */
function gitIn(cwd: string) {
  const home = mkdtempSync(join(tmpdir(), "dagwood-e2e-home-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test",
    GIT_COMMITTER_EMAIL: "test@example.com",
  };
  for (const key of Object.keys(env))
    if (key.startsWith("GIT_DIR") || key === "GIT_WORK_TREE") delete env[key];
  const run = (...args: string[]) => {
    const r = spawnSync("git", args, { cwd, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  return Object.assign(run, { cleanup: () => rmSync(home, { recursive: true, force: true }) });
}

const readPipeline = (dir: string) => JSON.parse(readFileSync(join(dir, FILE), "utf8")) as Pipeline;

/** Writes the document and opens it afresh in the editor. */
async function reopen(app: Page, dir: string, doc: object) {
  writeFileSync(join(dir, FILE), JSON.stringify(doc, null, 2));
  const url = new URL(app.url());
  url.searchParams.set("pipeline", FILE);
  await app.goto(url.toString());
  await expect(app.getByTestId("node-split")).toBeVisible();
}

test("the Changes overlay draws what changed since HEAD or a branch, with the list beside it", async ({
  app,
  projectDir,
}, testInfo) => {
  await expect(app.getByTestId("node-split")).toBeVisible();
  // Not a git repository yet: the panel says so, no error toast.
  await app.getByTestId("changes-toggle").click();
  await expect(app.getByTestId("changes-message")).toContainText("not in a git repository");
  await expect(app.getByTestId("toast")).toHaveCount(0);

  const git = gitIn(projectDir);
  try {
    git("init", "-q", "-b", "main");
    git("add", ".");
    git("commit", "-q", "-m", "the starter project");
    git("branch", "released");
    await app.getByTestId("changes-refresh").click();
    await expect(app.getByTestId("changes-summary")).toHaveText(/^No changes/);

    // Since then: split's seed set, a node added after clean, profile removed.
    const doc = readPipeline(projectDir);
    doc.nodes.find((n) => n.id === "split")!.params.seed = 11;
    doc.nodes = doc.nodes.filter((n) => n.id !== "profile");
    doc.edges = doc.edges.filter((e) => !e.to.startsWith("profile."));
    doc.nodes.push({ id: "clean_profile", block: "analyze.profile", params: {} });
    doc.edges.push({ from: "clean.out", to: "clean_profile.in" });
    const at = doc.layout!.profile!;
    doc.layout!.clean_profile = { x: at.x + 260, y: at.y + 40 };
    await reopen(app, projectDir, doc);

    await app.getByTestId("changes-toggle").click();
    const panel = app.getByTestId("changes-panel");
    await expect(app.getByTestId("changes-summary")).toHaveText(/^5 changes/);
    await expect(panel.locator(".changes-line")).toHaveText([
      "- node profile (analyze.profile)",
      "+ node clean_profile (analyze.profile)",
      '~ node split params.seed: "${seed}" → 11',
      "- edge penguins.out → profile.in",
      "+ edge clean.out → clean_profile.in",
    ]);
    await expect(app.getByTestId("node-clean_profile")).toHaveAttribute("data-diff", "added");
    await expect(app.getByTestId("node-split")).toHaveAttribute("data-diff", "changed");
    await expect(app.getByTestId("node-split").getByTestId("diff-badge")).toHaveText("changed");
    await expect(app.getByTestId("node-clean")).not.toHaveAttribute("data-diff");
    // The removed node is drawn where it was, and is not a node of the pipeline.
    const ghost = app.getByTestId("ghost-profile");
    await expect(ghost).toBeVisible();
    await expect(app.getByTestId("node-profile")).toHaveCount(0);

    // A line selects and centres its node; the inspector says old → new.
    await panel.getByText("node split params.seed").click();
    await expect(app.getByTestId("inspector-changes")).toContainText('params.seed: "${seed}" → 11');
    await shot(app, testInfo, "changes-overlay");

    // Against a branch: the same change; after committing it, HEAD has none.
    git("commit", "-q", "-am", "seed 11, profile after cleaning");
    await app.getByTestId("changes-refresh").click();
    await expect(app.getByTestId("changes-summary")).toHaveText(/^No changes/);
    await expect(app.getByTestId("ghost-profile")).toHaveCount(0);
    await app.getByTestId("changes-base").selectOption("released");
    await expect(app.getByTestId("changes-summary")).toHaveText(/^5 changes/);
    await expect(app.getByTestId("ghost-profile")).toBeVisible();
    // Branches, newest first, then the commits that changed this pipeline.
    await expect(app.getByTestId("changes-base").locator("option")).toHaveText([
      "HEAD (main)",
      "main",
      "released",
      /^[0-9a-f]{7} seed 11, profile after cleaning$/,
      /^[0-9a-f]{7} the starter project$/,
    ]);

    // Off: no marks, no ghosts.
    await app.getByRole("button", { name: "Hide changes" }).click();
    await expect(app.getByTestId("ghost-profile")).toHaveCount(0);
    await expect(app.getByTestId("node-split")).not.toHaveAttribute("data-diff");
  } finally {
    git.cleanup();
  }
});

test("a pipeline not committed yet says so in the panel", async ({ app, projectDir }) => {
  const git = gitIn(projectDir);
  try {
    git("init", "-q", "-b", "main");
    git("add", "dagwood.json");
    git("commit", "-q", "-m", "settings only");
    await expect(app.getByTestId("node-split")).toBeVisible();
    await app.getByTestId("changes-toggle").click();
    await expect(app.getByTestId("changes-message")).toContainText(
      "penguins.dag.json is not committed at HEAD",
    );
    await expect(app.getByTestId("toast")).toHaveCount(0);
  } finally {
    git.cleanup();
  }
});

test("merge conflicts are shown on their nodes; picking a side per conflict makes the file validate", async ({
  app,
  projectDir,
}, testInfo) => {
  // What `dagwood merge` writes when both branches set split's seed and the pipeline's testFraction.
  const base = readPipeline(projectDir);
  const side = (seed: number, fraction: number) => {
    const p = structuredClone(base);
    p.nodes.find((n) => n.id === "split")!.params.seed = seed;
    p.params.testFraction = fraction;
    return p;
  };
  const merged = mergePipelines(base, side(1, 0.2), side(2, 0.3));
  expect(merged.conflicts).toHaveLength(2);
  await reopen(app, projectDir, { ...merged.pipeline, conflicts: merged.conflicts });
  const before = validatePipelineText(readFileSync(join(projectDir, FILE), "utf8"), catalog);
  expect(before.problems.map((p) => p.path)).toEqual(["$.conflicts[0]", "$.conflicts[1]"]);

  const banner = app.getByTestId("conflict-banner");
  await expect(banner).toContainText("2 merge conflicts");
  await expect(app.getByTestId("status-problems")).toHaveText("⚠ 2 problems");
  await expect(app.getByTestId("node-split")).toHaveClass(/has-conflict/);
  await expect(app.getByTestId("node-split")).toContainText("⚠ conflict");
  await shot(app, testInfo, "changes-conflicts");

  // Theirs for split's seed; undo gives the conflict back; pick again.
  const seedRow = app.getByTestId("conflict-split.params.seed");
  await seedRow.getByRole("button", { name: /theirs/ }).click();
  await expect(banner).toContainText("1 merge conflict");
  await expect(app.getByTestId("node-split")).not.toHaveClass(/has-conflict/);
  await app.getByTestId("canvas").click({ position: { x: 20, y: 300 } });
  await app.keyboard.press("Control+z");
  await expect(banner).toContainText("2 merge conflicts");
  await seedRow.getByRole("button", { name: /theirs/ }).click();
  // Base for the pipeline's testFraction.
  await app.getByTestId("conflict-params.testFraction").getByRole("button", { name: /base/ }).click();
  await expect(banner).toHaveCount(0);
  // The app's own validation agrees before the file is saved.
  await expect(app.getByTestId("status-problems")).toHaveText("✓ No problems");

  await app.keyboard.press("Control+s");
  await expect.poll(() => readPipeline(projectDir).conflicts, { timeout: 10_000 }).toBeUndefined();
  const saved = readPipeline(projectDir);
  expect(saved.nodes.find((n) => n.id === "split")!.params.seed).toBe(2);
  expect(saved.params.testFraction).toBe(base.params.testFraction);
  const after = validatePipelineText(readFileSync(join(projectDir, FILE), "utf8"), catalog);
  expect(after.problems).toEqual([]);
});
