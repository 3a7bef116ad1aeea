/**
 * The read-only check: a query is refused before anything is sent unless it is one `SELECT` or
 * `WITH … SELECT` statement; a `where` filter must be a boolean expression that cannot close the
 * statement it is put in. A small tokenizer aware of each dialect's quotes, comments and (PostgreSQL)
 * dollar-quoting finds the words that matter; text inside strings, quoted identifiers and comments
 * never counts. This is the first fence: reads also run in a read-only transaction where the database
 * has one (PostgreSQL `BEGIN READ ONLY`, MySQL `START TRANSACTION READ ONLY`, SQLite a connection
 * opened read-only).
 */
import { type CursorValue, DbError, type ReadSpec } from "./types";

export type Dialect = "postgres" | "mysql" | "sqlite";

export interface Token {
  type: "word" | "quoted" | "string" | "number" | "punct" | "param";
  /** The token's text as written (for a word: upper-cased in `upper`). */
  text: string;
  upper: string;
  /** Where the token ends in the text (exclusive). */
  end: number;
}

const refuse = (why: string) =>
  new DbError(
    "not-read-only",
    `The query is refused before it is sent: ${why}. Only one SELECT (or WITH … SELECT) statement can be read; write it without that and run again.`,
  );

/** Splits `sql` into tokens; throws a "not-read-only" DbError for an unterminated quote or comment. */
export function tokenize(sql: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (type: Token["type"], text: string) =>
    out.push({ type, text, upper: text.toUpperCase(), end: i + text.length });
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    // Line comments: `--` (MySQL needs a space or control character after it, else it is two minus signs), `#` in MySQL.
    if (c === "-" && next === "-" && (dialect !== "mysql" || i + 2 >= n || /[\s]/.test(sql[i + 2]!))) {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === "#" && dialect === "mysql") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === "/" && next === "*") {
      // MySQL runs the text of /*! … */ and /*+ … */ comments: refuse them rather than guess.
      if (dialect === "mysql" && (sql[i + 2] === "!" || sql[i + 2] === "+"))
        throw refuse("it has a MySQL executable comment (/*! … */)");
      // PostgreSQL block comments nest.
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
        } else if (dialect === "postgres" && sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else j++;
      }
      if (depth > 0) throw refuse("a /* comment is not closed");
      i = j;
      continue;
    }
    // Strings.
    if (c === "'" || ((c === "E" || c === "e") && next === "'" && dialect === "postgres")) {
      const backslash = dialect === "mysql" || c !== "'";
      let j = c === "'" ? i + 1 : i + 2;
      for (;;) {
        if (j >= n) throw refuse("a quoted string is not closed");
        const d = sql[j]!;
        if (backslash && d === "\\") j += 2;
        else if (d === "'" && sql[j + 1] === "'") j += 2;
        else if (d === "'") break;
        else j++;
      }
      push("string", sql.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    // MySQL double-quoted strings (or identifiers under ANSI_QUOTES): opaque either way.
    if (c === '"' || c === "`" || (c === "[" && dialect === "sqlite")) {
      const close = c === "[" ? "]" : c;
      let j = i + 1;
      for (;;) {
        if (j >= n) throw refuse(`a ${c}quoted${close} name is not closed`);
        if (dialect === "mysql" && c === '"' && sql[j] === "\\") j += 2;
        else if (sql[j] === close && close !== "]" && sql[j + 1] === close) j += 2;
        else if (sql[j] === close) break;
        else j++;
      }
      push("quoted", sql.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    // PostgreSQL dollar-quoting: $tag$ … $tag$ ($1 is a parameter).
    if (c === "$" && dialect === "postgres") {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        if (end < 0) throw refuse(`a ${tag} quoted string is not closed`);
        push("string", sql.slice(i, end + tag.length));
        i = end + tag.length;
        continue;
      }
      const p = /^\$\d+/.exec(sql.slice(i));
      if (p) {
        push("param", p[0]);
        i += p[0].length;
        continue;
      }
    }
    if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(sql.slice(i))!;
      push("word", m[0]);
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && next !== undefined && /[0-9]/.test(next))) {
      const m = /^(?:0[xX][0-9A-Fa-f]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?[A-Za-z_]*)/.exec(sql.slice(i))!;
      push("number", m[0]);
      i += m[0].length;
      continue;
    }
    push("punct", c);
    i++;
  }
  return out;
}

