import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { duckdb } from "./native";
import { replaceLiterals, stringLiterals } from "./sql-literals";

/**
 * Which files a user's SELECT reads, checked before DuckDB runs it.
 *
 * DuckDB's sandbox (`allowed_directories`) admits a whole folder: the project,
 * which holds `.dagwood/` (tokens, the workspace, the registry), and it offers
 * no way to leave a subfolder out. So every place a query can name a file is
 * found in DuckDB's own parse tree (`json_serialize_sql`) and checked here,
 * links resolved, before anything touches the file:
 * - table functions: only those listed below run; the file readers take their
 *   files as plain string literals (or lists of them), so no expression can
 *   build a path the check did not see;
 * - `FROM 'data/x.csv'` and `FROM "data/x.csv"` (DuckDB's replacement scans);
 * - globs: every folder and file the pattern could reach is checked first,
 *   dotfiles included (DuckDB's `*` matches `.dagwood`); then DuckDB's own
 *   `glob()` lists the files, so the files hashed are exactly the ones the
 *   query reads (DuckDB's `**` does not follow folder links, for one).
 */

/** An error in what a query reads: the message says what to change. */
export class SqlFileError extends Error {}

/** The text is not a single SELECT, so its files cannot be found in a parse tree. */
export class NotASelectError extends SqlFileError {}

/** Table functions that read files: their first positional argument is the file, a glob or a list. */
const FILE_FUNCTIONS = new Set([
  "read_csv",
  "read_csv_auto",
  "read_parquet",
  "parquet_scan",
  "read_json",
  "read_json_auto",
  "read_json_objects",
  "read_json_objects_auto",
  "read_ndjson",
  "read_ndjson_auto",
  "read_ndjson_objects",
  "read_text",
  "read_blob",
  "read_duckdb",
  "glob",
  "sniff_csv",
  "parquet_metadata",
  "parquet_file_metadata",
  "parquet_kv_metadata",
  "parquet_full_metadata",
  "parquet_schema",
  "parquet_bloom_probe",
]);

/** Table functions that take a table name, which DuckDB also reads as a file name when it looks like one. */
const TABLE_OR_FILE_FUNCTIONS = new Set(["histogram", "histogram_values"]);

/** Table functions that read no files and no state outside the query. */
const PLAIN_FUNCTIONS = new Set([
  "range",
  "generate_series",
  "unnest",
  "repeat",
  "repeat_row",
  "json_each",
  "json_tree",
  "pragma_table_info",
  "duckdb_columns",
  "duckdb_tables",
  "duckdb_views",
  "duckdb_types",
  "duckdb_functions",
  "duckdb_keywords",
  "duckdb_schemas",
  "duckdb_constraints",
  "pg_timezone_names",
  "icu_calendar_names",
  "summary",
  "test_all_types",
  "pragma_version",
  "pragma_platform",
  "pragma_collations",
]);

