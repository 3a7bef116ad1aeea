/**
 * The jobs of the workflows `dagwood init --ci github|gitlab` write, run for
 * real, one after another in one repository (as its history goes: main,
 * a pull request, main again): each step's shell as the runner runs it (bash, with
 * GitHub's ${{ }} expressions filled in, $GITHUB_OUTPUT between steps, the
 * job's env), `npx dagwood` being this checkout's CLI, against two model
 * servers as the staging and production targets. The steps that only set up a
 * hosted runner (checkout, setup-node, npm ci, the cache and artifact
 * actions) are left out: the project folder stays as the staging job left it,
 * as the artifact hands it to the production job.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { PENGUINS_CSV, penguinTreePipeline } from "../tracking/testing";
import type { AliasChange } from "../values/registry";
import { parseYaml } from "./ci-schemas/check";
import { ROOT, runDagwood } from "./testing";

const TOKEN = { staging: "staging-token", production: "production-token" };

interface Job {
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  steps: { id?: string; if?: string; uses?: string; run?: string; env?: Record<string, string> }[];
}

/** The penguin tree with a gate on its evaluation: production takes only a version that passed one. */
function gatedPipeline() {
  const p = penguinTreePipeline({ csvPath: "penguins.csv" });
  return {
    ...p,
    name: "penguin-gated",
    nodes: [
      ...p.nodes,
      { id: "gate", block: "gate", params: { metric: "accuracy", op: ">=", threshold: 0.5 } },
    ],
    edges: [...p.edges, { from: "evaluate.report", to: "gate.report" }],
  };
}

/** `bash -eo pipefail -c script` in `cwd` (GitHub's shell for `run`), without blocking the servers in this process. */
function bash(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd, env });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("close", (code) => done({ code, out }));
  });
}

/** GitHub's ${{ expr }} replaced from `values`; an expression the test does not know fails it. */
function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    if (!Object.hasOwn(values, expr)) throw new Error(`the test has no value for \${{ ${expr} }}`);
    return values[expr]!;
  });
}

/** Runs a job's `run` steps; answers its outputs. */
async function runJob(
  name: string,
  job: Job,
  repo: string,
  values: Record<string, string>,
  log: string[],
): Promise<Record<string, string>> {
  const outputFile = join(repo, `.github-output-${name}`);
  const stepOutputs: Record<string, Record<string, string>> = {};
  const expressions = () => {
    const all = { ...values };
    for (const [id, outs] of Object.entries(stepOutputs))
      for (const [k, v] of Object.entries(outs)) all[`steps.${id}.outputs.${k}`] = v;
    return all;
  };
  const jobEnv = Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, fill(v, values)]));
  for (const step of job.steps) {
    if (!step.run || step.run === "npm ci") continue;
    // The only condition a main-branch step carries: the pipeline tests, when the project has some.
    if (step.if) {
      expect(step.if).toBe("hashFiles('tests/*.test.json') != ''");
      continue;
    }
    writeFileSync(outputFile, "");
    const stepEnv = Object.fromEntries(
      Object.entries(step.env ?? {}).map(([k, v]) => [k, fill(v, expressions())]),
    );
    const script = `npx() { [ "$1" = dagwood ] || return 127; shift; "${process.execPath}" "${join(ROOT, "bin", "dagwood")}" "$@"; }\n${fill(step.run, expressions())}`;
    const r = await bash(script, repo, {
      PATH: process.env.PATH,
      HOME: repo,
      DAGWOOD_USER: "ci",
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: join(repo, `.github-summary-${name}`),
      ...jobEnv,
      ...stepEnv,
    });
    log.push(`${name}: ${step.run}\n${r.out}`);
    expect(r.code, `${name}: ${step.run}\n${r.out}`).toBe(0);
    if (step.id)
      stepOutputs[step.id] = Object.fromEntries(
        readFileSync(outputFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
  }
  return Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, fill(v, expressions())]));
}

