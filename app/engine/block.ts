import type { z } from "zod";
import type { SqlSession } from "../data/sql";
import type {
  DatasetRecord,
  FeatureViewVersion,
  ModelLineage,
  Registry,
  RunEnvironment,
} from "../store/types";
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
   * The run asked for a full refresh of this node (RunOptions.fullRefresh, `dagwood run
   * --full-refresh NODE`): a block that accumulates across runs (ingest.database incremental)
   * starts again from nothing. Absent or false otherwise.
   */
  fullRefresh?: boolean;
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
  /**
   * The versions `dagwood features apply` recorded for a feature view (or for
   * every view), newest first per view, from the project's metadata store;
   * absent where there is none (standalone contexts).
   */
  featureViewVersions?(view?: string): FeatureViewVersion[];
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
export interface DatasetSource extends Pick<DatasetRecord, "source" | "digest" | "database"> {
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
   * The block only reads the outside state its `externalFingerprint` covers (ingest.database): the
   * engine keeps the fingerprint taken before the node ran instead of asking again after it.
   */
  readsExternalStateOnly?: boolean;
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
  /**
   * Which input columns each column of a table output is derived from, for
   * tags to follow the lineage (app/privacy/tags.ts): per output column, the
   * input ports and columns it reads. Absent (or a column missing from the
   * answer): a column takes the tags of the same-named column of each table
   * input — right for blocks that pass columns through (clean, split, shuffle,
   * select, predict). transform.sql answers from the statement's syntax tree,
   * features.view from its feature definitions.
   */
  columnLineage?(
    inputs: Record<string, TableValue | undefined>,
    output: { port: string; columns: readonly string[] },
    params: z.output<P>,
    ctx: { sql: SqlSession },
  ):
    | Promise<Record<string, { port: string; column: string }[]>>
    | Record<string, { port: string; column: string }[]>;
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

/**
 * What a catalog knows of a block without loading its module: the plain data
 * of its definition. `dagwood blocks`, the graph checks of `validate` and the
 * listing need no more; params, run and the other functions come with the module.
 */
export type BlockDeclaration = Pick<
  AnyBlock,
  "kind" | "version" | "title" | "category" | "description" | "inputs" | "outputs" | "cpu"
>;

const DECLARED = ["kind", "version", "title", "category", "description", "inputs", "outputs", "cpu"] as const;

/** The declaration of a block (its data, as JSON would carry it). */
export function blockDeclaration(b: AnyBlock): BlockDeclaration {
  const d: Record<string, unknown> = {};
  for (const key of DECLARED) if (b[key] !== undefined) d[key] = b[key];
  return JSON.parse(JSON.stringify(d)) as BlockDeclaration;
}

/**
 * A catalog whose blocks load on first use: each entry answers its
 * declaration's fields at once and loads the block (`load(kind)`) when
 * anything else is asked of it (params, run, externalFingerprint, …). The CLI
 * bundle's catalog (bin/build.mjs) is one, so a command pays only for the
 * modules of the blocks it uses (bench/cli-start.ts). A loaded block whose
 * declaration differs from the one given is refused: the declarations were
 * taken from another build of the blocks.
 */
export function makeLazyCatalog(
  declarations: readonly BlockDeclaration[],
  load: (kind: string) => AnyBlock,
): Catalog {
  const lazy = declarations.map((declared) => {
    let block: AnyBlock | undefined;
    const loaded = (): AnyBlock => {
      if (block) return block;
      const b = load(declared.kind);
      const expected = JSON.stringify(declared);
      if (JSON.stringify(blockDeclaration(b)) !== expected)
        throw new Error(
          `Block "${declared.kind}" is not the block the catalog was built with (declared ${expected}, loaded ${JSON.stringify(blockDeclaration(b))}): rebuild the CLI (node bin/build.mjs --force).`,
        );
      block = b;
      return b;
    };
    const own = new Set<PropertyKey>(DECLARED);
    return new Proxy(declared as AnyBlock, {
      get: (target, key) => (own.has(key) ? Reflect.get(target, key) : Reflect.get(loaded(), key)),
      has: (target, key) => (own.has(key) ? Reflect.has(target, key) : Reflect.has(loaded(), key)),
      ownKeys: () => Reflect.ownKeys(loaded()),
      getOwnPropertyDescriptor: (_target, key) => {
        const d = Reflect.getOwnPropertyDescriptor(loaded(), key);
        // A proxy may report a property only as configurable when its target lacks it or has it so.
        return d && { ...d, configurable: true };
      },
    });
  });
  return makeCatalog(lazy);
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