const GLOB = /[*?[]/;
/** A name DuckDB's replacement scans would take for a file: a folder separator, an extension, a glob, a home folder. */
const FILE_LIKE = /[/\\*?[~]|\.[A-Za-z0-9]+$/;
/** A qualified name (main.t, workspace.main.t) is a file to DuckDB's replacement scan only with a path in it. */
const QUALIFIED_FILE_LIKE = /[/\\*?[~]/;
/** The most directory entries a glob may visit before the query is refused. */
const GLOB_VISIT_LIMIT = 100_000;

/** A place in a query that names a file. */
export interface FileReference {
  /** The string as DuckDB reads it. */
  value: string;
  /** The table function that reads it, or "FROM" for a replacement scan. */
  via: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => !!v && typeof v === "object" && !Array.isArray(v);

const NO_EXTENSIONS = {
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
  threads: "1",
};

let parser: Promise<DuckDBConnection> | undefined;

/** A DuckDB of its own, with no file access, used only to parse. */
function parserConnection(): Promise<DuckDBConnection> {
  parser ??= duckdb()
    .DuckDBInstance.create(":memory:", { ...NO_EXTENSIONS, enable_external_access: "false" })
    .then((instance) => instance.connect());
  return parser;
}

let globber: Promise<DuckDBConnection> | undefined;

/**
 * A DuckDB of its own that only lists files: the same library as the
 * workspace's, so a pattern expands here exactly as it does when the query
 * runs. It is handed only patterns whose every folder was checked first.
 */
function globConnection(): Promise<DuckDBConnection> {
  globber ??= duckdb()
    .DuckDBInstance.create(":memory:", NO_EXTENSIONS)
    .then((instance) => instance.connect());
  return globber;
}

/** One statement at a time: a DuckDB connection runs one at once, and nodes run concurrently. */
let queue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(task: () => Promise<T>): Promise<T> {
  const next = queue.then(task, task);
  queue = next.catch(() => undefined);
  return next;
}

/** The files DuckDB reads for a glob pattern, as its `glob()` table function lists them. */
async function duckdbGlob(pattern: string): Promise<string[]> {
  return oneAtATime(async () => {
    const connection = await globConnection();
    const reader = await connection.runAndReadAll("SELECT file FROM glob($1::VARCHAR)", [pattern]);
    return reader.getRowObjectsJS().map((r) => String(r.file));
  });
}

/** DuckDB's parse tree of a SELECT, as JSON. */
async function parseTree(query: string): Promise<Json> {
  const text = await oneAtATime(async () => {
    const connection = await parserConnection();
    const reader = await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR) AS tree", [query]);
    return reader.getRowObjectsJS()[0]?.tree;
  });
  const tree = JSON.parse(String(text)) as JsonObject;
  if (tree.error && /Only SELECT/i.test(String(tree.error_message))) {
    throw new NotASelectError(String(tree.error_message));
  }
  if (tree.error) {
    throw new SqlFileError(
      `Dagwood could not check which files this query reads (${String(tree.error_message ?? "DuckDB cannot serialize it")}). Write it as one SELECT (a PIVOT needs an IN list).`,
    );
  }
  return tree;
}

/** A named argument: `header = true` (a comparison with a bare column on the left) or `files := …` (an alias). */
function isNamedArgument(arg: JsonObject): boolean {
  if (typeof arg.alias === "string" && arg.alias !== "") return true;
  return (
    arg.class === "COMPARISON" &&
    arg.type === "COMPARE_EQUAL" &&
    isObject(arg.left) &&
    arg.left.class === "COLUMN_REF"
  );
}

/**
 * The strings of a plain value (a literal, one cast to VARCHAR, a list of
 * them); undefined for anything computed, and for a cast to another type
 * ('[a, b]'::VARCHAR[] is a list DuckDB builds from one string).
 */
function literalStrings(e: Json): string[] | undefined {
  if (!isObject(e)) return undefined;
  if (e.class === "CONSTANT") {
    const v = isObject(e.value) ? e.value : undefined;
    if (!v || v.is_null) return [];
    return typeof v.value === "string" ? [v.value] : [];
  }
  if (e.class === "CAST" && e.child !== undefined) {
    const to = isObject(e.cast_type) ? e.cast_type : undefined;
    return to?.id === "VARCHAR" && !to.type_info ? literalStrings(e.child) : undefined;
  }
  if (e.class === "FUNCTION" && e.function_name === "list_value" && Array.isArray(e.children)) {
    const out: string[] = [];
    for (const c of e.children) {
      const s = literalStrings(c);
      if (!s) return undefined;
      out.push(...s);
    }
    return out;
  }
  return undefined;
}

/** Every file reference in a parse tree; refuses table functions outside the lists above and computed file arguments. */
export function fileReferences(tree: Json): FileReference[] {
  const found: FileReference[] = [];
  const visit = (node: Json): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!isObject(node)) return;
    if (node.type === "TABLE_FUNCTION" && isObject(node.function)) {
      const fn = node.function;
      const name = String(fn.function_name ?? "").toLowerCase();
      const args = Array.isArray(fn.children) ? fn.children.filter(isObject) : [];
      // The first positional argument names the files; with none, the first of any kind is checked.
      const first = args.find((a) => !isNamedArgument(a)) ?? args[0];
      if (FILE_FUNCTIONS.has(name) || TABLE_OR_FILE_FUNCTIONS.has(name)) {
        const strings = first === undefined ? [] : literalStrings(first);
        if (!strings) {
          throw new SqlFileError(
            `The first argument of ${name} must be a plain string or a list of strings, e.g. ${name}('data/x.csv'): Dagwood checks which files a query reads before running it, so a path cannot be computed.`,
          );
        }
        for (const value of strings) {
          if (FILE_FUNCTIONS.has(name) || FILE_LIKE.test(value)) found.push({ value, via: name });
        }
      } else if (!PLAIN_FUNCTIONS.has(name)) {
        throw new SqlFileError(
          `transform.sql cannot call the table function ${name}(): a pipeline's SQL may read tables and project files (read_csv, read_parquet, read_json, read_text, glob…) and use range, generate_series, unnest, json_each and catalog listings such as duckdb_tables().`,
        );
      }
    } else if (node.type === "BASE_TABLE" && typeof node.table_name === "string") {
      // DuckDB's replacement scan also reads a qualified name as a file, its parts joined by dots:
      // FROM "/p/".".dagwood/x" reads /p/..dagwood/x, FROM "/p/.dagwood/state"."csv" reads /p/.dagwood/state.csv.
      const parts = [node.catalog_name, node.schema_name, node.table_name].filter(
        (x): x is string => typeof x === "string" && x !== "",
      );
      const name = parts.join(".");
      if (parts.length === 1 ? FILE_LIKE.test(name) : QUALIFIED_FILE_LIKE.test(name)) {
        found.push({ value: name, via: "FROM" });
      }
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(tree);
  return found;
}

/** A glob segment as a regular expression that matches at least what DuckDB's would ([…] as any one character). */
function segmentPattern(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 2);
      re += ".";
      if (close > 0) i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/**
 * Every path a glob can match, from a folder that was checked: dotfiles
 * included, `**` any number of folder levels, folder links followed. Each
 * folder is passed to `enter` (which throws to refuse it) before it is
 * listed or looked into, and each link before it is followed, so nothing
 * outside the project is touched; each match is checked afterwards.
 */
function globPaths(
  base: string,
  segments: readonly string[],
  pattern: string,
  limit: number,
  enter: (path: string) => void,
): string[] {
  const out: string[] = [];
  let visited = 0;
  const tooMany = () =>
    new SqlFileError(
      `The pattern '${pattern}' reaches more than ${limit} entries. Narrow it (a folder instead of **).`,
    );
  const entries = (dir: string): string[] => {
    try {
      const names = readdirSync(dir);
      visited += names.length;
      if (visited > limit) throw tooMany();
      return names;
    } catch (e) {
      if (e instanceof SqlFileError) throw e;
      return [];
    }
  };
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const walk = (dir: string, at: number, seen: ReadonlySet<string>): void => {
    if (at === segments.length) {
      out.push(dir);
      return;
    }
    if (dir !== base) enter(dir);
    const segment = segments[at]!;
    if (segment === "**") {
      walk(dir, at + 1, seen);
      for (const name of entries(dir)) {
        const sub = join(dir, name);
        const link = lstatSync(sub, { throwIfNoEntry: false });
        if (link?.isSymbolicLink()) enter(sub);
        else if (!link?.isDirectory()) continue;
        if (!isDir(sub)) continue;
        let real: string;
        try {
          real = realpathSync.native(sub);
        } catch {
          continue;
        }
        // A link back up would loop: each real folder once per path.
        if (seen.has(real)) continue;
        walk(sub, at, new Set([...seen, real]));
      }
    } else if (GLOB.test(segment)) {
      const re = segmentPattern(segment);
      for (const name of entries(dir)) if (re.test(name)) walk(join(dir, name), at + 1, seen);
    } else if (segment === "") {
      walk(dir, at + 1, seen);
    } else {
      walk(join(dir, segment), at + 1, seen);
    }
  };
  walk(base, 0, new Set());
  return [...new Set(out)];
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Checks one file reference (already absolute) and gives the existing files it
 * names. `resolvePath` is the project's rule: it throws for a path outside the
 * project and its data folders, a link leading out, and anything in `.dagwood`.
 * A glob is walked and checked first, then expanded by DuckDB itself: the
 * files given are the ones DuckDB reads, each checked too.
 */
export async function checkFileReference(
  ref: FileReference,
  resolvePath: (p: string) => string,
  globLimit = GLOB_VISIT_LIMIT,
): Promise<string[]> {
  const raw = ref.value;
  const value = raw.replace(/^file:\/\//i, "");
  const where = ref.via === "FROM" ? `FROM '${raw}'` : `${ref.via}('${raw}')`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
    throw new SqlFileError(`${where}: only files in the project can be read, not URLs.`);
  }
  if (value.startsWith("~")) {
    throw new SqlFileError(
      `${where}: "~" names your home folder, outside the project. Name files relative to the project.`,
    );
  }
  if (!isAbsolute(value)) {
    throw new SqlFileError(
      `${where}: a file must be named in a single-quoted string ('data/x.csv', relative to the project, or a full path), so Dagwood can find it.`,
    );
  }
  const segments = value.split(/[/\\]/).slice(1);
  if (segments.some((s) => s === "." || s === "..")) {
    throw new SqlFileError(`${where}: write the path without "." or ".." folders.`);
  }
  const check = (p: string, what = "") => {
    try {
      return resolvePath(p);
    } catch (e) {
      throw new SqlFileError(`${where}${what}: ${(e as Error).message}`);
    }
  };
  const firstGlob = segments.findIndex((s) => GLOB.test(s));
  if (firstGlob < 0) {
    const abs = check(value);
    return isFile(abs) ? [abs] : [];
  }
  const rest = segments.slice(firstGlob);
  if (rest.some((s) => s.includes("**") && s !== "**")) {
    throw new SqlFileError(`${where}: "**" stands for whole folder levels, as in 'data/**/*.csv'.`);
  }
  const base = check(resolve("/", ...segments.slice(0, firstGlob)));
  const files: string[] = [];
  const enter = (dir: string) => {
    try {
      return check(dir, ` reaches "${dir}"`);
    } catch (e) {
      // DuckDB expands the glob itself, so it would read Dagwood's state too: say where to start it.
      if (!/^\.dagwood$/i.test(basename(dir))) throw e;
      throw new SqlFileError(
        `${(e as Error).message} The pattern also matches that folder: start it in a data folder, e.g. 'data/**/*.csv'.`,
      );
    }
  };
  // The walk reaches at least every folder and file DuckDB's expansion can: nothing is listed unchecked.
  for (const match of globPaths(base, rest, raw, globLimit, enter)) check(match, ` matches "${match}"`);
  for (const match of await duckdbGlob(value)) {
    const abs = check(match, ` matches "${match}"`);
    if (isFile(abs)) files.push(abs);
  }
  return files;
}

/**
 * The query with relative file names made absolute (DuckDB would resolve
 * them against the process's folder, so the same pipeline would read other
 * files elsewhere), and the project files it reads, each checked. The query
 * returned is the one to run: its own parse tree is what was checked.
 */
export async function checkQueryFiles(
  query: string,
  projectDir: string,
  resolvePath: (p: string) => string,
  globLimit = GLOB_VISIT_LIMIT,
): Promise<{ query: string; files: string[] }> {
  const relative = new Set(
    fileReferences(await parseTree(query))
      .map((r) => r.value)
      .filter((v) => {
        const path = v.replace(/^file:\/\//i, "");
        return !isAbsolute(path) && !path.startsWith("~") && !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(path);
      }),
  );
  const replacements = stringLiterals(query)
    .filter((literal) => relative.has(literal.value))
    .map((literal) => ({ literal, value: resolve(projectDir, literal.value.replace(/^file:\/\//i, "")) }));
  const rewritten = replaceLiterals(query, replacements);
  const files: string[] = [];
  for (const ref of fileReferences(await parseTree(rewritten))) {
    files.push(...(await checkFileReference(ref, resolvePath, globLimit)));
  }
  return { query: rewritten, files: [...new Set(files)].sort() };
}
