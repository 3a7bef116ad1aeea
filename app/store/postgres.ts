/**
 * The PostgreSQL driver of the `Sql` port: libpq through `pg-native`, synchronous on the
 * calling thread (`exec` / `prepare` / `execPrepared`), so the store stays synchronous on a
 * team's server as it is on the embedded SQLite file.
 *
 * - `?` placeholders become `$1…$n` once per SQL text, and each text is prepared once per
 *   connection as a named statement.
 * - Values cross in libpq's text format: Buffers go as `\x` hex (a raw Buffer would arrive as
 *   an empty bytea), booleans as 1/0 (SQLite has no boolean either), BIGINT and integer
 *   NUMERIC come back as JS numbers (as strings from libpq), bytea as Buffers, floats incl.
 *   NaN/±Infinity as numbers, timestamps and JSON as text.
 * - Failures become a `StoreError` with the SQLSTATE (read from libpq's result right after
 *   the failing call: pg-native's own Error carries no code) and a kind the store can act on.
 */
import { createRequire } from "node:module";
import type { Sql, SqlParam } from "./sql";

/** What a store failure means for the caller. */
export type StoreErrorKind =
  /** The server cannot be reached or the connection broke (SQLSTATE class 08, no answer). */
  | "unreachable"
  /** Another writer got in the way (serialization failure, deadlock, unique violation). */
  | "conflict"
  /** A statement or a lock wait ran over the store's limit. */
  | "timeout"
  | "other";

/** A failure of the team store's database, with PostgreSQL's SQLSTATE when there is one. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    message: string,
    /** PostgreSQL's SQLSTATE (`23505`, `40001`, …); undefined when the server never answered. */
    readonly code: string | undefined,
    readonly kind: StoreErrorKind,
  ) {
    super(message);
  }
}

/** How to reach the team store. */
export interface PostgresOptions {
  /** `postgres://user@host:5432/database[?sslmode=…]`, without a password. */
  url: string;
  /** The PostgreSQL schema the store's tables live in (one per project); created when missing. */
  schema: string;
  /** From DAGWOOD_STORE_PASSWORD or the keychain; libpq's PGPASSWORD and ~/.pgpass also work. */
  password?: string;
  /** Shown in pg_stat_activity (`dagwood` by default). */
  applicationName?: string;
}

/** Time limits set on every connection (section 8 of the team-store design). */
export const STATEMENT_TIMEOUT = "30s";
export const LOCK_TIMEOUT = "10s";
/** How many times `write()` runs its function again after a serialization failure or deadlock. */
export const WRITE_RETRIES = 3;

// libpq's type OIDs (pg_type.oid; src/include/catalog/pg_type.dat in PostgreSQL's sources).
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  float4: 700,
  float8: 701,
  numeric: 1700,
} as const;

// SQLSTATEs (PostgreSQL documentation, Appendix A "PostgreSQL Error Codes").
const SERIALIZATION_FAILURE = "40001";
const DEADLOCK_DETECTED = "40P01";
const UNIQUE_VIOLATION = "23505";
const QUERY_CANCELED = "57014"; // statement_timeout
const LOCK_NOT_AVAILABLE = "55P03"; // lock_timeout
const FEATURE_NOT_SUPPORTED = "0A000"; // incl. "cached plan must not change result type"
const DUPLICATE_SCHEMA = "42P06";
// Class 57P: the server shut down or terminated this session; the connection is gone.
const CONNECTION_GONE = new Set(["57P01", "57P02", "57P03"]);

/** The subset of libpq's binding (node module `libpq`, exposed as `client.pq`) the driver uses. */
interface Libpq {
  exec(text: string): void;
  prepare(name: string, text: string, nParams: number): void;
  execPrepared(name: string, params: (string | null)[]): void;
  resultStatus(): string;
  resultErrorFields(): { sqlState?: string; messagePrimary?: string; messageDetail?: string } | null;
  resultErrorMessage(): string;
  errorMessage(): string;
  ntuples(): number;
  nfields(): number;
  fname(i: number): string;
  ftype(i: number): number;
  getvalue(row: number, col: number): string;
  getisnull(row: number, col: number): boolean;
  cmdTuples(): string;
  transactionStatus(): number;
  finish(): void;
}
interface PgNativeClient {
  pq: Libpq;
  connectSync(conninfo: string): void;
  end(): void;
}

