import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "../store/metadata";
import type { RegisteredModel } from "../store/types";
import { GovernanceFinding } from "../values/governance";
import {
  collectGovernance,
  type GovernanceInputs,
  governanceFindings,
  governanceReport,
  pipelineFacts,
  type RecentRun,
} from "./governance";
import { ProjectSettingsSchema } from "./project";

const DIR = "/projects/p";
const TODAY = "2026-12-06";

const model = (over: Partial<RegisteredModel> = {}): RegisteredModel => ({
  name: "churn",
  description: "",
  owner: "ana",
  purpose: null,
  reviewBy: null,
  deprecated: null,
  tags: {},
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:00Z",
  latestVersion: 1,
  aliases: {},
  versions: 1,
  ...over,
});

const pipeline = (path: string, doc: Record<string, unknown>) =>
  pipelineFacts(
    DIR,
    path,
    JSON.stringify({ format: "dagwood.pipeline/1", name: path, owner: "ana", ...doc }),
  );

function inputs(
  over: Partial<GovernanceInputs> & { datasets?: Record<string, unknown> } = {},
): GovernanceInputs {
  const { datasets, ...rest } = over;
  return {
    projectDir: DIR,
    settings: ProjectSettingsSchema.parse({ datasets: datasets ?? {} }),
    pipelines: [],
    suites: [],
    models: [],
    deployments: {},
    recentRuns: [],
    today: TODAY,
    ...rest,
  };
}

const kinds = (i: GovernanceInputs) =>
  governanceFindings(i).map((f) => `${f.kind} ${f.artifact.kind} ${f.artifact.name}`);

