/**
 * PostgreSQL through `pg`, rows read with `COPY (SELECT …) TO STDOUT (FORMAT binary)` through
 * pg-copy-streams inside `BEGIN READ ONLY`, and the binary format parsed here (the format:
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4; each type's binary form is
 * its `*send` function in src/backend/utils/adt). Columns whose type has no lossless DuckDB type are
 * an error naming the column, or cast to text in the COPY's SELECT when the user chose text.
 */
import type { Readable } from "node:stream";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
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
import { PG_ARRAYS, PG_SCALARS, pgDuckdbType } from "./types-map";

type PgSettings = Extract<ConnectionSettings, { kind: "postgres" }>;

export async function openPostgres(
  name: string,
  settings: PgSettings,
  secret: string | null,
): Promise<DbConnection> {
  const conn = new PostgresConnection(name, settings, secret);
  await conn.connect();
  return conn;
}

/** A column as the COPY reads it: the OID decoded (text for casts), and its DuckDB type. */
export interface PgColumn extends SourceColumn {
  oid: number;
  cast: boolean;
}

class PostgresConnection implements DbConnection {
  readonly kind = "postgres" as const;
  private client: pg.Client | undefined;
  private readonly where: string;

  constructor(
    private readonly name: string,
    private readonly settings: PgSettings,
    private readonly secret: string | null,
  ) {
    this.where = `${settings.user}@${settings.host}:${settings.port}/${settings.database}`;
  }

  private newClient(): pg.Client {
    const s = this.settings;
    const client = new pg.Client({
      host: s.host,
      port: s.port,
      database: s.database,
      user: s.user,
      ...(this.secret !== null ? { password: this.secret } : {}),
      // libpq's "prefer" tries TLS then falls back; pg has no fallback, so prefer connects without TLS.
      ssl:
        s.ssl === "require"
          ? { rejectUnauthorized: false }
          : s.ssl === "verify-full"
            ? { rejectUnauthorized: true }
            : false,
      connectionTimeoutMillis: s.connectTimeout * 1000,
      application_name: "dagwood",
    });
    // An error on an idle client (the server going away) must not crash the process: the next call fails.
    client.on("error", () => {});
    return client;
  }

  async connect(): Promise<void> {
    const client = this.newClient();
    try {
      await client.connect();
    } catch (e) {
      void client.end().catch(() => {});
      throw this.error(e, undefined);
    }
    this.client = client;
  }

  /** A DbError built from the kind and where the connection points; a server's SQL message (never the driver's) is kept, redacted. */
  private error(e: unknown, spec: ReadSpec | undefined): DbError {
    if (e instanceof DbError) return e;
    const err = e as { code?: string; message?: string };
    const code = err.code ?? "";
    const s = this.settings;
    const at = `${s.host}:${s.port}`;
    const conn = `Connection ${this.name} (PostgreSQL ${this.where})`;
    const what = spec ? sourceLabel(spec) : "the catalog";
    const mk = (kind: ConstructorParameters<typeof DbError>[0], text: string) =>
      new DbError(kind, redact(text, this.secret), { cause: e });
    if (code === "28P01" || code === "28000")
      return mk(
        "auth",
        `${conn}: the server refused user ${s.user}'s credentials. Check the password in DAGWOOD_SECRET_${this.name.toUpperCase()} (or the keychain) and the user's name.`,
      );
    if (code === "3D000") return mk("not-found", `${conn}: database ${s.database} does not exist.`);
    if (code === "42P01" || code === "3F000")
      return mk("not-found", `${conn}: ${what} does not exist (${err.message ?? "undefined table"}).`);
    if (code === "42703")
      return mk("not-found", `${conn}: a column of ${what} does not exist (${err.message ?? ""}).`);
    if (code === "57014") return mk("cancelled", `${conn}: the read of ${what} was cancelled on the server.`);
    if (code === "25006")
      return mk(
        "not-read-only",
        `${conn}: the query tried to write in a read-only transaction (${err.message ?? ""}).`,
      );
    if (
      code === "57P01" ||
      code === "57P02" ||
      code === "57P03" ||
      code === "08006" ||
      code === "08003" ||
      code === "ECONNRESET" ||
      code === "EPIPE" ||
      /terminated unexpectedly|Connection terminated$|ended unexpectedly/i.test(err.message ?? "")
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
    if (code === "ETIMEDOUT" || /timeout/i.test(err.message ?? ""))
      return mk(
        "timeout",
        `${conn}: no answer from ${at} within ${s.connectTimeout} s (connectTimeout): check the host and port, a firewall, or raise connectTimeout.`,
      );
    if (/^(42|22|0A|2B|54)/.test(code))
      return mk(
        "other",
        `${conn}: the server refused the read of ${what}: ${err.message ?? code} (SQLSTATE ${code}).`,
      );
    return mk("other", `${conn}: reading ${what} failed (${code || "error"}).`);
  }

  private get c(): pg.Client {
    if (!this.client) throw new DbError("dropped", `Connection ${this.name} is closed.`);
    return this.client;
  }

  private async q<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    spec?: ReadSpec,
  ): Promise<T[]> {
    try {
      return (await this.c.query<T>(sql, params)).rows;
    } catch (e) {
      throw this.error(e, spec);
    }
  }