/** `?` → `$n` in one SQL text, leaving literals, quoted identifiers, comments and dollar quotes alone. */
export function toPostgresPlaceholders(sql: string): { text: string; params: number } {
  let out = "";
  let n = 0;
  let i = 0;
  const len = sql.length;
  const identChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$]/.test(c);
  const unterminated = (what: string) =>
    new Error(`SQL text has an unterminated ${what}: ${sql.length > 200 ? `${sql.slice(0, 200)}…` : sql}`);
  while (i < len) {
    const c = sql[i]!;
    let end = -1; // index just past a span copied as it is
    if (c === "'") {
      // E'…' strings take backslash escapes; '' is a quote inside any string.
      const escapes = (sql[i - 1] === "E" || sql[i - 1] === "e") && !identChar(sql[i - 2]);
      let j = i + 1;
      for (;;) {
        if (j >= len) throw unterminated("string literal");
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j += 2;
          else break;
        } else j++;
      }
      end = j + 1;
    } else if (c === '"') {
      const j = sql.indexOf('"', i + 1); // "a""b" reads as two adjacent quoted spans: same result
      if (j < 0) throw unterminated("quoted identifier");
      end = j + 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      const j = sql.indexOf("\n", i);
      end = j < 0 ? len : j;
    } else if (c === "/" && sql[i + 1] === "*") {
      let depth = 1; // PostgreSQL's block comments nest
      let j = i + 2;
      while (depth > 0) {
        if (j >= len) throw unterminated("block comment");
        if (sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
        } else j++;
      }
      end = j;
    } else if (c === "$" && !identChar(sql[i - 1])) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) throw unterminated(`dollar-quoted string ${tag[0]}`);
        end = close + tag[0].length;
      }
    } else if (c === "?") {
      n++;
      out += `$${n}`;
      i++;
      continue;
    }
    if (end > i) {
      out += sql.slice(i, end);
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, params: n };
}

/**
 * PostgreSQL's text cannot hold the character with code zero (PostgreSQL documentation, 8.3 Character
 * Types), and libpq would end a parameter there (a C string): it becomes U+FFFD, so a log line or a
 * value read from a file that holds one is kept whole instead of cut short (SQLite keeps it as it is).
 */
export const withoutNul = (text: string): string =>
  text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text;

/** One parameter in libpq's text format. */
function toText(value: SqlParam | undefined, index: number): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
      return withoutNul(value);
    case "number":
      return String(value); // NaN, Infinity and -Infinity are float8 input as they are
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "1" : "0";
    default:
      if (value instanceof Uint8Array)
        return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
      throw new TypeError(
        `SQL parameter ${index + 1} is a ${Object.prototype.toString.call(value)}: pass a string, number, bigint, boolean, null or Buffer (JSON.stringify objects first).`,
      );
  }
}

const parseInt8 = (s: string): number | bigint => {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : BigInt(s);
};
const parseNumeric = (s: string): number | bigint => {
  const n = Number(s);
  // An integer NUMERIC (sum() of BIGINTs) beyond 2^53 keeps its digits as a bigint.
  return !Number.isSafeInteger(n) && /^-?\d+$/.test(s) ? BigInt(s) : n;
};
type Parser = (s: string) => unknown;
const PARSERS: Record<number, Parser> = {
  [OID.bool]: (s) => (s === "t" ? 1 : 0),
  [OID.bytea]: (s) => Buffer.from(s.slice(2), "hex"), // bytea_output = hex (the default): \x…
  [OID.int8]: parseInt8,
  [OID.int2]: Number,
  [OID.int4]: Number,
  [OID.oid]: Number,
  [OID.float4]: Number, // "NaN", "Infinity", "-Infinity" included
  [OID.float8]: Number,
  [OID.numeric]: parseNumeric,
};
const asText: Parser = (s) => s;

