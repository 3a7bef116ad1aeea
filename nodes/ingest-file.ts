import { randomUUID } from "node:crypto";
import { existsSync, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { z } from "zod";
import { ident, literal, type SqlSession } from "../app/data/sql";
import { type BlockContext, BlockError, defineBlock } from "../app/engine/block";
import type { ColumnInfo } from "../app/engine/ports";
import type { SchemaContext } from "../app/engine/schema";
import { ColumnTagsParam, originTags } from "../app/privacy/tags";
import {
  datasetEntryOf,
  deprecationWarning,
  entryFingerprint,
  testDataset,
} from "../app/project/dataset-suites";

const FORMATS = ["auto", "csv", "tsv", "parquet", "json", "ndjson"] as const;
type Format = Exclude<(typeof FORMATS)[number], "auto">;

const BY_EXTENSION: Record<string, Format> = {
  csv: "csv",
  tsv: "tsv",
  tab: "tsv",
  parquet: "parquet",
  json: "json",
  ndjson: "ndjson",
  jsonl: "ndjson",
};

/**
 * A DuckDB type name: one word, an optional "(p, s)" and optional "[]" suffixes
 * (multi-word names have one-word aliases: TIMESTAMPTZ, DOUBLE). Type names
 * are spliced into CAST(... AS <type>), so nothing else may pass.
 */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\(\d+(, ?\d+)?\))?(\[\d*\])*$/;

/** Delimiters DuckDB's sniffer tries; a one-column result whose first line holds one is suspicious. */
const DELIMITER_CANDIDATES = [",", ";", "\t", "|"];

const Params = z.object({
  path: z
    .string()
    .min(1, "Give the path of the file to read")
    .describe("File to read, relative to the project folder (e.g. data/penguins.csv)")
    .meta({ order: 1, picker: "file" }),
  format: z
    .enum(FORMATS)
    .default("auto")
    .describe("File format; auto picks it from the extension (.csv .tsv .parquet .json .ndjson/.jsonl)")
    .meta({ order: 2 }),
  delimiter: z
    .string()
    .min(1)
    .max(4)
    .optional()
    .describe('CSV field separator, e.g. ";" or \\t for tab; detected when left empty (tab for TSV)')
    .meta({ order: 3, showWhen: { param: "format", in: ["auto", "csv", "tsv"] } }),
  header: z
    .boolean()
    .default(true)
    .describe("CSV/TSV: the first line holds the column names")
    .meta({ order: 4, showWhen: { param: "format", in: ["auto", "csv", "tsv"] } }),
  columns: z
    .record(
      z.string().min(1),
      z.string().regex(TYPE_NAME, "must be a DuckDB type name such as VARCHAR, BIGINT, DOUBLE, DATE"),
    )
    .optional()
    .describe(
      'Column types that override the inferred ones, e.g. {"zip": "VARCHAR", "price": "DECIMAL(10,2)"}',
    )
    .meta({ order: 5 }),
  nullValues: z
    .array(z.string())
    .optional()
    .describe('CSV/TSV: values read as missing (besides empty fields), e.g. ["NA", "-"]')
    .meta({ order: 6, advanced: true, showWhen: { param: "format", in: ["auto", "csv", "tsv"] } }),
  columnTags: ColumnTagsParam,
});
type IngestParams = z.output<typeof Params>;

function formatOf(params: IngestParams): Format {
  if (params.format !== "auto") return params.format;
  const ext = /\.([A-Za-z0-9]+)$/.exec(params.path.replace(/\.gz$/i, ""))?.[1]?.toLowerCase() ?? "";
  const format = BY_EXTENSION[ext];
  if (!format) {
    throw new BlockError(
      `Cannot tell the format of ${params.path} from its extension. Set "format" to csv, tsv, parquet, json or ndjson.`,
    );
  }
  return format;
}

function delimiterOf(params: IngestParams, format: Format): string | undefined {
  if (params.delimiter) return params.delimiter === "\\t" ? "\t" : params.delimiter;
  return format === "tsv" ? "\t" : undefined;
}