/** Words that write, lock, or leave the statement, wherever they appear outside strings and comments. */
const FORBIDDEN = new Set([
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "UPSERT",
  "REPLACE",
  "INTO",
  "COPY",
  "CALL",
  "DO",
  "EXEC",
  "EXECUTE",
  "CREATE",
  "DROP",
  "ALTER",
  "TRUNCATE",
  "GRANT",
  "REVOKE",
  "LOCK",
  "UNLOCK",
  "ATTACH",
  "DETACH",
  "PRAGMA",
  "VACUUM",
  "REINDEX",
  "ANALYZE",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "BEGIN",
  "LISTEN",
  "NOTIFY",
  "PREPARE",
  "DEALLOCATE",
  "HANDLER",
  "LOAD",
  "OUTFILE",
  "DUMPFILE",
]);

/** Functions with effects a read-only transaction does not stop (signals, files, settings, other connections). */
const FORBIDDEN_FUNCTIONS = new Set([
  "PG_TERMINATE_BACKEND",
  "PG_CANCEL_BACKEND",
  "PG_RELOAD_CONF",
  "PG_ROTATE_LOGFILE",
  "PG_READ_FILE",
  "PG_READ_BINARY_FILE",
  "PG_LS_DIR",
  "PG_STAT_FILE",
  "LO_IMPORT",
  "LO_EXPORT",
  "SET_CONFIG",
  "DBLINK",
  "DBLINK_EXEC",
  "DBLINK_CONNECT",
  "PG_ADVISORY_LOCK",
  "PG_ADVISORY_XACT_LOCK",
  "LOAD_FILE",
  "GET_LOCK",
  "RELEASE_LOCK",
  "LOAD_EXTENSION",
  "WRITEFILE",
  "READFILE",
  "EDIT",
]);

function checkWords(tokens: Token[]): void {
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.type !== "word") continue;
    // A column may be called `update` only when quoted; a bare one reads as the keyword.
    if (FORBIDDEN.has(t.upper)) throw refuse(`it contains ${t.upper}`);
    if (t.upper === "FOR" && ["SHARE", "KEY", "NO"].includes(tokens[k + 1]?.upper ?? ""))
      throw refuse(`it locks rows (FOR ${tokens[k + 1]!.upper})`);
    if (FORBIDDEN_FUNCTIONS.has(t.upper) && tokens[k + 1]?.text === "(")
      throw refuse(`it calls ${t.text.toLowerCase()}(), which acts outside a read`);
  }
}

function checkParens(tokens: Token[], what: string): void {
  let depth = 0;
  for (const t of tokens) {
    if (t.text === "(" && t.type === "punct") depth++;
    if (t.text === ")" && t.type === "punct" && --depth < 0)
      throw refuse(`${what} closes a parenthesis it did not open`);
  }
  if (depth !== 0) throw refuse(`${what} leaves a parenthesis open`);
}

/**
 * Checks that `sql` is one read-only SELECT (or WITH … SELECT); returns it without a trailing `;` so it
 * can be wrapped (`COPY (…) TO STDOUT`, `SELECT * FROM (…) q`). Throws DbError "not-read-only".
 */
