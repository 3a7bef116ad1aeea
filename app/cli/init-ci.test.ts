/**
 * `dagwood init --ci github|gitlab`. The written YAML is read by an
 * independent parser (PyYAML, Debian's python3-yaml: ci-schemas/check.ts), and every `dagwood`
 * command line in it is expanded by bash, as the runner does, and run
 * through the CLI: each must get past the argument parser.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseYaml } from "./ci-schemas/check";
import { ciWorkflow, registeredModels } from "./init-ci";
import { ROOT, runDagwood, startDagwood } from "./testing";

const STARTER = join(ROOT, "resources", "examples", "starter");
const USAGE_BANNER = "dagwood — run machine-learning pipelines headless";

interface Step {
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  id?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface GithubJob {
  if?: string;
  needs?: string;
  environment?: string;
  env: Record<string, string>;
  outputs: Record<string, string>;
  steps: Step[];
}
interface GithubDoc {
  on: unknown;
  jobs: Record<string, GithubJob>;
}
interface GitlabJob {
  rules: unknown[];
  needs?: string[];
  environment?: unknown;
  before_script?: string[];
  script: string[];
  artifacts: { reports: Record<string, unknown> };
}
type GitlabDoc = Record<string, GitlabJob> & {
  stages: string[];
  default: { image: string; before_script: string[] };
};

/** The shell text a workflow runs: GitHub's steps' `run`, GitLab's jobs' `before_script` and `script`. */
function shellTexts(provider: "github" | "gitlab", text: string): string[] {
  if (provider === "github")
    return Object.values(parseYaml<GithubDoc>(text).jobs).flatMap((job) =>
      job.steps.flatMap((s) => (typeof s.run === "string" ? [s.run] : [])),
    );
  return Object.values(parseYaml<Record<string, Partial<GitlabJob>>>(text))
    .filter((job) => job && typeof job === "object" && !Array.isArray(job))
    .flatMap((job) => [...(job.before_script ?? []), ...(job.script ?? [])]);
}

/** Sample values for what the runner fills in: GitHub's ${{ … }} expressions and the variables the lines read. */
const RUNNER_ENV = {
  BASE_REF: "main",
  VERSION: "3",
  DAGWOOD_VERSION: "3",
  CI_MERGE_REQUEST_TARGET_BRANCH_NAME: "main",
};

/**
 * The argument lists of the `npx dagwood …` lines of `text`, as bash expands
 * them (quotes, variables), with `npx` replaced by a function that records
 * its arguments.
 */
