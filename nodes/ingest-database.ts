import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { closeSync, constants, createWriteStream, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { z } from "zod";
import { ident } from "../app/data/sql";
import { type BlockContext, BlockError, defineBlock } from "../app/engine/block";
import {
  type CsvField,
  CsvLineTooLong,
  carrierType,
  createCsvTable,
  createStage,
  loadCsv,
  type Stage,
} from "../app/ingest/db/append";
import {
  accumulationKey,
  accumulationTable,
  type CursorState,
  columnsKey,
  commitIncrement,
  readCursorState,
} from "../app/ingest/db/incremental";
import { openConnection } from "../app/ingest/db/open";
import { buildSelect, quoteIdent } from "../app/ingest/db/read-only";
import { CONNECTION_NAME, type ConnectionSettings } from "../app/ingest/db/settings";
import {
  type CursorValue,
  type DbConnection,
  DbError,
  type ReadSource,
  type ReadSpec,
  type SourceColumn,
} from "../app/ingest/db/types";
import { ColumnTagsParam, originTags } from "../app/privacy/tags";
import { readProjectSettings } from "../app/project/project";
import type { DatabaseRead } from "../app/values/registry";

const Params = z.object({
  connection: z
    .string()
    .regex(CONNECTION_NAME, 'Give the name of a connection in dagwood.json ("connections")')
    .describe('The connection to read, by its name in dagwood.json ("connections"), e.g. warehouse')
    .meta({ order: 1 }),
  table: z
    .string()
    .min(1)
    .optional()
    .describe("The table (or view) to read; or leave empty and write a query")
    .meta({ order: 2 }),
  schema: z
    .string()
    .min(1)
    .optional()
    .describe("The table's schema (PostgreSQL) or database (MySQL); the connection's default when empty")
    .meta({ order: 3 }),
  columns: z
    .array(z.string().min(1))
    .optional()
    .describe("Only these columns of the table (all when empty)")
    .meta({ order: 4 }),
  where: z
    .string()
    .min(1)
    .optional()
    .describe("A filter on the table's rows, in the database's SQL, e.g. region = 'EU'")
    .meta({ order: 5 }),
  query: z
    .string()
    .min(1)
    .optional()
    .describe("Instead of a table: one read-only SELECT (or WITH … SELECT) in the database's SQL")
    .meta({ order: 6, label: "SQL query" }),
  mode: z
    .enum(["full", "incremental"])
    .default("full")
    .describe(
      "full: read every row on every run; incremental: read only the rows past the last cursor value and append them to the rows read before",
    )
    .meta({ order: 7 }),
  cursor: z
    .string()
    .min(1)
    .optional()
    .describe("Incremental: the column that only grows (an id or a timestamp of insertion)")
    .meta({ order: 8, showWhen: { param: "mode", in: ["incremental"] } }),
  refresh: z
    .boolean()
    .default(false)
    .describe(
      "Incremental: drop the rows read before and read everything again on every run. For one run, use the inspector's Full refresh or `dagwood run --full-refresh NODE` instead: the node stays cached after it",
    )
    .meta({ order: 9, advanced: true, showWhen: { param: "mode", in: ["incremental"] } }),
  unmapped: z
    .enum(["error", "text"])
    .default("error")
    .describe("A column whose type has no exact DuckDB match: fail naming it, or read it as text")
    .meta({ order: 10, advanced: true }),
  columnTags: ColumnTagsParam,
});
type DbParams = z.output<typeof Params>;

/** Rows fetched per batch: memory stays flat whatever the table's size. */
const BATCH_ROWS = 8192;

/** Opens connections; tests may put a fake here. */
export const connections = {
  open: (
    projectDir: string,
    name: string,
    settings: ConnectionSettings,
    dataFolders: string[],
  ): Promise<DbConnection> => openConnection(projectDir, name, settings, { dataFolders }),
};

function sourceOf(params: DbParams): ReadSource {
  const { table, query } = params;
  if (table && query) throw new BlockError('Give either "table" or "query", not both: clear one of them.');
  if (query) {
    if (params.columns?.length || params.where || params.schema)
      throw new BlockError(
        '"schema", "columns" and "where" apply to a table; with a query, write them into the query.',
      );
    return { query };
  }
  if (!table) throw new BlockError('Give a "table" to read, or a "query".');
  return {
    table,
    ...(params.schema ? { schema: params.schema } : {}),
    ...(params.columns?.length ? { columns: params.columns } : {}),
    ...(params.where ? { where: params.where } : {}),
  };
}

/** How a source is named in messages and the run's dataset record: connection/schema.table, or connection/query. */
function sourceName(connection: string, source: ReadSource): string {
  if ("query" in source) return `${connection}/query`;
  return `${connection}/${source.schema ? `${source.schema}.` : ""}${source.table}`;
}

function settingsOf(
  projectDir: string,
  name: string,
): { settings: ConnectionSettings; dataFolders: string[] } {
  const project = readProjectSettings(projectDir);
  const all = project.connections;
  const settings = all[name];
  if (!settings) {
    const known = Object.keys(all);
    throw new BlockError(
      `No connection named "${name}" in dagwood.json. ${known.length ? `Connections are: ${known.join(", ")}.` : 'Add one under "connections", e.g. {"warehouse": {"kind": "postgres", "host": …, "database": …, "user": …}}.'}`,
    );
  }
  return { settings, dataFolders: project.dataFolders };
}

function checkMode(params: DbParams): void {
  if (params.mode === "incremental" && !params.cursor)
    throw new BlockError(
      'An incremental read needs a "cursor": a column that only grows, such as an id or an insertion timestamp.',
    );
}

/** DbError messages are written for the user (the connection named, never its secret). */
function asBlockError(e: unknown): unknown {
  return e instanceof DbError && e.kind !== "cancelled" ? new BlockError(e.message) : e;
}

async function withConnection<T>(
  projectDir: string,
  name: string,
  use: (db: DbConnection, settings: ConnectionSettings) => Promise<T>,
): Promise<T> {
  const { settings, dataFolders } = settingsOf(projectDir, name);
  let db: DbConnection;
  try {
    db = await connections.open(projectDir, name, settings, dataFolders);
  } catch (e) {
    throw asBlockError(e);
  }
  try {
    return await use(db, settings);
  } catch (e) {
    throw asBlockError(e);
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** A value as a cursor keeps it: text (numbers in decimal, timestamps as the reader gives them). */
function cursorText(v: unknown): CursorValue | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : String(v);
}

/** The source's cursor column: how many NULLs it holds and its largest value, asked of the database. */
async function cursorStats(
  db: DbConnection,
  source: ReadSource,
  column: string,
  signal: AbortSignal,
): Promise<{ nulls: number; max: CursorValue | null; type: string }> {
  const c = quoteIdent(column, db.kind);
  const inner = buildSelect({ source }, db.kind);
  const query = `SELECT count(*) - count(${c}) AS nulls, max(${c}) AS hi FROM (${inner}) AS dagwood_s`;
  let nulls = 0;
  let max: CursorValue | null = null;
  let type = "VARCHAR";
  await db.read(
    { source: { query }, unmappedAsText: true },
    {
      signal,
      onColumns: (columns) => {
        type = columns[1]?.duckdbType ?? type;
      },
      onBatch: async (batch) => {
        if (batch.rows === 0) return;
        nulls = Number(batch.columns[0]?.[0] ?? 0);
        max = cursorText(batch.columns[1]?.[0]);
      },
    },
  );
  return { nulls, max, type };
}

/** Rows a bounded count scans at most: past it the count is not cheap, and the bar stays indeterminate. */
const COUNT_CAP = 1_000_000;

/** The bar's fraction: rows read of the estimate, held below 1 until the read is done (0: indeterminate). */
export function progressFraction(rows: number, estimate: number | null): number {
  if (!estimate || estimate <= 0) return 0;
  return Math.min(rows / estimate, 0.99);
}

/** `SELECT count(*)` of a table read (its filter and cursor, no ORDER BY), at most `cap` rows counted. */
async function countRows(db: DbConnection, spec: ReadSpec, cap: number | null): Promise<number | null> {
  const source = spec.source;
  if ("query" in source) return null;
  let inner = buildSelect({ source: { ...source, columns: undefined }, cursor: spec.cursor }, db.kind);
  const order = spec.cursor ? ` ORDER BY ${quoteIdent(spec.cursor.column, db.kind)}` : "";
  if (order && inner.endsWith(order)) inner = inner.slice(0, -order.length);
  const query = `SELECT count(*) AS n FROM (${inner}${cap !== null ? ` LIMIT ${cap + 1}` : ""}) AS dagwood_n`;
  let n: number | null = null;
  await db.read(
    { source: { query }, unmappedAsText: true },
    {
      onColumns: () => undefined,
      onBatch: async (batch) => {
        if (batch.rows > 0) n = Number(batch.columns[0]?.[0]);
      },
    },
  );
  if (n === null || !Number.isFinite(n)) return null;
  return cap !== null && n > cap ? null : n;
}

/**
 * About how many rows a read will give, for the progress bar, asked cheaply: SQLite counts them
 * (a local file); PostgreSQL and MySQL give the catalog's estimate (pg_class.reltuples,
 * information_schema.TABLES.TABLE_ROWS through listTables) or, when it has none, a count of at most
 * COUNT_CAP rows. An incremental read past a cursor takes the estimate less the `accumulated` rows.
 * A query, a filter on a server database, or a failure: null (the bar stays indeterminate).
 */
async function rowsEstimate(
  db: DbConnection,
  spec: ReadSpec,
  accumulated: number | null,
): Promise<number | null> {
  const source = spec.source;
  if ("query" in source) return null;
  try {
    if (db.kind === "sqlite") return await countRows(db, spec, null);
    if (source.where) return null;
    const tables = await db.listTables(source.schema);
    const named = tables.filter((t) => t.name === source.table);
    const entry = named.length === 1 ? named[0] : named.find((t) => t.schema === "public");
    let total = entry?.rowsEstimate ?? null;
    if (total === null || total === 0) {
      const whole = { table: source.table, ...(source.schema ? { schema: source.schema } : {}) };
      total = await countRows(db, { source: whole }, COUNT_CAP);
    }
    if (total === null) return null;
    if (spec.cursor?.after == null) return total;
    return accumulated !== null && total > accumulated ? total - accumulated : null;
  } catch (e) {
    if (e instanceof DbError && e.kind === "cancelled") throw e;
    return null;
  }
}

/** A reader with the CSV path (PostgreSQL's, app/ingest/db/postgres.ts readCsv). */
type CsvReader = DbConnection & {
  readCsv(
    spec: ReadSpec,
    opts: {
      signal?: AbortSignal;
      onColumns: (columns: SourceColumn[], csv: CsvField[]) => Promise<void> | void;
      consume: (csv: Readable) => Promise<void>;
    },
  ): Promise<SourceColumn[] | null>;
};

const hasCsv = (db: DbConnection): db is CsvReader =>
  typeof (db as Partial<CsvReader>).readCsv === "function";

/** Rows in a chunk of CSV: its newlines (a text field's own newlines count too: progress only). */
function newlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * A full read through the CSV path: PostgreSQL writes `COPY … (FORMAT csv)`, its bytes go unparsed
 * into a named pipe that DuckDB's read_csv reads at the same time, into the staging table (no JS
 * value per cell). Null when the reader has no CSV path for these columns (nothing read yet), or a
 * row is too long for it (CsvLineTooLong: nothing kept): the binary reader reads instead.
 */
async function readCsvIntoStage(
  ctx: BlockContext,
  db: CsvReader,
  spec: ReadSpec,
  report: (rows: number, force?: boolean) => void,
): Promise<Stage | null> {
  const stageName = ctx.newTable("stage");
  // In the project's store (.dagwood/tmp, the workspace's temp folder): inside the folders DuckDB may read.
  const tmp = join(ctx.projectDir, ".dagwood", "tmp");
  mkdirSync(tmp, { recursive: true });
  const dir = mkdtempSync(join(tmp, "read-"));
  const fifo = join(dir, "rows.csv");
  let created = false;
  try {
    execFileSync("mkfifo", ["-m", "600", fifo]);
    let columns: SourceColumn[] = [];
    let fields: CsvField[] = [];
    const read = await db.readCsv(spec, {
      signal: ctx.signal,
      onColumns: async (cols, csv) => {
        columns = cols;
        fields = csv;
        await createCsvTable(ctx.sql, stageName, cols);
        created = true;
      },
      consume: (csv) => pipeInto(ctx, csv, fifo, stageName, columns, fields, report),
    });
    if (read === null) return null;
    const rows = Number(
      (await ctx.sql.one<{ n: number | bigint }>(`SELECT count(*) AS n FROM ${ident(stageName)}`)).n,
    );
    report(rows, true);
    return {
      table: stageName,
      columns: read,
      rows,
      append: () => Promise.reject(new Error("the stage is filled")),
      close: () => Promise.resolve(),
      select: () => `SELECT * FROM ${ident(stageName)}`,
    };
  } catch (e) {
    if (created) await ctx.sql.run(`DROP TABLE IF EXISTS ${ident(stageName)}`).catch(() => undefined);
    if (e instanceof CsvLineTooLong) {
      ctx.log(`${e.message} Reading again through the binary reader.`);
      return null;
    }
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes the CSV stream into the named pipe while DuckDB loads it into the table. A server error
 * closes the pipe (DuckDB sees its end); DuckDB failing first makes the writes fail (EPIPE), so no
 * write nor open waits on the pipe (the reader then cancels the query and drains the stream).
 */
async function pipeInto(
  ctx: BlockContext,
  csv: Readable,
  fifo: string,
  table: string,
  columns: SourceColumn[],
  fields: CsvField[],
  report: (rows: number) => void,
): Promise<void> {
  const load = loadCsv(ctx.sql, table, columns, fields, fifo);
  const out = createWriteStream(fifo);
  let rows = 0;
  let broken = false;
  const written = new Promise<void>((resolve, reject) => {
    out.on("close", resolve); // also when destroyed: the server's stream failed
    out.on("error", (e) => {
      broken = true;
      csv.resume();
      reject(e);
    });
  });
  written.catch(() => {});
  csv.on("data", (chunk: Buffer) => {
    if (broken) return;
    rows += newlines(chunk);
    report(rows);
    if (!out.write(chunk)) {
      csv.pause();
      out.once("drain", () => csv.resume());
    }
  });
  csv.on("end", () => out.end());
  csv.on("error", () => out.destroy()); // DuckDB sees the end of the pipe; the reader reports the server's error
  try {
    await load;
  } catch (e) {
    // DuckDB stopped reading. A writer still opening the pipe waits for a reader: a reader opened
    // and closed at once (non-blocking) lets the open finish, and every write then fails (EPIPE),
    // which ends the writer; a writer already open fails at its next write.
    while (out.pending && !out.destroyed) {
      try {
        closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
      } catch {
        // The pipe is gone: nothing waits on it.
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw e;
  }
  await written;
}

/** Reads the source into a staging table, with progress; the stage holds every row read. */
async function readIntoStage(
  ctx: BlockContext,
  db: DbConnection,
  spec: ReadSpec,
  shown: string,
  estimate: number | null = null,
): Promise<{ stage: Stage; cursorMax: CursorValue | null }> {
  const started = Date.now();
  let lastReport = 0;
  let stage: Stage | undefined;
  const stageName = ctx.newTable("stage");
  const report = (rows: number, force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 500) return;
    lastReport = now;
    const seconds = Math.max((now - started) / 1000, 0.001);
    ctx.progress(
      progressFraction(rows, estimate),
      `Read ${rows.toLocaleString("en")}${estimate ? ` of about ${estimate.toLocaleString("en")}` : ""} rows from ${shown} (${Math.round(rows / seconds).toLocaleString("en")} rows/s)`,
    );
  };
  try {
    // A full PostgreSQL read takes the CSV path (no cursor: its value is the binary reader's text).
    if (!spec.cursor && hasCsv(db)) {
      const staged = await readCsvIntoStage(ctx, db, spec, report);
      if (staged) return { stage: staged, cursorMax: null };
    }
    const result = await db.read(spec, {
      batchRows: BATCH_ROWS,
      signal: ctx.signal,
      onColumns: async (columns) => {
        stage = await createStage(ctx.sql, stageName, columns);
      },
      onBatch: async (batch) => {
        if (!stage) throw new Error("the reader gave rows before it announced the columns");
        await stage.append(batch);
        report(stage.rows);
      },
    });
    if (!stage) stage = await createStage(ctx.sql, stageName, result.columns);
    await stage.close();
    report(stage.rows, true);
    return { stage, cursorMax: result.cursorMax };
  } catch (e) {
    await stage?.close().catch(() => undefined);
    await ctx.sql.run(`DROP TABLE IF EXISTS ${ident(stageName)}`).catch(() => undefined);
    throw e;
  }
}

/** Whether cursor value `a` lies below `b`, compared as the cursor's DuckDB type. */
async function below(ctx: BlockContext, a: CursorValue, b: CursorValue, type: string): Promise<boolean> {
  const t = /^[A-Za-z][A-Za-z0-9_ ]*(\(\d+(, ?\d+)?\))?$/.test(type) ? type : "VARCHAR";
  const { lt } = await ctx.sql.one<{ lt: boolean }>(`SELECT CAST(? AS ${t}) < CAST(? AS ${t}) AS lt`, [a, b]);
  return lt;
}

/** The largest cursor value staged, as DuckDB writes it: for a reader that does not report it. */
async function stagedCursorMax(ctx: BlockContext, stage: Stage, column: string): Promise<CursorValue | null> {
  const { v } = await ctx.sql.one<{ v: string | null }>(
    `SELECT CAST(max(${ident(column)}) AS VARCHAR) AS v FROM ${ident(stage.table)}`,
  );
  return v;
}

/** What the change token is asked about: the source, and the cursor column of an incremental read. */
function tokenSpec(params: DbParams, source: ReadSource): ReadSpec {
  return params.mode === "incremental" && params.cursor
    ? { source, cursor: { column: params.cursor, after: null } }
    : { source };
}

/**
 * The dataset version a read made: the read (connection, source, cursor range, rows) with the
 * database's change token, so an unchanged table read again is the same version. Without a token
 * (a query) nothing says two reads saw the same rows: each is a version of its own.
 */
function digestOf(read: DatabaseRead, token: string | null): string {
  return createHash("sha256")
    .update(JSON.stringify(["database", read, token ?? randomUUID()]))
    .digest("hex");
}

async function runFull(ctx: BlockContext, db: DbConnection, params: DbParams, out: string) {
  const source = sourceOf(params);
  const shown = sourceName(params.connection, source);
  const spec: ReadSpec = { source, unmappedAsText: params.unmapped === "text" };
  const { stage } = await readIntoStage(ctx, db, spec, shown, await rowsEstimate(db, spec, null));
  // The staged rows are the output: the table is renamed, not copied.
  await ctx.sql.run(`ALTER TABLE ${ident(stage.table)} RENAME TO ${ident(out)}`);
  return { rows: stage.rows, from: null, to: null, total: stage.rows };
}

async function runIncremental(ctx: BlockContext, db: DbConnection, params: DbParams, out: string) {
  const source = sourceOf(params);
  const shown = sourceName(params.connection, source);
  const column = params.cursor!;
  const { run } = await ctx.lineage(ctx.nodeId);
  const key = accumulationKey({
    pipeline: run.pipeline,
    node: ctx.nodeId,
    connection: params.connection,
    source: JSON.stringify(source),
    cursorColumn: column,
  });
  const refresh = params.refresh || ctx.fullRefresh === true;
  const state: CursorState | undefined = refresh ? undefined : await readCursorState(ctx.sql, key);
  if (refresh) ctx.log(`Full refresh: the rows read before from ${shown} are replaced by a new read`);

  if ("table" in source && source.columns?.length && !source.columns.includes(column))
    throw new BlockError(`"columns" must include the cursor column "${column}".`);
  const stats = await cursorStats(db, source, column, ctx.signal);
  if (stats.nulls > 0) {
    throw new BlockError(
      `The cursor column "${column}" of ${shown} has ${stats.nulls} NULL value${stats.nulls === 1 ? "" : "s"}: an incremental read would never read those rows. Choose a cursor column without NULLs (or exclude them with "where"), or read with mode "full".`,
    );
  }
  if (
    state?.cursor != null &&
    stats.max !== null &&
    (await below(ctx, stats.max, state.cursor, stats.type))
  ) {
    throw new BlockError(
      `The largest "${column}" in ${shown} is now ${stats.max}, below the cursor committed on ${state.updatedAt} (${state.cursor}): the source was rewritten. Run a full refresh (the inspector's "Full refresh on next run", or dagwood run --full-refresh NODE) to read it again from the start.`,
    );
  }

  const from = state?.cursor ?? null;
  const spec: ReadSpec = {
    source,
    cursor: { column, after: from },
    unmappedAsText: params.unmapped === "text",
  };
  const estimate = await rowsEstimate(db, spec, state ? state.rows : null);
  const { stage, cursorMax } = await readIntoStage(ctx, db, spec, shown, estimate);
  try {
    if (!stage.columns.some((c) => c.name === column))
      throw new BlockError(
        `The cursor column "${column}" is not among the columns ${shown} gives: ${stage.columns.map((c) => c.name).join(", ")}.`,
      );
    if (state && state.columns !== columnsKey(stage.columns))
      throw new BlockError(
        `The columns of ${shown} changed since the rows read before (${state.columns} → ${columnsKey(stage.columns)}): run a full refresh (the inspector's "Full refresh on next run", or dagwood run --full-refresh NODE) to read it again with the new columns.`,
      );
    const to = stage.rows === 0 ? from : (cursorMax ?? (await stagedCursorMax(ctx, stage, column)));
    const table = accumulationTable(key);
    const { rows: total } = await commitIncrement(ctx.sql, {
      key,
      table,
      cursorColumn: column,
      select: stage.select(),
      replace: !state,
      cursor: to,
      columns: stage.columns,
    });
    await ctx.sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS SELECT * FROM ${ident(table)}`);
    ctx.log(
      `Read ${stage.rows} new rows from ${shown} (${column} ${from === null ? "from the start" : `after ${from}`}${to !== null ? ` up to ${to}` : ""}); ${total} rows in all`,
    );
    return { rows: stage.rows, from, to, total };
  } finally {
    await ctx.sql.run(`DROP TABLE IF EXISTS ${ident(stage.table)}`);
  }
}

export default defineBlock({
  kind: "ingest.database",
  version: 1,
  title: "Read database",
  category: "Data",
  description:
    "Reads a table or a read-only query from a PostgreSQL, MySQL/MariaDB or SQLite connection named in dagwood.json, in full or incrementally (only the rows past the last cursor value, appended to those read before).",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: Params,
  /**
   * The columns as the database describes the read (DbConnection.describe: no rows read), with
   * DuckDB's own names for their types; remembered per params for a minute, so editing does not
   * ask the database at every keystroke and a changed table shows within the minute.
   */
  async outputSchema(ctx, _inputs, params) {
    try {
      settingsOf(ctx.projectDir, params.connection);
    } catch (e) {
      if (!(e instanceof BlockError)) throw e;
      ctx.problem(["connection"], e.message);
      return { out: undefined };
    }
    try {
      checkMode(params);
      const source = sourceOf(params);
      const minute = Math.floor(Date.now() / 60_000);
      const key = `ingest.database\0${ctx.projectDir}\0${JSON.stringify(params)}\0${minute}`;
      const columns = await ctx.memo(key, async () => {
        const described = await withConnection(ctx.projectDir, params.connection, (db) =>
          db.describe({ source, unmappedAsText: params.unmapped === "text" }),
        );
        if (described.length === 0) return [];
        const list = described.map((c, i) => {
          carrierType(c.duckdbType); // refuses anything but a DuckDB type name
          return `typeof(CAST(NULL AS ${c.duckdbType})) AS t${i}`;
        });
        const types = await ctx.sql.one<Record<string, string>>(`SELECT ${list.join(", ")}`);
        return described.map((c, i) => ({ name: c.name, type: types[`t${i}`]! }));
      });
      return { out: { columns } };
    } catch (error) {
      const e = asBlockError(error);
      if (!(e instanceof BlockError)) throw e;
      ctx.problem([params.query ? "query" : params.table ? "table" : "connection"], e.message);
      return { out: undefined };
    }
  },
  async run(ctx, _inputs, params) {
    checkMode(params);
    const source = sourceOf(params);
    const shown = sourceName(params.connection, source);
    ctx.progress(0, `Reading ${shown}`);
    const out = ctx.newTable("out");
    const read = await withConnection(ctx.projectDir, params.connection, async (db) => {
      // The token the engine's cache key took just before this run (externalFingerprint), when there
      // is one: on a large table without a cursor asking again is another scan of it.
      const spec = tokenSpec(params, source);
      const token = takeToken(ctx.projectDir, params.connection, spec) ?? (await db.changeToken(spec));
      const r =
        params.mode === "incremental"
          ? await runIncremental(ctx, db, params, out)
          : await runFull(ctx, db, params, out);
      return { ...r, token };
    });
    if (params.mode === "full") ctx.log(`Read ${read.rows} rows from ${shown}`);
    const database: DatabaseRead = {
      connection: params.connection,
      ...("query" in source ? { query: source.query } : { table: shown.slice(params.connection.length + 1) }),
      ...(params.mode === "incremental"
        ? { cursor: { column: params.cursor!, from: read.from, to: read.to } }
        : {}),
      rowsRead: read.rows,
    };
    ctx.dataset({ source: shown, digest: digestOf(database, read.token), port: "out", database });
    // The columnTags param's tags (app/privacy/tags.ts): a database table has no dataset entry to carry them.
    const { tags, warnings } = params.columnTags
      ? originTags(ctx.nodeId, await ctx.sql.columns(out), { columnTags: params.columnTags })
      : { tags: {}, warnings: [] };
    for (const w of warnings) ctx.log(w, "warn");
    ctx.progress(1);
    return { out: { type: "table", name: out, ...(Object.keys(tags).length ? { tags } : {}) } };
  },
  /**
   * What the database says changed (DbConnection.changeToken) with the connection's settings (never
   * a secret: dagwood.json holds none); when it cannot say (a query), a key no entry matches, so the
   * node always reads.
   */
  async externalFingerprint(ctx, params) {
    checkMode(params);
    const source = sourceOf(params);
    return withConnection(ctx.projectDir, params.connection, async (db, settings) => {
      const spec = tokenSpec(params, source);
      const token = await db.changeToken(spec);
      keepToken(ctx.projectDir, params.connection, spec, token);
      return JSON.stringify([settings, token ?? `no change token ${randomUUID()}`]);
    });
  },
  // Reading changes nothing the fingerprint covers: the engine keeps the key it took before the run.
  readsExternalStateOnly: true,
});

/**
 * Change tokens taken for a cache key, handed to the run that follows (the engine asks for the key
 * right before it runs the node), so a read asks the database once, not twice. Entries are taken
 * once and expire after a minute: a later run always asks again.
 */
const tokens = new Map<string, { token: string | null; at: number }>();
const TOKEN_TTL_MS = 60_000;

function tokenKey(projectDir: string, connection: string, spec: ReadSpec): string {
  return JSON.stringify([projectDir, connection, spec]);
}

function keepToken(projectDir: string, connection: string, spec: ReadSpec, token: string | null): void {
  const now = Date.now();
  for (const [k, v] of tokens) if (now - v.at > TOKEN_TTL_MS) tokens.delete(k);
  tokens.set(tokenKey(projectDir, connection, spec), { token, at: now });
}

/** The token kept for this read (once), or undefined: none kept, expired, or null (no token: ask again). */
function takeToken(projectDir: string, connection: string, spec: ReadSpec): string | undefined {
  const key = tokenKey(projectDir, connection, spec);
  const kept = tokens.get(key);
  tokens.delete(key);
  if (!kept || kept.token === null || Date.now() - kept.at > TOKEN_TTL_MS) return undefined;
  return kept.token;
}
