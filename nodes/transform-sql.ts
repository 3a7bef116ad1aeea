import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { type DuckDBConnection, type DuckDBExtractedStatements, StatementType } from "@duckdb/node-api";
import { z } from "zod";
import { ident } from "../app/data/sql";
import { replaceLiterals, stringLiterals } from "../app/data/sql-literals";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";

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
function explain(e: unknown, ctx: BlockContext, otherConnected: boolean): Error {
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

/**
 * Refuses anything but one SELECT before it runs: one statement, and DuckDB's
 * own type for it says SELECT. Preparing binds the statement but does not
 * execute it, so a DROP or COPY here has no effect.
 */
async function checkSingleSelect(connection: DuckDBConnection, query: string): Promise<void> {
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
  let type: StatementType;
  try {
    type = (await statements.prepare(0)).statementType;
  } catch (e) {
    // Binding a non-SELECT may fail first (COPY to a forbidden path): say what
    // is wrong with the statement rather than with its target.
    if (!QUERY_KEYWORDS.has(keyword)) throw onlySelect(keyword || "another kind of statement");
    throw e;
  }
  if (type !== StatementType.SELECT) {
    throw onlySelect(`${keyword || "a statement"} (DuckDB statement type ${StatementType[type]})`);
  }
  // DESCRIBE, SUMMARIZE, SHOW and some PRAGMAs are queries to DuckDB, but
  // CREATE TABLE … AS takes them only as a subquery.
  if (!QUERY_KEYWORDS.has(keyword)) {
    throw new BlockError(
      `transform.sql stores the query's result as a table, which ${keyword} cannot give directly. Wrap it in a SELECT, e.g. SELECT * FROM (DESCRIBE input) or SELECT * FROM pragma_table_info('input').`,
    );
  }
}

/** A literal that looks like a file path: it has a folder separator, or a data file's extension. */
const PATH_LIKE = /[/\\]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|arrow|gz|zst)$/i;
const GLOB = /[*?[]/;

/** Files matching a glob in one folder ("data/*.csv"); folder globs ("**") are not expanded. */
function expandGlob(abs: string): string[] {
  const dir = dirname(abs);
  const pattern = new RegExp(
    `^${basename(abs)
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );
  try {
    return readdirSync(dir)
      .filter((f) => pattern.test(f))
      .map((f) => join(dir, f))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The project files a query names in string literals, and the query with
 * relative paths made absolute: DuckDB resolves relative paths against the
 * process's working folder, so the same pipeline would read other files from
 * another folder. The files' bytes go into the cache key, so a changed file
 * re-runs the node. Literals outside the project are left for the sandbox to
 * refuse with its message.
 */
function projectFiles(query: string, resolvePath: (p: string) => string): { query: string; files: string[] } {
  const files: string[] = [];
  const replacements = [];
  for (const literal of stringLiterals(query)) {
    if (!PATH_LIKE.test(literal.value)) continue;
    let abs: string;
    try {
      abs = resolvePath(literal.value.replace(/^file:\/\//, ""));
    } catch {
      continue;
    }
    if (GLOB.test(literal.value)) files.push(...expandGlob(abs));
    else if (existsSync(abs)) files.push(abs);
    else continue;
    if (!isAbsolute(literal.value)) replacements.push({ literal, value: abs });
  }
  return { query: replaceLiterals(query, replacements), files: [...new Set(files)].sort() };
}

export default defineBlock({
  kind: "transform.sql",
  version: 2,
  title: "SQL transform",
  category: "Transform",
  description:
    'Runs one DuckDB SELECT over the input table, named "input", and the optional second table, named "other". It may read files in the project folder and the folders it adds (paths relative to the project); a change to such a file re-runs it.',
  inputs: {
    in: { type: "table", description: 'The table the query calls "input"' },
    other: { type: "table", optional: true, description: 'An optional second table, called "other"' },
  },
  outputs: { out: { type: "table" } },
  params: z.object({
    query: z
      .string()
      .min(1, "write a SELECT query")
      .describe('One DuckDB SELECT statement; the input table is "input", the optional second one "other"'),
  }),
  async externalFingerprint(ctx, params) {
    const { files } = projectFiles(params.query, ctx.resolvePath);
    const hashes = await Promise.all(files.map(async (f) => `${f}:${await ctx.hashFile(f)}`));
    return hashes.join("\n");
  },
  async run(ctx, inputs, params) {
    const input = requireTable(inputs, "in");
    const query = projectFiles(params.query, ctx.resolvePath).query;
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
      await checkSingleSelect(connection, query);
      const out = ctx.newTable("out");
      // Check the wrapped statement as well, and run exactly what was checked.
      const create = await connection.extractStatements(`CREATE OR REPLACE TABLE ${ident(out)} AS ${query}`);
      const prepared = await create.prepare(0);
      if (create.count !== 1 || prepared.statementType !== StatementType.CREATE) {
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
