import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import type { SqlSession } from "../data/sql";
import { Workspace } from "../data/workspace";
import { type ColumnTable, readColumns } from "../ml/dataset";
import type { OnnxExportInfo } from "../ml/model";
import { PARITY_TOLERANCE } from "../ml/onnx/parity";
import { Project } from "../project/project";
import { SqliteMetadataStore } from "../store/metadata";
import type { DatasetRecord, MetadataStore, RunEnvironment } from "../store/types";
import type { AnyBlock, BlockContext, BlockInputs, DatasetSource, DataTestInfo, LogLevel } from "./block";
import { completeDataset, executeBlock, parseParams, registryState } from "./execute";
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
  /** What blocks reported through ctx.dataset, completed from their outputs. */
  datasets: DatasetRecord[];
  /** What blocks reported through ctx.dataTest (suite results on the datasets they read). */
  dataTests: DataTestInfo[];
  trials: { index: number; params: Record<string, unknown>; metrics: Record<string, number> }[];
  /** What blocks reported through ctx.chosenParams, merged. */
  chosenParams: Record<string, unknown>;
  /** The facts blocks reported through ctx.environment, merged. */
  environment: RunEnvironment;
  /**
   * What ctx.upstream answers, per input port; unset ports that are connected
   * answer `{ node: "upstream", port }`.
   */
  upstream: Record<string, { node: string; port: string }>;
  /** What ctx.fullRefresh answers (the run asked for a full refresh of the node); default false. */
  fullRefresh: boolean;
  /** A real metadata store in the project (opened on first use) holding the run "test-run"; its registry is ctx.registry. */
  metadata(): MetadataStore;
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
  let store: MetadataStore | undefined;
  const project: TestProject = {
    dir,
    workspace,
    sql,
    progress: [],
    fullRefresh: false,
    logs: [],
    metrics: [],
    datasets: [],
    dataTests: [],
    trials: [],
    chosenParams: {},
    environment: {},
    upstream: {},
    metadata() {
      if (!store) {
        mkdirSync(join(dir, ".dagwood"), { recursive: true });
        store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
        store.startRun({
          id: "test-run",
          pipeline: "test",
          pipelinePath: null,
          pipelineHash: null,
          pipelineText: null,
          params: {},
          resolvedParams: {},
          startedAt: new Date().toISOString(),
          environment: {},
          user: "tester",
        });
      }
      return store;
    },
    async table(name, select) {
      await sql.run(`CREATE OR REPLACE TABLE "${name}" AS ${select}`);
      return workspace.describeTable(name, sql);
    },
    async run(block, inputs, params = {}, signal = new AbortController().signal) {
      const datasets: DatasetSource[] = [];
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
        fullRefresh: project.fullRefresh,
        dataset: (info) => datasets.push(info),
        dataTest: (info) => project.dataTests.push(info),
        trial: (index, trialParams, metrics) => project.trials.push({ index, params: trialParams, metrics }),
        chosenParams: (chosen) => Object.assign(project.chosenParams, chosen),
        environment: (facts) => Object.assign(project.environment, facts),
        get registry() {
          return project.metadata().registry;
        },
        featureViewVersions: (view) => project.metadata().featureViewVersions(view),
        upstream: (port) => project.upstream[port] ?? (inputs[port] ? { node: "upstream", port } : undefined),
        lineage: async (nodeId) => ({
          run: {
            id: "test-run",
            pipeline: "test",
            pipelinePath: null,
            pipelineHash: null,
            startedAt: new Date().toISOString(),
            user: "tester",
          },
          nodeId,
          datasets: [...project.datasets],
          params: {},
          environment: { ...project.environment },
        }),
        hashFile: (p) => hashFile(p),
      };
      const values = await executeBlock(block, ctx, inputs, parseParams(block, params), workspace);
      for (const d of datasets) project.datasets.push(completeDataset(block, d, values));
      return values;
    },
    async fingerprint(block, params = {}) {
      return block.externalFingerprint?.(
        {
          projectDir: dir,
          resolvePath: (p) => resolveProjectPath(dir, [dir], p),
          hashFile: (p) => hashFile(p),
          resolveAlias: (model, alias) =>
            project.metadata().registry.getVersion(model, alias)?.version ?? null,
          registryState: (model) => registryState(project.metadata().registry, model),
        },
        parseParams(block, params),
      );
    },
    async rows(value, orderBy) {
      if (value?.type !== "table") throw new Error("not a table output");
      return sql.all(`SELECT * FROM "${value.name}"${orderBy ? ` ORDER BY ${orderBy}` : ""}`);
    },
    async close() {
      store?.close();
      sql.close();
      workspace.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return project;
}

