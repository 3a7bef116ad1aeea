/**
 * Schema propagation without running: every block may declare how its output
 * schemas follow from its inputs' schemas and params (`outputSchema`), and
 * `inferSchemas` walks a pipeline with those declarations, so column pickers
 * fill and validation names an unknown column before anything has run.
 *
 * It runs in a private in-memory DuckDB (opened per call, closed after): the
 * workspace is never touched, and the same file-access rules hold as in the
 * workspace (allowed folders only, no extension autoload, settings locked).
 * As those folders admit writes too, its session runs only queries and
 * CREATE/DROP/INSERT/UPDATE/DELETE of its own objects (SandboxSession): no
 * COPY, ATTACH, EXPORT, INSTALL or LOAD, so no file is written.
 */
import type { DuckDBInstance, DuckDBPreparedStatement } from "@duckdb/node-api";
import { duckdb } from "../data/native";
import { plain, type Row, SqlSession, type SqlValues } from "../data/sql";
import { findReferences, substitute } from "../pipeline/params";
import { type Pipeline, splitEndpoint } from "../pipeline/schema";
import { jsonPath, nearestName, type Problem } from "../pipeline/validate";
import { type AnyBlock, BlockError, type Catalog } from "./block";
import { resolveProjectPath } from "./paths";
import type { ColumnInfo } from "./ports";

/**
 * What is known of one output before a run. A table port: its columns. A
 * model port: the raw columns the model reads (its input signature), and the
 * column it predicts.
 */
export interface PortSchema {
  columns: ColumnInfo[];
  /**
   * More columns follow whose names only a run can tell (predict's
   * "probability_<class> per class"): said for the user. Names missing from
   * an open schema are not reported as unknown.
   */
  open?: string;
  /** Some of `columns` may be left out by the data (select.features' thresholds): said for the user. */
  subset?: string;
  /** A model port: the column the model predicts. */
  target?: ColumnInfo;
  /** A model port: the task, when the params or the target's type decide it. */
  task?: "classification" | "regression";
}

/** Per output port: its schema, or undefined when it cannot be known before a run. */
export type OutputSchemas = Record<string, PortSchema | undefined>;

/** What a block's `outputSchema` may use: no workspace, nothing persists. */
export interface SchemaContext {
  /** A session in a private in-memory DuckDB: create TEMP tables and views freely, they vanish with it. */
  sql: SqlSession;
  projectDir: string;
  /** As BlockContext.resolvePath: relative to the project; refuses paths outside it. */
  resolvePath(path: string): string;
  signal: AbortSignal;
  /** A value computed once per key for the life of the process (e.g. a file's schema by path, size and mtime). */
  memo<T>(key: string, compute: () => Promise<T>): Promise<T>;
  /** The upstream output ("node.port") feeding input `port`, or undefined when it is not connected. */
  upstream(port: string): string | undefined;
  /** Reports a problem with the node's param at `param` (a path inside its params). */
  problem(param: readonly (string | number)[], message: string): void;
  /**
   * Reports each of `names` (given at `param`, an array param's items at
   * `[...param, i]`) that is not a column of the table on input `port`, naming
   * that table, its columns and the nearest name. Answers the columns found.
   * Nothing is reported while the input's schema is unknown or open.
   */
  checkColumns(
    port: string,
    param: readonly (string | number)[],
    names: string | readonly string[] | undefined,
    options?: {
      ignoreCase?: boolean;
      /** Check against these columns (the input's after an earlier step) rather than the input's. */
      among?: readonly ColumnInfo[];
      /** What `among` is, after the input's name: "after drop and rename". */
      after?: string;
      /** How the param reads in the message; default: its path. */
      label?: string;
    },
  ): ColumnInfo[];
}

/** Per node id, per output port: the schema, or null when unknown. */
export type PipelineSchemas = Record<string, Record<string, PortSchema | null>>;

export interface InferOptions {
  pipeline: Pipeline;
  catalog: Catalog;
  projectDir: string;
  /** The project folder and the data folders it adds: the only places SQL may read. */
  allowedDirs: readonly string[];
  /** Pipeline parameter overrides (as `--param`). */
  overrides?: Record<string, unknown>;
  /** Gives up on the nodes not reached by then; default 5 s. */
  timeoutMs?: number;
  /** Stops as the time limit does: the statement under way is interrupted, the nodes not reached stay unknown. */
  signal?: AbortSignal;
}

