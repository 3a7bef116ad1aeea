import { isAbsolute, join } from "node:path";
import type { DuckDBConnection, DuckDBExtractedStatements } from "@duckdb/node-api";
import { z } from "zod";
import { duckdb } from "../app/data/native";
import { ident } from "../app/data/sql";
import { checkQueryFiles, NotASelectError, SqlFileError } from "../app/data/sql-files";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";
import type { ColumnInfo } from "../app/engine/ports";
import { type LineageInputs, sqlColumnLineage, sqlSyntaxTree } from "../app/privacy/sql-lineage";

/** The keywords a query that CREATE TABLE … AS accepts can start with. */
const QUERY_KEYWORDS = new Set(["SELECT", "WITH", "FROM", "VALUES", "TABLE", "PIVOT", "UNPIVOT"]);

/** The statement's first keyword ("DROP", "COPY"…), skipping comments and parentheses. */
function leadingKeyword(query: string): string {
  const rest = query.replace(/^(\s|\(|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, "");
  return /^[A-Za-z_]+/.exec(rest)?.[0]?.toUpperCase() ?? "";
}

function onlySelect(found: string): BlockError {
  return new BlockError(
    `transform.sql runs a single SELECT statement (WITH … SELECT is fine), but found ${found}. Write one SELECT over "input" (and "other"); it must not change tables, files or settings.`,
  );
}

/** Rewords DuckDB's errors into what the user should do; anything else keeps DuckDB's message. */
function explain(e: unknown, ctx: Pick<BlockContext, "projectDir">, otherConnected: boolean): Error {
  if (e instanceof BlockError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const denied = /Permission Error: Cannot access (?:file|directory) "([^"]*)"/.exec(message);
  if (denied) {
    const path = denied[1] ?? "";
    const relative = isAbsolute(path)
      ? ""
      : ` Paths in SQL are not resolved against the project: write the full path, e.g. '${join(ctx.projectDir, path)}'.`;
    return new BlockError(
      `The query reaches "${path}", which is outside the project folder (${ctx.projectDir}) and the data folders it adds; file access outside the project is not allowed. Move the file into the project, or add its folder to "dataFolders" in dagwood.json.${relative}`,
    );
  }
  if (!otherConnected && /Table with name other does not exist/i.test(message)) {
    return new BlockError(
      `The query reads "other", but the "other" input is not connected. Connect a table to "other", or remove it from the query.`,
    );
  }
  return new BlockError(
    `SQL error in transform.sql: ${message.replace(/^Failed to extract statements: /, "")}`,
  );
}

/** Statements DuckDB counts as queries that CREATE TABLE … AS takes only as a subquery. */
const SHOW_KEYWORDS = new Set(["DESCRIBE", "SUMMARIZE", "SHOW"]);

/**
 * Refuses anything but one SELECT, from the text alone: binding a statement
 * opens the files it names (a COPY FROM sniffs its file, and DuckDB's errors
 * quote the lines), so nothing is bound before its files are checked.
 */
async function checkStatementShape(connection: DuckDBConnection, query: string): Promise<void> {
  let statements: DuckDBExtractedStatements;
  try {
    statements = await connection.extractStatements(query);
  } catch (e) {
    // DuckDB reports a query of only blanks and comments as a bare native error.
    if (/Parser Error/.test((e as Error).message)) throw e;
    throw onlySelect("no statement");
  }
  const keyword = leadingKeyword(query);
  if (statements.count !== 1) {
    const pivot =
      keyword === "PIVOT"
        ? " (DuckDB runs a PIVOT without an IN list as two: list the values, ON col IN (…))"
        : "";
    throw onlySelect(`${statements.count} statements${pivot}`);
  }
  if (SHOW_KEYWORDS.has(keyword)) {
    throw new BlockError(
      `transform.sql stores the query's result as a table, which ${keyword} cannot give directly. Wrap it in a SELECT, e.g. SELECT * FROM (DESCRIBE input) or SELECT * FROM pragma_table_info('input').`,
    );
  }
  if (!QUERY_KEYWORDS.has(keyword)) throw onlySelect(keyword || "another kind of statement");
}

/** After its files are checked: DuckDB's own type for the statement says SELECT (preparing binds but does not run it). */
async function checkSelectType(connection: DuckDBConnection, query: string): Promise<void> {
  const statements = await connection.extractStatements(query);
  if (statements.count !== 1) throw onlySelect(`${statements.count} statements`);
  const type = (await statements.prepare(0)).statementType;
  const { StatementType } = duckdb();
  if (type !== StatementType.SELECT) {
    throw onlySelect(
      `${leadingKeyword(query) || "a statement"} (DuckDB statement type ${StatementType[type]})`,
    );
  }
}

/**
 * The query to run, with relative file names made absolute, and the project
 * files it reads, whose bytes go into the cache key (a changed file re-runs
 * the node). Every file the query can read is checked first, links resolved:
 * outside the project and its data folders, or in `.dagwood`, the node fails
 * before any file is opened or hashed.
 */
async function projectFiles(
  query: string,
  ctx: Pick<BlockContext, "projectDir" | "resolvePath">,
): Promise<{ query: string; files: string[] }> {
  try {
    return await checkQueryFiles(query, ctx.projectDir, ctx.resolvePath);
  } catch (e) {
    if (e instanceof NotASelectError) {
      // WITH … starts a SELECT or a DELETE/INSERT/UPDATE alike: name the statement's verb.
      const verb = /\b(INSERT|UPDATE|DELETE|MERGE)\b/i.exec(query)?.[1]?.toUpperCase();
      throw onlySelect(
        `${leadingKeyword(query) || "a statement"}${verb ? ` … ${verb}` : ""}, which is not a SELECT`,
      );
    }
    if (e instanceof SqlFileError) throw new BlockError(e.message);
    throw e;
  }
}

export default defineBlock({
  kind: "transform.sql",
  version: 2,
  title: "SQL transform",
  category: "Transform",
  description:
    'Runs one DuckDB SELECT over the input table, named "input", and the optional second table, named "other". It may read files in the project folder and the folders it adds (paths relative to the project; never .dagwood, where Dagwood keeps its state); a change to such a file re-runs it.',
  inputs: {
    in: { type: "table", description: 'The table the query calls "input"' },
    other: { type: "table", optional: true, description: 'An optional second table, called "other"' },
  },
  outputs: { out: { type: "table" } },
  params: z.object({
    query: z
      .string()
      .min(1, "write a SELECT query")
      .describe('One DuckDB SELECT statement; the input table is "input", the optional second one "other"')
      .meta({ order: 1, label: "SQL query" }),
  }),
  async externalFingerprint(ctx, params) {
    // A query DuckDB cannot parse reads no files; run() reports its syntax error.
    const { files } = await projectFiles(params.query, ctx).catch((e) => {
      if (e instanceof BlockError) throw e;
      return { files: [] as string[] };
    });
    const hashes = await Promise.all(files.map(async (f) => `${f}:${await ctx.hashFile(f)}`));
    return hashes.join("\n");
  },
  /**
   * DuckDB describes the query over empty tables of the inputs' schemas: a
   * view binds the query (types, names, errors) without running it.
   */
  async outputSchema(ctx, inputs, params) {
    const input = inputs.in;
    const other = inputs.other;
    const otherConnected = ctx.upstream("other") !== undefined;
    // Columns only a run can tell (or none known): the query's cannot be known either.
    if (!input || input.open || (otherConnected && (!other || other.open))) return { out: undefined };
    // As in the run, "input" and "other" are views over tables (a view has no rowid, for one).
    const table = async (name: string, columns: ColumnInfo[]) => {
      const stored = ident(`dagwood_schema_${name}`);
      const list = columns.map((c) => `${ident(c.name)} ${c.type}`).join(", ");
      await ctx.sql.run(`CREATE OR REPLACE TEMP TABLE ${stored} (${list})`);
      await ctx.sql.run(`CREATE OR REPLACE TEMP VIEW ${ident(name)} AS SELECT * FROM ${stored}`);
    };
    const view = ident("dagwood_schema_out");
    try {
      await table("input", input.columns);
      if (other) await table("other", other.columns);
      else await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${ident("other")}`);
      await checkStatementShape(ctx.sql.connection, params.query);
      const { query } = await projectFiles(params.query, ctx);
      await checkSelectType(ctx.sql.connection, query);
      await ctx.sql.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${query}`);
      const rows = await ctx.sql.all<{ column_name: string; column_type: string }>(`DESCRIBE ${view}`);
      const columns = rows.map((r) => ({ name: r.column_name, type: r.column_type }));
      const subset = input.subset ?? other?.subset;
      return { out: { columns, ...(subset ? { subset } : {}) } };
    } catch (e) {
      ctx.problem(["query"], explain(e, ctx, otherConnected).message);
      return { out: undefined };
    } finally {
      await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${view}`);
      for (const name of ["input", "other"]) {
        await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${ident(name)}`);
        await ctx.sql.run(`DROP TABLE IF EXISTS temp.main.${ident(`dagwood_schema_${name}`)}`);
      }
    }
  },
  /**
   * Which input columns each output column is derived from, for column tags (issue 19): read from
   * DuckDB's syntax tree of the query (app/privacy/sql-lineage.ts), with a conservative fallback
   * where the tree cannot tell.
   */
  async columnLineage(inputs, output, params, ctx) {
    const tables: LineageInputs = {};
    for (const [name, port] of [
      ["input", "in"],
      ["other", "other"],
    ] as const) {
      const table = inputs[port];
      if (table) tables[name] = { port, columns: table.columns.map((c) => c.name) };
    }
    return sqlColumnLineage(await sqlSyntaxTree(ctx.sql, params.query), tables, output.columns);
  },
  async run(ctx, inputs, params) {
    const input = requireTable(inputs, "in");
    const other = inputs.other ? requireTable(inputs, "other") : undefined;
    const connection = ctx.sql.connection;

    // The names resolve through TEMP VIEWs rather than by rewriting the query:
    // finding `input` in SQL text would take a parser (it may appear in
    // strings, column names, aliases or CTEs), whereas a view lets DuckDB's
    // binder resolve it like any table. Temp objects come first in the search
    // path, so they shadow a workspace table of the same name, and they live
    // only in this node run's private session.
    const views = { input: ident("input"), other: ident("other") };
    await ctx.sql.run(`CREATE OR REPLACE TEMP VIEW ${views.input} AS SELECT * FROM ${ident(input.name)}`);
    if (other) {
      await ctx.sql.run(`CREATE OR REPLACE TEMP VIEW ${views.other} AS SELECT * FROM ${ident(other.name)}`);
    } else {
      await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${views.other}`);
    }
    try {
      await checkStatementShape(connection, params.query);
      const { query } = await projectFiles(params.query, ctx);
      await checkSelectType(connection, query);
      const out = ctx.newTable("out");
      // Check the wrapped statement as well, and run exactly what was checked.
      const create = await connection.extractStatements(`CREATE OR REPLACE TABLE ${ident(out)} AS ${query}`);
      const prepared = await create.prepare(0);
      if (create.count !== 1 || prepared.statementType !== duckdb().StatementType.CREATE) {
        throw onlySelect("a query that is not a plain SELECT once made into CREATE TABLE … AS");
      }
      await prepared.run();
      return { out: { type: "table", name: out } };
    } catch (e) {
      throw explain(e, ctx, other !== undefined);
    } finally {
      await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${views.input}`);
      await ctx.sql.run(`DROP VIEW IF EXISTS temp.main.${views.other}`);
    }
  },
});