/** A libpq keyword/value connection string value, quoted. */
const quoteConninfo = (v: string) => `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
/** An SQL identifier, quoted. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface Target {
  conninfo: string;
  /** host:port as the messages name it. */
  where: string;
}

/** The libpq connection string for a `postgres://` URL, with the store's timeouts added. */
export function postgresConninfo(options: PostgresOptions): Target {
  const { url } = options;
  let parsed: URL | undefined;
  try {
    parsed = /^postgres(ql)?:\/\//.test(url) ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed)
    throw new StoreError(
      `The team store URL "${url.replace(/:[^:@/]*@/, ":***@")}" is not a postgres:// URL: set store.url in dagwood.json to postgres://user@host:5432/database.`,
      undefined,
      "other",
    );
  if (parsed.password || parsed.searchParams.has("password") || parsed.searchParams.has("sslpassword"))
    throw new StoreError(
      `The team store URL in store.url carries a password; dagwood.json is shared, so it must not: remove it from the URL and put it in DAGWOOD_STORE_PASSWORD or the system keychain (or ~/.pgpass).`,
      undefined,
      "other",
    );
  const keywords = new Map<string, string>([
    ["connect_timeout", "5"],
    ["keepalives", "1"],
    ["keepalives_idle", "30"],
    ["keepalives_interval", "10"],
    ["keepalives_count", "3"],
    ["tcp_user_timeout", "10000"],
    ["client_encoding", "UTF8"],
    ["application_name", options.applicationName ?? "dagwood"],
  ]);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host) keywords.set("host", decodeURIComponent(host));
  if (parsed.port) keywords.set("port", parsed.port);
  if (parsed.username) keywords.set("user", decodeURIComponent(parsed.username));
  const db = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (db) keywords.set("dbname", db);
  for (const [k, v] of parsed.searchParams) {
    if (!/^[a-z_]+$/.test(k))
      throw new StoreError(
        `store.url has a query parameter "${k}" that is not a libpq keyword.`,
        undefined,
        "other",
      );
    keywords.set(k, v);
  }
  if (options.password !== undefined) keywords.set("password", options.password);
  const where = `${keywords.get("host") ?? "localhost"}:${keywords.get("port") ?? "5432"}`;
  return {
    conninfo: [...keywords].map(([k, v]) => `${k}=${quoteConninfo(v)}`).join(" "),
    where,
  };
}

interface Prepared {
  name: string;
  params: number;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** libpq's PQTRANS_UNKNOWN: the connection is bad (PQtransactionStatus, libpq-status docs). */
const TRANSACTION_UNKNOWN = 4;

/**
 * Clients finished but kept referenced until libuv has closed their poll handle: libpq's addon
 * closes the handle (embedded in its connection object) with uv_close at finish() and then lets
 * the object be garbage-collected, which — before the loop has run the close — frees memory libuv
 * still holds ("uv__finish_close: Assertion failed", measured in the store-pg tests). Close
 * callbacks run at the end of a loop iteration, so two setImmediate hops are after it.
 */
const finishing = new Set<PgNativeClient>();
function finishClient(client: PgNativeClient): void {
  try {
    client.end();
  } finally {
    finishing.add(client);
    setImmediate(() => setImmediate(() => finishing.delete(client)));
  }
}

/** The PostgreSQL driver; open it with `openPostgres`. */
export class PostgresSql implements Sql {
  readonly dialect = "postgres" as const;
  private readonly statements = new Map<string, Prepared>();
  private nextName = 0;
  private depth = 0;
  private closed = false;
  /** Set when the connection broke: every later call fails the same way. */
  private broken: StoreError | undefined;
  private readonly pq: Libpq;

  constructor(
    private readonly client: PgNativeClient,
    /** host:port, for messages. */
    readonly where: string,
    /** The schema on the search path. */
    readonly schema: string,
    private readonly secret?: string,
  ) {
    this.pq = client.pq;
  }