/** The starter example's penguins.csv (344 rows, some with missing values, one with sex '.'). */
export const PENGUINS_CSV = resolve(
  import.meta.dirname,
  "../../resources/examples/starter/data/penguins.csv",
);

/**
 * Copies penguins.csv into the project's data folder (the sandbox allows
 * only its folder) and returns the copy's absolute path.
 */
export function copyPenguins(project: TestProject): string {
  const path = join(project.dir, "data", "penguins.csv");
  copyFileSync(PENGUINS_CSV, path);
  return path;
}

/**
 * The workspace table "penguins", read from a copy inside the project;
 * `where` (an SQL condition) keeps only some rows.
 */
export async function penguinsTable(project: TestProject, where?: string): Promise<TableValue> {
  const path = copyPenguins(project);
  return project.table("penguins", `SELECT * FROM read_csv('${path}')${where ? ` WHERE ${where}` : ""}`);
}

/**
 * The named columns of a workspace table as model code reads them; a boolean
 * column (a target) is read as text, as the train blocks do.
 */
export async function readTestColumns(
  project: TestProject,
  table: string,
  columns: string[],
): Promise<ColumnTable> {
  const info = await project.workspace.describeTable(table, project.sql);
  const requests = columns.map((name) => {
    const column = info.columns.find((c) => c.name === name)!;
    return { column, ...(column.type === "BOOLEAN" ? { kind: "categorical" as const } : {}) };
  });
  return readColumns(project.sql, table, requests);
}

/**
 * The model a train block wrote carries its ONNX export (<artifactDir>/model.onnx)
 * and a parity within the one parity rule (PARITY_TOLERANCE) with full label
 * agreement, also reported as metrics.
 */
export function expectOnnxParity(
  project: TestProject,
  model: { trainedRows: number; onnx?: OnnxExportInfo },
): void {
  expect(model.onnx).toMatchObject({
    file: ".dagwood/artifacts/test/model.onnx",
    opsets: { "": 17, "ai.onnx.ml": 3 },
    parity: { rows: model.trainedRows + 3 },
  });
  const { file, bytes, parity } = model.onnx!;
  expect(statSync(join(project.dir, file)).size).toBe(bytes);
  // The float64 export differs at the last bits only, far inside the rule.
  expect(parity.maxAbsDiff).toBeLessThanOrEqual(PARITY_TOLERANCE);
  expect(parity.labelAgreement).toBe(1);
  expect(project.metrics).toContainEqual({ name: "onnx_max_abs_diff", value: parity.maxAbsDiff });
  expect(project.metrics).toContainEqual({ name: "onnx_label_agreement", value: 1 });
}

/**
 * For engine tests that run whole pipelines: a real project in a fresh
 * temporary folder, holding `files` (relative path → text) before it opens.
 * `closeTempProject` closes it and removes the folder.
 */
export async function openTempProject(
  prefix: string,
  files: Record<string, string> = {},
): Promise<{ dir: string; project: Project }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return { dir, project: await Project.open(dir, { threads: 2 }) };
}

export function closeTempProject(project: Project): void {
  project.close();
  rmSync(project.dir, { recursive: true, force: true });
}
