/**
 * Governance findings over a project's artifacts (what `dagwood governance`
 * and the Api's `governanceReport` answer): datasets (dagwood.json
 * `datasets`), pipelines (`*.dag.json` in the project), suites
 * (`expectations/*.json`, governance in `meta.dagwood`) and registered
 * models, each with no owner, past its review date, or deprecated and still
 * used. `governanceFindings` is a pure function of what `collectGovernance`
 * reads, so the rules are tested without a project on disk.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { type ParseError, parse as parseJson } from "jsonc-parser";
import { substitute } from "../pipeline/params";
import type { MetadataStore, RegisteredModel } from "../store/types";
import {
  Deprecation,
  type Governance,
  type GovernanceFinding,
  type GovernanceFindingKind,
  IsoDate,
} from "../values/governance";
import type { PersonalDataUse } from "../values/privacy";
import { describeUseWithTags } from "../values/privacy-tags";
import { findDatasetEntry } from "./datasets";
import type { ProjectSettings } from "./project";

/** How far back a run counts as still using a deprecated dataset or pipeline. */
export const RECENT_DAYS = 30;

/** The rules, in words: printed by `dagwood governance --help` and given in its JSON. */
export const GOVERNANCE_RULES: Record<GovernanceFindingKind, string> = {
  noOwner: "a dataset, pipeline, suite or registered model with no owner",
  pastReview: "its reviewBy date is before today (a review due today is not past)",
  deprecatedInUse:
    `deprecated and still used: a dataset read by a pipeline file in the project or by a run in the last ${RECENT_DAYS} days; ` +
    "a suite attached to a dataset in dagwood.json or referenced by a pipeline; " +
    "a model with an alias, a deployment (the registry's audit log) or a pipeline that registers to it; " +
    `a pipeline run in the last ${RECENT_DAYS} days`,
  personalData:
    "a registered model with a ready version trained on tagged columns (pii, sensitive or the project's own tags; the version's lineage.personalData)",
};

/** Ascending version numbers as ranges, "v1–v3, v5": a model with hundreds of versions stays one short line. */
function versionRanges(versions: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < versions.length; ) {
    let j = i;
    while (j + 1 < versions.length && versions[j + 1] === versions[j]! + 1) j++;
    out.push(j > i ? `v${versions[i]}–v${versions[j]}` : `v${versions[i]}`);
    i = j + 1;
  }
  return out.join(", ");
}

/** The governance of one artifact, as far as its file could be read (`problem`: what could not). */
interface Governed {
  governance: Governance;
  problem?: string;
}

/** A pipeline file, read leniently: a file with other problems still says who owns it and what it uses. */
export interface PipelineFacts extends Governed {
  /** Relative to the project, with "/". */
  path: string;
  name: string;
  /** Absolute paths `ingest.file` nodes read (after `${param}` substitution). */
  reads: string[];
  /** Suite paths `validate.expectations` nodes use, normalized ("expectations/x.json"). */
  suites: string[];
  /** Model names `register` nodes register to. */
  registers: string[];
}

export interface SuiteFacts extends Governed {
  /** Relative to the project, "expectations/x.json". */
  path: string;
}

export interface RecentRun {
  id: string;
  pipeline: string;
  pipelinePath: string | null;
  startedAt: string;
  /** The sources of the datasets it read (relative to the project, or absolute). */
  datasets: string[];
}

export interface GovernanceInputs {
  projectDir: string;
  settings: Pick<ProjectSettings, "datasets" | "dataFolders" | "governance">;
  pipelines: PipelineFacts[];
  suites: SuiteFacts[];
  models: RegisteredModel[];
  /** Per model: the targets the audit log records a deployment of it to. */
  deployments: Record<string, string[]>;
  /** Runs started in the last RECENT_DAYS days. */
  recentRuns: RecentRun[];
  /** Per model: its ready versions trained on tagged columns, with their uses (ModelLineage.personalData). */
  personalData?: Record<string, { version: number; uses: PersonalDataUse[] }[]>;
  /** Today, YYYY-MM-DD (UTC). */
  today: string;
}

