/**
 * collectGarbage in the core Api: the project's workspace is not closed under
 * a collection, neither by opening another project nor by closing the Api.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
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
