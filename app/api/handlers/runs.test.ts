/**
 * collectGarbage in the core Api: the project's workspace is not closed under
 * a collection, neither by opening another project nor by closing the Api.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
import type { RunEvent } from "../../engine/events";
import { Project } from "../../project/project";
import { createCoreApi } from "../core";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A project whose workspace holds `tables` tables no cache entry uses: a collection takes a while to drop them. */
async function projectWithGarbage(tables: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-gc-"));
  dirs.push(dir);
  const project = await Project.open(dir);
  try {
    const sql = await project.workspace.session();
    try {
      for (let i = 0; i < tables; i++) await sql.run(`CREATE TABLE t_garbage_${i} AS SELECT ${i} AS x`);
    } finally {
      sql.close();
    }
  } finally {
    project.close();
  }
  return dir;
}

describe("collectGarbage under the core Api", { timeout: 120_000 }, () => {
  it("another project opens only once a collection under way has ended", async () => {
    const dir = await projectWithGarbage(400);
    const other = mkdtempSync(join(tmpdir(), "dagwood-gc-other-"));
    dirs.push(other);
    const api = await createCoreApi({ catalog, projectDir: dir });
    try {
      const collecting = api.call("collectGarbage", { keepRuns: 0 });
      const opened = api.call("openProject", { dir: other });
      await expect(collecting).resolves.toEqual({ entries: 0, tables: 400 });
      await expect(opened).resolves.toMatchObject({ dir: other });
    } finally {
      await api.close();
    }
  });

  it("closing the Api waits for a collection under way", async () => {
    const dir = await projectWithGarbage(400);
    const api = await createCoreApi({ catalog, projectDir: dir });
    const collecting = api.call("collectGarbage", { keepRuns: 0 });
    await new Promise((r) => setTimeout(r, 20));
    await api.close();
    await expect(collecting).resolves.toEqual({ entries: 0, tables: 400 });
  });
});

describe("getReport of a failed validate.expectations node", { timeout: 120_000 }, () => {
  it("answers the report the node kept, and 404 for a failed node that kept none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-failed-report-"));
    dirs.push(dir);
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "failed-report" }));
    writeFileSync(join(dir, "rows.csv"), "x,y\n1,a\n2,b\n3,\n");
    const suite = {
      expectation_suite_name: "strict",
      expectations: [
        { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "y" } },
        { expectation_type: "expect_column_values_to_be_between", kwargs: { column: "x", min_value: 1 } },
      ],
    };
    const document = {
      format: "dagwood.pipeline/1",
      name: "failed-report",
      nodes: [
        { id: "rows", block: "ingest.file", params: { path: "rows.csv" } },
        { id: "check", block: "validate.expectations", params: { suite: { inline: suite } } },
        { id: "after", block: "analyze.profile", params: {} },
      ],
      edges: [
        { from: "rows.out", to: "check.in" },
        { from: "check.out", to: "after.in" },
      ],
    };
    const api = await createCoreApi({ catalog, projectDir: dir });
    try {
      const events: RunEvent[] = [];
      api.onEvent((e) => events.push(e));
      const { runId } = (await api.call("startRun", { document })) as { runId: string };
      while (!events.some((e) => e.type === "run.finished" && e.runId === runId))
        await new Promise((r) => setTimeout(r, 10));
      const { data } = (await api.call("getReport", { runId, nodeId: "check", port: "report" })) as {
        data: { kind: string; success: boolean; statistics: { unsuccessful_expectations: number } };
      };
      expect(data.kind).toBe("validation");
      expect(data.success).toBe(false);
      expect(data.statistics.unsuccessful_expectations).toBe(1);
      // The skipped node downstream has no report, kept or cached.
      await expect(api.call("getReport", { runId, nodeId: "after", port: "report" })).rejects.toMatchObject({
        status: 404,
      });
    } finally {
      await api.close();
    }
  });
});