describe("the GitHub workflow's main-branch jobs, run", { timeout: 240_000 }, () => {
  let tmp: string;
  let repo: string;
  const servers: DagwoodServer[] = [];
  const urls: Record<string, string> = {};
  /** The KServe V2 readiness of penguins v1 on a target's server: 200 when it serves it. */
  const served = async (target: "staging" | "production") =>
    (
      await fetch(`${urls[target]}/v2/models/penguins/versions/1/ready`, {
        headers: { authorization: `Bearer ${TOKEN[target]}` },
      })
    ).status;
  const log: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "dagwood-ci-journey-"));
    repo = join(tmp, "repo");
    mkdirSync(repo);
    for (const target of ["staging", "production"] as const) {
      const dir = join(tmp, `serve-${target}`);
      mkdirSync(dir);
      const server = createServer({ repository: dir, token: TOKEN[target], log: () => {} });
      urls[target] = await server.listen(0, "127.0.0.1");
      servers.push(server);
    }
    writeFileSync(
      join(repo, "dagwood.json"),
      JSON.stringify({
        name: "journey",
        targets: { staging: { url: urls.staging }, production: { url: urls.production } },
      }),
    );
    writeFileSync(join(repo, "penguins.csv"), readFileSync(PENGUINS_CSV));
    writeFileSync(join(repo, "train.dag.json"), JSON.stringify(gatedPipeline()));
    writeFileSync(join(repo, "package.json"), JSON.stringify({ devDependencies: { dagwood: "*" } }));
    writeFileSync(join(repo, ".gitignore"), ".dagwood/\n");
    await bash(
      "git init -q -b main && git add . && git -c user.name=t -c user.email=t@example.com commit -q -m pipelines",
      repo,
      { PATH: process.env.PATH, HOME: repo },
    );
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("trains and registers, moves staging and deploys it; the production job moves production to that version and deploys it", async () => {
    const init = await runDagwood("init", "--ci", "github", "--project", repo);
    expect(init.code, init.stderr).toBe(0);
    // Everything the project needs is there: no edits asked for.
    expect(init.stdout).not.toContain("Before the first run, edit");
    const workflow = parseYaml<{ jobs: Record<string, Job> }>(
      readFileSync(join(repo, ".github", "workflows", "dagwood.yml"), "utf8"),
    );
    const secrets = {
      "secrets.DAGWOOD_TOKEN_STAGING": TOKEN.staging,
      "secrets.DAGWOOD_TOKEN_PRODUCTION": TOKEN.production,
      "github.triggering_actor": "octo-reviewer",
    };

    const staged = await runJob("staging", workflow.jobs.staging!, repo, secrets, log);
    expect(staged).toEqual({ version: "1" });
    const cli = async (...args: string[]) => {
      const r = await runDagwood(...args, "--project", repo);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    expect((await cli("models", "show", "penguins@staging", "--json")).version).toBe(1);
    expect(await served("staging")).toBe(200);
    // Not yet on production: the production job puts it there.
    expect(await served("production")).not.toBe(200);

    await runJob(
      "production",
      workflow.jobs.production!,
      repo,
      { ...secrets, "needs.staging.outputs.version": staged.version! },
      log,
    );
    expect((await cli("models", "show", "penguins@production", "--json")).version).toBe(1);
    expect(await served("production")).toBe(200);
    // The promotion rule was met, not overridden: the gate passed and staging served the version.
    const history = (await cli("models", "history", "penguins", "--json")) as AliasChange[];
    const production = history.find((c) => c.alias === "production");
    expect(production?.to).toBe(1);
    expect(production?.production?.missing).toEqual([]);
    // Who promoted is the person who triggered the run, not the runner's OS user.
    expect(production?.actor).toBe("octo-reviewer");
  });

  it("the pull-request job runs dagwood ci against the base branch: its summary and JUnit", async () => {
    const workflow = parseYaml<{ jobs: Record<string, Job> }>(
      readFileSync(join(repo, ".github", "workflows", "dagwood.yml"), "utf8"),
    );
    // A remote whose main is the base, and a change on a branch: what a pull request checks.
    const git = (script: string) =>
      bash(`git -c user.name=t -c user.email=t@example.com ${script}`, repo, {
        PATH: process.env.PATH,
        HOME: repo,
      });
    expect(
      (
        await bash(
          `git clone -q --bare . ${join(tmp, "origin.git")} && git remote add origin ${join(tmp, "origin.git")} && git fetch -q origin`,
          repo,
          { PATH: process.env.PATH, HOME: repo },
        )
      ).code,
    ).toBe(0);
    const pipeline = JSON.parse(readFileSync(join(repo, "train.dag.json"), "utf8"));
    pipeline.nodes.find((n: { id: string }) => n.id === "gate").params.threshold = 0.6;
    writeFileSync(join(repo, "train.dag.json"), JSON.stringify(pipeline));
    expect((await git("checkout -q -b raise-gate")).code).toBe(0);
    expect((await git("commit -q -am raise-the-gate")).code).toBe(0);

    await runJob("check", workflow.jobs.check!, repo, { "github.base_ref": "main" }, log);
    const summary = readFileSync(join(repo, ".github-summary-check"), "utf8");
    expect(summary).toContain("train.dag.json");
    expect(summary).toMatch(/0\.5 → 0\.6/);
    expect(readFileSync(join(repo, "dagwood-junit.xml"), "utf8")).toMatch(/^<\?xml[\s\S]*<testsuites/);
  });

  it("the GitLab pipeline's staging and manual production jobs do the same, the version handed over in a dotenv report", async () => {
    const init = await runDagwood("init", "--ci", "gitlab", "--project", repo);
    expect(init.code, init.stderr).toBe(0);
    const pipeline = parseYaml<
      Record<string, { script: string[]; artifacts?: { reports: { dotenv?: string } } }>
    >(readFileSync(join(repo, ".gitlab-ci.yml"), "utf8"));
    // GitLab runs a job's script lines as one shell script (default's before_script, npm ci, left out).
    const job = async (name: string, env: Record<string, string>) => {
      const script = `npx() { [ "$1" = dagwood ] || return 127; shift; "${process.execPath}" "${join(ROOT, "bin", "dagwood")}" "$@"; }\n${pipeline[name]!.script.join("\n")}`;
      const r = await bash(script, repo, { PATH: process.env.PATH, HOME: repo, DAGWOOD_USER: "ci", ...env });
      expect(r.code, `${name}\n${r.out}`).toBe(0);
    };
    // A deeper tree: a new model, so a new version (the same model registered twice is one version).
    const file = join(repo, "train.dag.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), params: { depth: 4 } }));
    await job("staging", { DAGWOOD_TOKEN_STAGING: TOKEN.staging });
    const dotenv = readFileSync(join(repo, pipeline.staging!.artifacts!.reports.dotenv!), "utf8");
    expect(dotenv).toBe("DAGWOOD_VERSION=2\n");
    await job("production", { DAGWOOD_TOKEN_PRODUCTION: TOKEN.production, DAGWOOD_VERSION: "2" });
    for (const alias of ["staging", "production"]) {
      const r = await runDagwood("models", "show", `penguins@${alias}`, "--json", "--project", repo);
      expect(JSON.parse(r.stdout).version, alias).toBe(2);
    }
    const served = await fetch(`${urls.production}/v2/models/penguins/versions/2/ready`, {
      headers: { authorization: `Bearer ${TOKEN.production}` },
    });
    expect(served.status).toBe(200);
  });
});
