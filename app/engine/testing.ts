import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SqlSession } from "../data/sql";
import { Workspace } from "../data/workspace";
import type { AnyBlock, BlockContext, BlockInputs, LogLevel } from "./block";
import { executeBlock, parseParams } from "./execute";
import { hashFile } from "./files";
import { resolveProjectPath } from "./paths";
import type { PortValue, TableValue } from "./ports";

/**
 * A temporary project with a real in-memory DuckDB workspace, for block
 * tests: build a small table, run a block with a context, assert on outputs.
 */
export interface TestProject {
  dir: string;
  workspace: Workspace;
  sql: SqlSession;
  progress: { fraction: number; message?: string }[];
  logs: { level: LogLevel; message: string }[];
  metrics: { name: string; value: number; step?: number }[];
  /** Creates a workspace table from a SELECT and returns it as a port value. */
  table(name: string, select: string): Promise<TableValue>;
  /** Parses `params` with the block's schema, runs it, returns its port values. */
  run(
    block: AnyBlock,
    inputs: BlockInputs,
    params?: unknown,
    signal?: AbortSignal,
  ): Promise<Record<string, PortValue>>;
  /** The block's external fingerprint for these params (as the engine computes it). */
  fingerprint(block: AnyBlock, params?: unknown): Promise<string | undefined>;
  /** The rows of a table output, in the table's order unless `orderBy` is given. */
  rows(value: PortValue | undefined, orderBy?: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function createTestProject(): Promise<TestProject> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-test-"));
  mkdirSync(join(dir, "data"), { recursive: true });
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir], threads: 2 });
  const sql = await workspace.session();
  let counter = 0;
  const project: TestProject = {
    dir,
    workspace,
    sql,
    progress: [],
    logs: [],
    metrics: [],
    async table(name, select) {
      await sql.run(`CREATE OR REPLACE TABLE "${name}" AS ${select}`);
      return workspace.describeTable(name, sql);
    },
    async run(block, inputs, params = {}, signal = new AbortController().signal) {
      const ctx: BlockContext = {
        sql,
        projectDir: dir,
        artifactDir: async () => {
          const d = join(dir, ".dagwood", "artifacts", "test");
          mkdirSync(d, { recursive: true });
          return d;
        },
        resolvePath: (p) => resolveProjectPath(dir, [dir], p),
        newTable: (port) => `t_test_${++counter}_${port.replace(/\W/g, "_")}`,
        progress: (fraction, message) => project.progress.push({ fraction, message }),
        metric: (name, value, step) => project.metrics.push({ name, value, step }),
        log: (message, level = "info") => project.logs.push({ level, message }),
        signal,
        runId: "test-run",
        nodeId: "test-node",
      };
      return executeBlock(block, ctx, inputs, parseParams(block, params), workspace);
    },
    async fingerprint(block, params = {}) {
      return block.externalFingerprint?.(
        {
          projectDir: dir,
          resolvePath: (p) => resolveProjectPath(dir, [dir], p),
          hashFile: (p) => hashFile(p),
        },
        parseParams(block, params),
      );
    },
    async rows(value, orderBy) {
      if (value?.type !== "table") throw new Error("not a table output");
      return sql.all(`SELECT * FROM "${value.name}"${orderBy ? ` ORDER BY ${orderBy}` : ""}`);
    },
    async close() {
      sql.close();
      workspace.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return project;
}