export function checkReadOnlyQuery(sql: string, dialect: Dialect): string {
  const tokens = tokenize(sql, dialect);
  // One statement: a `;` may only end it (followed by nothing but spaces and comments).
  const semi = tokens.findIndex((t) => t.type === "punct" && t.text === ";");
  if (semi >= 0 && tokens.slice(semi + 1).some((t) => !(t.type === "punct" && t.text === ";")))
    throw refuse("it has more than one statement (a ; followed by more)");
  const body = semi >= 0 ? tokens.slice(0, semi) : tokens;
  const first = body.find((t) => !(t.type === "punct" && t.text === "("));
  if (!first) throw refuse("it is empty");
  if (first.type !== "word" || (first.upper !== "SELECT" && first.upper !== "WITH"))
    throw refuse(`it starts with ${first.text}, not SELECT or WITH`);
  if (first.upper === "WITH" && !body.some((t) => t.type === "word" && t.upper === "SELECT"))
    throw refuse("its WITH has no SELECT");
  checkWords(body);
  checkParens(body, "it");
  // Cut after the body's last token: drops a terminating `;` and trailing comments (a `--` or `#`
  // comment would otherwise swallow the parenthesis the query is wrapped in).
  return sql.slice(0, body[body.length - 1]!.end).trim();
}

/** Checks a `where` filter: a boolean expression, no `;`, no writes, balanced parentheses. */
export function checkWhere(where: string, dialect: Dialect): string {
  const tokens = tokenize(where, dialect);
  if (tokens.length === 0) throw refuse("the where filter is empty");
  if (tokens.some((t) => t.type === "punct" && t.text === ";"))
    throw refuse("the where filter contains a ; (a filter is one boolean expression)");
  checkWords(tokens);
  checkParens(tokens, "the where filter");
  return where.trim();
}

/** Quotes an identifier for the dialect: `"a""b"` (PostgreSQL, SQLite) or `` `a``b` `` (MySQL). */
export function quoteIdent(name: string, dialect: Dialect): string {
  if (name.length === 0 || name.includes("\0"))
    throw new DbError("other", "An empty name (or one with a NUL character) cannot name a table or column.");
  return dialect === "mysql" ? `\`${name.replaceAll("`", "``")}\`` : `"${name.replaceAll('"', '""')}"`;
}

/** A string literal for the dialect (MySQL also escapes backslashes). */
export function quoteLiteral(value: string, dialect: Dialect): string {
  if (value.includes("\0")) throw new DbError("cursor", "A cursor value cannot contain a NUL character.");
  const v = value.replaceAll("'", "''");
  return dialect === "mysql" ? `'${v.replaceAll("\\", "\\\\")}'` : `'${v}'`;
}

/**
 * The SELECT a read sends: a table's columns (quoted; a table name can never inject SQL) with its
 * filter, or the checked query wrapped as a subquery; then the cursor's lower bound, its order, the limit.
 */
export function buildSelect(spec: ReadSpec, dialect: Dialect, opts: { limit?: number } = {}): string {
  const q = (s: string) => quoteIdent(s, dialect);
  const src = spec.source;
  let from: string;
  let cols = "*";
  const conds: string[] = [];
  if ("query" in src) {
    from = `(${checkReadOnlyQuery(src.query, dialect)}) AS dagwood_q`;
  } else {
    from = src.schema ? `${q(src.schema)}.${q(src.table)}` : q(src.table);
    if (src.columns && src.columns.length > 0) cols = src.columns.map(q).join(", ");
    if (src.where !== undefined && src.where.trim() !== "") conds.push(`(${checkWhere(src.where, dialect)})`);
  }
  if (spec.cursor) {
    const c = q(spec.cursor.column);
    if (spec.cursor.after !== null) conds.push(`${c} > ${cursorLiteral(spec.cursor.after, dialect)}`);
  }
  let sql = `SELECT ${cols} FROM ${from}`;
  if (conds.length > 0) sql += ` WHERE ${conds.join(" AND ")}`;
  if (spec.cursor) sql += ` ORDER BY ${q(spec.cursor.column)}`;
  const limit = opts.limit ?? spec.limit;
  if (limit !== undefined) sql += ` LIMIT ${Math.max(0, Math.floor(limit))}`;
  return sql;
}

/** A cursor value as a literal: a plain number stays a number (SQLite compares it as one), anything else a string. */
export function cursorLiteral(value: CursorValue, dialect: Dialect): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : quoteLiteral(value, dialect);
}