/** The read_csv/read_parquet/read_json call for the file; CSV type overrides go in as `types`. */
function readerSql(file: SourceFile, types?: Record<string, string>): string {
  const path = literal(file.abs);
  if (file.format === "parquet") return `read_parquet(${path})`;
  if (file.format === "json") return `read_json(${path}, format='array')`;
  if (file.format === "ndjson") return `read_json(${path}, format='newline_delimited')`;
  const options = [`header=${file.header}`];
  if (file.delimiter) options.push(`delim=${literal(file.delimiter)}`);
  if (types) {
    const entries = Object.entries(types).map(([name, type]) => `${literal(name)}: ${literal(type)}`);
    options.push(`types={${entries.join(", ")}}`);
  }
  // DuckDB's nullstr replaces the default (the empty field), so keep the empty field in the list.
  if (file.nullValues?.length) {
    options.push(`nullstr=[${["", ...file.nullValues].map(literal).join(", ")}]`);
  }
  return `read_csv(${path}, ${options.join(", ")})`;
}

/** Turns DuckDB's read errors into one line that names the file, the line and what to do. */
function explainReadError(
  error: unknown,
  abs: string,
  shown: string,
  overrides: Record<string, string> = {},
): BlockError {
  const raw = (error as Error).message ?? String(error);
  const message = raw.split(abs).join(shown);
  const prefix = `Could not read ${shown}:`;
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1] ?? /in line (\d+)/.exec(message)?.[1];
  const at = line ? ` line ${line}` : "";
  let m = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (m && line) {
    return new BlockError(
      `${prefix} line ${line} has ${m[2]} fields, expected ${m[1]}. Fix that row, or set "delimiter" if the file is not separated by the detected one.`,
    );
  }
  if (/not utf-8 encoded|invalid UTF-8/i.test(message)) {
    return new BlockError(
      `${prefix} the file is not UTF-8 encoded (first bad bytes on${at || " an unknown line"}). Re-save it as UTF-8 (in Excel: Save As "CSV UTF-8") and run again.`,
    );
  }
  m = /Error when converting column "(.+?)"\. Could not convert string "(.*?)" to '(.+?)'/.exec(message);
  if (m) {
    const fix = /This type was auto-detected/.test(message)
      ? `The type was guessed from the first rows; set "columns": {"${m[1]}": "VARCHAR"} (or a fitting type) to override it.`
      : `Fix the value, or choose another type for "${m[1]}" in "columns".`;
    return new BlockError(
      `${prefix}${at}${at && ","} column "${m[1]}": "${m[2]}" is not a valid ${m[3]}. ${fix}`,
    );
  }
  m = /Could not convert (?:string )?'(.*?)' to (\S+) when casting from source column (.+)$/m.exec(message);
  if (m) {
    const type = overrides[m[3]!] ?? m[2];
    return new BlockError(
      `${prefix} column "${m[3]}": "${m[1]}" cannot be converted to ${type}. Fix the value, or choose another type for "${m[3]}" in "columns".`,
    );
  }
  if (/Malformed JSON/.test(message)) {
    const why = /: ([^:]+?)\.?\s*$/m.exec(message.split("\n")[0] ?? "")?.[1] ?? "malformed JSON";
    return new BlockError(`${prefix} malformed JSON on${at || " an unknown line"} (${why}).`);
  }
  if (/Expected top-level JSON array/.test(message)) {
    return new BlockError(
      `${prefix} it does not hold a JSON array. If it has one JSON object per line, set "format" to "ndjson".`,
    );
  }
  if (/No magic bytes|not a parquet file|too small to be a Parquet file/i.test(message)) {
    return new BlockError(`${prefix} it is not a Parquet file. Check the file, or set "format" to match it.`);
  }
  if (/file system operations are disabled/.test(message)) {
    return new BlockError(
      `${prefix} it links to a file outside the project folder, which blocks may not read. Copy the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
    );
  }
  // DuckDB prefixes its messages with the error class ("Invalid Input Error: ..."), which tells the user nothing.
  return new BlockError(`${prefix} ${message.split("\n")[0]?.replace(/^[A-Za-z ]+ Error: /, "")}`);
}

/** The file's first line (up to 64 KiB), to check a one-column CSV against its header. */
async function firstLine(abs: string): Promise<string> {
  const handle = await open(abs, "r");
  try {
    const buffer = Buffer.alloc(65536);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString("utf8").split(/\r?\n/)[0] ?? "";
  } finally {
    await handle.close();
  }
}

/**
 * When the sniffer cannot fit every row to one dialect it falls back to one
 * column (or gives up), hiding the row at fault. Re-reading with the dialect
 * fixed makes DuckDB name that row; this throws that error, if there is one.
 */
async function findMalformedRow(sql: SqlSession, abs: string, delimiter: string, header: boolean) {
  const file = literal(abs);
  const dialect = `delim=${literal(delimiter)}, header=${header}`;
  const sniffed = await sql
    .one<{ Columns: { name: string }[] }>(
      `SELECT Columns FROM sniff_csv(${file}, ${dialect}, ignore_errors=true)`,
    )
    .catch(() => undefined);
  if (!sniffed || sniffed.Columns.length < 2) return;
  const columns = sniffed.Columns.map((c) => `${literal(c.name)}: 'VARCHAR'`).join(", ");
  await sql.run(
    `SELECT count(*) FROM read_csv(${file}, auto_detect=false, ${dialect}, quote='"', escape='"', columns={${columns}})`,
  );
}

/**
 * Turns a failed read into a BlockError. When the sniffer could not fit
 * every row to one dialect, a strict re-read names the row at fault first.
 */
async function readFailure(ctx: SqlOnly, error: unknown, file: SourceFile): Promise<BlockError> {
  if (file.delimiter && /not possible to automatically detect the CSV parsing dialect/.test(String(error))) {
    const strict = await findMalformedRow(ctx.sql, file.abs, file.delimiter, file.header).catch((e) => e);
    if (strict) return explainReadError(strict, file.abs, file.shown);
  }
  return explainReadError(error, file.abs, file.shown, file.overrides);
}

/**
 * A CSV read as a single column although its first line holds a delimiter
 * usually means the sniffer gave up on a malformed row: throw that row's error.
 */
async function checkSingleColumn(ctx: SqlOnly, columns: number, file: SourceFile): Promise<void> {
  if (!file.csv || columns !== 1) return;
  const header = await firstLine(file.abs);
  const suspects = file.delimiter ? [file.delimiter] : DELIMITER_CANDIDATES;
  for (const candidate of suspects.filter((d) => header.includes(d))) {
    const strict = await findMalformedRow(ctx.sql, file.abs, candidate, file.header).catch((e) => e);
    if (strict) throw explainReadError(strict, file.abs, file.shown);
  }
}

/** Checks each override names an existing column and a type DuckDB knows, before the full read. */
async function checkOverrides(ctx: SqlOnly, file: SourceFile, overrides: Record<string, string>) {
  const reader = readerSql(file);
  const present = await ctx.sql
    .all<{ column_name: string }>(`DESCRIBE SELECT * FROM ${reader}`)
    .then((rows) => rows.map((r) => r.column_name))
    .catch(async (e) => {
      throw await readFailure(ctx, e, file);
    });
  const lower = new Set(present.map((n) => n.toLowerCase()));
  for (const [name, type] of Object.entries(overrides)) {
    if (!lower.has(name.toLowerCase())) {
      await checkSingleColumn(ctx, present.length, file);
      throw new BlockError(
        `"columns" sets a type for "${name}", but ${file.shown} has no such column. Its columns are: ${present.join(", ")}.`,
      );
    }
    try {
      await ctx.sql.run(`SELECT CAST(NULL AS ${type})`);
    } catch {
      throw new BlockError(
        `"columns" gives "${name}" the unknown type ${type}. Use a DuckDB type such as VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP or DECIMAL(10,2).`,
      );
    }
  }
}

/** The reading steps need only a DuckDB session: a node run's, or schema inference's private one. */
type SqlOnly = Pick<BlockContext, "sql">;

/** Everything about the file the reading steps share. */
interface SourceFile {
  abs: string;
  /** The path as the user gave it, for messages. */
  shown: string;
  format: Format;
  csv: boolean;
  delimiter: string | undefined;
  header: boolean;
  nullValues: string[] | undefined;
  overrides: Record<string, string> | undefined;
}

/**
 * DuckDB reads a JSON array cut short ("[{...},{...},") as the rows it got;
 * a file that does not end with "]" was cut off, and loading half of it would
 * pass for the whole.
 */
async function checkJsonArrayEnds(abs: string, shown: string): Promise<void> {
  const handle = await open(abs, "r");
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(Math.min(size, 4096));
    await handle.read(tail, 0, tail.length, size - tail.length);
    if (!tail.toString("utf8").trimEnd().endsWith("]")) {
      throw new BlockError(
        `Could not read ${shown}: it does not end with "]", so the JSON array is cut short (the file may be truncated). If it has one JSON object per line, set "format" to "ndjson".`,
      );
    }
  } finally {
    await handle.close();
  }
}

/**
 * Refuses a file that changed while DuckDB read it and it was hashed: the
 * table and the hash could each hold part of either version.
 */
async function checkUnchanged(abs: string, shown: string, before: Stats): Promise<void> {
  const after = await stat(abs).catch(() => undefined);
  if (after?.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new BlockError(
      `${shown} changed while it was being read. Run again once whatever writes it has finished.`,
    );
  }
}

function sourceFile(params: IngestParams, abs: string, format: Format): SourceFile {
  const csv = format === "csv" || format === "tsv";
  return {
    abs,
    shown: params.path,
    format,
    csv,
    delimiter: delimiterOf(params, format),
    header: params.header,
    nullValues: params.nullValues,
    overrides: params.columns && Object.keys(params.columns).length ? params.columns : undefined,
  };
}

/** The SELECT that reads the file: CSV takes its overrides at parse time (so "007" read as VARCHAR keeps its zeros); the typed formats cast. */
function selectSql(file: SourceFile): string {
  const { overrides, csv } = file;
  if (!overrides || csv) return `SELECT * FROM ${readerSql(file, overrides)}`;
  const casts = Object.entries(overrides).map(([n, t]) => `CAST(${ident(n)} AS ${t}) AS ${ident(n)}`);
  return `SELECT * REPLACE (${casts.join(", ")}) FROM ${readerSql(file)}`;
}

/**
 * The file's columns as a run would read them, from DuckDB's sniffer alone
 * (DESCRIBE reads a sample, not the rows); memoized by path, size, mtime and
 * the reading params.
 */
async function sniffSchema(ctx: SchemaContext, params: IngestParams): Promise<ColumnInfo[]> {
  const abs = ctx.resolvePath(params.path);
  const info = await stat(abs).catch(() => undefined);
  if (!info) throw new BlockError(notFound(params.path));
  if (!info.isFile()) throw new BlockError(`${params.path} is a folder, not a file.`);
  if (info.size === 0) throw new BlockError(`${params.path} is empty (0 bytes).`);
  const file = sourceFile(params, abs, formatOf(params));
  const key = `ingest.file\0${abs}\0${info.size}\0${info.mtimeMs}\0${JSON.stringify(params)}`;
  return ctx.memo(key, async () => {
    if (file.overrides) await checkOverrides(ctx, file, file.overrides);
    let rows: { column_name: string; column_type: string }[];
    try {
      rows = await ctx.sql.all(`DESCRIBE ${selectSql(file)}`);
    } catch (error) {
      throw await readFailure(ctx, error, file);
    }
    // As the run: one column from a file whose header holds a delimiter is a malformed row, named.
    await checkSingleColumn(ctx, rows.length, file);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  });
}

const notFound = (path: string) =>
  `File not found: ${path}. Check the path; it is relative to the project folder.`;

async function ingest(ctx: BlockContext, params: IngestParams, out: string): Promise<void> {
  const abs = ctx.resolvePath(params.path);
  const shown = params.path;
  const format = formatOf(params);
  const info = await stat(abs).catch(() => undefined);
  if (!info) {
    throw new BlockError(`File not found: ${shown}. Check the path; it is relative to the project folder.`);
  }
  if (!info.isFile()) throw new BlockError(`${shown} is a folder, not a file.`);
  if (info.size === 0)
    throw new BlockError(`${shown} is empty (0 bytes). Check that it was written completely.`);
  if (format === "json" && !/\.gz$/i.test(abs)) await checkJsonArrayEnds(abs, shown);
  const csv = format === "csv" || format === "tsv";
  if (!csv && (params.delimiter || params.nullValues || !params.header)) {
    ctx.log(
      `"delimiter", "header" and "nullValues" apply to CSV and TSV only; ignored for ${format}`,
      "warn",
    );
  }
  const file = sourceFile(params, abs, format);
  if (file.overrides) await checkOverrides(ctx, file, file.overrides);
  try {
    await ctx.sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS ${selectSql(file)}`);
  } catch (error) {
    throw await readFailure(ctx, error, file);
  }
  await checkSingleColumn(ctx, (await ctx.sql.columns(out)).length, file);
}

