/**
 * MySQL and MariaDB through mysql2: a streaming query (`query(...).stream()`, which pauses the
 * socket while the consumer is busy) inside `START TRANSACTION READ ONLY`, big integers and DECIMAL
 * as exact text (`supportBigNumbers`, `bigNumberStrings`, `decimalNumbers: false`), dates as the
 * server writes them (`dateStrings`), the session in UTC so TIMESTAMP reads as TIMESTAMPTZ.
 * Cancel sends `KILL QUERY <thread id>` from a second connection.
 */
import mysql from "mysql2";
import {
  Batcher,
  cancelledError,
  cursorIndex,
  DEFAULT_BATCH_ROWS,
  sourceLabel,
  unmappedError,
} from "./common";
import { buildSelect, quoteIdent } from "./read-only";
import { redact } from "./secrets";
import type { ConnectionSettings } from "./settings";
import {
  type CatalogTable,
  type DbConnection,
  DbError,
  type ReadResult,
  type ReadSpec,
  type SourceColumn,
} from "./types";
import { type MysqlField, mysqlDuckdbType, mysqlTypeName } from "./types-map";

type MysqlSettings = Extract<ConnectionSettings, { kind: "mysql" }>;

export async function openMysql(
  name: string,
  settings: MysqlSettings,
  secret: string | null,
): Promise<DbConnection> {
  const conn = new MysqlConnection(name, settings, secret);
  await conn.connect();
  return conn;
}

interface MyColumn extends SourceColumn {
  text: boolean;
}

const SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys"];

class MysqlConnection implements DbConnection {
  readonly kind = "mysql" as const;
  private conn: mysql.Connection | undefined;
  private readonly where: string;

  constructor(
    private readonly name: string,
    private readonly settings: MysqlSettings,
    private readonly secret: string | null,
  ) {
    this.where = `${settings.user}@${settings.host}:${settings.port}/${settings.database}`;
  }

  private newConnection(): mysql.Connection {
    const s = this.settings;
    const c = mysql.createConnection({
      host: s.host,
      port: s.port,
      user: s.user,
      database: s.database,
      ...(this.secret !== null ? { password: this.secret } : {}),
      connectTimeout: s.connectTimeout * 1000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      dateStrings: true,
      jsonStrings: true,
      timezone: "Z",
      multipleStatements: false,
      ...(s.ssl ? { ssl: { rejectUnauthorized: true } } : {}),
      typeCast: (field, next) => {
        if (field.type === "JSON") return field.string("utf8");
        if (field.type === "BIT") return field.buffer();
        if (field.type === "GEOMETRY") return field.buffer();
        return next();
      },
    });
    c.on("error", () => {}); // a dropped idle connection fails the next call instead of the process
    return c;
  }

  async connect(): Promise<void> {
    const c = this.newConnection();
    try {
      await c.promise().connect();
      await c.promise().query("SET time_zone = '+00:00'");
    } catch (e) {
      c.destroy();
      throw this.error(e, undefined);
    }
    this.conn = c;
  }

  private error(e: unknown, spec: ReadSpec | undefined): DbError {
    if (e instanceof DbError) return e;
    const err = e as { code?: string; errno?: number; sqlMessage?: string; fatal?: boolean };
    const code = err.code ?? "";
    const s = this.settings;
    const at = `${s.host}:${s.port}`;
    const conn = `Connection ${this.name} (MySQL ${this.where})`;
    const what = spec ? sourceLabel(spec) : "the catalog";
    const mk = (kind: ConstructorParameters<typeof DbError>[0], text: string) =>
      new DbError(kind, redact(text, this.secret), { cause: e });
    if (code === "ER_ACCESS_DENIED_ERROR" || code === "ER_DBACCESS_DENIED_ERROR" || err.errno === 1045)
      return mk(
        "auth",
        `${conn}: the server refused user ${s.user}'s credentials. Check the password in DAGWOOD_SECRET_${this.name.toUpperCase()} (or the keychain) and the user's name and host.`,
      );
    if (code === "ER_BAD_DB_ERROR") return mk("not-found", `${conn}: database ${s.database} does not exist.`);
    if (code === "ER_NO_SUCH_TABLE")
      return mk("not-found", `${conn}: ${what} does not exist (${err.sqlMessage ?? ""}).`);
    if (code === "ER_BAD_FIELD_ERROR")
      return mk("not-found", `${conn}: a column of ${what} does not exist (${err.sqlMessage ?? ""}).`);
    if (code === "ER_QUERY_INTERRUPTED")
      return mk("cancelled", `${conn}: the read of ${what} was cancelled on the server.`);
    if (code === "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION")
      return mk("not-read-only", `${conn}: the query tried to write in a read-only transaction.`);
    if (
      code === "PROTOCOL_CONNECTION_LOST" ||
      code === "ECONNRESET" ||
      code === "EPIPE" ||
      code === "ER_CONNECTION_KILLED" ||
      code === "ER_SERVER_SHUTDOWN" ||
      code === "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR"
    )
      return mk(
        "dropped",
        `${conn}: the connection dropped while reading ${what}; nothing was kept from this read. Run again when the server is back.`,
      );
    if (
      code === "ECONNREFUSED" ||
      code === "EHOSTUNREACH" ||
      code === "ENETUNREACH" ||
      code === "ENOTFOUND" ||
      code === "EAI_AGAIN"
    )
      return mk(
        "unreachable",
        `${conn}: cannot reach ${at} (${code}): check the host and port, and that the server is running and accepts TCP connections.`,
      );
    if (code === "ETIMEDOUT")
      return mk(
        "timeout",
        `${conn}: no answer from ${at} within ${s.connectTimeout} s (connectTimeout): check the host and port, a firewall, or raise connectTimeout.`,
      );
    if (code.startsWith("ER_") && err.sqlMessage)
      return mk("other", `${conn}: the server refused the read of ${what}: ${err.sqlMessage} (${code}).`);
    return mk("other", `${conn}: reading ${what} failed (${code || "error"}).`);
  }

