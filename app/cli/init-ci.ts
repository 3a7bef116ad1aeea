/**
 * `dagwood init --ci github|gitlab`: the workflow a team's repository runs.
 * On a pull (merge) request, `dagwood ci` with its JUnit and Markdown summary;
 * on the default branch, the pipeline tests, the training pipeline (which
 * registers the model), the `staging` alias moved to the new version and that
 * version deployed to the staging target (every deploy checks parity); then a
 * manual, reviewed step moves `production` to the same version and deploys
 * it. What the workflow names (pipeline, model, targets) comes from the
 * project where it can, else from placeholders the command asks to edit.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { EXIT, type Io, UsageError } from "./args";

export type CiProvider = "github" | "gitlab";

export const CI_FILES: Record<CiProvider, string> = {
  github: ".github/workflows/dagwood.yml",
  gitlab: ".gitlab-ci.yml",
};

/** What a workflow names; each value is checked before it is written into a shell line. */
export interface CiSettings {
  /** The project folder relative to the repository root, "." for the root. */
  project: string;
  /** The training pipeline, relative to the project. */
  pipeline: string;
  /** The model the training pipeline registers. */
  model: string;
  productionTarget: string;
  /** The branch whose pushes train and deploy. */
  branch: string;
}

/** Stand-ins written where the project does not say; the command lists them for the user to edit. */
export const PLACEHOLDER = { pipeline: "EDIT-ME-train.dag.json", model: "EDIT-ME-model" } as const;

const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TARGET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const BRANCH_NAME = /^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$/;

/** Why a setting cannot go into a workflow, or undefined when it can. */
export function ciSettingProblem(s: CiSettings): string | undefined {
  const bad = (what: string, value: string, rule: string) => `${what} "${value}": ${rule}`;
  if (s.project !== "." && (!SAFE_PATH.test(s.project) || s.project.split("/").includes("..")))
    return bad(
      "the project folder",
      s.project,
      "must be inside the repository, named with letters, digits, _ . / - only",
    );
  if (
    !SAFE_PATH.test(s.pipeline) ||
    !s.pipeline.endsWith(".dag.json") ||
    s.pipeline.split("/").includes("..")
  )
    return bad(
      "--pipeline",
      s.pipeline,
      "a *.dag.json file of the project (relative to it), named with letters, digits, _ . / - only",
    );
  if (!MODEL_NAME.test(s.model))
    return bad(
      "--model",
      s.model,
      "a model name: a letter or digit, then letters, digits, _ - . (at most 128)",
    );
  if (!TARGET_NAME.test(s.productionTarget))
    return bad(
      "--production-target",
      s.productionTarget,
      "a target name: a letter, then letters, digits, _ - (at most 64), as in dagwood.json",
    );
  if (s.productionTarget === STAGING)
    return `--production-target "${STAGING}": that is the staging target; production needs a target of its own`;
  if (!BRANCH_NAME.test(s.branch))
    return bad("--branch", s.branch, "a branch name (letters, digits, _ . / -)");
  return undefined;
}

