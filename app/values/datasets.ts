/**
 * Datasets as the Data view and `getDataset` show them: a dataset is a file
 * (or a glob of files) that runs read through `ingest.file`; each distinct
 * content (sha256) is a version. Named datasets come from dagwood.json
 * `datasets`; a file read by a run with no entry there is listed under its
 * path.
 */
import { z } from "zod";
import { Governance } from "./governance";

export const SchemaColumn = z.strictObject({ name: z.string(), type: z.string() });
export type SchemaColumn = z.infer<typeof SchemaColumn>;

/** One test of one version: a suite run on the table `ingest.file` read. */
export const DatasetTest = z.strictObject({
  runId: z.string(),
  nodeId: z.string(),
  digest: z.string(),
  /** The suite's path in the project (expectations/x.json). */
  suite: z.string(),
  success: z.boolean(),
  evaluated: z.number(),
  successful: z.number(),
  at: z.string(),
  /** The expectations that failed, with what broke them (up to 20 examples each). */
  failed: z.array(
    z.strictObject({
      expectation_type: z.string(),
      kwargs: z.record(z.string(), z.unknown()),
      unexpected_count: z.number().nullable(),
      unexpected_percent: z.number().nullable(),
      partial_unexpected_list: z.array(z.unknown()),
      observed_value: z.unknown().optional(),
      exception_message: z.string().nullable(),
    }),
  ),
});
export type DatasetTest = z.infer<typeof DatasetTest>;

export const DatasetVersion = z.strictObject({
  digest: z.string(),
  /** The file as the run read it (path relative to the project, or absolute in a data folder). */
  source: z.string(),
  rows: z.number(),
  schema: z.array(SchemaColumn),
  firstSeen: z.string(),
  lastSeen: z.string(),
  runs: z.array(
    z.strictObject({ runId: z.string(), nodeId: z.string(), pipeline: z.string(), at: z.string() }),
  ),
});
export type DatasetVersion = z.infer<typeof DatasetVersion>;

/** What changed in the schema from one version to the next. */
export const SchemaChange = z.strictObject({
  from: z.string(),
  to: z.string(),
  added: z.array(SchemaColumn),
  removed: z.array(SchemaColumn),
  retyped: z.array(z.strictObject({ name: z.string(), from: z.string(), to: z.string() })),
});
export type SchemaChange = z.infer<typeof SchemaChange>;

export const DatasetSummary = z.strictObject({
  /** The dagwood.json name, or the file's path when it has no entry. */
  name: z.string(),
  /** The path or glob (dagwood.json), or the file read. */
  path: z.string(),
  configured: z.boolean(),
  governance: Governance,
  /** Suites attached in dagwood.json (project paths). */
  suites: z.array(z.string()),
  /** What a failing attached suite does to the ingest node (dagwood.json `onFailure`); null: no entry. */
  onFailure: z.enum(["warn", "fail"]).nullable(),
  versions: z.number(),
  latest: DatasetVersion.omit({ runs: true }).nullable(),
  /** Row counts of the versions, oldest first (the sparkline). */
  rowsHistory: z.array(z.number()),
  lastTest: DatasetTest.omit({ failed: true }).nullable(),
  /** Per column, its tags from dagwood.json `datasets.<name>.columns.<column>.tags` ({} when none; privacy, issue 19). */
  columnTags: z.record(z.string(), z.array(z.string())),
});
export type DatasetSummary = z.infer<typeof DatasetSummary>;

export const DatasetDetail = DatasetSummary.extend({
  /** Newest first. */
  allVersions: z.array(DatasetVersion),
  /** Between consecutive versions, newest first. */
  schemaChanges: z.array(SchemaChange),
  /** Newest first. */
  tests: z.array(DatasetTest),
  /** From lineage: the pipelines that read it and the model versions trained on it. */
  usedBy: z.strictObject({
    pipelines: z.array(z.string()),
    models: z.array(z.strictObject({ name: z.string(), version: z.number() })),
  }),
});
export type DatasetDetail = z.infer<typeof DatasetDetail>;
