/**
 * Registry values: what `register` puts on its `version` port (a reference),
 * and the version record the registry keeps and the Api returns, with its
 * lineage. The store (app/store) writes and reads these.
 */
import { z } from "zod";
import type { ModelSignature } from "./model";

/** What the `version` output (port type modelVersion) carries: a reference into the registry. */
export const ModelVersionRef = z.strictObject({
  name: z.string(),
  version: z.number(),
  /** False when the same model was registered before and that version is returned. */
  created: z.boolean(),
  modelFingerprint: z.string(),
});
export type ModelVersionRef = z.infer<typeof ModelVersionRef>;

/** Facts about where a run ran. Unknown facts are absent, never guessed. */
export interface RunEnvironment {
  dagwood?: string;
  node?: string;
  /** e.g. "linux 6.1.0 x64" */
  os?: string;
  duckdb?: string;
  /** The TensorFlow.js backend a block used ("tensorflow", "wasm", "cpu"). */
  tfjsBackend?: string;
  /** The project's git commit (HEAD), when the project is in a git repository. */
  gitCommit?: string;
  /** Whether the working tree had uncommitted changes. */
  gitDirty?: boolean;
  [key: string]: unknown;
}

/** A dataset a run read: an ingested file, by content. */
export interface DatasetRecord {
  /** sha256 of the source bytes. */
  digest: string;
  /** The source as given (path relative to the project, or absolute in a data folder). */
  source: string;
  /** The loaded table's columns. */
  schema: { name: string; type: string }[];
  rows: number;
  /** The loaded table's content fingerprint. */
  fingerprint: string;
  /** When this digest was first recorded. */
  firstSeen?: string;
}

export interface ModelLineage {
  run: {
    id: string;
    pipeline: string;
    pipelinePath: string | null;
    pipelineHash: string | null;
    startedAt: string;
    user: string | null;
  };
  /** The train node that produced the model. */
  nodeId: string;
  /** The datasets read upstream of that node. */
  datasets: DatasetRecord[];
  /** The resolved params of that node and of every node upstream of it (`nodeId.param`). */
  params: Record<string, unknown>;
  environment: RunEnvironment;
}

/** A registered model version, as the registry keeps it and the Api returns it. */
export interface ModelVersion {
  name: string;
  version: number;
  status: "ready" | "archived";
  description: string;
  createdAt: string;
  createdBy: string | null;
  runId: string;
  nodeId: string;
  /** The model's block output fingerprint: registering the same model twice gives the same version. */
  modelFingerprint: string;
  estimator: string;
  task: string;
  /** The served model's tensors (inputs and outputs). */
  signature: ModelSignature;
  /** A snapshot of the metrics at registration (the evaluation report's finite ones, if given). */
  metrics: Record<string, number>;
  /** ONNX parity at export: rows, maxAbsDiff, labelAgreement. */
  parity: { rows: number; maxAbsDiff: number; labelAgreement: number } | null;
  /** Relative to the project folder. */
  nativePath: string;
  onnxPath: string;
  /**
   * Up to 200 held-out rows and the registry's predictions on them (`heldout.json`, see
   * app/deploy/heldout.ts), relative to the project folder; null when none were given.
   */
  heldoutPath: string | null;
  lineage: ModelLineage;
  aliases: string[];
}