/** `DAGWOOD_TOKEN_<TARGET>`, as app/deploy/targets.ts reads a target's token. */
export function tokenVariable(target: string): string {
  return `DAGWOOD_TOKEN_${target.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * The staging target and alias: names the registry's promotion rule knows
 * (app/values/registry.ts STAGING_TARGET, STAGING_ALIAS): production needs a
 * successful deploy to the target named `staging`.
 */
export const STAGING = "staging";

type PipelineNodes = { block?: unknown; params?: { name?: unknown } }[];

function pipelineNodes(pipelineText: string): PipelineNodes {
  try {
    const nodes = (JSON.parse(pipelineText) as { nodes?: unknown }).nodes;
    return Array.isArray(nodes) ? (nodes as PipelineNodes) : [];
  } catch {
    return [];
  }
}

/** A pipeline file's registered model names (its `register` nodes' literal `name` params). */
export function registeredModels(pipelineText: string): string[] {
  const names: string[] = [];
  for (const n of pipelineNodes(pipelineText)) {
    const name = n?.block === "register" ? n.params?.name : undefined;
    if (typeof name === "string" && MODEL_NAME.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

/** Whether the pipeline has a gate node: the promotion rule needs a passed gate for production. */
export function hasGate(pipelineText: string): boolean {
  return pipelineNodes(pipelineText).some((n) => n?.block === "gate");
}

export interface CiDefaults {
  pipeline?: string;
  model?: string;
  /** Every pipeline that registers a model, with its models and whether it has a gate; gated ones first. */
  training: { pipeline: string; models: string[]; gated: boolean }[];
  targets: string[];
}

/** The project's training pipelines (those with a register node), their models, and dagwood.json's targets. */
export async function ciDefaults(projectDir: string): Promise<CiDefaults> {
  const [{ findPipelines }, { readProjectSettings }] = await Promise.all([
    import("../api/handlers/projects"),
    import("../project/project"),
  ]);
  const training: CiDefaults["training"] = [];
  for (const file of await findPipelines(projectDir)) {
    const text = readFileSync(join(projectDir, file), "utf8");
    const models = registeredModels(text);
    if (models.length) training.push({ pipeline: file, models, gated: hasGate(text) });
  }
  // A pipeline with a gate first: only its versions can move to production without an override.
  training.sort((a, b) => Number(b.gated) - Number(a.gated));
  const targets = Object.keys(readProjectSettings(projectDir).targets);
  return { pipeline: training[0]?.pipeline, model: training[0]?.models[0], training, targets };
}

/** The project folder as the workflow names it: relative to the repository root, with forward slashes. */
export function projectInRepo(repoRoot: string, projectDir: string): string {
  return relative(repoRoot, projectDir).split(sep).join("/") || ".";
}

/**
 * A `node -p` program that prints the version of `model` the run in
 * dagwood-run.json registered (or found registered: the same model twice is
 * one version), from the register node's headline in `dagwood run --json`.
 */
function versionScript(model: string): string {
  return [
    'const s = JSON.parse(require("fs").readFileSync("dagwood-run.json", "utf8"));',
    `const h = s.nodes.flatMap((n) => Object.values(n.outputs)).map((o) => o.headline).find((h) => h && h.kind === "version" && h.model === "${model}");`,
    `if (!h) throw new Error("the run registered no version of ${model}");`,
    "h.version",
  ].join(" ");
}

const HEADER = (command: string) =>
  `# Written by \`dagwood init --ci ${command}\`. Edit freely; \`dagwood init --ci ${command} --force\` writes it anew.\n` +
  "# Every dagwood command here is documented in `dagwood --help`.\n";

/** The registry (.dagwood) is the runner's: a comment both workflows carry. */
const STATE_NOTE = [
  "# The model registry and its audit history live in the project's .dagwood folder. A hosted runner",
  "# starts empty: the registry is restored from the CI cache and saved after each main-branch job, and",
  "# handed from the staging job to the production job as an artifact. A cache can be evicted; for a",
  "# lasting history, run these jobs on a runner whose project folder persists.",
];

export function githubWorkflow(s: CiSettings): string {
  const p = s.project;
  const inProject = (file: string) => (p === "." ? file : `${p}/${file}`);
  const store = inProject(".dagwood");
  const stagingToken = tokenVariable(STAGING);
  const productionToken = tokenVariable(s.productionTarget);
  const setup = [
    "      - uses: actions/checkout@v4",
    "      - uses: actions/setup-node@v4",
    "        with:",
    "          node-version: 20",
    "          cache: npm",
    "      # dagwood comes from the repository's package.json (a devDependency), like any other tool.",
    "      - run: npm ci",
  ];
  const setupFull = [
    "      - uses: actions/checkout@v4",
    "        with:",
    "          # dagwood ci compares the pipelines with the pull request's base: it needs the history.",
    "          fetch-depth: 0",
    ...setup.slice(1),
  ];
  return `${HEADER("github")}name: Dagwood

on:
  pull_request:
  push:
    branches: [${s.branch}]

permissions:
  contents: read

jobs:
  check:
    name: dagwood ci
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
${setupFull.join("\n")}
      # The main branch's registry, when cached: its champions are what the summary compares against.
      - uses: actions/cache/restore@v4
        with:
          path: ${store}
          key: dagwood-registry-\${{ github.run_id }}
          restore-keys: dagwood-registry-
      # Validates every pipeline, runs the pipeline tests and each pipeline; the Markdown summary
      # (models against their champion, data tests, what changed) goes to $GITHUB_STEP_SUMMARY, the
      # run's page. Exit codes as dagwood run: the check fails on a failed node, gate or test.
      - name: dagwood ci
        env:
          BASE_REF: \${{ github.base_ref }}
        run: npx dagwood ci --project ${p} --junit dagwood-junit.xml --base "origin/$BASE_REF"
      - name: Keep the JUnit report
        if: \${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: dagwood-junit
          path: dagwood-junit.xml
          if-no-files-found: ignore

${STATE_NOTE.map((l) => `  ${l}`).join("\n")}
  staging:
    name: Train, register, deploy to ${STAGING}
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    environment: ${STAGING}
    outputs:
      version: \${{ steps.version.outputs.version }}
    env:
      # The target's token (dagwood reads DAGWOOD_TOKEN_<TARGET>): a secret of the repository or environment.
      ${stagingToken}: \${{ secrets.${stagingToken} }}
      DAGWOOD_USER: \${{ github.triggering_actor }}
    steps:
${setup.join("\n")}
      - uses: actions/cache/restore@v4
        with:
          path: ${store}
          key: dagwood-registry-\${{ github.run_id }}
          restore-keys: dagwood-registry-
      # The pipeline tests, once the project has some (tests/*.test.json): fast, before the training.
      - name: Pipeline tests
        if: hashFiles('${inProject("tests/*.test.json")}') != ''
        run: npx dagwood test --project ${p} --junit dagwood-test-junit.xml
      - name: Train and register ${s.model}
        id: version
        run: |
          npx dagwood run ${inProject(s.pipeline)} --json --junit dagwood-train-junit.xml > dagwood-run.json
          version=$(node -p '${versionScript(s.model)}')
          echo "version=$version" >> "$GITHUB_OUTPUT"
      - name: Move ${s.model}@staging to it
        run: npx dagwood models alias ${s.model} staging "\${{ steps.version.outputs.version }}" --project ${p}
      # The deploy checks parity (the served model answers as the registry's version) and rolls back if not.
      - name: Deploy to ${STAGING}
        run: npx dagwood deploy ${s.model}@staging --target ${STAGING} --project ${p}
      - uses: actions/cache/save@v4
        if: \${{ !cancelled() }}
        with:
          path: ${store}
          key: dagwood-registry-\${{ github.run_id }}
      - uses: actions/upload-artifact@v4
        with:
          name: dagwood-registry
          path: ${store}
          include-hidden-files: true
      - name: Keep the JUnit reports
        if: \${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: dagwood-main-junit
          path: dagwood-*junit.xml
          if-no-files-found: ignore

  # Promotion: moves the production alias to the version deployed to ${STAGING} above, and deploys
  # it. The "${s.productionTarget}" environment holds this job until a reviewer approves: add required
  # reviewers in the repository's Settings → Environments → ${s.productionTarget} (GitHub's settings, not
  # this file; without them the job runs at once).
  production:
    name: Promote to ${s.productionTarget}
    needs: staging
    runs-on: ubuntu-latest
    environment: ${s.productionTarget}
    env:
      ${productionToken}: \${{ secrets.${productionToken} }}
      VERSION: \${{ needs.staging.outputs.version }}
      # Who promotes, in the audit history: the person who started (or approved) this run, not the runner's OS user.
      DAGWOOD_USER: \${{ github.triggering_actor }}
    steps:
${setup.join("\n")}
      - uses: actions/download-artifact@v4
        with:
          name: dagwood-registry
          path: ${store}
      - name: Move ${s.model}@production to the version on ${STAGING}
        run: npx dagwood models alias ${s.model} production "$VERSION" --project ${p}
      - name: Deploy to ${s.productionTarget}
        run: npx dagwood deploy ${s.model}@production --target ${s.productionTarget} --project ${p}
      - uses: actions/cache/save@v4
        if: \${{ !cancelled() }}
        with:
          path: ${store}
          key: dagwood-registry-\${{ github.run_id }}-production
`;
}

export function gitlabWorkflow(s: CiSettings): string {
  const p = s.project;
  const inProject = (file: string) => (p === "." ? file : `${p}/${file}`);
  const store = inProject(".dagwood");
  const onDefault = `$CI_COMMIT_BRANCH == "${s.branch}"`;
  return `${HEADER("gitlab")}stages: [check, staging, production]

default:
  image: node:20
  # dagwood comes from the repository's package.json (a devDependency), like any other tool.
  before_script:
    - npm ci
  cache:
    - key: npm
      paths: [.npm/]

variables:
  npm_config_cache: "$CI_PROJECT_DIR/.npm"

# Validates every pipeline, runs the pipeline tests and each pipeline. The JUnit report shows in
# the merge request's test summary; the Markdown summary (models against their champion, data
# tests, what changed) is kept as an artifact, to post as a merge-request comment if you like.
dagwood-ci:
  stage: check
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  variables:
    # dagwood ci compares the pipelines with the target branch: it needs the history.
    GIT_DEPTH: 0
  # The main branch's registry, read only: its champions are what the summary compares against.
  cache:
    - key: npm
      paths: [.npm/]
    - key: dagwood-registry
      paths: [${store}/]
      policy: pull
  script:
    - git fetch --quiet origin "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
    - npx dagwood ci --project ${p} --junit dagwood-junit.xml --summary dagwood-summary.md --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
  artifacts:
    when: always
    paths: [dagwood-summary.md]
    reports:
      junit: dagwood-junit.xml

${STATE_NOTE.join("\n")}
# The target's token (dagwood reads DAGWOOD_TOKEN_<TARGET>): a masked CI/CD variable of the project.
staging:
  stage: staging
  rules:
    - if: ${onDefault}
  environment:
    name: ${STAGING}
  resource_group: dagwood-registry
  cache:
    - key: npm
      paths: [.npm/]
    - key: dagwood-registry
      paths: [${store}/]
  script:
    # The pipeline tests, once the project has some (tests/*.test.json): fast, before the training.
    - if [ -n "$(find ${inProject("tests")} -maxdepth 1 -name '*.test.json' 2>/dev/null)" ]; then npx dagwood test --project ${p} --junit dagwood-test-junit.xml; fi
    - npx dagwood run ${inProject(s.pipeline)} --json --junit dagwood-train-junit.xml > dagwood-run.json
    # An assignment alone, so that the job stops when the run registered nothing.
    - DAGWOOD_VERSION=$(node -p '${versionScript(s.model)}')
    # For the production job (a dotenv report becomes its variables).
    - echo "DAGWOOD_VERSION=$DAGWOOD_VERSION" > dagwood.env
    - npx dagwood models alias ${s.model} staging "$DAGWOOD_VERSION" --project ${p}
    # The deploy checks parity (the served model answers as the registry's version) and rolls back if not.
    - npx dagwood deploy ${s.model}@staging --target ${STAGING} --project ${p}
  artifacts:
    when: always
    paths: [${store}/]
    reports:
      junit: [dagwood-test-junit.xml, dagwood-train-junit.xml]
      dotenv: dagwood.env

# Promotion: moves the production alias to the version the staging job deployed, and deploys it.
# A manual job: someone presses play on the pipeline. To require approvals, protect the
# "${s.productionTarget}" environment (Settings → CI/CD → Protected environments; GitLab's settings,
# not this file).
production:
  stage: production
  needs: [staging]
  rules:
    - if: ${onDefault}
      when: manual
  variables:
    # Who promotes, in the audit history: the person who started this manual job.
    DAGWOOD_USER: $GITLAB_USER_LOGIN
  environment:
    name: ${s.productionTarget}
  resource_group: dagwood-registry
  cache:
    - key: npm
      paths: [.npm/]
    - key: dagwood-registry
      paths: [${store}/]
      policy: push
  script:
    - npx dagwood models alias ${s.model} production "$DAGWOOD_VERSION" --project ${p}
    - npx dagwood deploy ${s.model}@production --target ${s.productionTarget} --project ${p}
`;
}

export function ciWorkflow(provider: CiProvider, s: CiSettings): string {
  return provider === "github" ? githubWorkflow(s) : gitlabWorkflow(s);
}

/** Whether the repository root has a package.json that names dagwood (the workflows run `npm ci`, then `npx dagwood`). */
export function packageNamesDagwood(repoRoot: string): boolean {
  const file = join(repoRoot, "package.json");
  if (!existsSync(file)) return false;
  try {
    const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, unknown> | undefined>;
    return ["dependencies", "devDependencies", "optionalDependencies"].some((k) =>
      Boolean(pkg[k] && Object.hasOwn(pkg[k], "dagwood")),
    );
  } catch {
    return false;
  }
}

/** The flags of `dagwood init --ci` (parsed in init.ts). */
export interface InitCiFlags {
  force?: boolean;
  pipeline?: string;
  model?: string;
  "production-target"?: string;
  branch?: string;
}

/**
 * Writes the workflow for `provider` into the repository at `repoRoot` for the
 * project at `projectDir`: exit 0 written, 1 a file is there (without
 * --force), 2 a setting that cannot be written.
 */
export async function initCi(
  repoRoot: string,
  projectDir: string,
  provider: CiProvider,
  flags: InitCiFlags,
  io: Io,
): Promise<number> {
  const { ProjectSettingsError } = await import("../project/project");
  let defaults: CiDefaults;
  try {
    defaults = await ciDefaults(projectDir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const pipeline = flags.pipeline?.replace(/^\.\//, "") ?? defaults.pipeline;
  const model =
    flags.model ??
    (flags.pipeline === undefined
      ? defaults.model
      : defaults.training.find((t) => t.pipeline === pipeline)?.models[0]);
  const settings: CiSettings = {
    project: projectInRepo(repoRoot, projectDir),
    pipeline: pipeline ?? PLACEHOLDER.pipeline,
    model: model ?? PLACEHOLDER.model,
    productionTarget: flags["production-target"] ?? "production",
    branch: flags.branch ?? "main",
  };
  const problem = ciSettingProblem(settings);
  if (problem) throw new UsageError(problem);
  if (flags.pipeline !== undefined && !existsSync(join(projectDir, settings.pipeline))) {
    io.stderr.write(
      `--pipeline ${flags.pipeline}: no such file in the project ${projectDir} (give the training pipeline's path relative to the project).\n`,
    );
    return EXIT.invalid;
  }
  const file = join(repoRoot, CI_FILES[provider]);
  if (existsSync(file) && !flags.force) {
    io.stderr.write(
      `${file} is already there: dagwood init --ci ${provider} does not overwrite it. Compare it with what it would write, or pass --force to replace it.\n`,
    );
    return EXIT.failed;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, ciWorkflow(provider, settings));

  const edits: string[] = [];
  if (pipeline === undefined)
    edits.push(
      `the training pipeline: no pipeline of the project registers a model, so the workflow runs ${PLACEHOLDER.pipeline} (a placeholder); write yours, or run again with --pipeline FILE --force`,
    );
  if (model === undefined)
    edits.push(
      `the model: ${pipeline === undefined ? "no pipeline registers one" : `${settings.pipeline} registers none by a fixed name`}, so the workflow names ${PLACEHOLDER.model} (a placeholder); write yours, or run again with --model NAME --force`,
    );
  if (pipeline !== undefined && !hasGate(readFileSync(join(projectDir, settings.pipeline), "utf8")))
    edits.push(
      `${settings.pipeline} has no gate node: moving production needs a version that passed its gate (and was deployed to "${STAGING}"), so the production job will be refused; add a gate (e.g. accuracy >= a threshold) before the first promotion`,
    );
  for (const target of [STAGING, settings.productionTarget])
    if (!defaults.targets.includes(target))
      edits.push(
        `dagwood.json has no target "${target}": add it ("targets": { "${target}": { "url": …, "kind": "dagwood" } }) and its token as the CI secret ${tokenVariable(target)}`,
      );
  if (!packageNamesDagwood(repoRoot))
    edits.push(
      `${join(repoRoot, "package.json")} does not name dagwood: the workflow runs npm ci, then npx dagwood; add dagwood to its devDependencies and commit package-lock.json`,
    );
  const others = defaults.training.filter((t) => t.pipeline !== settings.pipeline);
  io.stdout.write(
    `Wrote ${file}: on a ${provider === "github" ? "pull request" : "merge request"}, dagwood ci; on ${settings.branch}, dagwood test (once tests/*.test.json exist), ` +
      `then ${settings.pipeline} registers ${settings.model}, staging moves to the new version and it is deployed to "${STAGING}" (parity checked); ` +
      `promotion to "${settings.productionTarget}" is a ${provider === "github" ? "job of the GitHub environment" : "manual job"} "${settings.productionTarget}".\n` +
      (provider === "github"
        ? `Require reviewers for it in GitHub: Settings → Environments → ${settings.productionTarget} → Required reviewers.\n`
        : `Require approval for it in GitLab: Settings → CI/CD → Protected environments → ${settings.productionTarget}.\n`) +
      (others.length
        ? `Other pipelines that register a model: ${others.map((t) => `${t.pipeline} (${t.models.join(", ")})`).join("; ")}; choose with --pipeline FILE --model NAME --force.\n`
        : "") +
      (edits.length ? `Before the first run, edit:\n${edits.map((e) => `  - ${e}\n`).join("")}` : ""),
  );
  return EXIT.ok;
}