const toPosix = (p: string) => p.split(sep).join("/");
/** A project path as written, compared: "./expectations//x.json" is "expectations/x.json". */
const normalize = (p: string) => posix.normalize(toPosix(p)).replace(/^\.\//, "");

/** Days from `from` to `to` (YYYY-MM-DD each). */
function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** "a", "a and b", "a, b and c"; more than `max` end with "and N more". */
function listOf(items: readonly string[], max = 4): string {
  const shown = items.slice(0, max);
  const rest = items.length - shown.length;
  if (rest > 0) return `${shown.join(", ")} and ${rest} more`;
  return shown.length <= 1 ? (shown[0] ?? "") : `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

interface Artifact {
  kind: GovernanceFinding["artifact"]["kind"];
  name: string;
  path?: string;
  governance: Governance;
  problem?: string;
  /** How to set an owner, and the next review date: imperative clauses. */
  setOwner: string;
  setReview: string;
  /** Who still uses it, when it is deprecated. */
  usedBy: () => string[];
}

const TITLE = { dataset: "Dataset", pipeline: "Pipeline", suite: "Suite", model: "Model" } as const;

function label(a: Artifact): string {
  return a.kind === "dataset" || a.kind === "model"
    ? `${TITLE[a.kind]} "${a.name}"`
    : `${TITLE[a.kind]} ${a.path}`;
}

/** The findings, sorted by kind (noOwner, pastReview, deprecatedInUse), then artifact kind and name. */
export function governanceFindings(inputs: GovernanceInputs): GovernanceFinding[] {
  const { settings, projectDir } = inputs;
  const recentRuns = [...inputs.recentRuns].sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  const datasetOf = (abs: string) => findDatasetEntry(settings, projectDir, abs)?.name;
  const runsNamed = (runs: RecentRun[]) =>
    runs.map((r) => `run ${r.id}${r.pipelinePath ? ` (${r.pipelinePath})` : ` (${r.pipeline})`}`);

  const artifacts: Artifact[] = [];
  for (const [name, entry] of Object.entries(settings.datasets)) {
    const { owner, purpose, reviewBy, deprecated } = entry;
    artifacts.push({
      kind: "dataset",
      name,
      path: entry.path,
      governance: { owner, purpose, reviewBy, deprecated },
      setOwner: `set "owner" on datasets.${name} in dagwood.json (or on its page in the Data view)`,
      setReview: `set the next "reviewBy" on datasets.${name} in dagwood.json`,
      usedBy: () => {
        const pipelines = inputs.pipelines
          .filter((p) => p.reads.some((abs) => datasetOf(abs) === name))
          .map((p) => p.path);
        const runs = recentRuns.filter((r) =>
          r.datasets.some(
            (source) => datasetOf(isAbsolute(source) ? source : resolve(projectDir, source)) === name,
          ),
        );
        return [...pipelines, ...runsNamed(runs)];
      },
    });
  }
  for (const p of inputs.pipelines) {
    artifacts.push({
      kind: "pipeline",
      name: p.name,
      path: p.path,
      governance: p.governance,
      problem: p.problem,
      setOwner: `set "owner" in ${p.path} (or in the editor's pipeline settings)`,
      setReview: `set the next "reviewBy" in ${p.path}`,
      usedBy: () => runsNamed(recentRuns.filter((r) => r.pipelinePath === p.path)),
    });
  }
  for (const s of inputs.suites) {
    artifacts.push({
      kind: "suite",
      name: s.path,
      path: s.path,
      governance: s.governance,
      problem: s.problem,
      setOwner: `set meta.dagwood.owner in ${s.path}`,
      setReview: `set the next meta.dagwood.reviewBy in ${s.path}`,
      usedBy: () => {
        const attached = Object.entries(settings.datasets)
          .filter(([, d]) => d.suites.some((x) => normalize(x) === s.path))
          .map(([name]) => `dataset ${name} (dagwood.json)`);
        const pipelines = inputs.pipelines.filter((p) => p.suites.includes(s.path)).map((p) => p.path);
        return [...attached, ...pipelines];
      },
    });
  }
  for (const m of inputs.models) {
    artifacts.push({
      kind: "model",
      name: m.name,
      governance: {
        ...(m.owner ? { owner: m.owner } : {}),
        ...(m.purpose ? { purpose: m.purpose } : {}),
        ...(m.reviewBy ? { reviewBy: m.reviewBy } : {}),
        ...(m.deprecated ? { deprecated: m.deprecated } : {}),
      },
      setOwner: `set one with \`dagwood models update ${m.name} --owner NAME\` (or on its page in the Models view)`,
      setReview: `set the next date with \`dagwood models update ${m.name} --review-by YYYY-MM-DD\``,
      usedBy: () => [
        ...Object.entries(m.aliases)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([alias, v]) => `alias ${alias} → v${v}`),
        ...(inputs.deployments[m.name] ?? []).map((t) => `deployed to ${t}`),
        ...inputs.pipelines.filter((p) => p.registers.includes(m.name)).map((p) => p.path),
      ],
    });
  }

  const findings: GovernanceFinding[] = [];
  for (const a of artifacts) {
    const artifact = { kind: a.kind, name: a.name, ...(a.path !== undefined ? { path: a.path } : {}) };
    const owner = a.governance.owner?.trim();
    if (!owner) {
      const unread = a.problem ? ` (its governance fields could not all be read: ${a.problem})` : "";
      findings.push({
        kind: "noOwner",
        artifact,
        message: `${label(a)} has no owner${unread}: ${a.setOwner}.`,
      });
    }
    const due = a.governance.reviewBy;
    // YYYY-MM-DD strings compare as dates: due today is not past, due yesterday is.
    if (due !== undefined && due < inputs.today) {
      const late = daysBetween(due, inputs.today);
      findings.push({
        kind: "pastReview",
        artifact,
        message: `${label(a)} was due for review on ${due} (${plural(late, "day")} ago${owner ? `; owner ${owner}` : ""}). Review it, then ${a.setReview}.`,
      });
    }
    const dep = a.governance.deprecated;
    if (dep) {
      const usedBy = a.usedBy();
      if (usedBy.length) {
        const instead = dep.replacement
          ? `Move its users to ${dep.replacement}, its replacement`
          : "It names no replacement: ask its owner what to use instead, move its users there";
        const thenWhat =
          a.kind === "model"
            ? "then remove its aliases (dagwood models alias NAME ALIAS --remove)"
            : a.kind === "dataset"
              ? "then remove the dataset's entry from dagwood.json"
              : a.kind === "suite"
                ? "then detach and delete the suite"
                : "then delete the pipeline file";
        findings.push({
          kind: "deprecatedInUse",
          artifact,
          message: `${label(a)} is deprecated${dep.since ? ` since ${dep.since}` : ""} (${dep.reason.trim().replace(/[.\s]+$/, "")}) but still used by ${listOf(usedBy)}. ${instead}, ${thenWhat}.`,
          usedBy,
          ...(dep.replacement !== undefined ? { replacement: dep.replacement } : {}),
        });
      }
    }
  }
  for (const [model, versions] of Object.entries(inputs.personalData ?? {})) {
    if (!versions.length) continue;
    const described = versions.map((v) => ({ version: v.version, uses: v.uses.map(describeUseWithTags) }));
    // One line per use, with the versions that have it: "email_domain ← email (pii) in v1, v2".
    const byUse = new Map<string, number[]>();
    for (const v of described)
      for (const u of v.uses) {
        const vs = byUse.get(u);
        if (vs) vs.push(v.version);
        else byUse.set(u, [v.version]);
      }
    const uses = [...byUse].map(([use, vs]) => `${use} in ${versionRanges(vs)}`);
    findings.push({
      kind: "personalData",
      artifact: { kind: "model", name: model },
      message: `Model "${model}" uses personal data: ${uses.join("; ")}. Check that its purpose covers this use (dagwood models update ${model} --purpose TEXT), or train it without those columns and archive these versions.`,
      personalData: described,
    });
  }
  const kindOrder: GovernanceFindingKind[] = ["noOwner", "pastReview", "deprecatedInUse", "personalData"];
  const artifactOrder = ["dataset", "pipeline", "suite", "model"];
  return findings.sort(
    (x, y) =>
      kindOrder.indexOf(x.kind) - kindOrder.indexOf(y.kind) ||
      artifactOrder.indexOf(x.artifact.kind) - artifactOrder.indexOf(y.artifact.kind) ||
      (x.artifact.name < y.artifact.name ? -1 : x.artifact.name > y.artifact.name ? 1 : 0),
  );
}