  private get c(): mysql.Connection {
    if (!this.conn) throw new DbError("dropped", `Connection ${this.name} is closed.`);
    return this.conn;
  }

  private async q<T>(
    sql: string,
    params: unknown[] = [],
    spec?: ReadSpec,
  ): Promise<{ rows: T[]; fields: mysql.FieldPacket[] }> {
    try {
      const [rows, fields] = await this.c.promise().query(sql, params);
      return { rows: rows as T[], fields: (fields ?? []) as mysql.FieldPacket[] };
    } catch (e) {
      throw this.error(e, spec);
    }
  }

  async serverVersion(): Promise<string> {
    const { rows } = await this.q<{ v: string }>("SELECT VERSION() AS v");
    const v = rows[0]!.v;
    return /mariadb/i.test(v) ? `MariaDB ${v}` : `MySQL ${v}`;
  }

  async listSchemas(): Promise<string[]> {
    const { rows } = await this.q<{ n: string }>(
      "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY 1",
      [SYSTEM_SCHEMAS],
    );
    return rows.map((r) => r.n);
  }

  async listTables(schema?: string): Promise<CatalogTable[]> {
    const { rows } = await this.q<{ s: string; n: string; k: string; t: string | number | null }>(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, TABLE_TYPE AS k, TABLE_ROWS AS t FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = ? ORDER BY 2`,
      [schema ?? this.settings.database],
    );
    return rows.map((r) => ({
      schema: r.s,
      name: r.n,
      kind: r.k === "VIEW" ? "view" : "table",
      rowsEstimate: r.t === null ? null : Number(r.t),
    }));
  }

  private columnsOf(spec: ReadSpec, fields: mysql.FieldPacket[]): MyColumn[] {
    return fields.map((f) => {
      const mf = f as unknown as MysqlField & { name: string };
      const duck = mysqlDuckdbType(mf);
      const sourceType = mysqlTypeName(mf);
      if (duck === null && !spec.unmappedAsText) throw unmappedError(mf.name, sourceType, this.name);
      return {
        name: mf.name,
        sourceType,
        duckdbType: duck ?? "VARCHAR",
        nullable: true,
        text: duck === null,
      };
    });
  }

  async describe(spec: ReadSpec): Promise<SourceColumn[]> {
    const select = buildSelect(spec, "mysql");
    await this.q("START TRANSACTION READ ONLY", [], spec);
    try {
      const { fields } = await this.q(`SELECT * FROM (${select}) AS dagwood_d LIMIT 0`, [], spec);
      return this.columnsOf(spec, fields).map(({ text, ...c }) => c);
    } finally {
      await this.q("ROLLBACK").catch(() => {});
    }
  }

  async read(spec: ReadSpec, opts: Parameters<DbConnection["read"]>[1]): Promise<ReadResult> {
    if (opts.signal?.aborted) throw cancelledError(this.name);
    const select = buildSelect(spec, "mysql");
    const conn = this.c;
    let cancelled = false;
    let killed: Promise<void> = Promise.resolve();
    const onAbort = () => {
      cancelled = true;
      killed = this.killQuery(conn.threadId);
    };
    let removeLost = () => {};
    await this.q("START TRANSACTION READ ONLY", [], spec);
    try {
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const query = conn.query({ sql: select, rowsAsArray: true });
      const fieldsP = new Promise<mysql.FieldPacket[]>((resolve, reject) => {
        query.once("fields", (f: mysql.FieldPacket[]) => resolve(f));
        query.once("error", reject);
      });
      fieldsP.catch(() => {}); // an error before the fields reaches us through the stream
      const stream = query.stream({ highWaterMark: 1000 });
      // The stream's own error is also the query's: keep one listener so it is not unhandled.
      stream.on("error", () => {});
      // A streaming query has no callback, so mysql2 reports a lost connection on the connection only.
      const onLost = (e: unknown) => stream.destroy(e instanceof Error ? e : new Error(String(e)));
      conn.on("error", onLost);
      removeLost = () => conn.off("error", onLost);
      let columns: MyColumn[] | undefined;
      let norm: ((v: unknown) => unknown)[] = [];
      let batcher: Batcher | undefined;
      const start = async (fields: mysql.FieldPacket[]) => {
        columns = this.columnsOf(spec, fields);
        const pub = columns.map(({ text, ...c }) => c);
        await opts.onColumns(pub);
        const ci = cursorIndex(spec, pub);
        norm = columns.map((c) => normaliser(c, this.name));
        batcher = new Batcher(
          columns.length,
          opts.batchRows ?? DEFAULT_BATCH_ROWS,
          opts.onBatch,
          opts.onProgress,
          ci === undefined ? undefined : { index: ci, name: pub[ci]!.name, toText: (v) => String(v) },
        );
      };
      try {
        for await (const raw of stream as AsyncIterable<unknown[]>) {
          // Once cancelled, the rest is drained until KILL QUERY ends the query.
          if (cancelled) continue;
          if (!batcher) await start(await fieldsP);
          const row = raw.map((v, i) => (v === null ? null : norm[i]!(v)));
          if (batcher!.add(row)) await batcher!.flush();
        }
        if (!batcher) await start(await fieldsP);
      } catch (e) {
        if (cancelled) throw cancelledError(this.name);
        throw e;
      }
      if (cancelled) throw cancelledError(this.name);
      await batcher!.flush();
      batcher!.finish();
      await this.q("COMMIT", [], spec);
      return {
        columns: columns!.map(({ text, ...c }) => c),
        rows: batcher!.rows,
        cursorMax: batcher!.cursorMax,
      };
    } catch (e) {
      const err = this.error(e, spec);
      if (err.kind === "dropped") {
        this.conn = undefined;
        conn.destroy();
      } else {
        await this.q("ROLLBACK").catch(() => {});
      }
      throw err;
    } finally {
      removeLost();
      opts.signal?.removeEventListener("abort", onAbort);
      await killed;
    }
  }

  private async killQuery(threadId: number | null): Promise<void> {
    if (threadId === null) return;
    const other = this.newConnection();
    try {
      await other.promise().connect();
      await other.promise().query(`KILL QUERY ${Number(threadId)}`);
    } catch {
      // The read fails or ends on its own.
    } finally {
      other.destroy();
    }
  }

  async changeToken(spec: ReadSpec): Promise<string | null> {
    const src = spec.source;
    if ("query" in src) return null;
    const rel = src.schema
      ? `${quoteIdent(src.schema, "mysql")}.${quoteIdent(src.table, "mysql")}`
      : quoteIdent(src.table, "mysql");
    if (spec.cursor || src.where) {
      const filtered = buildSelect({ source: { ...src, columns: undefined } }, "mysql");
      const max = spec.cursor
        ? `, CAST(MAX(dagwood_t.${quoteIdent(spec.cursor.column, "mysql")}) AS CHAR)`
        : ", NULL";
      const { rows } = await this.q<[string, string | null]>(
        `SELECT CAST(COUNT(*) AS CHAR)${max} FROM (${filtered}) AS dagwood_t`,
        [],
        spec,
      ).then((r) => ({ rows: r.rows.map((x) => Object.values(x as object) as [string, string | null]) }));
      if (!src.where) {
        const sum = await this.q<{ Checksum: string | null }>(`CHECKSUM TABLE ${rel}`, [], spec);
        return `mysql:${rows[0]![0]}:${rows[0]![1] ?? ""}:${sum.rows[0]?.Checksum ?? ""}`;
      }
      return `mysql:${rows[0]![0]}:${rows[0]![1] ?? ""}`;
    }
    const { rows } = await this.q<{ Checksum: string | null }>(`CHECKSUM TABLE ${rel}`, [], spec);
    if (!rows[0] || rows[0].Checksum === null)
      throw new DbError("not-found", `Connection ${this.name}: ${sourceLabel(spec)} does not exist.`);
    return `mysql:checksum:${rows[0].Checksum}`;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c)
      await c
        .promise()
        .end()
        .catch(() => c.destroy());
  }
}

const ZERO_DATE = /^0000-00-00/;

function normaliser(c: MyColumn, connection: string): (v: unknown) => unknown {
  const t = c.duckdbType;
  const bad = (v: unknown) =>
    new DbError(
      "unmapped-type",
      `Connection ${connection}: column "${c.name}" (${c.sourceType}) holds ${JSON.stringify(String(v))}, which has no ${t} value (MySQL's zero date?): filter it out or cast it in a query.`,
    );
  if (c.text) return (v) => (Buffer.isBuffer(v) ? `\\x${v.toString("hex")}` : String(v));
  if (t === "BIGINT" || t === "UBIGINT") return (v) => BigInt(v as string | number);
  if (t === "BOOLEAN") return (v) => (Buffer.isBuffer(v) ? v[0] !== 0 : Boolean(v));
  if (t === "DATE" || t === "TIMESTAMP")
    return (v) => {
      if (ZERO_DATE.test(String(v))) throw bad(v);
      return v;
    };
  if (t === "TIMESTAMPTZ")
    return (v) => {
      if (ZERO_DATE.test(String(v))) throw bad(v);
      return `${v}+00`;
    };
  if (t === "VARCHAR" || t === "JSON") return (v) => (Buffer.isBuffer(v) ? v.toString("utf8") : v);
  return (v) => v;
}