  async serverVersion(): Promise<string> {
    const r = await this.q<{ v: string }>("SELECT current_setting('server_version') AS v");
    return `PostgreSQL ${r[0]!.v}`;
  }

  async listSchemas(): Promise<string[]> {
    const r = await this.q<{ n: string }>(
      "SELECT nspname AS n FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
    );
    return r.map((x) => x.n);
  }

  async listTables(schema?: string): Promise<CatalogTable[]> {
    const r = await this.q<{ s: string; n: string; k: string; t: number }>(
      `SELECT n.nspname AS s, c.relname AS n, c.relkind AS k, c.reltuples::float8 AS t
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
          AND ($1::text IS NULL OR n.nspname = $1) ORDER BY 1, 2`,
      [schema ?? null],
    );
    return r.map((x) => ({
      schema: x.s,
      name: x.n,
      kind: x.k === "v" || x.k === "m" ? "view" : "table",
      rowsEstimate: x.t >= 0 ? Math.round(x.t) : null, // -1: never analysed (PostgreSQL 14+)
    }));
  }

  /** The read's columns: the SELECT's row description (LIMIT 0), its types named by format_type. */
  private async columnsOf(spec: ReadSpec, select: string): Promise<PgColumn[]> {
    let fields: pg.FieldDef[];
    try {
      fields = (await this.c.query(`SELECT * FROM (${select}) AS dagwood_d LIMIT 0`)).fields;
    } catch (e) {
      throw this.error(e, spec);
    }
    const names = fields.map((f) => f.name);
    const types = await this.q<{ t: string; kind: string; base: number; basemod: number }>(
      `SELECT format_type(x.o, x.m) AS t, ty.typtype AS kind, ty.typbasetype::int AS base, ty.typtypmod AS basemod
         FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS x(o, m, i) JOIN pg_catalog.pg_type ty ON ty.oid = x.o ORDER BY x.i`,
      [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier)],
    );
    return fields.map((f, i) => {
      const info = types[i]!;
      let oid = f.dataTypeID;
      let mod = f.dataTypeModifier;
      if (info.kind === "d") {
        oid = info.base; // a domain is sent as its base type
        mod = info.basemod;
      }
      const duck = info.kind === "e" ? "VARCHAR" : pgDuckdbType(oid, mod);
      const cast = info.kind === "e" || duck === null;
      if (duck === null && !spec.unmappedAsText) throw unmappedError(f.name, info.t, this.name);
      if (cast && names.indexOf(f.name) !== i)
        throw new DbError(
          "other",
          `Connection ${this.name}: two columns are named "${f.name}": give them distinct names (AS …).`,
        );
      return {
        name: f.name,
        sourceType: info.t,
        duckdbType: duck ?? "VARCHAR",
        nullable: true,
        oid: cast ? 25 : oid,
        cast,
      };
    });
  }

  async describe(spec: ReadSpec): Promise<SourceColumn[]> {
    await this.q("BEGIN READ ONLY");
    try {
      return (await this.columnsOf(spec, buildSelect(spec, "postgres"))).map(({ oid, cast, ...c }) => c);
    } finally {
      await this.q("ROLLBACK").catch(() => {});
    }
  }

  async read(spec: ReadSpec, opts: Parameters<DbConnection["read"]>[1]): Promise<ReadResult> {
    if (opts.signal?.aborted) throw cancelledError(this.name);
    const select = buildSelect(spec, "postgres");
    const client = this.c;
    let cancelled = false;
    let killed: Promise<void> = Promise.resolve();
    const onAbort = () => {
      cancelled = true;
      killed = this.cancelBackend(client);
    };
    await this.q("BEGIN READ ONLY", [], spec);
    try {
      const columns = await this.columnsOf(spec, select);
      const public_ = columns.map(({ oid, cast, ...c }) => c);
      await opts.onColumns(public_);
      const ci = cursorIndex(spec, public_);
      const copySelect = columns.some((c) => c.cast)
        ? `SELECT ${columns.map((c) => `dagwood_r.${quoteIdent(c.name, "postgres")}${c.cast ? "::text" : ""}`).join(", ")} FROM (${select}) AS dagwood_r`
        : select;
      const decoders = columns.map((c) => decoderFor(c));
      const batcher = new Batcher(
        columns.length,
        opts.batchRows ?? DEFAULT_BATCH_ROWS,
        opts.onBatch,
        opts.onProgress,
        ci === undefined ? undefined : { index: ci, name: columns[ci]!.name, toText: cursorText },
      );
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const stream = client.query(copyTo(`COPY (${copySelect}) TO STDOUT (FORMAT binary)`));
      const parser = new BinaryCopyParser(columns.length, decoders, columns);
      let bytes = 0;
      // 'data' events, not an async iterator: PostgreSQL sends one CopyData message (one chunk) per
      // row, and an await per row costs more than decoding it. The stream pauses while a full batch
      // is handed on (backpressure). A decode error cancels the query and drains the rest.
      let failure: unknown;
      const addRow = (row: unknown[]) => batcher.add(row);
      try {
        await new Promise<void>((resolve, reject) => {
          let busy = false;
          let ended = false;
          const stop = (e: unknown) => {
            if (failure !== undefined || cancelled) return;
            failure = e;
            killed = this.cancelBackend(client);
            if (busy) return;
            stream.resume();
          };
          stream.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
            if (cancelled || failure !== undefined) return;
            let full: boolean;
            try {
              full = parser.push(chunk, addRow);
            } catch (e) {
              stop(e);
              return;
            }
            if (!full) return;
            busy = true;
            stream.pause();
            const drain = async () => {
              await batcher.flush(bytes);
              while (parser.push(EMPTY, addRow)) await batcher.flush(bytes);
            };
            drain().then(
              () => {
                busy = false;
                if (ended) resolve();
                else stream.resume();
              },
              (e) => {
                busy = false;
                stop(e);
                if (ended) resolve();
              },
            );
          });
          stream.on("end", () => {
            ended = true;
            if (!busy) resolve();
          });
          stream.on("error", reject);
        });
      } catch (e) {
        if (cancelled) throw cancelledError(this.name);
        if (failure !== undefined) throw failure;
        throw e;
      }
      if (failure !== undefined) throw failure;
      if (cancelled) throw cancelledError(this.name);
      if (!parser.done)
        throw new DbError(
          "dropped",
          `Connection ${this.name}: the rows of ${sourceLabel(spec)} ended before the end of the COPY (the connection dropped).`,
        );
      await batcher.flush(bytes);
      batcher.finish(bytes);
      await this.q("COMMIT", [], spec);
      return { columns: public_, rows: batcher.rows, cursorMax: batcher.cursorMax };
    } catch (e) {
      const err = this.error(e, spec);
      if (err.kind === "dropped") {
        // The client is unusable: drop it, so close() does not wait on it.
        this.client = undefined;
        void client.end().catch(() => {});
      } else {
        await client.query("ROLLBACK").catch(() => {});
      }
      throw err;
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      await killed;
    }
  }

  /**
   * The fast path of a full read (issue 18): `COPY (SELECT …) TO STDOUT (FORMAT csv)` inside
   * `BEGIN READ ONLY`, its bytes handed on unparsed to `consume` (the block pipes them to DuckDB's
   * read_csv, which parses them while PostgreSQL still writes). Null, before any row or
   * `onColumns`, when a column has no exact text form here (csvColumn): the caller then reads with
   * `read`. The session prints values in forms DuckDB parses back exactly: times in UTC, ISO dates,
   * shortest-exact floats, bytea in hex.
   */
  async readCsv(
    spec: ReadSpec,
    opts: {
      signal?: AbortSignal;
      onColumns: (columns: SourceColumn[], csv: CsvColumn[]) => Promise<void> | void;
      consume: (csv: Readable) => Promise<void>;
    },
  ): Promise<SourceColumn[] | null> {
    if (opts.signal?.aborted) throw cancelledError(this.name);
    const select = buildSelect(spec, "postgres");
    const client = this.c;
    let cancelled = false;
    let killed: Promise<void> = Promise.resolve();
    let consumerFailure: unknown;
    const onAbort = () => {
      cancelled = true;
      killed = this.cancelBackend(client);
    };
    await this.q("BEGIN READ ONLY", [], spec);
    try {
      const columns = await this.columnsOf(spec, select);
      const plan = columns.map(csvColumn);
      if (plan.some((c) => c === null)) {
        await this.q("ROLLBACK", [], spec);
        return null;
      }
      await this.q(
        "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'",
        [],
        spec,
      );
      const public_ = columns.map(({ oid, cast, ...c }) => c);
      await opts.onColumns(public_, plan as CsvColumn[]);
      const copySelect = columns.some((c) => c.cast)
        ? `SELECT ${columns.map((c) => `dagwood_r.${quoteIdent(c.name, "postgres")}${c.cast ? "::text" : ""}`).join(", ")} FROM (${select}) AS dagwood_r`
        : select;
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.signal?.aborted) onAbort();
      const stream = client.query(copyTo(`COPY (${copySelect}) TO STDOUT (FORMAT csv, NULL '\\N')`));
      // The server's stream ends (or fails: a cancel, a dropped connection) on its own; the consumer
      // may fail first (DuckDB refusing a value): then the query is cancelled and the stream drained.
      let serverFailure: unknown;
      const served = new Promise<void>((resolve, reject) => {
        stream.on("end", () => resolve());
        stream.on("error", (e) => {
          serverFailure ??= e;
          reject(e);
        });
      });
      served.catch(() => {});
      await opts.consume(stream).catch((e) => {
        consumerFailure = e;
      });
      // The server failing first (a cancel, a dropped connection) is the cause of the consumer's failure.
      if (consumerFailure !== undefined && serverFailure !== undefined) {
        consumerFailure = undefined;
        if (cancelled) throw cancelledError(this.name);
        throw serverFailure;
      }
      if (consumerFailure !== undefined) {
        killed = this.cancelBackend(client);
        stream.resume();
        await served.catch(() => {});
        if (cancelled) throw cancelledError(this.name);
        throw consumerFailure;
      }
      try {
        await served;
      } catch (e) {
        if (cancelled) throw cancelledError(this.name);
        throw e;
      }
      if (cancelled) throw cancelledError(this.name);
      await this.q("COMMIT", [], spec);
      return public_;
    } catch (e) {
      // The consumer's own failure (DuckDB's message) is kept as it is.
      const err = e !== undefined && e === consumerFailure ? e : this.error(e, spec);
      if (err instanceof DbError && err.kind === "dropped") {
        // The client is unusable: drop it, so close() does not wait on it.
        this.client = undefined;
        void client.end().catch(() => {});
      } else {
        await client.query("ROLLBACK").catch(() => {});
      }
      throw err;
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      await killed;
    }
  }

  /** Stops the running query on the server: pg_cancel_backend from a second connection. */
  private async cancelBackend(client: pg.Client): Promise<void> {
    const pid = (client as unknown as { processID: number | null }).processID;
    if (!pid) return;
    const other = this.newClient();
    try {
      await other.connect();
      await other.query("SELECT pg_cancel_backend($1)", [pid]);
    } catch {
      // The read fails or ends on its own; nothing to add.
    } finally {
      await other.end().catch(() => {});
    }
  }

  /**
   * The change token of a table read. With a cursor: the row count and the cursor's max. Without:
   * the row count and a sum of a hash per row, over the rows the read would give (its filter), a
   * scan on the server with nothing sent. For a table (plain, partitioned, materialized view) whose
   * columns all have built-in types, each row's hash is of its version's identity rather than its
   * text: the partition (tableoid), the place (ctid) and the inserting transaction (xmin). An INSERT
   * or UPDATE makes a new row version whose xmin is a transaction that had not committed when the
   * last token was taken (https://www.postgresql.org/docs/15/mvcc-intro.html), so a change of the
   * rows changes the set of (tableoid, ctid, xmin) even when it keeps the count (a delete and an
   * insert); TRUNCATE and a reload, or VACUUM FULL, move rows (a false "changed": a read). What the
   * version's identity does not show, a column added with a default or retyped, is in the token as
   * the columns' numbers, names and types (the number: a column dropped and one of the same name and
   * type added rewrites no row but empties it). A user-defined type's text can change without the
   * rows (an enum value renamed, ALTER TYPE … ADD ATTRIBUTE), so can a reg* type's (regclass is an
   * OID shown as the name it has now), and a view's or foreign table's rows (also as a partition or
   * child of the table read) have no such identity: those hash each row's text (slower: every value
   * turned to text). The statistics collector's counters (pg_stat_user_tables) are not used: a
   * backend reports them at most once a second, and an idle one only after up to 10 s (PostgreSQL
   * 15's PGSTAT_IDLE_INTERVAL).
   */
  async changeToken(spec: ReadSpec): Promise<string | null> {
    const src = spec.source;
    if ("query" in src) return null;
    await this.q("BEGIN READ ONLY", [], spec);
    try {
      const count = async (sig: string, from: string) =>
        (
          await this.q<{ n: string; m: string | null }>(
            `SELECT count(*)::text AS n, ${sig}::text AS m FROM ${from}`,
            [],
            spec,
          )
        )[0]!;
      const whole = { source: { ...src, columns: undefined } };
      if (spec.cursor) {
        const c = `max(dagwood_t.${quoteIdent(spec.cursor.column, "postgres")})`;
        const a = await count(c, `(${buildSelect(whole, "postgres")}) AS dagwood_t`);
        return `pg:max:${a.n}:${a.m ?? ""}`;
      }
      const relation = src.schema
        ? `${quoteIdent(src.schema, "postgres")}.${quoteIdent(src.table, "postgres")}`
        : quoteIdent(src.table, "postgres");
      const [rel] = await this.q<{ kind: string; builtin: boolean | null; columns: string | null }>(
        `SELECT c.relkind AS kind,
                bool_and(t.typnamespace = 'pg_catalog'::regnamespace AND t.typname !~ '^_?reg')
                  -- A foreign table under it (a partition, a child) has no row versions of its own.
                  AND NOT EXISTS (
                    WITH RECURSIVE under(oid) AS (
                      SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = c.oid
                      UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN under u ON i.inhparent = u.oid)
                    SELECT FROM under JOIN pg_catalog.pg_class k ON k.oid = under.oid WHERE k.relkind NOT IN ('r', 'p', 'm')
                  ) AS builtin,
                md5(string_agg(a.attnum || ' ' || quote_ident(a.attname) || ' ' || a.atttypid || ' ' || a.atttypmod, ', ' ORDER BY a.attnum)) AS columns
           FROM pg_catalog.pg_class c
           LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
          WHERE c.oid = $1::regclass GROUP BY c.oid, c.relkind`,
        [relation],
        spec,
      );
      if (rel && "rpm".includes(rel.kind) && rel.builtin === true) {
        const ids = buildSelect({ source: { ...src, columns: ["tableoid", "ctid", "xmin"] } }, "postgres");
        const a = await count(
          "sum(hashtextextended(dagwood_t.o::text || dagwood_t.c::text || dagwood_t.x::text, 0))",
          `(${ids}) AS dagwood_t(o, c, x)`,
        );
        return `pg:rows:${rel.columns}:${a.n}:${a.m ?? ""}`;
      }
      const a = await count(
        "sum(hashtextextended(dagwood_t::text, 0))",
        `(${buildSelect(whole, "postgres")}) AS dagwood_t`,
      );
      return `pg:hash:${a.n}:${a.m ?? ""}`;
    } finally {
      await this.q("ROLLBACK").catch(() => {});
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}

// -----------------------------------------------------------------------------------------------
// The binary COPY format: a header, then per tuple an int16 field count (-1: the trailer) and per
// field an int32 length (-1: NULL) and its bytes.

const EMPTY = Buffer.alloc(0);
const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

type Decoder = (buf: Buffer, start: number, end: number) => unknown;

export class BinaryCopyParser {
  private buf: Buffer = EMPTY;
  private headerRead = false;
  private readonly row: unknown[];
  done = false;
  constructor(
    private readonly width: number,
    private readonly decoders: Decoder[],
    private readonly columns: SourceColumn[],
  ) {
    this.row = new Array<unknown>(width).fill(null);
  }

  /**
   * Hands each complete row in what arrived so far to `onRow` (a partial row waits for the next
   * chunk) until `onRow` returns true (a full batch): then returns true, and `push(EMPTY)` goes on
   * with the rest. The row array is reused: `onRow` copies its values.
   */
  push(chunk: Buffer, onRow: (row: unknown[]) => boolean): boolean {
    const buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    let any = false;
    if (!this.headerRead) {
      if (buf.length < 19) {
        this.buf = buf;
        return false;
      }
      if (!buf.subarray(0, 11).equals(SIGNATURE))
        throw new DbError("other", "The server's COPY output is not PostgreSQL's binary format.");
      const ext = buf.readUInt32BE(15);
      if (buf.length < 19 + ext) {
        this.buf = buf;
        return false;
      }
      pos = 19 + ext;
      this.headerRead = true;
    }
    const n = buf.length;
    const row = this.row;
    outer: while (pos + 2 <= n) {
      const count = buf.readInt16BE(pos);
      if (count === -1) {
        this.done = true;
        pos += 2;
        break;
      }
      if (count !== this.width)
        throw new DbError("other", `The server's COPY row has ${count} fields, expected ${this.width}.`);
      let p = pos + 2;
      for (let i = 0; i < count; i++) {
        if (p + 4 > n) break outer;
        const len = buf.readInt32BE(p);
        p += 4;
        if (len === -1) {
          row[i] = null;
          continue;
        }
        if (p + len > n) break outer;
        try {
          row[i] = this.decoders[i]!(buf, p, p + len);
        } catch (e) {
          if (e instanceof DbError) throw e;
          throw new DbError(
            "other",
            `Column "${this.columns[i]!.name}": cannot decode a ${this.columns[i]!.sourceType} value (${(e as Error).message}).`,
          );
        }
        p += len;
      }
      pos = p;
      if (onRow(row)) {
        any = true;
        break; // a full batch: the rest waits until it is handed on
      }
    }
    // Keep the unread tail (copied, so the chunk it came from can be freed).
    this.buf = pos >= n ? EMPTY : Buffer.from(buf.subarray(pos));
    return any;
  }
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** Dates repeat (a day has 86 400 000 000 timestamps): their text is kept by day number (a small integer key). */
const dateCache = new Map<number, string>();

/** Days since 2000-01-01 → "YYYY-MM-DD". */
function dateText(days: number): string {
  const hit = dateCache.get(days);
  if (hit !== undefined) return hit;
  if (dateCache.size >= 100_000) dateCache.clear();
  const text = dateTextOf(PG_EPOCH_MS + days * 86_400_000);
  dateCache.set(days, text);
  return text;
}

function dateTextOf(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : y < 0 ? `-${pad(-y, 6)}` : `+${pad(y, 6)}`;
  return `${year}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function timeText(us: bigint): string {
  const s = Number(us / 1_000_000n);
  const frac = Number(us % 1_000_000n);
  const t = `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
  // As PostgreSQL writes it: the fraction without trailing zeros.
  return frac ? `${t}.${pad(frac, 6).replace(/0+$/, "")}` : t;
}

/** μs since 2000-01-01 → "YYYY-MM-DD HH:MM:SS[.ffffff]". */
function timestampText(us: bigint): string {
  const day = 86_400_000_000n;
  let days = us / day;
  let rem = us % day;
  if (rem < 0n) {
    rem += day;
    days -= 1n;
  }
  return `${dateText(Number(days))} ${timeText(rem)}`;
}

/** numeric's binary form (ndigits, weight, sign, dscale, base-10000 digits) → its exact decimal text. */
export function numericText(buf: Buffer, start: number): string {
  const ndigits = buf.readInt16BE(start);
  const weight = buf.readInt16BE(start + 2);
  const sign = buf.readUInt16BE(start + 4);
  const dscale = buf.readInt16BE(start + 6);
  if (sign === 0xc000 || sign === 0xd000 || sign === 0xf000)
    throw new DbError(
      "unmapped-type",
      `a numeric ${sign === 0xc000 ? "NaN" : "infinity"} has no DECIMAL value`,
    );
  const digit = (i: number) => (i < ndigits ? buf.readInt16BE(start + 8 + 2 * i) : 0);
  let int = "";
  for (let i = 0; i <= weight; i++) int += i === 0 ? String(digit(i)) : pad(digit(i), 4);
  if (int === "") int = "0";
  let frac = "";
  if (dscale > 0) {
    for (let i = weight + 1; frac.length < dscale; i++) frac += i < 0 ? "0000" : pad(digit(i), 4);
    frac = frac.slice(0, dscale);
  }
  const text = frac ? `${int}.${frac}` : int;
  return sign === 0x4000 && /[1-9]/.test(text) ? `-${text}` : text;
}

function scalarDecoder(oid: number, column: string): Decoder {
  switch (oid) {
    case 16:
      return (b, s) => b[s] !== 0;
    case 21:
      return (b, s) => b.readInt16BE(s);
    case 23:
      return (b, s) => b.readInt32BE(s);
    case 20:
      return (b, s) => b.readBigInt64BE(s);
    case 700:
      return (b, s) => b.readFloatBE(s);
    case 701:
      return (b, s) => b.readDoubleBE(s);
    case 1700:
      return (b, s) => {
        try {
          return numericText(b, s);
        } catch (e) {
          throw new DbError("unmapped-type", `Column "${column}": ${(e as Error).message}.`);
        }
      };
    case 25:
    case 1043:
    case 1042:
    case 19:
    case 114:
      return (b, s, e) => b.toString("utf8", s, e);
    case 3802:
      return (b, s, e) => b.toString("utf8", s + 1, e); // jsonb: a version byte, then the text
    case 1082:
      return (b, s) => {
        const days = b.readInt32BE(s);
        if (days === 2147483647 || days === -2147483648)
          throw new DbError(
            "unmapped-type",
            `Column "${column}": the date ${days > 0 ? "infinity" : "-infinity"} has no DuckDB DATE value.`,
          );
        return dateText(days);
      };
    case 1083:
      return (b, s) => timeText(b.readBigInt64BE(s));
    case 1114:
    case 1184: {
      const tz = oid === 1184 ? "+00" : "";
      return (b, s) => {
        const us = b.readBigInt64BE(s);
        if (us === INT64_MAX || us === INT64_MIN)
          throw new DbError(
            "unmapped-type",
            `Column "${column}": the timestamp ${us > 0n ? "infinity" : "-infinity"} has no DuckDB value.`,
          );
        return timestampText(us) + tz;
      };
    }
    case 2950:
      return (b, s) => {
        const h = b.toString("hex", s, s + 16);
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      };
    case 17:
      return (b, s, e) => Buffer.from(b.subarray(s, e));
    default:
      throw new DbError("unmapped-type", `Column "${column}": type OID ${oid} has no reader.`);
  }
}

export function decoderFor(c: PgColumn): Decoder {
  if (PG_SCALARS[c.oid]) return scalarDecoder(c.oid, c.name);
  const el = PG_ARRAYS[c.oid];
  if (el === undefined)
    throw new DbError("unmapped-type", `Column "${c.name}": type ${c.sourceType} has no reader.`);
  const elem = scalarDecoder(el, c.name);
  // An array: ndim, has-null flag, element OID, per dimension (size, lower bound), then length-prefixed elements.
  return (b, s) => {
    const ndim = b.readInt32BE(s);
    if (ndim === 0) return [];
    if (ndim !== 1)
      throw new DbError(
        "unmapped-type",
        `Column "${c.name}" holds a ${ndim}-dimensional array; only one-dimensional arrays map to a DuckDB list.`,
      );
    const size = b.readInt32BE(s + 12);
    let p = s + 20;
    const out = new Array<unknown>(size);
    for (let i = 0; i < size; i++) {
      const len = b.readInt32BE(p);
      p += 4;
      if (len === -1) out[i] = null;
      else {
        out[i] = elem(b, p, p + len);
        p += len;
      }
    }
    return out;
  };
}

/** A cursor value as text: bigint and numbers in decimal, strings (dates, timestamps, decimals) as they are. */
function cursorText(v: unknown): string {
  return typeof v === "string" ? v : String(v);
}

// -----------------------------------------------------------------------------------------------
// The CSV path: each column as PostgreSQL's text output (in the session readCsv sets) and how DuckDB
// reads it back exactly.

/**
 * One column of the COPY's CSV as DuckDB's read_csv takes it: `type`, the type read_csv parses the
 * field as (where its parser reads PostgreSQL's text exactly), and `expr`, the SQL over the field
 * (its quoted name) giving the column's value.
 */
export interface CsvColumn {
  type: string;
  expr: (field: string) => string;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `field` as-is: read_csv parses it as `type`. */
const direct = (type: string): CsvColumn => ({ type, expr: (f) => f });

/**
 * A date or timestamp: DuckDB reads ISO text, but writes BC as "(BC)" after the date (PostgreSQL:
 * " BC" at the end) and parses no BC timestamp; infinity has no DuckDB value the binary reader
 * gives either (an error naming the column).
 */
function dateLike(type: "DATE" | "TIMESTAMP" | "TIMESTAMPTZ", column: string): CsvColumn {
  const inf = sqlString(
    `Column "${column}": the ${type === "DATE" ? "date" : "timestamp"} infinity (or -infinity) has no DuckDB value the reader keeps.`,
  );
  const bc = (f: string) => {
    const day = `CAST(split_part(${f}, ' ', 1) || ' (BC)' AS DATE)`;
    if (type === "DATE") return day;
    // "YYYY-MM-DD HH:MM:SS[.f][+00] BC": the date BC plus the time of day (UTC for timestamptz).
    const time = `CAST(regexp_replace(split_part(${f}, ' ', 2), '[+-]00$', '') AS TIME)`;
    return type === "TIMESTAMP" ? `(${day} + ${time})` : `timezone('UTC', ${day} + ${time})`;
  };
  return {
    type: "VARCHAR",
    expr: (f) =>
      `CASE WHEN suffix(${f}, ' BC') THEN ${bc(f)} WHEN suffix(${f}, 'infinity') THEN error(${inf}) ELSE CAST(${f} AS ${type}) END`,
  };
}

/** Scalar OIDs whose text read_csv parses itself, exactly (with readCsv's session settings). */
const CSV_DIRECT: Record<number, string> = {
  16: "BOOLEAN", // t / f
  21: "SMALLINT",
  23: "INTEGER",
  20: "BIGINT",
  700: "FLOAT", // shortest-exact digits; NaN, Infinity, -Infinity
  701: "DOUBLE",
  25: "VARCHAR",
  1043: "VARCHAR",
  1042: "VARCHAR",
  19: "VARCHAR",
  114: "VARCHAR",
  3802: "VARCHAR",
  1083: "TIME",
  2950: "UUID",
};

/** Arrays whose elements print unquoted: integers, floats, numeric, booleans. */
const CSV_ARRAYS: Record<number, true> = {
  1000: true,
  1005: true,
  1007: true,
  1016: true,
  1021: true,
  1022: true,
  1231: true,
};

/** How DuckDB reads column `c` of the CSV exactly; null: no text path (the binary reader reads it). */
export function csvColumn(c: PgColumn): CsvColumn | null {
  if (c.cast) return direct("VARCHAR");
  if (c.oid === 1700) {
    // numeric(p,s) prints exactly s decimals; NaN and infinity fail the DECIMAL parse, naming the column.
    return direct(c.duckdbType);
  }
  if (c.oid === 1082) return dateLike("DATE", c.name);
  if (c.oid === 1114) return dateLike("TIMESTAMP", c.name);
  if (c.oid === 1184) return dateLike("TIMESTAMPTZ", c.name);
  if (c.oid === 17) return { type: "VARCHAR", expr: (f) => `from_hex(substr(${f}, 3))` }; // \x… (bytea_output hex)
  const scalar = CSV_DIRECT[c.oid];
  if (scalar) return direct(scalar);
  if (CSV_ARRAYS[c.oid] && c.duckdbType.endsWith("[]")) {
    const el = c.duckdbType.slice(0, -2);
    const multi = sqlString(
      `Column "${c.name}" holds a multi-dimensional array; only one-dimensional arrays map to a DuckDB list.`,
    );
    // "{1,2,NULL}", or "[0:2]={…}" with lower bounds other than 1 (the binary reader ignores them too).
    return {
      type: "VARCHAR",
      expr: (f) => {
        const body = `regexp_replace(${f}, '^\\[[^=]*\\]=', '')`;
        return `CASE WHEN ${f} IS NULL THEN NULL WHEN contains(substr(${body}, 2), '{') THEN error(${multi}) WHEN ${body} = '{}' THEN CAST([] AS ${c.duckdbType}) ELSE list_transform(string_split(substr(${body}, 2, length(${body}) - 2), ','), e -> CASE WHEN e = 'NULL' THEN NULL ELSE CAST(e AS ${el}) END) END`;
      },
    };
  }
  return null;
}