// ---------------------------------------------------------------- reading the project

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v);

/**
 * The governance fields of a pipeline file or a suite's meta.dagwood, each on
 * its own: a bad reviewBy does not hide the owner. `problem` says which could
 * not be read.
 */
export function readGovernance(raw: unknown): Governed {
  const governance: Governance = {};
  const problems: string[] = [];
  if (!isObject(raw)) return { governance };
  if (typeof raw.owner === "string" && raw.owner.trim()) governance.owner = raw.owner;
  else if (raw.owner !== undefined && typeof raw.owner !== "string") problems.push("owner is not text");
  if (typeof raw.purpose === "string") governance.purpose = raw.purpose;
  if (raw.reviewBy !== undefined) {
    const r = IsoDate.safeParse(raw.reviewBy);
    if (r.success) governance.reviewBy = r.data;
    else problems.push(`reviewBy ${JSON.stringify(raw.reviewBy)}: ${r.error.issues[0]!.message}`);
  }
  if (raw.deprecated !== undefined) {
    const r = Deprecation.safeParse(raw.deprecated);
    if (r.success) governance.deprecated = r.data;
    else if (isObject(raw.deprecated) && typeof raw.deprecated.reason === "string" && raw.deprecated.reason) {
      // Still deprecated, whatever else is wrong with the field.
      governance.deprecated = { reason: raw.deprecated.reason };
      if (typeof raw.deprecated.replacement === "string")
        governance.deprecated.replacement = raw.deprecated.replacement;
      problems.push(`deprecated: ${r.error.issues[0]!.message}`);
    } else problems.push(`deprecated: ${r.error.issues[0]!.message}`);
  }
  return { governance, ...(problems.length ? { problem: problems.join("; ") } : {}) };
}