  /** The StoreError for the failure libpq just reported. */
  private failure(sql: string): StoreError {
    const fields = this.pq.resultErrorFields();
    const code = fields?.sqlState;
    let text = (fields?.messagePrimary ?? (this.pq.resultErrorMessage() || this.pq.errorMessage()))
      .trim()
      .replace(/^(ERROR|FATAL):\s+/, "");
    if (this.secret) text = text.split(this.secret).join("***");
    const detail = fields?.messageDetail ? ` (${fields.messageDetail})` : "";
    if (this.pq.transactionStatus() === TRANSACTION_UNKNOWN) {
      // The connection is gone. Finish it now: libpq has already closed its socket, and the
      // number must not be reused by another handle while the addon's poll handle still names it.
      this.broken = unreachable(this.where, text, code);
      this.closed = true;
      this.statements.clear();
      finishClient(this.client);
      return this.broken;
    }
    if (code === undefined || code.startsWith("08") || CONNECTION_GONE.has(code))
      return unreachable(this.where, text, code);
    if (code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED)
      return new StoreError(
        `Another process was writing the same rows of the team store at the same time (${text})${this.depth > 0 ? `, and running the transaction again ${WRITE_RETRIES} times did not get through` : ""}; run the command again.`,
        code,
        "conflict",
      );
    if (code === UNIQUE_VIOLATION)
      return new StoreError(`The team store already has that row: ${text}${detail}.`, code, "conflict");
    if (code === QUERY_CANCELED)
      return new StoreError(
        `A team-store statement ran longer than its limit (statement_timeout ${STATEMENT_TIMEOUT}) and was cancelled; the server at ${this.where} may be overloaded. Try again, or ask its administrator.`,
        code,
        "timeout",
      );
    if (code === LOCK_NOT_AVAILABLE)
      return new StoreError(
        `Waited longer than the team store's lock limit (lock_timeout ${LOCK_TIMEOUT}) for rows another process holds; try again when it has finished.`,
        code,
        "timeout",
      );
    const where = sql.replace(/\s+/g, " ").trim();
    return new StoreError(
      `The team store refused a statement: ${text}${detail} [SQLSTATE ${code}] in: ${where.length > 200 ? `${where.slice(0, 200)}…` : where}`,
      code,
      "other",
    );
  }

  private ensureOpen(): void {
    if (this.broken) throw new StoreError(this.broken.message, this.broken.code, this.broken.kind);
    if (this.closed) throw new Error("The team store connection is closed.");
  }

  private check(sql: string): void {
    const status = this.pq.resultStatus();
    if (status !== "PGRES_TUPLES_OK" && status !== "PGRES_COMMAND_OK" && status !== "PGRES_EMPTY_QUERY")
      throw this.failure(sql);
  }

  private prepared(sql: string): Prepared {
    let p = this.statements.get(sql);
    if (!p) {
      this.ensureOpen();
      const { text, params } = toPostgresPlaceholders(sql);
      const name = `dw${this.nextName++}`;
      this.pq.prepare(name, text, params);
      this.check(sql);
      p = { name, params };
      this.statements.set(sql, p);
    }
    return p;
  }

  /** Runs one statement; the result stays in libpq until the next call. */
  private execute(sql: string, params: SqlParam[]): void {
    this.ensureOpen();
    for (let attempt = 0; ; attempt++) {
      const p = this.prepared(sql);
      if (params.length !== p.params)
        throw new RangeError(
          `The statement has ${p.params} ? placeholder(s) but ${params.length} parameter(s) were given: ${sql}`,
        );
      this.pq.execPrepared(p.name, params.map(toText));
      const status = this.pq.resultStatus();
      if (status === "PGRES_TUPLES_OK" || status === "PGRES_COMMAND_OK") return;
      const err = this.failure(sql);
      // A table changed under a prepared `SELECT *` ("cached plan must not change result
      // type"): prepare the text again. Inside a transaction the error has aborted it, so
      // write() runs the whole function again instead.
      if (err.code === FEATURE_NOT_SUPPORTED && /cached plan/.test(err.message)) {
        this.statements.delete(sql);
        if (this.depth === 0 && attempt === 0) continue;
        throw new StoreError(err.message, err.code, "conflict");
      }
      throw err;
    }
  }

