import type { z } from "zod";
import type { SqlSession } from "../data/sql";
import type { DatasetRecord, ModelLineage, Registry, RunEnvironment } from "../store/types";
import type { ValidationReport } from "../values/expectations";
import type { BlockOutput, ColumnInfo, PortSpec, PortValue, TableValue } from "./ports";
import type { OutputSchemas, PortSchema, SchemaContext } from "./schema";

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Everything with a side effect that a block may use. Blocks reach for no
 * globals; tests hand them a context from `app/engine/testing.ts`.
 */
export interface BlockContext {
  /** A DuckDB session in the project's workspace, private to this node run. */
  sql: SqlSession;
  /** Absolute path of the project folder. */
  projectDir: string;
  /** A folder for this node's files (models, plots), created on demand. */
  artifactDir(): Promise<string>;
  /**
   * Resolves a user-given path relative to the project and checks it lies in
   * the project or a folder the project added. Throws a clear error if not.
   */
  resolvePath(path: string): string;
  /** A fresh, unquoted workspace table name for output `port`; create it with CREATE OR REPLACE. */
  newTable(port: string): string;
  progress(fraction: number, message?: string): void;
  metric(name: string, value: number, step?: number): void;
  log(message: string, level?: LogLevel): void;
  signal: AbortSignal;
  runId: string;
  nodeId: string;
  /**
   * Records a dataset this node read (lineage): the source and the digest of
   * its bytes; the engine completes the schema, rows and fingerprint from the
   * table the block returns on `port`.
   */
  dataset(info: DatasetSource): void;
  /**
   * Records a suite's result on a dataset this node read (the suites
   * dagwood.json attaches to it): the test history of that dataset version.
   */
  dataTest(info: DataTestInfo): void;
  /** Records one hyperparameter-search trial as a child run of this run. */
  trial(index: number, params: Record<string, unknown>, metrics: Record<string, number>): void;
  /**
   * The params the node's output was made with where a search chose them over
   * the pipeline's: the run records these as the node's params.
   */
  chosenParams(params: Record<string, unknown>): void;
  /** Adds facts about where the run ran (e.g. the TensorFlow.js backend used). */
  environment(facts: RunEnvironment): void;
  /** The project's model registry. */
  registry: Registry;
  /** Which upstream node output feeds input `port`; undefined when it is not connected. */
  upstream(port: string): { node: string; port: string } | undefined;
  /**
   * The lineage of what node `nodeId` (this node or one upstream) produced in
   * this run: the run, the datasets read upstream of it, the resolved params of
   * it and its ancestors, the environment.
   */
  lineage(nodeId: string): Promise<ModelLineage>;
  /** Content hash of a file; memoized by size and mtime, so a file the cache key hashed is not read again. */
  hashFile(absPath: string): Promise<string>;
}

/** What a block says about a dataset it read; see BlockContext.dataset. */
export interface DatasetSource extends Pick<DatasetRecord, "source" | "digest"> {
  /** The output port holding the loaded table. */
  port: string;
  /**
   * The workspace table read, when the block may still fail after reporting
   * (e.g. a suite attached with onFailure "fail"): the read is then recorded
   * from this table, since the port has no value.
   */
  table?: string;
}

/** A suite run on a dataset a block read; see BlockContext.dataTest. */
export interface DataTestInfo {
  /** The suite's project path (expectations/flights.json). */
  suite: string;
  /** The dataset version tested: the digest given to ctx.dataset. */
  digest: string;
  /** The file as the block read it (its `source` in ctx.dataset). */
  source: string;
  report: ValidationReport;
}

/** What `externalFingerprint` may use: no workspace, no side effects. */
export interface FingerprintContext {
  projectDir: string;
  resolvePath(path: string): string;
  /** Content hash of a file (memoized by size and mtime). Throws a clear error if it is missing. */
  hashFile(absPath: string): Promise<string>;
  /**
   * The memoized content hash of a file whose size and mtime still match the
   * memo, without reading it; undefined when it would have to be read (or
   * there is no memo). Lets a block that reads the whole file anyway hash it
   * while reading (ingest.file).
   */
  knownFileHash?(absPath: string): Promise<string | undefined>;
  /** The version a registry alias points at, or null (no such model or alias). */
  resolveAlias(model: string, alias: string): number | null;
  /**
   * A model's registry state (its ready versions with their fingerprints, its
   * aliases) as one string; absent where there is no registry (benches).
   */
  registryState?(model: string): string;
}

