import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { captureIo, runDagwood, startDagwood } from "./testing";

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "small",
  params: { seed: 3 },
  nodes: [
    { id: "rows", block: "ingest.file", params: { path: "rows.csv" } },
    { id: "mix", block: "shuffle", params: { seed: "${seed}" } },
  ],
  edges: [{ from: "rows.out", to: "mix.in" }],
  layout: { rows: { x: 0, y: 0 }, mix: { x: 200, y: 0 } },
};

/** A pipeline file's JSON, loosely typed for editing in tests. */
interface Doc {
  params: Record<string, unknown>;
  nodes: { id: string; block: string; params: Record<string, unknown>; label?: string }[];
  edges: { from: string; to: string }[];
  layout: Record<string, { x: number; y: number }>;
}
type Edit = (p: Doc) => void;
const variant = (edit: Edit = () => {}) => {
  const p = structuredClone(PIPELINE) as unknown as Doc;
  edit(p);
  return p;
};
const mixParams =
  (params: Record<string, unknown>): Edit =>
  (p) => {
    p.nodes[1]!.params = params;
  };

describe("dagwood diff", () => {
  let dir: string;
  const write = (name: string, content: string | object) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-diff-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("exits 0 for the same pipeline written differently (key order, node order, spacing)", async () => {
    const a = write("a.dag.json", PIPELINE);
    const b = write(
      "b.dag.json",
      JSON.stringify({ ...variant((p) => p.nodes.reverse()), format: "dagwood.pipeline/1" }),
    );
    const r = await runDagwood("diff", a, b);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain("no differences");
  });

  it("exits 1 with one line per change, and --json in the documented shape", async () => {
    const a = write("a.dag.json", PIPELINE);
    const b = write("c.dag.json", variant(mixParams({ seed: 9 })));
    const r = await runDagwood("diff", a, b);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `pipeline "small": ${a} → ${b}\n  ~ node mix params.seed: "\${seed}" → 9\n1 change\n`,
    );
    const j = await runDagwood("diff", a, b, "--json");
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout);
    expect(parsed).toMatchObject({
      old: a,
      new: b,
      same: false,
      logicChanged: true,
      nodes: {
        added: [],
        removed: [],
        renamed: [],
        changed: [{ node: "mix", path: "params.seed", old: "${seed}", new: 9 }],
      },
      edges: { added: [], removed: [] },
      layout: { moved: 0, restyled: 0 },
      sharedNodes: 2,
      unrelated: false,
    });
  });

  it("exits 2 naming the file that is not a pipeline, and why", async () => {
    const a = write("a.dag.json", PIPELINE);
    const notJson = write("broken.dag.json", '{ "format": ');
    const other = write("package.json", { name: "x", version: "1.0.0" });
    const r1 = await runDagwood("diff", a, notJson);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`${notJson} is not a pipeline Dagwood can read:`);
    expect(r1.stderr).toMatch(/Not valid JSON at line 1, column \d+/);
    expect(r1.stdout).toBe("");
    const r2 = await runDagwood("diff", other, a);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(
      `${other} is not a pipeline Dagwood can read:\n  $.format: Not a Dagwood pipeline: there is no "format" field`,
    );
    const r3 = await runDagwood("diff", a, join(dir, "missing.dag.json"));
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(`No such file: ${join(dir, "missing.dag.json")}`);
  });

  it("exits 2 on a wrong number of files or a malformed git: spec", async () => {
    const one = await runDagwood("diff", "a.dag.json");
    expect(one.code).toBe(2);
    expect(one.stderr).toContain("diff takes two pipelines: dagwood diff OLD NEW");
    const spec = await runDagwood("diff", "git:HEAD", "b.dag.json");
    expect(spec.code).toBe(2);
    expect(spec.stderr).toContain('"git:HEAD": a file at a revision is git:REV:path');
    // A revision that would be an option to git show (it writes a file with --output) is refused before git runs.
    const outFile = join(tmpdir(), `dagwood-injected-${process.pid}`);
    const injected = await runDagwood("diff", `git:--output=${outFile}:a.dag.json`, "b.dag.json");
    expect(injected.code).toBe(2);
    expect(injected.stderr).toContain(`"--output=${outFile}" is not a revision (it starts with "-")`);
    expect(existsSync(`${outFile}:a.dag.json`)).toBe(false);
    const merge = await runDagwood("merge", "a", "b");
    expect(merge.code).toBe(2);
    expect(merge.stderr).toContain("merge takes BASE OURS THEIRS [PATH]");
  });

  it("merge exits 2 and leaves ours as it was when a side is not a pipeline; an empty base is a file both added", async () => {
    const base = write("base.dag.json", PIPELINE);
    const ours = write("ours.dag.json", variant(mixParams({ seed: 1 })));
    const before = readFileSync(ours, "utf8");
    const theirs = write("theirs.dag.json", "[1, 2]");
    const bad = await runDagwood("merge", base, ours, theirs, "pipelines/train.dag.json");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `dagwood merge: pipelines/train.dag.json: theirs (${theirs}) is not a pipeline Dagwood can read, so it cannot be merged; ${ours} is left as ours:\n  $: A pipeline file holds one JSON object`,
    );
    expect(readFileSync(ours, "utf8")).toBe(before);
    const empty = write("empty.dag.json", "");
    write(
      "theirs.dag.json",
      variant((p) => (p.nodes[0]!.params.path = "other.csv")),
    );
    const added = await runDagwood("merge", empty, ours, theirs);
    expect(added.code).toBe(1);
    expect(added.stderr).toContain('rows.params.path: ours "rows.csv", theirs "other.csv", base (absent)');
    expect(JSON.parse(readFileSync(ours, "utf8")).conflicts).toHaveLength(2);
  });

  it("colours the text on a terminal only, and not when NO_COLOR is set", async () => {
    const a = write("a.dag.json", PIPELINE);
    const b = write("c.dag.json", variant(mixParams({ seed: 9 })));
    const { main } = await import("./main");
    const tty = captureIo(true);
    expect(await main(["diff", a, b], tty)).toBe(1);
    expect(tty.out()).toContain("\u001b[33m~\u001b[0m node mix params.seed");
    vi.stubEnv("NO_COLOR", "1");
    try {
      const plain = captureIo(true);
      await main(["diff", a, b], plain);
      expect(plain.out()).not.toContain("\u001b[");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("--help gives the usage and the exit codes", async () => {
    const r = await runDagwood("diff", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  dagwood diff <old> <new> [--json]");
    expect(r.stdout).toContain("exit 0 same, 1 different, 2 a file that is not a pipeline");
  });

  it("diffs two unrelated pipelines with a note, exit 1", async () => {
    const a = write("a.dag.json", PIPELINE);
    const b = write(
      "other.dag.json",
      variant((p) => {
        p.nodes = [{ id: "flights", block: "ingest.file", params: { path: "f.csv" } }];
        p.edges = [];
        p.layout = {};
      }),
    );
    const r = await runDagwood("diff", a, b);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("share no nodes");
    expect(r.stdout).toContain(
      "  - node mix (shuffle)\n  - node rows (ingest.file)\n  + node flights (ingest.file)",
    );
  });

  it("--textconv prints a pipeline as review text, and a broken file as itself under a note", async () => {
    const a = write("a.dag.json", PIPELINE);
    const r = await runDagwood("diff", "--textconv", a);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'pipeline "small"',
        "  params.seed: 3",
        "",
        "node mix (shuffle)",
        '  params.seed: "${seed}"',
        "  inputs.in ← rows.out",
        "",
        "node rows (ingest.file)",
        '  params.path: "rows.csv"',
        "",
        "layout: 2 nodes placed (fingerprint ",
      ].join("\n") + r.stdout.slice(r.stdout.lastIndexOf("fingerprint ") + 12),
    );
    const broken = write("broken.dag.json", "{ not json");
    const b = await runDagwood("diff", "--textconv", broken);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(
      /^\(not a readable pipeline: Not valid JSON at line 1, column \d+: .*\)\n\{ not json$/,
    );
  });
});

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
  const run = (...args: string[]) => spawnSync("git", args, { cwd, env, encoding: "utf8" });
  const ok = (...args: string[]) => {
    const r = run(...args);
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  return { run, ok, env };
}

describe("dagwood as git's diff and merge driver, through a real git", { timeout: 180_000 }, () => {
  let repo: string;
  let git: ReturnType<typeof gitIn>;
  const file = () => join(repo, "train.dag.json");
  const save = (p: object) => writeFileSync(file(), `${JSON.stringify(p, null, 2)}\n`);
  const dagwood = async (...args: string[]) => startDagwood(args, { cwd: repo, env: git.env }).done;

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-git-"));
    git = gitIn(repo, repo);
    git.ok("init", "-q", "-b", "main");
    writeFileSync(join(repo, ".gitattributes"), "*.csv text eol=lf");
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("init --git adds the attributes once, keeps what was there, and sets both drivers", async () => {
    const first = await dagwood("init", "--git");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Added to");
    const second = await dagwood("init", "--git");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Already in");
    expect(readFileSync(join(repo, ".gitattributes"), "utf8")).toBe(
      "*.csv text eol=lf\n*.dag.json diff=dagwood merge=dagwood\n",
    );
    expect(git.ok("check-attr", "diff", "merge", "--", "x/y.dag.json")).toBe(
      "x/y.dag.json: diff: dagwood\nx/y.dag.json: merge: dagwood\n",
    );
    expect(git.ok("config", "diff.dagwood.textconv")).toMatch(/bin\/dagwood diff --textconv\n$/);
    expect(git.ok("config", "merge.dagwood.driver")).toMatch(/bin\/dagwood merge %O %A %B %P\n$/);
  });

  it("init --git outside a repository exits 1 and says to run git init", async () => {
    const outside = mkdtempSync(join(tmpdir(), "dagwood-nogit-"));
    try {
      const r = await startDagwood(["init", "--git"], {
        cwd: outside,
        env: { ...git.env, GIT_CEILING_DIRECTORIES: tmpdir() },
      }).done;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("is not inside a git repository");
      expect(r.stderr).toContain("Run git init there first");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("git diff shows the semantic text; dagwood diff reads git:REV:path", async () => {
    save(PIPELINE);
    git.ok("add", ".");
    git.ok("commit", "-q", "-m", "first");
    save(variant(mixParams({ seed: 11 })));
    const diff = git.ok("diff");
    expect(diff).toContain('-  params.seed: "${seed}"\n+  params.seed: 11\n');
    expect(diff).not.toContain('"nodes"');
    // A moved node is one changed line: the layout's fingerprint.
    save(variant((p) => (p.layout.mix = { x: 260, y: 40 })));
    const moved = git
      .ok("diff")
      .split("\n")
      .filter((l) => /^[-+][^-+]/.test(l));
    expect(moved).toHaveLength(2);
    expect(moved[0]).toMatch(/^-layout: 2 nodes placed/);
    save(variant(mixParams({ seed: 11 })));
    const semantic = await dagwood("diff", "git:HEAD:train.dag.json", "train.dag.json");
    expect(semantic.code).toBe(1);
    expect(semantic.stdout).toContain('~ node mix params.seed: "${seed}" → 11');
    const missing = await dagwood("diff", "git:HEAD:nope.dag.json", "train.dag.json");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("git show HEAD:nope.dag.json failed");
    git.ok("checkout", "-q", "--", "train.dag.json");
  });

  it("git merge merges cleanly what a line merge cannot: two nodes added at the same place", async () => {
    const extra = (id: string) => ({ id, block: "shuffle", params: {} });
    git.ok("checkout", "-q", "-b", "feature");
    save(
      variant((p) => {
        mixParams({ seed: 5 })(p);
        p.nodes.push(extra("shuffle_a"));
      }),
    );
    git.ok("commit", "-qam", "feature: mix seed");
    const log = git.ok("log", "-p", "-1");
    expect(log).toContain('-  params.seed: "${seed}"\n+  params.seed: 5\n');
    expect(log).toContain("+node shuffle_a (shuffle)\n+  params: {}\n");
    git.ok("checkout", "-q", "main");
    save(
      variant((p) => {
        p.nodes[0]!.params.path = "rows-2026.csv";
        p.nodes.push(extra("shuffle_b"));
      }),
    );
    git.ok("commit", "-qam", "main: rows path");
    const merge = git.run("merge", "-q", "--no-edit", "feature");
    expect(merge.stderr).toContain("merged cleanly");
    expect(merge.status).toBe(0);
    const merged = JSON.parse(readFileSync(file(), "utf8"));
    expect(merged.nodes.find((n: { id: string }) => n.id === "rows").params.path).toBe("rows-2026.csv");
    expect(merged.nodes.find((n: { id: string }) => n.id === "mix").params.seed).toBe(5);
    expect(merged.nodes.map((n: { id: string }) => n.id)).toEqual(["mix", "rows", "shuffle_a", "shuffle_b"]);
    expect(merged.conflicts).toBeUndefined();
    // Without the driver (.git/info/attributes overrides .gitattributes), git's line merge stops at the two insertions.
    const info = join(repo, ".git", "info");
    mkdirSync(info, { recursive: true });
    writeFileSync(join(info, "attributes"), "*.dag.json merge=text\n");
    try {
      git.ok("checkout", "-q", "-b", "line-merge", "main~1");
      const lineMerge = git.run("merge", "--no-edit", "feature");
      expect(lineMerge.status).not.toBe(0);
      expect(lineMerge.stdout).toContain("CONFLICT (content): Merge conflict in train.dag.json");
      git.ok("merge", "--abort");
      git.ok("checkout", "-q", "main");
    } finally {
      rmSync(join(info, "attributes"));
    }
    expect(git.ok("status", "--porcelain")).toBe("");
  });

  it("a param changed both ways: git merge stops, the file lists the conflict, validate refuses it", async () => {
    git.ok("checkout", "-q", "-b", "other");
    save(variant((p) => (p.nodes[1]!.params.seed = 100)));
    git.ok("commit", "-qam", "other: seed 100");
    git.ok("checkout", "-q", "main");
    save(variant((p) => (p.nodes[1]!.params.seed = 200)));
    git.ok("commit", "-qam", "main: seed 200");
    const merge = git.run("merge", "--no-edit", "other");
    expect(merge.status).not.toBe(0);
    expect(merge.stdout + merge.stderr).toContain("CONFLICT");
    expect(merge.stderr).toContain("train.dag.json: 1 conflict");
    const text = readFileSync(file(), "utf8");
    expect(text).not.toContain("<<<<<<<");
    const written = JSON.parse(text);
    expect(written.conflicts).toEqual([
      { node: "mix", path: "params.seed", base: 5, ours: 200, theirs: 100, kept: "ours" },
    ]);
    expect(written.nodes.find((n: { id: string }) => n.id === "mix").params.seed).toBe(200);
    const validate = await dagwood("validate", "--no-schemas", "train.dag.json");
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(
      "$.conflicts[0]: Unresolved merge conflict at mix.params.seed: ours 200, theirs 100 (base 5); the file holds ours.",
    );
    git.ok("merge", "--abort");
  });
});