  private parsers(): Parser[] {
    const n = this.pq.nfields();
    const out = new Array<Parser>(n);
    for (let j = 0; j < n; j++) out[j] = PARSERS[this.pq.ftype(j)] ?? asText;
    return out;
  }

  private cell(parse: Parser, row: number, col: number): unknown {
    const raw = this.pq.getvalue(row, col);
    return raw === "" && this.pq.getisnull(row, col) ? null : parse(raw);
  }

  all<T>(sql: string, ...params: SqlParam[]): T[] {
    this.execute(sql, params);
    const parse = this.parsers();
    const names = parse.map((_, j) => this.pq.fname(j));
    const rows = this.pq.ntuples();
    const out = new Array<T>(rows);
    for (let i = 0; i < rows; i++) {
      const row: Record<string, unknown> = {};
      for (let j = 0; j < parse.length; j++) row[names[j]!] = this.cell(parse[j]!, i, j);
      out[i] = row as T;
    }
    return out;
  }

  get<T>(sql: string, ...params: SqlParam[]): T | undefined {
    this.execute(sql, params);
    if (this.pq.ntuples() === 0) return undefined;
    const parse = this.parsers();
    const row: Record<string, unknown> = {};
    for (let j = 0; j < parse.length; j++) row[this.pq.fname(j)] = this.cell(parse[j]!, 0, j);
    return row as T;
  }

  value<T>(sql: string, ...params: SqlParam[]): T | undefined {
    this.execute(sql, params);
    if (this.pq.ntuples() === 0 || this.pq.nfields() === 0) return undefined;
    return this.cell(this.parsers()[0]!, 0, 0) as T;
  }

  column<T>(sql: string, ...params: SqlParam[]): T[] {
    this.execute(sql, params);
    if (this.pq.nfields() === 0) return [];
    const parse = this.parsers()[0]!;
    const rows = this.pq.ntuples();
    const out = new Array<T>(rows);
    for (let i = 0; i < rows; i++) out[i] = this.cell(parse, i, 0) as T;
    return out;
  }

  rows(sql: string, ...params: SqlParam[]): unknown[][] {
    this.execute(sql, params);
    const parse = this.parsers();
    const rows = this.pq.ntuples();
    const out = new Array<unknown[]>(rows);
    for (let i = 0; i < rows; i++) out[i] = parse.map((p, j) => this.cell(p, i, j));
    return out;
  }

  run(sql: string, ...params: SqlParam[]): { changes: number } {
    this.execute(sql, params);
    return { changes: Number(this.pq.cmdTuples()) || 0 };
  }

  exec(script: string): void {
    this.ensureOpen();
    this.pq.exec(script);
    this.check(script);
  }

  write<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    for (let attempt = 0; ; attempt++) {
      this.exec("BEGIN");
      this.depth = 1;
      try {
        const result = fn();
        if (result instanceof Promise) throw new TypeError("Sql.write: the function must not be async");
        this.exec("COMMIT");
        this.depth = 0;
        return result;
      } catch (e) {
        this.depth = 0;
        this.rollbackQuietly();
        if (attempt < WRITE_RETRIES && e instanceof StoreError && retryable(e)) {
          // Stagger the retries so two processes that deadlocked do not meet again.
          sleepSync(5 * 2 ** attempt + Math.random() * 10);
          continue;
        }
        throw e;
      }
    }
  }

  private rollbackQuietly(): void {
    try {
      // 0 = idle: the failed COMMIT (or a broken connection) already ended the transaction.
      if (!this.closed && this.pq.transactionStatus() !== 0) this.pq.exec("ROLLBACK");
    } catch {
      // The connection is gone; the server rolls the transaction back itself.
    }
  }

  lock(key: string): void {
    if (this.depth === 0) throw new Error("Sql.lock is for use inside write()");
    this.value("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", key);
  }

  inJson(): string {
    // ARRAY(...) is an InitPlan: the planner then sizes the list and probes by index; a bare
    // jsonb_array_elements_text is guessed at 100 rows and answered with a scan of the whole table
    // (EXPLAIN ANALYZE, 2,000 runs: 26 ms seq scan vs 0.35 ms index scan).
    return "(SELECT unnest(ARRAY(SELECT jsonb_array_elements_text(?::jsonb))))";
  }