export interface InferResult {
  schemas: PipelineSchemas;
  /** Unknown columns, bad SQL, missing files: each with its JSON path, as validation reports. */
  problems: Problem[];
  /** Nodes left unknown because the time limit passed (or the call was aborted). */
  timedOut: string[];
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Columns a problem lists before "…". */
const LISTED_COLUMNS = 12;
/** Memoized values (file schemas) kept at most; the oldest go first. */
const MEMO_LIMIT = 256;

/** A memoized value, and the inferSchemas call whose DuckDB computes it. */
interface MemoEntry {
  owner: object;
  value: Promise<unknown>;
}

const memoStore = new Map<string, MemoEntry>();

function remember<T>(owner: object, key: string, compute: () => Promise<T>): Promise<T> {
  const entry: MemoEntry = { owner, value: compute() };
  // A failure is not remembered: the file may be fixed by the next call.
  entry.value.catch(() => {
    if (memoStore.get(key) === entry) memoStore.delete(key);
  });
  memoStore.set(key, entry);
  if (memoStore.size > MEMO_LIMIT) memoStore.delete(memoStore.keys().next().value!);
  return entry.value as Promise<T>;
}

function memo<T>(owner: object, key: string, compute: () => Promise<T>): Promise<T> {
  const found = memoStore.get(key);
  if (!found) return remember(owner, key, compute);
  if (found.owner === owner) return found.value as Promise<T>;
  // Still being computed in another call's DuckDB, which that call's time limit may interrupt
  // or close: its failure says nothing of this call's, which computes the value itself.
  return (found.value as Promise<T>).catch(() => remember(owner, key, compute));
}

/** "split.train (columns: a, b, …; did you mean "c"?)": the tail of an unknown-column message. */
export function unknownColumnMessage(
  param: string,
  name: string,
  source: string,
  columns: readonly ColumnInfo[],
): string {
  const names = columns.map((c) => c.name);
  const listed =
    names.length > LISTED_COLUMNS ? `${names.slice(0, LISTED_COLUMNS).join(", ")}, …` : names.join(", ");
  const near = nearestName(name, names);
  const hint = near ? `; did you mean "${near}"?` : "";
  return `${param} "${name}" is not a column of ${source} (columns: ${listed || "none"}${hint})`;
}

/** "features[2]" for ["features", 2]: how a param path reads in a message. */
function paramLabel(param: readonly (string | number)[]): string {
  return jsonPath(param)
    .slice(2)
    .replace(/\[\d+\]$/, "");
}

/** What a statement may start with in the sandbox: queries, and TEMP objects made and dropped. */
const SANDBOX_KEYWORDS = new Set([
  "SELECT",
  "WITH",
  "FROM",
  "VALUES",
  "TABLE",
  "PIVOT",
  "UNPIVOT",
  "DESCRIBE",
  "SUMMARIZE",
  "SHOW",
  "CREATE",
  "DROP",
  "INSERT",
  "UPDATE",
  "DELETE",
]);

/** The statement's first keyword, past blanks, comments and opening parentheses. */
function firstKeyword(sql: string): string {
  const rest = sql.replace(/^(\s|\(|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, "");
  return /^[A-Za-z_]+/.exec(rest)?.[0]?.toUpperCase() ?? "";
}

/**
 * The session a block's schema code gets. DuckDB's `allowed_directories` admits
 * writes as well as reads (COPY … TO, ATTACH and EXPORT DATABASE create files
 * in the project), and preparing is not harmless either (binding EXPORT
 * DATABASE makes its folder). So a statement runs only when it is one
 * statement, its text starts as a query or a CREATE/DROP/INSERT/UPDATE/DELETE
 * does, and DuckDB's own type for it, once prepared, agrees. COPY, ATTACH,
 * EXPORT, INSTALL/LOAD, SET, CALL, PRAGMA and the rest never reach DuckDB's binder.
 */
class SandboxSession extends SqlSession {
  private stopped = false;

  private async prepare(sql: string, values?: SqlValues): Promise<DuckDBPreparedStatement> {
    const { StatementType } = duckdb();
    const refuse = (what: string) =>
      new Error(`Schema inference only reads and makes TEMP objects; it does not run ${what}.`);
    if (this.stopped) throw new Error("INTERRUPT: schema inference was stopped");
    const keyword = firstKeyword(sql);
    if (!SANDBOX_KEYWORDS.has(keyword)) throw refuse(keyword || "this statement");
    const extracted = await this.connection.extractStatements(sql);
    if (extracted.count !== 1) throw refuse(`${extracted.count} statements at once`);
    const prepared = await extracted.prepare(0);
    const type = prepared.statementType;
    if (
      type !== StatementType.SELECT &&
      type !== StatementType.CREATE &&
      type !== StatementType.DROP &&
      type !== StatementType.INSERT &&
      type !== StatementType.UPDATE &&
      type !== StatementType.DELETE
    )
      throw refuse(`a ${StatementType[type]} statement`);
    if (values !== undefined) prepared.bind(values);
    if (this.stopped) throw new Error("INTERRUPT: schema inference was stopped");
    return prepared;
  }

  override async run(sql: string, values?: SqlValues): Promise<void> {
    await (await this.prepare(sql, values)).run();
  }

  override async all<T extends Row = Row>(sql: string, values?: SqlValues): Promise<T[]> {
    const reader = await (await this.prepare(sql, values)).runAndReadAll();
    return reader.getRowObjectsJS().map((r) => plain(r) as T);
  }

  override interrupt(): void {
    this.stopped = true;
    super.interrupt();
  }
}

/** A private in-memory DuckDB that may read only the allowed folders, settings locked, writes refused. */
async function openSandbox(
  allowedDirs: readonly string[],
): Promise<{ instance: DuckDBInstance; sql: SqlSession }> {
  const instance = await duckdb().DuckDBInstance.create(":memory:", {
    threads: "1",
    memory_limit: "256MB",
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
  });
  const sql = new SandboxSession(await instance.connect());
  try {
    const dirs = allowedDirs.map((d) => `'${(d.endsWith("/") ? d : `${d}/`).replaceAll("'", "''")}'`);
    // Nothing here is big enough to spill, and nothing may be written: no temp folder.
    await sql.connection.run("SET temp_directory = ''");
    await sql.connection.run(`SET allowed_directories = [${dirs.join(", ")}]`);
    await sql.connection.run("SET enable_external_access = false");
    await sql.connection.run("SET lock_configuration = true");
  } catch (e) {
    sql.close();
    instance.closeSync();
    throw e;
  }
  return { instance, sql };
}

interface NodeEntry {
  index: number;
  id: string;
  block: AnyBlock;
  params: unknown;
  /** input port → upstream "node.port" */
  inputs: Record<string, { node: string; port: string }>;
}

/** The nodes whose block is known and params parse; the rest stay unknown (validation reports them). */
function resolveNodes(pipeline: Pipeline, catalog: Catalog, overrides: Record<string, unknown>) {
  const params: Record<string, unknown> = Object.assign(Object.create(null), pipeline.params);
  for (const [k, v] of Object.entries(overrides)) if (Object.hasOwn(params, k)) params[k] = v;
  const nodes = new Map<string, NodeEntry>();
  pipeline.nodes.forEach((node, index) => {
    const block = catalog.get(node.block);
    if (!block || nodes.has(node.id)) return;
    if (findReferences(node.params).some((r) => !Object.hasOwn(params, r.name))) return;
    const parsed = block.params.safeParse(substitute(node.params, params));
    if (!parsed.success) return;
    nodes.set(node.id, { index, id: node.id, block, params: parsed.data, inputs: {} });
  });
  for (const edge of pipeline.edges) {
    const to = splitEndpoint(edge.to);
    const target = nodes.get(to.node);
    if (target?.block.inputs[to.port]) target.inputs[to.port] = splitEndpoint(edge.from);
  }
  return nodes;
}

class TimeLimit extends Error {}

/**
 * The output schemas of every node of a pipeline (possibly unsaved, possibly
 * with problems elsewhere), without running anything, and the problems they
 * show: unknown columns, SQL DuckDB refuses, a missing file.
 */
export async function inferSchemas(opts: InferOptions): Promise<InferResult> {
  const nodes = resolveNodes(opts.pipeline, opts.catalog, opts.overrides ?? {});
  const schemas: PipelineSchemas = {};
  const problems: Problem[] = [];
  const timedOut: string[] = [];
  const deadline = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const controller = new AbortController();
  const abort = () => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) abort();
  else opts.signal?.addEventListener("abort", abort, { once: true });
  const { instance, sql } = await openSandbox(opts.allowedDirs);
  const resolvePath = (p: string) => resolveProjectPath(opts.projectDir, opts.allowedDirs, p);
  const visiting = new Set<string>();
  let unfinished: Promise<void> = Promise.resolve();
  const done = new Map<string, OutputSchemas | undefined>();

  const infer = async (id: string): Promise<OutputSchemas | undefined> => {
    if (done.has(id)) return done.get(id);
    const node = nodes.get(id);
    // A node on a cycle, or whose block or params are bad, is unknown (validation says why).
    if (!node || visiting.has(id)) return undefined;
    visiting.add(id);
    const inputs: Record<string, PortSchema | undefined> = {};
    for (const [port, from] of Object.entries(node.inputs)) {
      inputs[port] = (await infer(from.node))?.[from.port];
    }
    visiting.delete(id);
    const result = await inferNode(node, inputs);
    done.set(id, result);
    schemas[id] = Object.fromEntries(
      Object.keys(node.block.outputs).map((port) => [port, result?.[port] ?? null]),
    );
    return result;
  };

  const inferNode = async (
    node: NodeEntry,
    inputs: Record<string, PortSchema | undefined>,
  ): Promise<OutputSchemas | undefined> => {
    if (!node.block.outputSchema) return undefined;
    // An empty param path points at the node itself.
    const at = (param: readonly (string | number)[]) =>
      jsonPath(["nodes", node.index, ...(param.length ? ["params", ...param] : [])]);
    const ctx: SchemaContext = {
      sql,
      projectDir: opts.projectDir,
      resolvePath,
      signal: controller.signal,
      memo: (key, compute) => memo(sql, key, compute),
      upstream: (port) =>
        node.inputs[port] ? `${node.inputs[port].node}.${node.inputs[port].port}` : undefined,
      problem: (param, message) => problems.push({ path: at(param), message }),
      checkColumns(port, param, names, options = {}) {
        const schema = inputs[port];
        const list = names === undefined ? [] : typeof names === "string" ? [names] : names;
        const from = node.inputs[port];
        if (!schema || !from) return [];
        const columns = options.among ?? schema.columns;
        const found: ColumnInfo[] = [];
        list.forEach((name, i) => {
          const column =
            columns.find((c) => c.name === name) ??
            (options.ignoreCase
              ? columns.find((c) => c.name.toLowerCase() === name.toLowerCase())
              : undefined);
          if (column) found.push(column);
          else if (!schema.open) {
            const path = typeof names === "string" ? param : [...param, i];
            const source = `${from.node}.${from.port}${options.after ? ` ${options.after}` : ""}`;
            const label = options.label ?? paramLabel(param);
            ctx.problem(path, unknownColumnMessage(label, name, source, columns));
          }
        });
        return found;
      },
    };
    const left = deadline - performance.now();
    if (left <= 0 || controller.signal.aborted) throw new TimeLimit();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stop = () => {};
    const limit = new Promise<never>((_, reject) => {
      stop = () => {
        sql.interrupt();
        reject(new TimeLimit());
      };
      timer = setTimeout(stop, left);
      controller.signal.addEventListener("abort", stop, { once: true });
    });
    try {
      const work = Promise.resolve(node.block.outputSchema(ctx, inputs, node.params));
      unfinished = work.then(
        () => undefined,
        () => undefined,
      );
      return await Promise.race([work, limit]);
    } catch (e) {
      if (e instanceof TimeLimit) throw e;
      // A block's own refusal (a file outside the project, bad SQL) is the user's to fix: a problem.
      if (e instanceof BlockError)
        problems.push({ path: jsonPath(["nodes", node.index]), message: e.message });
      // Anything else leaves the outputs unknown: a run reports it with the node's full context.
      return undefined;
    } finally {
      clearTimeout(timer);
      controller.signal.removeEventListener("abort", stop);
    }
  };

  try {
    for (const node of opts.pipeline.nodes) {
      try {
        await infer(node.id);
      } catch (e) {
        if (!(e instanceof TimeLimit)) throw e;
        // The rest stays unknown; the session was interrupted and takes no more statements.
        for (const n of opts.pipeline.nodes) if (!done.has(n.id) && nodes.has(n.id)) timedOut.push(n.id);
        break;
      }
    }
  } finally {
    // A node cut off by the time limit was interrupted: let it stop (briefly) before its database closes under it.
    let wait: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([unfinished, new Promise((resolve) => (wait = setTimeout(resolve, 1000)))]);
    clearTimeout(wait);
    opts.signal?.removeEventListener("abort", abort);
    sql.close();
    instance.closeSync();
  }
  // Every node of a known block answers, unknown outputs as null (bad params, a cycle, the time limit).
  for (const node of opts.pipeline.nodes) {
    const block = opts.catalog.get(node.block);
    if (block)
      schemas[node.id] ??= Object.fromEntries(Object.keys(block.outputs).map((port) => [port, null]));
  }
  return { schemas, problems, timedOut };
}