describe("governance findings", () => {
  it("noOwner: each kind of artifact without an owner, and none with one (blank counts as none)", () => {
    const i = inputs({
      datasets: { flights: { path: "data/flights.csv" }, owned: { path: "data/o.csv", owner: "ana" } },
      pipelines: [pipeline("a.dag.json", { owner: undefined }), pipeline("b.dag.json", { owner: "bo" })],
      suites: [
        { path: "expectations/x.json", governance: {} },
        { path: "expectations/y.json", governance: { owner: "  " } },
        { path: "expectations/z.json", governance: { owner: "cy" } },
      ],
      models: [model({ name: "m1", owner: null }), model({ name: "m2" })],
    });
    expect(kinds(i)).toEqual([
      "noOwner dataset flights",
      "noOwner pipeline a.dag.json",
      "noOwner suite expectations/x.json",
      "noOwner suite expectations/y.json",
      "noOwner model m1",
    ]);
    const messages = governanceFindings(i).map((f) => f.message);
    expect(messages[0]).toBe(
      'Dataset "flights" has no owner: set "owner" on datasets.flights in dagwood.json (or on its page in the Data view).',
    );
    expect(messages[4]).toBe(
      'Model "m1" has no owner: set one with `dagwood models update m1 --owner NAME` (or on its page in the Models view).',
    );
    // Every finding is a valid GovernanceFinding (the Api's and --json's shape).
    for (const f of governanceFindings(i)) expect(GovernanceFinding.parse(f)).toEqual(f);
  });

  it("pastReview: due yesterday is past, due today is not, and the message says how late and what to do", () => {
    const i = inputs({
      datasets: {
        yesterday: { path: "a.csv", owner: "ana", reviewBy: "2026-12-05" },
        today: { path: "b.csv", owner: "ana", reviewBy: "2026-12-06" },
        tomorrow: { path: "c.csv", owner: "ana", reviewBy: "2026-12-07" },
      },
      pipelines: [pipeline("old.dag.json", { reviewBy: "2025-12-06" })],
      suites: [{ path: "expectations/s.json", governance: { owner: "o", reviewBy: "2026-12-06" } }],
      models: [model({ reviewBy: "2026-11-30" })],
    });
    expect(kinds(i)).toEqual([
      "pastReview dataset yesterday",
      "pastReview pipeline old.dag.json",
      "pastReview model churn",
    ]);
    const [ds, pl, md] = governanceFindings(i).map((f) => f.message);
    expect(ds).toBe(
      'Dataset "yesterday" was due for review on 2026-12-05 (1 day ago; owner ana). Review it, then set the next "reviewBy" on datasets.yesterday in dagwood.json.',
    );
    expect(pl).toMatch(
      /^Pipeline old\.dag\.json was due for review on 2025-12-06 \(365 days ago; owner ana\)/,
    );
    expect(md).toMatch(/6 days ago.*dagwood models update churn --review-by YYYY-MM-DD/);
    // The boundary moves with the clock: the day after, "today" is past too.
    expect(kinds({ ...i, today: "2026-12-07" })).toContain("pastReview dataset today");
    expect(kinds({ ...i, today: "2026-12-07" })).toContain("pastReview suite expectations/s.json");
  });

  it("deprecatedInUse, datasets: read by a pipeline file (glob entry, ${param} path) or a recent run; else nothing", () => {
    const deprecated = { reason: "Replaced by the 2025 extract.", replacement: "flights2025" };
    const reader = pipeline("train.dag.json", {
      params: { file: "data/2024/flights.csv" },
      nodes: [{ id: "in", block: "ingest.file", params: { path: "${file}" } }],
    });
    const run = (id: string, datasets: string[], pipelinePath: string | null = null): RecentRun => ({
      id,
      pipeline: "adhoc",
      pipelinePath,
      startedAt: "2026-12-01T10:00:00.000Z",
      datasets,
    });
    const datasets = {
      flights2024: { path: "data/2024/*.csv", owner: "ana", deprecated },
      unused: { path: "data/old.csv", owner: "ana", deprecated: { reason: "gone" } },
    };
    const i = inputs({
      datasets,
      pipelines: [reader, pipeline("other.dag.json", { nodes: [] })],
      recentRuns: [run("r1", ["data/2024/b.csv"]), run("r2", ["data/2025/b.csv"])],
    });
    const found = governanceFindings(i);
    expect(found).toEqual([
      {
        kind: "deprecatedInUse",
        artifact: { kind: "dataset", name: "flights2024", path: "data/2024/*.csv" },
        message:
          'Dataset "flights2024" is deprecated (Replaced by the 2025 extract) but still used by train.dag.json and run r1 (adhoc). Move its users to flights2025, its replacement, then remove the dataset\'s entry from dagwood.json.',
        usedBy: ["train.dag.json", "run r1 (adhoc)"],
        replacement: "flights2025",
      },
    ]);
    // Only the run: still in use. Neither: no finding.
    expect(kinds(inputs({ datasets, recentRuns: [run("r1", [`${DIR}/data/2024/a.csv`])] }))).toEqual([
      "deprecatedInUse dataset flights2024",
    ]);
    expect(kinds(inputs({ datasets, pipelines: [pipeline("other.dag.json", { nodes: [] })] }))).toEqual([]);
  });

  it("deprecatedInUse, suites: attached to a dataset or used by a pipeline; the message without a replacement says to ask", () => {
    const suites = [
      { path: "expectations/old.json", governance: { owner: "o", deprecated: { reason: "too loose" } } },
      { path: "expectations/idle.json", governance: { owner: "o", deprecated: { reason: "x" } } },
    ];
    const attached = inputs({
      suites,
      datasets: { flights: { path: "f.csv", owner: "ana", suites: ["./expectations/old.json"] } },
    });
    const [f] = governanceFindings(attached);
    expect(f).toMatchObject({
      kind: "deprecatedInUse",
      artifact: { kind: "suite", name: "expectations/old.json" },
      usedBy: ["dataset flights (dagwood.json)"],
    });
    expect(f!.message).toMatch(/It names no replacement: ask its owner what to use instead/);
    expect(f!.replacement).toBeUndefined();
    const referenced = inputs({
      suites,
      pipelines: [
        pipeline("check.dag.json", {
          nodes: [
            { id: "v", block: "validate.expectations", params: { suite: { path: "expectations/old.json" } } },
          ],
        }),
        pipeline("inline.dag.json", {
          nodes: [{ id: "v", block: "validate.expectations", params: { suite: { inline: {} } } }],
        }),
      ],
    });
    expect(governanceFindings(referenced).map((x) => x.usedBy)).toEqual([["check.dag.json"]]);
    expect(kinds(inputs({ suites }))).toEqual([]);
  });

  it("deprecatedInUse, models: an alias, a deployment or a pipeline registering to it", () => {
    const deprecated = { reason: "stale", replacement: "churn-v2", since: "2026-11-01" };
    const registers = pipeline("train.dag.json", {
      nodes: [{ id: "r", block: "register", params: { name: "churn" } }],
    });
    expect(kinds(inputs({ models: [model({ deprecated })] }))).toEqual([]);
    const viaAlias = governanceFindings(
      inputs({ models: [model({ deprecated, aliases: { champion: 3 } })] }),
    );
    expect(viaAlias[0]!.usedBy).toEqual(["alias champion → v3"]);
    expect(viaAlias[0]!.message).toBe(
      'Model "churn" is deprecated since 2026-11-01 (stale) but still used by alias champion → v3. Move its users to churn-v2, its replacement, then remove its aliases (dagwood models alias NAME ALIAS --remove).',
    );
    const viaDeploy = governanceFindings(
      inputs({ models: [model({ deprecated })], deployments: { churn: ["staging"] } }),
    );
    expect(viaDeploy[0]!.usedBy).toEqual(["deployed to staging"]);
    const viaPipeline = governanceFindings(
      inputs({ models: [model({ deprecated })], pipelines: [registers] }),
    );
    expect(viaPipeline[0]!.usedBy).toEqual(["train.dag.json"]);
    // Not deprecated: an alias is just an alias.
    expect(kinds(inputs({ models: [model({ aliases: { champion: 3 } })], pipelines: [registers] }))).toEqual(
      [],
    );
  });

  it("deprecatedInUse, pipelines: run from its file in the last 30 days; a run of another file does not count", () => {
    const old = pipeline("old.dag.json", { deprecated: { reason: "r", replacement: "new.dag.json" } });
    const run = (pipelinePath: string): RecentRun => ({
      id: "r9",
      pipeline: "x",
      pipelinePath,
      startedAt: "2026-12-01T00:00:00Z",
      datasets: [],
    });
    expect(kinds(inputs({ pipelines: [old], recentRuns: [run("old.dag.json")] }))).toEqual([
      "deprecatedInUse pipeline old.dag.json",
    ]);
    expect(kinds(inputs({ pipelines: [old], recentRuns: [run("new.dag.json")] }))).toEqual([]);
    expect(kinds(inputs({ pipelines: [old] }))).toEqual([]);
  });

  it("reads an invalid pipeline's governance leniently: a bad reviewBy does not hide the owner or the deprecation", () => {
    const facts = pipelineFacts(
      DIR,
      "bad.dag.json",
      JSON.stringify({
        name: "bad",
        owner: "ana",
        reviewBy: "2026-02-30",
        deprecated: { reason: "old", since: "x" },
      }),
    );
    expect(facts.governance).toEqual({ owner: "ana", deprecated: { reason: "old" } });
    expect(facts.problem).toMatch(/reviewBy "2026-02-30": not a calendar date/);
    const broken = pipelineFacts(DIR, "x.dag.json", '{ "owner": "ana", nodes: ');
    expect(broken.problem).toMatch(/^not valid JSON at offset \d+$/);
    expect(broken.governance).toEqual({ owner: "ana" });
    expect(pipelineFacts(DIR, "x.dag.json", "[1]").problem).toBe("not a JSON object");
  });
});