  contains(column: string): string {
    // The columns are COLLATE "C", under which lower() changes ASCII letters only, as SQLite's does; a
    // parameter would be lowered under the database's default collation (a UTF-8 locale: É → é) and
    // then miss what SQLite finds, so it is lowered under "C" too.
    return `strpos(lower(${column}), lower(? COLLATE "C")) > 0`;
  }

  jsonText(column: string, key: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`jsonText: "${key}" is not a plain key`);
    return `(${column}::jsonb ->> '${key}')`;
  }

  insertionOrder(alias?: string): string {
    return alias ? `${alias}.seq` : "seq";
  }

  nullParam(): string {
    return "?::text";
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    finishClient(this.client);
  }
}

const retryable = (e: StoreError) =>
  e.code === SERIALIZATION_FAILURE ||
  e.code === DEADLOCK_DETECTED ||
  (e.code === FEATURE_NOT_SUPPORTED && e.kind === "conflict");

function unreachable(where: string, reason: string, code?: string): StoreError {
  const first = reason.split("\n")[0]!.trim();
  return new StoreError(
    `The team store at ${where} cannot be reached (${first}). Check that the server is up and that store.url in dagwood.json names it; once it is reachable again, \`dagwood store sync\` uploads what was recorded locally meanwhile.`,
    code,
    "unreachable",
  );
}

/** Connects to the team store, creates its schema when missing and sets the session limits. */
export function openPostgres(options: PostgresOptions): PostgresSql {
  if (!options.schema || Buffer.byteLength(options.schema) > 63)
    throw new StoreError(
      `The team store's schema name "${options.schema}" must be 1 to 63 bytes (store.schema in dagwood.json).`,
      undefined,
      "other",
    );
  const { conninfo, where } = postgresConninfo(options);
  // Loaded here, not at the top: a SQLite-only user never loads libpq.
  const Client = createRequire(import.meta.url)("pg-native") as new () => PgNativeClient;
  const client = new Client();
  try {
    client.connectSync(conninfo);
  } catch (e) {
    let text = (e as Error).message;
    if (options.password) text = text.split(options.password).join("***");
    try {
      finishClient(client);
    } catch {
      // nothing was opened
    }
    if (/password authentication failed|no password supplied|authentication failed/i.test(text))
      throw new StoreError(
        `The team store at ${where} refused the login (${text.split("\n")[0]!.trim()}): put the password in DAGWOOD_STORE_PASSWORD or the system keychain (or ~/.pgpass), never in store.url.`,
        "28P01",
        "other",
      );
    if (/database ".*" does not exist|role ".*" does not exist/.test(text))
      throw new StoreError(
        `The team store at ${where} has no such ${/database/.test(text.split("\n")[0]!) ? "database" : "user"} (${text
          .split("\n")[0]!
          .replace(/^.*FATAL:\s*/, "")
          .trim()}): check store.url in dagwood.json.`,
        /database/.test(text) ? "3D000" : "28000",
        "other",
      );
    throw unreachable(where, text.replace(/^connection to server at [^,]*, port \d+ failed:\s*/, ""));
  }
  const sql = new PostgresSql(client, where, options.schema, options.password);
  try {
    const schema = quoteIdent(options.schema);
    if (!sql.value("SELECT 1 FROM pg_namespace WHERE nspname = ?", options.schema)) {
      try {
        sql.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } catch (e) {
        // Another process created it at the same moment.
        if (!(e instanceof StoreError && (e.code === DUPLICATE_SCHEMA || e.code === UNIQUE_VIOLATION)))
          throw e;
      }
    }
    sql.exec(
      `SET search_path TO ${schema}; SET statement_timeout = '${STATEMENT_TIMEOUT}'; SET lock_timeout = '${LOCK_TIMEOUT}'; SET client_min_messages = warning`,
    );
  } catch (e) {
    sql.close();
    throw e;
  }
  return sql;
}