/** What a pipeline file says of itself and uses, read leniently (an invalid pipeline still has an owner). */
export function pipelineFacts(projectDir: string, path: string, text: string): PipelineFacts {
  const errors: ParseError[] = [];
  const raw = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, errors) as unknown;
  const rel = toPosix(path);
  // What parses of a broken file still counts (the owner before the typo); the problem is said.
  const broken = errors.length ? `not valid JSON at offset ${errors[0]!.offset}` : undefined;
  if (!isObject(raw))
    return {
      path: rel,
      name: rel,
      governance: {},
      problem: broken ?? "not a JSON object",
      reads: [],
      suites: [],
      registers: [],
    };
  const params = isObject(raw.params) ? raw.params : {};
  const nodes = Array.isArray(raw.nodes) ? raw.nodes.filter(isObject) : [];
  const reads: string[] = [];
  const suites: string[] = [];
  const registers: string[] = [];
  for (const node of nodes) {
    const p = substitute(isObject(node.params) ? node.params : {}, params) as Record<string, unknown>;
    if (node.block === "ingest.file" && typeof p.path === "string" && !p.path.includes("${"))
      reads.push(isAbsolute(p.path) ? resolve(p.path) : resolve(projectDir, p.path));
    if (node.block === "validate.expectations" && isObject(p.suite) && typeof p.suite.path === "string")
      suites.push(normalize(p.suite.path));
    if (node.block === "register" && typeof p.name === "string") registers.push(p.name);
  }
  const { governance, problem } = readGovernance(raw);
  const problems = [broken, problem].filter(Boolean).join("; ");
  return {
    path: rel,
    name: typeof raw.name === "string" ? raw.name : rel,
    governance,
    ...(problems ? { problem: problems } : {}),
    reads,
    suites,
    registers,
  };
}

/** Not searched for pipelines: Dagwood's own state, dependencies, exported runs (which hold pipeline copies). */
const SKIP_DIRS = new Set([".dagwood", "node_modules", ".git", "exports"]);

/** `*.dag.json` files in the project, relative with "/", sorted (as the app's project listing finds them). */
async function findPipelineFiles(dir: string, root = dir, depth = 0): Promise<string[]> {
  if (depth > 4) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && !SKIP_DIRS.has(e.name))
      found.push(...(await findPipelineFiles(join(dir, e.name), root, depth + 1)));
    else if (e.isFile() && e.name.endsWith(".dag.json"))
      found.push(toPosix(relative(root, join(dir, e.name))));
  }
  return found.sort();
}

