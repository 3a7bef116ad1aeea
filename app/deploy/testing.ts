/**
 * Test helpers for deploys: a temporary project with a real registry, and
 * versions registered from app/serving/testing.ts's small models, with or
 * without held-out rows.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ColumnTable } from "../ml/dataset";
import type { DagwoodModel } from "../ml/model";
import type { PersonalDataUse } from "../privacy/types";
import type { ProjectSettings } from "../project/project";
import { trainTestModel } from "../serving/testing";
import { SqliteMetadataStore } from "../store/metadata";
import type { MetadataStore, ModelVersion } from "../store/types";
import { startTestRun } from "../tracking/testing";
import type { DeployProject } from "./deploy";
import { rowsFor } from "./heldout";
import { DeployError } from "./targets";

export interface TestDeployProject extends DeployProject {
  metadata: MetadataStore;
  close(): void;
}

export function createDeployProject(targets: ProjectSettings["targets"] = {}): TestDeployProject {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-deploy-"));
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  const metadata = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
  return {
    dir,
    settings: { targets },
    registry: metadata.registry,
    metadata,
    close() {
      metadata.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A few rows of the test models' columns (`x` numeric, `color` text), with a missing value of each. */
export function testRows(): ColumnTable {
  const xs = [0.5, 2, 3.3, 4.9, 5.1, 7.25, 9.9, Number.NaN, 6];
  const colors = [0, 1, 2, 0, 1, 2, 0, 1, -1];
  return {
    rows: xs.length,
    columns: [
      { name: "x", kind: "numeric", type: "DOUBLE", values: Float64Array.from(xs) },
      {
        name: "color",
        kind: "categorical",
        type: "VARCHAR",
        codes: Int32Array.from(colors),
        dictionary: ["red", "green", "blue"],
      },
    ],
  };
}

export interface RegisterTestOptions {
  name?: string;
  task?: "regression" | "classification";
  shift?: number;
  /** Keep held-out rows with the version (default true). */
  heldout?: boolean;
  /** Register these ONNX bytes instead of the model's own (a version whose file is not its model). */
  onnx?: Uint8Array;
  /** The feature service the version is registered with (not checked against any features here). */
  featureService?: string;
  /** The version's personal inputs (its lineage's personalData), as a training on tagged columns records them. */
  personalData?: PersonalDataUse[];
}

/** Trains a small model and registers it; returns the version, the native model and its ONNX bytes. */
export async function registerTestVersion(
  project: Pick<TestDeployProject, "metadata" | "registry">,
  opts: RegisterTestOptions = {},
): Promise<{ version: ModelVersion; model: DagwoodModel; bytes: Uint8Array }> {
  const name = opts.name ?? "m";
  const { model, bytes } = await trainTestModel({
    task: opts.task ?? "classification",
    shift: opts.shift ?? 0,
  });
  const staging = mkdtempSync(join(tmpdir(), "dagwood-deploy-files-"));
  try {
    const files: { native: string; onnx: string; heldout?: string } = {
      native: join(staging, "model.json"),
      onnx: join(staging, "model.onnx"),
    };
    writeFileSync(files.native, JSON.stringify(model));
    writeFileSync(files.onnx, opts.onnx ?? bytes);
    if (opts.heldout ?? true) {
      files.heldout = join(staging, "heldout.json");
      writeFileSync(files.heldout, JSON.stringify(rowsFor(model, testRows())));
    }
    const runId = `run-${Math.random().toString(36).slice(2)}`;
    startTestRun(project.metadata, runId);
    const { version } = project.registry.registerVersion({
      name,
      runId,
      nodeId: "train",
      modelFingerprint: `${opts.task ?? "classification"}-${opts.shift ?? 0}-${opts.onnx ? "swapped" : "own"}-${opts.heldout ?? true}${opts.personalData ? "-personal" : ""}`,
      estimator: model.estimator,
      task: model.task,
      signature: model.signature,
      metrics: {},
      parity: null,
      files,
      lineage: {
        run: {
          id: runId,
          pipeline: "test",
          pipelinePath: null,
          pipelineHash: null,
          startedAt: "",
          user: "tester",
        },
        nodeId: "train",
        datasets: [],
        params: {},
        environment: {},
        ...(opts.personalData ? { personalData: opts.personalData } : {}),
      },
      actor: "tester",
      ...(opts.featureService !== undefined ? { featureService: opts.featureService } : {}),
    });
    return { version, model, bytes };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The DeployError `promise` rejects with; anything else (or no rejection) fails the test. */
export async function caught(promise: Promise<unknown>): Promise<DeployError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof DeployError) return e;
    throw e;
  }
  throw new Error("expected a DeployError");
}