export type BlockInputs = Record<string, PortValue | undefined>;

export interface BlockDefinition<P extends z.ZodType = z.ZodType> {
  kind: string;
  /** Bump when the outputs for the same inputs and params would change. */
  version: number;
  title: string;
  category: string;
  description: string;
  inputs: Record<string, PortSpec>;
  outputs: Record<string, PortSpec>;
  params: P;
  /**
   * CPU-heavy (training, scoring, explaining): the engine runs no more such
   * nodes at once than the work pool has workers (one per core). `"all"`:
   * the block's work already spreads over every core (the tree trainers'
   * histogram kernel), so it runs with no other CPU-heavy node beside it.
   */
  cpu?: boolean | "all";
  run(ctx: BlockContext, inputs: BlockInputs, params: z.output<P>): Promise<Record<string, BlockOutput>>;
  /**
   * State outside the workspace that the outputs depend on (e.g. the bytes of
   * an ingested file). Part of the cache key; re-evaluated on every run, and
   * again after the node ran, so a block that changes that state (register)
   * stores its outputs under the state it left behind.
   */
  externalFingerprint?(ctx: FingerprintContext, params: z.output<P>): Promise<string>;
  /**
   * How the output schemas follow from the inputs' schemas and the params,
   * without running (app/engine/schema.ts): per output port its columns, or
   * undefined when only a run can tell. Reports params that name a column the
   * input lacks (ctx.checkColumns). An input's schema is undefined when it is
   * unknown or not connected.
   */
  outputSchema?(
    ctx: SchemaContext,
    inputs: Record<string, PortSchema | undefined>,
    params: z.output<P>,
  ): Promise<OutputSchemas> | OutputSchemas;
}

/** Identity helper that keeps the params type flowing into `run`. */
export function defineBlock<P extends z.ZodType>(block: BlockDefinition<P>): BlockDefinition<P> {
  return block;
}

export type AnyBlock = BlockDefinition<z.ZodType>;

/** The block catalog: kind → definition. */
export type Catalog = ReadonlyMap<string, AnyBlock>;

export function makeCatalog(blocks: readonly AnyBlock[]): Catalog {
  const map = new Map<string, AnyBlock>();
  for (const b of blocks) {
    if (map.has(b.kind)) throw new Error(`Block kind "${b.kind}" is registered twice`);
    map.set(b.kind, b);
  }
  return map;
}

/** A typed error a block throws for bad input: the message is shown to the user as is. */
export class BlockError extends Error {
  override name = "BlockError";
}

/** Narrows an input to a table, with a clear error if it is missing or of another type. */
export function requireTable(inputs: BlockInputs, port: string): TableValue {
  const v = inputs[port];
  if (!v) throw new BlockError(`Input "${port}" is not connected`);
  if (v.type !== "table") throw new BlockError(`Input "${port}" must be a table, got ${v.type}`);
  return v;
}

/**
 * Finds each named column of a table, or throws an error that lists the
 * columns there are; `gone` may explain why a name is missing (dropped,
 * renamed by an earlier step).
 */
export function requireColumns(
  names: readonly string[],
  columns: readonly ColumnInfo[],
  param: string,
  gone: (name: string) => string | undefined = () => undefined,
): ColumnInfo[] {
  return [...new Set(names)].map((name) => {
    const found = columns.find((c) => c.name === name);
    if (found) return found;
    const near = columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    const hint = gone(name) ?? (near ? ` Did you mean "${near.name}"?` : "");
    throw new BlockError(
      `Column "${name}" in ${param} does not exist.${hint} Columns are: ${columns.map((c) => c.name).join(", ")}.`,
    );
  });
}