async function readSuites(projectDir: string): Promise<SuiteFacts[]> {
  const dir = join(projectDir, "expectations");
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile() && e.name.endsWith(".json"))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name): Promise<SuiteFacts> => {
      const path = `expectations/${name}`;
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(join(dir, name), "utf8"));
      } catch (e) {
        return { path, governance: {}, problem: `not valid JSON (${(e as Error).message})` };
      }
      const meta = isObject(raw) && isObject(raw.meta) ? raw.meta : {};
      return { path, ...readGovernance(meta.dagwood) };
    }),
  );
}

const DEPLOYED = new Set(["deployment.succeeded", "deployment.rolledBack"]);

/** The runs started since `since` (ISO time), newest first, with the sources of the datasets each read. */
function recentRuns(metadata: MetadataStore, since: string): RecentRun[] {
  // listRuns pages by start time, newest first: ask for more until the oldest is before `since`.
  let limit = 500;
  let runs = metadata.listRuns({ limit });
  while (runs.length === limit && runs.at(-1)!.startedAt >= since) {
    limit *= 4;
    runs = metadata.listRuns({ limit });
  }
  return runs
    .filter((r) => r.startedAt >= since)
    .map((r) => ({
      id: r.id,
      pipeline: r.pipeline,
      pipelinePath: r.pipelinePath === null ? null : normalize(r.pipelinePath),
      startedAt: r.startedAt,
      datasets: [...new Set(metadata.datasets(r.id).map((d) => d.source))],
    }));
}

export interface CollectOptions {
  settings: ProjectSettings;
  /** The project's metadata store; null when it has none yet (no runs, no models). */
  metadata: MetadataStore | null;
  /** The clock (tests fix it): today and the last RECENT_DAYS days are taken from it. */
  now?: Date;
}

/** Reads what the findings are made of: the project's files, its registry and its recent runs. */
export async function collectGovernance(projectDir: string, opts: CollectOptions): Promise<GovernanceInputs> {
  const dir = resolve(projectDir);
  const now = opts.now ?? new Date();
  const pipelines = await Promise.all(
    (await findPipelineFiles(dir)).map(async (path) => {
      try {
        return pipelineFacts(dir, path, await readFile(join(dir, path), "utf8"));
      } catch {
        return pipelineFacts(dir, path, "null");
      }
    }),
  );
  const { metadata } = opts;
  const models = metadata ? metadata.registry.listModels() : [];
  const deployments: Record<string, string[]> = {};
  for (const m of models) {
    if (!m.deprecated) continue; // only a deprecated model's deployments matter
    const targets = metadata!.registry
      .audit({ model: m.name, limit: 10_000 })
      .filter((e) => DEPLOYED.has(e.action) && typeof e.details.target === "string")
      .map((e) => e.details.target as string);
    if (targets.length) deployments[m.name] = [...new Set(targets)].sort();
  }
  const personalData: NonNullable<GovernanceInputs["personalData"]> = {};
  for (const m of models) {
    const versions = metadata!.registry
      .listVersions(m.name)
      .filter((v) => v.status === "ready" && v.lineage.personalData?.length)
      .map((v) => ({ version: v.version, uses: v.lineage.personalData! }))
      .sort((a, b) => a.version - b.version);
    if (versions.length) personalData[m.name] = versions;
  }
  const since = new Date(now.getTime() - RECENT_DAYS * 86_400_000).toISOString();
  return {
    personalData,
    projectDir: dir,
    settings: opts.settings,
    pipelines,
    suites: await readSuites(dir),
    models,
    deployments,
    recentRuns: metadata ? recentRuns(metadata, since) : [],
    today: now.toISOString().slice(0, 10),
  };
}

export interface GovernanceReport {
  findings: GovernanceFinding[];
  failOn: GovernanceFindingKind[];
}

/** The project's findings and its policy (dagwood.json `governance.failOn`). */
export async function governanceReport(projectDir: string, opts: CollectOptions): Promise<GovernanceReport> {
  const inputs = await collectGovernance(projectDir, opts);
  return { findings: governanceFindings(inputs), failOn: [...opts.settings.governance.failOn] };
}

/** Whether the report fails the project's policy: a finding of a kind `failOn` names. */
export function failsPolicy(report: GovernanceReport): boolean {
  return report.findings.some((f) => report.failOn.includes(f.kind));
}

/** The metadata store's file, when the project has one. */
export const metadataFile = (projectDir: string): string | undefined => {
  const file = join(resolve(projectDir), ".dagwood", "metadata.sqlite");
  return existsSync(file) ? file : undefined;
};