describe("governance of a project on disk", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
  });
  afterEach(() => cleanup());

  it("finds pipelines in subfolders (not in exports/ or .dagwood/), suites, models and recent runs with their datasets", async () => {
    mkdirSync(join(dir, "pipelines"));
    mkdirSync(join(dir, "exports", "run-1"), { recursive: true });
    mkdirSync(join(dir, "expectations"));
    const doc = (name: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ format: "dagwood.pipeline/1", name, nodes: [], ...extra });
    writeFileSync(
      join(dir, "pipelines", "old.dag.json"),
      doc("old", { owner: "ana", deprecated: { reason: "r" } }),
    );
    writeFileSync(join(dir, "exports", "run-1", "pipeline.dag.json"), doc("copy"));
    writeFileSync(
      join(dir, "expectations", "s.json"),
      JSON.stringify({ expectation_suite_name: "s", expectations: [] }),
    );
    writeFileSync(join(dir, "expectations", "broken.json"), "{");
    store.registry.upsertModel("churn", { owner: "bo", reviewBy: "2026-12-01" }, "bo");
    const now = new Date("2026-12-06T12:00:00Z");
    const start = (id: string, at: string) =>
      store.startRun({
        id,
        pipeline: "old",
        pipelinePath: "pipelines/old.dag.json",
        pipelineHash: null,
        pipelineText: null,
        params: {},
        resolvedParams: {},
        startedAt: at,
        environment: {},
        user: null,
      } as unknown as Parameters<typeof store.startRun>[0]);
    start("recent", "2026-11-20T00:00:00.000Z");
    start("old-run", "2026-10-01T00:00:00.000Z");
    store.recordDataset("recent", "in", {
      digest: "d1",
      source: "data/a.csv",
      schema: [],
      rows: 1,
      fingerprint: "f",
    });
    const settings = ProjectSettingsSchema.parse({ governance: { failOn: ["pastReview"] } });
    const collected = await collectGovernance(dir, { settings, metadata: store, now });
    expect(collected.pipelines.map((p) => p.path)).toEqual(["pipelines/old.dag.json"]);
    expect(collected.suites.map((s) => [s.path, s.problem ?? null])).toEqual([
      ["expectations/broken.json", expect.stringMatching(/^not valid JSON/)],
      ["expectations/s.json", null],
    ]);
    expect(collected.recentRuns).toEqual([
      expect.objectContaining({
        id: "recent",
        pipelinePath: "pipelines/old.dag.json",
        datasets: ["data/a.csv"],
      }),
    ]);
    expect(collected.today).toBe("2026-12-06");
    const report = await governanceReport(dir, { settings, metadata: store, now });
    expect(report.failOn).toEqual(["pastReview"]);
    expect(report.findings.map((f) => `${f.kind} ${f.artifact.name}`)).toEqual([
      "noOwner expectations/broken.json",
      "noOwner expectations/s.json",
      "pastReview churn",
      "deprecatedInUse old",
    ]);
    expect(report.findings[0]!.message).toMatch(/could not all be read: not valid JSON/);
    expect(report.findings[3]!.usedBy).toEqual(["run recent (pipelines/old.dag.json)"]);
  });

  it("a project with no store yet: files only", async () => {
    const bare = mkdtempSync(join(tmpdir(), "dagwood-gov-"));
    try {
      writeFileSync(
        join(bare, "a.dag.json"),
        JSON.stringify({ format: "dagwood.pipeline/1", name: "a", nodes: [] }),
      );
      const report = await governanceReport(bare, {
        settings: ProjectSettingsSchema.parse({}),
        metadata: null,
      });
      expect(report.findings.map((f) => f.kind)).toEqual(["noOwner"]);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe("personal data on a model with many versions", () => {
  it("names the versions as ranges, one line per use, however many versions use it", () => {
    const use = (input: string) => ({
      input,
      tags: [{ tag: "pii", origin: { dataset: "customers", column: "email" }, via: [] }],
    });
    const versions = Array.from({ length: 400 }, (_, i) => i + 1)
      .filter((v) => v !== 200)
      .map((version) => ({
        version,
        uses: version <= 10 ? [use("email"), use("email_domain")] : [use("email")],
      }));
    const [f] = governanceFindings(inputs({ models: [model()], personalData: { churn: versions } }));
    expect(f!.message).toMatch(
      /^Model "churn" uses personal data: email \(pii\) in v1–v199, v201–v400; email_domain ← email \(pii\) in v1–v10\. /,
    );
    expect(f!.message.length).toBeLessThan(400);
    expect(f!.personalData).toHaveLength(399);
  });
});
