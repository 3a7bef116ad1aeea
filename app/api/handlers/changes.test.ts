import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../../nodes/index";
import type { GitRevisions, PipelineChanges } from "../api";
import { type CoreApi, createCoreApi } from "../core";

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "small",
  params: { seed: 3 },
  nodes: [
    { id: "rows", block: "ingest.file", params: { path: "rows.csv" } },
    { id: "mix", block: "shuffle", params: { seed: 1 } },
    { id: "old", block: "shuffle", params: { seed: 2 } },
  ],
  edges: [
    { from: "rows.out", to: "mix.in" },
    { from: "rows.out", to: "old.in" },
  ],
  layout: { rows: { x: 0, y: 0 }, mix: { x: 200, y: 0 }, old: { x: 200, y: 150 } },
};

type Doc = typeof PIPELINE & { nodes: { id: string; block: string; params: Record<string, unknown> }[] };
const edited = (edit: (p: Doc) => void) => {
  const p = structuredClone(PIPELINE) as Doc;
  edit(p);
  return p;
};

/** git in `cwd`, with no user or system config but what the test sets. */
function gitIn(cwd: string, home: string) {
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
  return (...args: string[]) => {
    const r = spawnSync("git", args, { cwd, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
}

describe("pipelineChanges and gitRevisions, through a real git", { timeout: 120_000 }, () => {
  let root: string;
  let project: string;
  let api: CoreApi;
  let git: ReturnType<typeof gitIn>;
  const FILE = "flows/train.dag.json";
  const write = (rel: string, content: object | string) => {
    const abs = join(project, rel);
    mkdirSync(join(abs, ".."), { recursive: true });
    writeFileSync(abs, typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  };
  const changes = (args: Record<string, unknown>) =>
    api.call("pipelineChanges", { path: FILE, ...args }) as Promise<PipelineChanges>;
  const revisions = (args: Record<string, unknown> = { path: FILE }) =>
    api.call("gitRevisions", args) as Promise<GitRevisions>;

  beforeAll(async () => {
    // No repository above the temp folder is found by the handler's git either.
    vi.stubEnv("GIT_CEILING_DIRECTORIES", tmpdir());
    root = mkdtempSync(join(tmpdir(), "dagwood-changes-"));
    mkdirSync(join(root, "home"));
    // The project is a folder inside the repository, so paths at a revision are not the project's.
    project = join(root, "repo", "proj");
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "dagwood.json"), '{ "name": "changes" }\n');
    write(FILE, PIPELINE);
    git = gitIn(join(root, "repo"), join(root, "home"));
    api = await createCoreApi({ catalog, projectDir: project, monitorScheduler: false });
  });
  afterAll(async () => {
    await api.close();
    vi.unstubAllEnvs();
    rmSync(root, { recursive: true, force: true });
  });

  it("says the project is in no git repository, as a message and not an error", async () => {
    const r = await changes({});
    expect(r).toMatchObject({ unavailable: expect.stringContaining("not in a git repository"), diff: null });
    expect(r.unavailable).toContain("git init");
    expect(await revisions()).toMatchObject({ repository: false, branches: [], commits: [] });
  });

  it("says a repository with no commits has no HEAD to compare with", async () => {
    git("init", "-q", "-b", "main");
    const r = await changes({});
    expect(r.unavailable).toMatch(/no commits yet.*Commit the pipeline/);
    expect(await revisions()).toMatchObject({ repository: true, current: "main", commits: [] });
  });

  it("reads the document against HEAD: added, removed, changed; the removed node's old position", async () => {
    git("add", ".");
    git("commit", "-q", "-m", "first");
    expect((await changes({})).diff).toMatchObject({ same: true });
    const now = edited((p) => {
      p.nodes[1]!.params.seed = 9;
      p.nodes = p.nodes.filter((n) => n.id !== "old");
      p.edges = p.edges.filter((e) => !e.to.startsWith("old."));
      p.nodes.push({ id: "fresh", block: "dedupe", params: { keep: "first" } });
      p.edges.push({ from: "rows.out", to: "fresh.in" });
    });
    write(FILE, now);
    const head = git("rev-parse", "HEAD").trim();
    const r = await changes({});
    expect(r.unavailable).toBeNull();
    expect(r.base).toEqual({ rev: "HEAD", commit: head, label: `HEAD (${head.slice(0, 7)})` });
    expect(r.diff?.nodes.added.map((n) => n.id)).toEqual(["fresh"]);
    expect(r.diff?.nodes.removed.map((n) => n.id)).toEqual(["old"]);
    expect(r.diff?.nodes.changed).toEqual([{ node: "mix", path: "params.seed", old: 1, new: 9 }]);
    expect(r.diff?.edges.added).toEqual([{ from: "rows.out", to: "fresh.in" }]);
    expect((r.basePipeline as typeof PIPELINE).layout.old).toEqual({ x: 200, y: 150 });

    // An unsaved document in the editor is what is compared, not the file on disk.
    const unsaved = edited((p) => {
      p.nodes[0]!.params.path = "other.csv";
    });
    const u = await changes({ document: unsaved });
    expect(u.diff?.nodes.changed).toEqual([
      { node: "rows", path: "params.path", old: "rows.csv", new: "other.csv" },
    ]);
    expect(u.diff?.nodes.added).toEqual([]);
  });

  it("compares with another branch or a commit, and lists branches and the commits that touched the file", async () => {
    git("commit", "-q", "-am", "second: seed 9, fresh for old");
    write("notes.txt", "not a pipeline\n");
    git("add", ".");
    git("commit", "-q", "-m", "third: notes only");
    git("branch", "feature", "HEAD~2");
    const onFeature = await changes({ base: "feature" });
    expect(onFeature.base.label).toMatch(/^feature \([0-9a-f]{7}\)$/);
    expect(onFeature.diff?.nodes.changed).toEqual([{ node: "mix", path: "params.seed", old: 1, new: 9 }]);
    const first = git("rev-list", "--max-parents=0", "HEAD").trim();
    const atFirst = await changes({ base: first });
    expect(atFirst.diff?.nodes.removed.map((n) => n.id)).toEqual(["old"]);
    expect(atFirst.base).toEqual({ rev: first, commit: first, label: first.slice(0, 7) });
    expect((await changes({ base: first.slice(0, 10) })).base.label).toBe(first.slice(0, 7));

    const list = await revisions();
    expect(list.repository).toBe(true);
    expect(list.current).toBe("main");
    expect(list.branches.map((b) => b.name).sort()).toEqual(["feature", "main"]);
    // Only the commits that changed this pipeline, newest first.
    expect(list.commits.map((c) => c.subject)).toEqual(["second: seed 9, fresh for old", "first"]);
    expect(list.commits[1]).toMatchObject({ commit: first, short: first.slice(0, 7), author: "Test" });
    // Without a path: every commit.
    expect((await revisions({})).commits).toHaveLength(3);
  });

  it("says a pipeline not committed yet is new since the base", async () => {
    write("flows/new.dag.json", PIPELINE);
    const r = (await api.call("pipelineChanges", { path: "flows/new.dag.json" })) as PipelineChanges;
    expect(r.unavailable).toMatch(
      /^flows\/new\.dag\.json is not committed at HEAD \([0-9a-f]{7}\): it is new/,
    );
    expect(r.diff).toBeNull();
  });

  it("says a base that names nothing is not a branch or commit, and a file there that is not a pipeline why", async () => {
    for (const base of ["no-such-branch", "HEAD~99", "HEAD:flows/train.dag.json", "HEAD^{tree}"]) {
      const r = await changes({ base });
      expect(r.unavailable, base).toBe(
        `"${base}" is not a branch, tag or commit of this repository. Pick one from the list.`,
      );
    }
    write(FILE, "{ not json");
    git("commit", "-q", "-am", "broken");
    write(FILE, PIPELINE);
    expect((await changes({})).unavailable).toMatch(
      /at HEAD \([0-9a-f]{7}\) is not a pipeline Dagwood can read/,
    );
  });

  it("refuses a revision that would be read as an option, and a path outside the project", async () => {
    const marker = join(root, "written-by-git");
    for (const base of [`--output=${marker}`, "-p", "HEAD --all", "a\nb", ""]) {
      await expect(changes({ base }), JSON.stringify(base)).rejects.toMatchObject({ status: 400 });
    }
    expect(existsSync(marker)).toBe(false);
    await expect(api.call("pipelineChanges", { path: "../outside.dag.json" })).rejects.toMatchObject({
      status: 403,
    });
    await expect(api.call("pipelineChanges", { path: "flows/notes.txt" })).rejects.toThrow(
      /ends with \.dag\.json/,
    );
    await expect(api.call("gitRevisions", { path: "../../x.dag.json" })).rejects.toMatchObject({
      status: 403,
    });
  });
});
