import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { runPlan } from "../engine/engine";
import { validatePipelineText } from "../pipeline/validate";
import { Project } from "../project/project";
import { DatasetDetail, DatasetSummary } from "../values/datasets";
import { EXIT, main } from "./main";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => {
    stdout += d;
  });
  err.on("data", (d) => {
    stderr += d;
  });
  const code = await main(args, { stdout: out, stderr: err }, catalog);
  return { code, stdout, stderr };
}

const SUITE = JSON.stringify({
  expectation_suite_name: "weather",
  expectations: [
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "temp" } },
    {
      expectation_type: "expect_column_values_to_be_in_set",
      kwargs: { column: "sky", value_set: ["sun", "rain"] },
    },
  ],
});

describe("dagwood datasets", () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-cli-datasets-"));
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({
        datasets: {
          weather: { path: "weather.csv", suites: ["expectations/weather.json"], owner: "met-office" },
          unread: { path: "data/never/*.parquet", purpose: "not read by any run yet" },
        },
      }),
    );
    mkdirSync(join(dir, "expectations"));
    writeFileSync(join(dir, "expectations", "weather.json"), SUITE);
    writeFileSync(join(dir, "other.csv"), "a\n1\n");
    const project = await Project.open(dir, { threads: 2 });
    try {
      const run = async (csv: string) => {
        writeFileSync(join(dir, "weather.csv"), csv);
        const { plan } = validatePipelineText(
          JSON.stringify({
            format: "dagwood.pipeline/1",
            name: "weather",
            nodes: [
              { id: "w", block: "ingest.file", params: { path: "weather.csv" } },
              { id: "o", block: "ingest.file", params: { path: "other.csv" } },
            ],
            edges: [],
          }),
          catalog,
        );
        return runPlan({ project, plan: plan!, pipelinePath: join(dir, "weather.dag.json") });
      };
      expect((await run("day,temp,sky\n1,12.5,sun\n2,14,rain\n")).status).toBe("succeeded");
      expect((await run("day,temp,sky\n1,12.5,sun\n2,,snow\nx3,9,hail\n")).status).toBe("succeeded");
    } finally {
      project.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("list: each dataset with owner, versions, rows and the last test", async () => {
    const { code, stdout } = await cli(["datasets", "list", "--project", dir]);
    expect(code).toBe(EXIT.ok);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^dataset\s+owner\s+versions\s+rows\s+last test$/);
    expect(lines.find((l) => l.startsWith("weather"))).toMatch(/^weather\s+met-office\s+2\s+3\s+✗ 0\/2 /);
    expect(lines.find((l) => l.startsWith("unread"))).toMatch(/^unread\s+—\s+0\s+—\s+—$/);
    expect(lines.find((l) => l.startsWith("other.csv"))).toMatch(/^other\.csv\s+—\s+1\s+1\s+—$/);
  });

  it("list --json: the Api's DatasetSummary shapes", async () => {
    const { code, stdout } = await cli(["datasets", "list", "--project", dir, "--json"]);
    expect(code).toBe(EXIT.ok);
    const list = (JSON.parse(stdout) as unknown[]).map((s) => DatasetSummary.parse(s));
    expect(list.map((d) => [d.name, d.configured, d.versions])).toEqual([
      ["weather", true, 2],
      ["unread", true, 0],
      ["other.csv", false, 1],
    ]);
  });

  it("show: versions, the schema change, and the failing expectations with their examples", async () => {
    const { code, stdout } = await cli(["datasets", "show", "weather", "--project", dir]);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toContain("owner:    met-office");
    expect(stdout).toContain("Versions (2, newest first):");
    expect(stdout).toMatch(
      /Schema changes \(newest first\):\n {2}[0-9a-f]{12} → [0-9a-f]{12}: day BIGINT → VARCHAR\n/,
    );
    expect(stdout).toMatch(/✗ .*expectations\/weather\.json {2}0\/2 passed/);
    expect(stdout).toContain("✗ expect_column_values_to_not_be_null(temp): 1 unexpected (33.33 %)");
    expect(stdout).toMatch(
      /✗ expect_column_values_to_be_in_set\(sky\): 2 unexpected \(66\.67 %\); e\.g\. "(snow|hail)", "(snow|hail)"/,
    );
    expect(stdout).toMatch(/✓ .*expectations\/weather\.json {2}2\/2 passed/);
    expect(stdout).toContain("pipelines: weather.dag.json");
  });

  it("show --json: a DatasetDetail", async () => {
    const { stdout } = await cli(["datasets", "show", "weather", "--project", dir, "--json"]);
    const detail = DatasetDetail.parse(JSON.parse(stdout));
    expect(detail.tests.map((t) => t.success)).toEqual([false, true]);
  });

  it("show: an unknown dataset is not found (exit 1), a missing name is a usage error (exit 2)", async () => {
    const unknown = await cli(["datasets", "show", "Weather", "--project", dir]);
    expect(unknown.code).toBe(EXIT.failed);
    expect(unknown.stderr).toMatch(/No dataset "Weather" in this project\. Did you mean "weather"\?/);
    const missing = await cli(["datasets", "show", "--project", dir]);
    expect(missing.code).toBe(EXIT.invalid);
    expect(missing.stderr).toMatch(/datasets show takes one dataset/);
    const bad = await cli(["datasets", "drop"]);
    expect(bad.code).toBe(EXIT.invalid);
    expect(bad.stderr).toMatch(/Unknown command "datasets drop"/);
  });
});