function dagwoodArgvs(text: string, cwd: string): string[][] {
  const out: string[][] = [];
  for (const line of text.split("\n").filter((l) => /\bnpx dagwood\b/.test(l))) {
    const record = join(cwd, "argv.bin");
    rmSync(record, { force: true });
    const script = `npx() { printf '%s\\0' "$@" > "$ARGV_FILE"; }\n${line.replace(/\$\{\{[^}]*\}\}/g, "3")}`;
    const r = spawnSync("bash", ["-euc", script], {
      cwd,
      encoding: "utf8",
      env: { PATH: process.env.PATH, ARGV_FILE: record, ...RUNNER_ENV },
    });
    if (r.status !== 0) throw new Error(`bash could not run "${line}": ${r.stderr}`);
    const argv = readFileSync(record, "utf8").split("\0").slice(0, -1);
    expect(argv[0], line).toBe("dagwood");
    out.push(argv.slice(1));
  }
  return out;
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A git repository with a copy of the starter's pipelines and settings in proj/. */
function starterRepo(root: string): { repo: string; proj: string } {
  const repo = join(root, "repo");
  const proj = join(repo, "proj");
  mkdirSync(proj, { recursive: true });
  for (const f of ["dagwood.json", "penguins-model.dag.json", "cars-model.dag.json", "penguins.dag.json"])
    copyFileSync(join(STARTER, f), join(proj, f));
  git(repo, "init", "-q", "-b", "main");
  return { repo, proj };
}

describe("dagwood init --ci", { timeout: 120_000 }, () => {
  let tmp: string;
  let repo: string;
  let proj: string;
  /** A repository whose proj/ has settings but no pipelines, tests or registry: every command stops right after its arguments. */
  let bare: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "dagwood-init-ci-"));
    ({ repo, proj } = starterRepo(tmp));
    bare = join(tmp, "bare");
    mkdirSync(join(bare, "proj"), { recursive: true });
    writeFileSync(join(bare, "proj", "dagwood.json"), '{ "name": "bare" }\n');
    // A test file, so that the workflows' test step (taken only when tests/*.test.json exist) runs.
    mkdirSync(join(bare, "proj", "tests"));
    writeFileSync(join(bare, "proj", "tests", "smoke.test.json"), "{}\n");
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("writes a GitHub workflow: dagwood ci on pull requests; train, register, deploy to staging on main; production behind an environment", async () => {
    const r = await runDagwood(
      "init",
      "--ci",
      "github",
      "--project",
      proj,
      "--pipeline",
      "penguins-model.dag.json",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const file = join(repo, ".github", "workflows", "dagwood.yml");
    expect(r.stdout).toContain(`Wrote ${file}`);
    expect(r.stdout).toContain("Settings → Environments → production → Required reviewers");
    const doc = parseYaml<GithubDoc>(readFileSync(file, "utf8"));
    expect(doc.on).toEqual({ pull_request: null, push: { branches: ["main"] } });

    const check = doc.jobs.check!;
    const step = (job: GithubJob, test: (s: Step) => boolean) => {
      const found = job.steps.find(test);
      if (!found) throw new Error("no such step");
      return found;
    };
    expect(check.if).toBe("github.event_name == 'pull_request'");
    const uses = (job: GithubJob) => job.steps.map((s) => s.uses).filter(Boolean);
    expect(uses(check)).toEqual(
      expect.arrayContaining(["actions/checkout@v4", "actions/setup-node@v4", "actions/upload-artifact@v4"]),
    );
    expect(step(check, (s) => s.uses === "actions/setup-node@v4").with?.["node-version"]).toBe(20);
    expect(check.steps.some((s) => s.run === "npm ci")).toBe(true);
    const ci = step(check, (s) => /^npx dagwood ci /.test(s.run ?? ""));
    expect(ci.run).toBe('npx dagwood ci --project proj --junit dagwood-junit.xml --base "origin/$BASE_REF"');
    expect(ci.env?.BASE_REF).toBe("${{ github.base_ref }}");
    expect(step(check, (s) => s.uses === "actions/upload-artifact@v4").with?.path).toBe("dagwood-junit.xml");

    const staging = doc.jobs.staging!;
    expect(staging.if).toBe("github.event_name == 'push'");
    expect(staging.env.DAGWOOD_TOKEN_STAGING).toBe("${{ secrets.DAGWOOD_TOKEN_STAGING }}");
    const runs = (job: GithubJob) => job.steps.flatMap((s) => (s.run ? [s.run] : []));
    expect(runs(staging).join("\n")).toMatch(
      /npx dagwood test --project proj[^\n]*\n[\s\S]*npx dagwood run proj\/penguins-model\.dag\.json --json[^\n]*> dagwood-run\.json[\s\S]*npx dagwood models alias penguins-classifier staging "\$\{\{ steps\.version\.outputs\.version \}\}" --project proj\nnpx dagwood deploy penguins-classifier@staging --target staging --project proj/,
    );
    expect(staging.outputs.version).toBe("${{ steps.version.outputs.version }}");
    expect(step(staging, (s) => s.name === "Pipeline tests").if).toBe(
      "hashFiles('proj/tests/*.test.json') != ''",
    );
    expect(staging.steps.some((s) => s.id === "version")).toBe(true);

    const production = doc.jobs.production!;
    expect(production.needs).toBe("staging");
    expect(production.environment).toBe("production");
    expect(production.env.VERSION).toBe("${{ needs.staging.outputs.version }}");
    expect(production.env.DAGWOOD_TOKEN_PRODUCTION).toBe("${{ secrets.DAGWOOD_TOKEN_PRODUCTION }}");
    expect(runs(production)).toEqual([
      "npm ci",
      'npx dagwood models alias penguins-classifier production "$VERSION" --project proj',
      "npx dagwood deploy penguins-classifier@production --target production --project proj",
    ]);
    // The registry the staging job left is the one the production job moves the alias in.
    const up = step(
      staging,
      (s) => s.uses === "actions/upload-artifact@v4" && s.with?.name === "dagwood-registry",
    );
    const down = step(production, (s) => s.uses === "actions/download-artifact@v4");
    expect(up.with).toMatchObject({ path: "proj/.dagwood", "include-hidden-files": true });
    expect(down.with).toEqual({ name: "dagwood-registry", path: "proj/.dagwood" });
  });

  it("writes a GitLab pipeline: stages, rules, a JUnit report, a manual production job", async () => {
    const r = await runDagwood(
      "init",
      "--ci",
      "gitlab",
      "--project",
      proj,
      "--model",
      "penguins-classifier",
      "--pipeline",
      "penguins-model.dag.json",
    );
    expect(r.code).toBe(0);
    const doc = parseYaml<GitlabDoc>(readFileSync(join(repo, ".gitlab-ci.yml"), "utf8"));
    expect(doc.stages).toEqual(["check", "staging", "production"]);
    expect(doc.default.image).toBe("node:20");
    expect(doc.default.before_script).toEqual(["npm ci"]);
    const ci = doc["dagwood-ci"]!;
    expect(ci.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }]);
    expect(ci.artifacts.reports.junit).toBe("dagwood-junit.xml");
    expect(ci.script.at(-1)).toBe(
      'npx dagwood ci --project proj --junit dagwood-junit.xml --summary dagwood-summary.md --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"',
    );
    const staging = doc.staging!;
    expect(staging.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == "main"' }]);
    expect(staging.environment).toEqual({ name: "staging" });
    expect(staging.artifacts.reports.dotenv).toBe("dagwood.env");
    expect(staging.script).toContain(
      `if [ -n "$(find proj/tests -maxdepth 1 -name '*.test.json' 2>/dev/null)" ]; then npx dagwood test --project proj --junit dagwood-test-junit.xml; fi`,
    );
    expect(staging.script.filter((l: string) => l.startsWith("npx dagwood"))).toEqual([
      "npx dagwood run proj/penguins-model.dag.json --json --junit dagwood-train-junit.xml > dagwood-run.json",
      'npx dagwood models alias penguins-classifier staging "$DAGWOOD_VERSION" --project proj',
      "npx dagwood deploy penguins-classifier@staging --target staging --project proj",
    ]);
    const production = doc.production!;
    expect(production.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == "main"', when: "manual" }]);
    expect(production.needs).toEqual(["staging"]);
    expect(production.environment).toEqual({ name: "production" });
    expect(production.script).toEqual([
      'npx dagwood models alias penguins-classifier production "$DAGWOOD_VERSION" --project proj',
      "npx dagwood deploy penguins-classifier@production --target production --project proj",
    ]);
  });

  for (const provider of ["github", "gitlab"] as const) {
    it(`every dagwood command of the ${provider} workflow gets past the CLI's argument parser`, async () => {
      const file = join(repo, provider === "github" ? ".github/workflows/dagwood.yml" : ".gitlab-ci.yml");
      const argvs = shellTexts(provider, readFileSync(file, "utf8")).flatMap((t) => dagwoodArgvs(t, bare));
      expect(argvs.map((a) => (a[0] === "models" ? `${a[0]} ${a[1]}` : a[0]))).toEqual([
        "ci",
        "test",
        "run",
        "models alias",
        "deploy",
        "models alias",
        "deploy",
      ]);
      // In the bare repository each command stops at the first thing it lacks, after its arguments were accepted.
      const reached =
        /No pipelines in|tests\/smoke\.test\.json at \$\.format|No such file: proj\/penguins-model\.dag\.json|No Dagwood (runs|registry) in/;
      for (const argv of argvs) {
        const r = await startDagwood(argv, { cwd: bare }).done;
        expect(r.stderr, argv.join(" ")).not.toContain(USAGE_BANNER);
        expect(r.stderr, argv.join(" ")).toMatch(reached);
      }
    });
  }

  it("the command check catches a misspelled flag or a bad model reference", async () => {
    for (const argv of [
      ["deploy", "penguins-classifier@staging", "--targt", "staging", "--project", "proj"],
      ["deploy", "penguins-classifier", "--target", "staging", "--project", "proj"],
    ]) {
      const r = await startDagwood(argv, { cwd: bare }).done;
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(USAGE_BANNER);
    }
  });

  it("does not overwrite a workflow without --force, and rewrites it with --force", async () => {
    const file = join(repo, ".gitlab-ci.yml");
    writeFileSync(file, "# the team's own\n");
    const refused = await runDagwood("init", "--ci", "gitlab", "--project", proj);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${file} is already there`);
    expect(refused.stderr).toContain("--force");
    expect(readFileSync(file, "utf8")).toBe("# the team's own\n");
    const forced = await runDagwood("init", "--ci", "gitlab", "--project", proj, "--force");
    expect(forced.code).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("npx dagwood ci --project proj");
  });

  it("takes the training pipeline and model from the project, a gated one first, and lists the other choices and what to edit", async () => {
    const r = await runDagwood("init", "--ci", "github", "--project", proj, "--force");
    expect(r.code).toBe(0);
    // penguins-model has a gate (production needs a passed one); cars-model, first by name, has none.
    expect(r.stdout).toContain("then penguins-model.dag.json registers penguins-classifier");
    expect(r.stdout).toContain("Other pipelines that register a model: cars-model.dag.json (cars-mpg)");
    expect(r.stdout).not.toContain("has no gate node");
    expect(r.stdout).toContain('dagwood.json has no target "staging"');
    expect(r.stdout).toContain("secret DAGWOOD_TOKEN_PRODUCTION");
    expect(r.stdout).toContain("package.json does not name dagwood");
    const ungated = await runDagwood(
      "init",
      "--ci",
      "github",
      "--project",
      proj,
      "--force",
      "--pipeline",
      "cars-model.dag.json",
    );
    expect(ungated.code).toBe(0);
    expect(ungated.stdout).toContain("then cars-model.dag.json registers cars-mpg");
    expect(ungated.stdout).toContain(
      "cars-model.dag.json has no gate node: moving production needs a version that passed its gate",
    );
  });

  it("writes placeholders, and says so, for a project where no pipeline registers a model", async () => {
    const other = join(tmp, "plain");
    mkdirSync(other, { recursive: true });
    copyFileSync(join(STARTER, "penguins.dag.json"), join(other, "penguins.dag.json"));
    writeFileSync(
      join(other, "dagwood.json"),
      JSON.stringify({
        targets: {
          staging: { url: "http://127.0.0.1:9", kind: "dagwood" },
          production: { url: "http://127.0.0.1:9", kind: "dagwood" },
        },
      }),
    );
    writeFileSync(join(other, "package.json"), JSON.stringify({ devDependencies: { dagwood: "^0.1.0" } }));
    git(other, "init", "-q", "-b", "main");
    const r = await runDagwood("init", "--ci", "gitlab", "--project", other, "--branch", "trunk");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("runs EDIT-ME-train.dag.json (a placeholder)");
    expect(r.stdout).toContain("names EDIT-ME-model (a placeholder)");
    expect(r.stdout).not.toContain("no target");
    expect(r.stdout).not.toContain("package.json");
    const doc = parseYaml<GitlabDoc>(readFileSync(join(other, ".gitlab-ci.yml"), "utf8"));
    expect(doc.staging!.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == "trunk"' }]);
    expect(doc.staging!.script).toContain(
      "npx dagwood run EDIT-ME-train.dag.json --json --junit dagwood-train-junit.xml > dagwood-run.json",
    );
  });

  it("refuses bad input with a clear message", async () => {
    const cases: [string[], number, string][] = [
      [["init", "--ci", "jenkins", "--project", proj], 2, '--ci "jenkins": write --ci github or --ci gitlab'],
      [["init", "--force", "--project", proj], 2, "--force goes with --ci github|gitlab"],
      [
        ["init", "--ci", "github", "--project", proj, "--force", "--model", "bad name"],
        2,
        '--model "bad name"',
      ],
      [
        ["init", "--ci", "github", "--project", proj, "--force", "--pipeline", "../x.dag.json"],
        2,
        '--pipeline "../x.dag.json"',
      ],
      [
        ["init", "--ci", "github", "--project", proj, "--force", "--pipeline", "nope.dag.json"],
        2,
        "--pipeline nope.dag.json: no such file",
      ],
      [
        ["init", "--ci", "github", "--project", proj, "--force", "--production-target", "staging"],
        2,
        "that is the staging target; production needs a target of its own",
      ],
      [
        ["init", "--ci", "github", "--project", proj, "--force", "--staging-target", "s"],
        2,
        "Unknown option '--staging-target'",
      ],
      [["init", "--ci", "github", "--project", proj, "--force", "--branch", "a b"], 2, '--branch "a b"'],
    ];
    for (const [argv, code, message] of cases) {
      const r = await runDagwood(...argv);
      expect(r.stderr, argv.join(" ")).toContain(message);
      expect(r.code, argv.join(" ")).toBe(code);
    }
    const outside = join(tmp, "no-git");
    mkdirSync(outside, { recursive: true });
    const r = await runDagwood("init", "--ci", "github", "--project", outside);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not inside a git repository");
    expect(r.stderr).toContain("then dagwood init --ci github");
    expect(existsSync(join(outside, ".github"))).toBe(false);
  });
});

describe("registeredModels", () => {
  it("names the register nodes' fixed model names, not templated ones", () => {
    const doc = {
      nodes: [
        { id: "a", block: "register", params: { name: "fraud" } },
        { id: "b", block: "register", params: { name: "${model}" } },
        { id: "c", block: "train.gbdt", params: { name: "not-a-model" } },
        { id: "d", block: "register", params: { name: "fraud" } },
      ],
    };
    expect(registeredModels(JSON.stringify(doc))).toEqual(["fraud"]);
    expect(registeredModels("not json")).toEqual([]);
  });

  it("puts the project folder into every path a workflow names", () => {
    const text = ciWorkflow("github", {
      project: ".",
      pipeline: "train.dag.json",
      model: "m",
      productionTarget: "production",
      branch: "main",
    });
    expect(text).toContain("npx dagwood run train.dag.json --json");
    expect(text).toContain("path: .dagwood\n");
  });
});