export default defineBlock({
  kind: "ingest.file",
  // 2: runs record the dataset read (lineage); cached outputs of version 1 carry no dataset record.
  // Still 2 with dataset suites (dagwood.json): a read of a file with an entry records its suite
  // results and warnings, and its cache key covers the entry and its suites' bytes, so no output
  // cached before can stand for it; a read with no entry does and records what it did before.
  version: 2,
  title: "Read file",
  category: "Data",
  description:
    "Reads a CSV, TSV, Parquet, JSON or NDJSON file from the project into a table, inferring column types; override any type by column name.",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: Params,
  async outputSchema(ctx, _inputs, params) {
    try {
      return { out: { columns: await sniffSchema(ctx, params) } };
    } catch (e) {
      if (!(e instanceof BlockError)) throw e;
      ctx.problem(["path"], e.message);
      return { out: undefined };
    }
  },
  async run(ctx, _inputs, params) {
    ctx.progress(0, `Reading ${params.path}`);
    const out = ctx.newTable("out");
    const abs = ctx.resolvePath(params.path);
    const entry = datasetEntryOf(ctx.projectDir, abs);
    const deprecated = entry && deprecationWarning(entry);
    if (deprecated) ctx.log(deprecated, "warn");
    const before = await stat(abs).catch(() => undefined);
    // The file's SHA-256 (the dataset's digest, and the content the outputs
    // are cached under) is computed while DuckDB reads the file, not before:
    // hashing first cost a first run a fifth more than the read alone
    // (bench/ingest.ts). Where the cache key hashed it already, the memo answers.
    const digest = ctx.hashFile(abs);
    digest.catch(() => undefined); // A failed read reports first; see below.
    await ingest(ctx, params, out);
    const hash = await digest;
    if (before) await checkUnchanged(abs, params.path, before);
    const { n } = await ctx.sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident(out)}`);
    ctx.log(`Read ${n} rows from ${params.path}`);
    ctx.dataset({ source: params.path, digest: hash, port: "out", table: out });
    if (entry?.settings.suites.length)
      await testDataset(ctx, entry, out, { digest: hash, source: params.path });
    // The tags of the entry's columns and of the columnTags param (app/privacy/tags.ts); both are in
    // the cache key (the entry's settings, the params).
    const entryTags = entry && Object.keys(entry.settings.columns ?? {}).length;
    const { tags, warnings } =
      entryTags || params.columnTags
        ? originTags(ctx.nodeId, await ctx.sql.columns(out), {
            ...(entry ? { dataset: { name: entry.name, columns: entry.settings.columns ?? {} } } : {}),
            ...(params.columnTags ? { columnTags: params.columnTags } : {}),
          })
        : { tags: {}, warnings: [] };
    for (const w of warnings) ctx.log(w, "warn");
    ctx.progress(1);
    return { out: { type: "table", name: out, ...(Object.keys(tags).length ? { tags } : {}) } };
  },
  /**
   * The file's content hash. A file not hashed before at its size and mtime
   * gets a key that matches no cache entry, so the node runs and hashes the
   * file while reading it; the engine stores the outputs under the key taken
   * again after the run, which is then the content hash. So a key still
   * changes whenever the content changes, and equal content still finds its
   * cached outputs, except that a file whose mtime changed with the same
   * bytes (a touch, a checkout) is read again once instead of only hashed.
   */
  async externalFingerprint(ctx, params) {
    const abs = ctx.resolvePath(params.path);
    if (!existsSync(abs)) {
      throw new BlockError(
        `File not found: ${params.path}. Check the path; it is relative to the project folder.`,
      );
    }
    const file = ctx.knownFileHash
      ? ((await ctx.knownFileHash(abs)) ?? `not hashed yet ${randomUUID()}`)
      : await ctx.hashFile(abs);
    const entry = datasetEntryOf(ctx.projectDir, abs);
    return entry ? `${file}\0${await entryFingerprint(ctx, entry)}` : file;
  },
});
