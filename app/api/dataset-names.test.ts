/**
 * The catalog over real runs where the datasets table alone misleads: one
 * content (digest) read under two names that belong to two datasets, and
 * the same file spelled two ways.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { runPlan } from "../engine/engine";
import { closeTempProject, openTempProject } from "../engine/testing";
import { validatePipelineText } from "../pipeline/validate";
import { getDataset, listDatasets } from "../project/dataset-catalog";
import { findDatasetEntry } from "../project/datasets";
import { collectGovernance, governanceFindings } from "../project/governance";
import { type Project, ProjectSettingsSchema, readProjectSettings } from "../project/project";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

const CSV = "id,v\n1,10\n2,20\n3,\n";
const SUITE = JSON.stringify({
  expectation_suite_name: "v",
  expectations: [{ expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "v" } }],
});

const pipeline = (name: string, path: string) =>
  JSON.stringify({
    format: "dagwood.pipeline/1",
    name,
    nodes: [{ id: "read", block: "ingest.file", params: { path } }],
    edges: [],
  });

describe("dataset catalog: one content under two names", () => {
  let project: Project;
  let dir: string;
  const ctx = () => ({ dir, metadata: project.metadata, settings: readProjectSettings(dir) });
  const run = async (name: string, path: string) => {
    const { plan, problems } = validatePipelineText(pipeline(name, path), catalog);
    expect(problems).toEqual([]);
    const summary = await runPlan({ project, plan: plan!, pipelinePath: join(dir, `${name}.dag.json`) });
    expect(summary.status).toBe("succeeded");
    return summary.runId;
  };

  beforeAll(async () => {
    ({ dir, project } = await openTempProject("dagwood-catalog-", {
      "dagwood.json": JSON.stringify({
        datasets: {
          a: { path: "data/a.csv", suites: ["expectations/v.json"], owner: "team-a" },
          b: { path: "data/b.csv", suites: ["expectations/v.json"], owner: "team-b" },
        },
      }),
    }));
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "expectations"));
    writeFileSync(join(dir, "expectations", "v.json"), SUITE);
    writeFileSync(join(dir, "data", "a.csv"), CSV);
    writeFileSync(join(dir, "data", "b.csv"), CSV);
  });
  afterAll(() => closeTempProject(project));

  it("lists the version under each dataset, with only the runs, tests and pipelines that read it by that name", async () => {
    const ra = await run("reads-a", "data/a.csv");
    const rb = await run("reads-b", "data/b.csv");
    const a = getDataset(ctx(), "a")!;
    const b = getDataset(ctx(), "b")!;
    for (const [d, runId, pipelineFile, source] of [
      [a, ra, "reads-a.dag.json", "data/a.csv"],
      [b, rb, "reads-b.dag.json", "data/b.csv"],
    ] as const) {
      expect(d.versions).toBe(1);
      expect(d.latest).toMatchObject({ digest: sha(CSV), rows: 3, source });
      expect(d.allVersions[0]!.runs.map((r) => r.runId)).toEqual([runId]);
      expect(d.tests.map((t) => [t.runId, t.success])).toEqual([[runId, false]]);
      expect(d.lastTest).toMatchObject({ runId });
      expect(d.usedBy.pipelines).toEqual([pipelineFile]);
    }
    const list = listDatasets(ctx());
    expect(list.map((s) => [s.name, s.versions, s.rowsHistory])).toEqual([
      ["a", 1, [3]],
      ["b", 1, [3]],
    ]);
  });

  it("names the file each run read in its datasets, so a deprecated dataset read under its own name is in use", async () => {
    const rb = await run("reads-b-again", "data/b.csv");
    expect(project.metadata.datasets(rb).map((d) => [d.nodeId, d.source, d.digest])).toEqual([
      ["read", "data/b.csv", sha(CSV)],
    ]);
    const settings = readProjectSettings(dir);
    settings.datasets.b!.deprecated = { reason: "copied by mistake", replacement: "a" };
    // Only runs count as users here: no pipeline file names data/b.csv.
    const inputs = await collectGovernance(dir, { settings, metadata: project.metadata });
    const found = governanceFindings(inputs).filter((f) => f.kind === "deprecatedInUse");
    expect(found.map((f) => [f.artifact.name, f.usedBy?.some((u) => u.includes(rb))])).toEqual([["b", true]]);
  });

  it("lists a version that was tested but never recorded as read under the name it was read by", async () => {
    const [runId] = project.metadata.listRuns({ limit: 1 }).map((r) => r.id);
    const digest = "f".repeat(64);
    const report = {
      kind: "validation" as const,
      success: false,
      statistics: {
        evaluated_expectations: 1,
        successful_expectations: 0,
        unsuccessful_expectations: 1,
        success_percent: 0,
      },
      results: [],
      meta: {},
    };
    project.metadata.recordDatasetTest({
      runId: runId!,
      nodeId: "lost",
      digest,
      source: "data/b.csv",
      suite: "expectations/v.json",
      success: false,
      evaluated: 1,
      successful: 0,
      report: report as never,
    });
    expect(project.metadata.untrackedTestedDigests()).toEqual([{ digest, source: "data/b.csv" }]);
    expect(getDataset(ctx(), "b")!.tests.map((t) => [t.nodeId, t.digest])[0]).toEqual(["lost", digest]);
    expect(getDataset(ctx(), "a")!.tests.map((t) => t.digest)).not.toContain(digest);
  });

  it("counts one file spelled two ways as one version of one dataset", async () => {
    const again = await run("reads-a-dotted", "./data//a.csv");
    const a = getDataset(ctx(), "a")!;
    expect(a.versions).toBe(1);
    expect(a.allVersions[0]!.runs.map((r) => r.runId)).toContain(again);
    expect(listDatasets(ctx()).map((s) => s.name)).toEqual(["a", "b"]);
  });
});

describe("findDatasetEntry: an entry naming a folder", () => {
  const settings = ProjectSettingsSchema.parse({
    dataFolders: ["../shared"],
    datasets: {
      sensors: { path: "data/sensors" },
      sensors2024: { path: "data/sensors/2024/" },
      jan: { path: "data/sensors/2024/jan.csv" },
      shared: { path: "readings" },
      everything: { path: "data/**/*.csv" },
    },
  });
  const entry = (abs: string) => findDatasetEntry(settings, "/p/proj", abs)?.name;

  it("holds the files under it, the nearest folder winning, an exact file first, a glob last", () => {
    expect(entry("/p/proj/data/sensors/a.csv")).toBe("sensors");
    expect(entry("/p/proj/data/sensors/2023/deep/b.parquet")).toBe("sensors");
    expect(entry("/p/proj/data/sensors/2024/feb.csv")).toBe("sensors2024");
    expect(entry("/p/proj/data/sensors/2024/jan.csv")).toBe("jan");
    // A folder in a data folder, named relative to it.
    expect(entry("/p/shared/readings/x.csv")).toBe("shared");
    // A name that only starts like the folder is not in it.
    expect(entry("/p/proj/data/sensors-old/a.csv")).toBe("everything");
  });
});
