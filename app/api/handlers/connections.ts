/**
 * The Api's connection methods: dagwood.json's database connections listed (never their secrets),
 * tested (the server's version, or why not), their catalog browsed (schemas → tables → columns with
 * the DuckDB type each lands as) and a table or a read-only query previewed before any run. Each
 * call opens the connection, asks, and closes it; a query is checked read-only before anything is
 * sent (app/ingest/db/read-only.ts) and the reader runs it in a read-only transaction.
 */
import { type OpenOptions, openConnection } from "../../ingest/db/open";
import { checkReadOnlyQuery, checkWhere } from "../../ingest/db/read-only";
import { type SecretOptions, secretVariable } from "../../ingest/db/secrets";
import type { ConnectionSettings } from "../../ingest/db/settings";
import { type DbConnection, DbError, type ReadSpec } from "../../ingest/db/types";
import { keychainSecret } from "../../project/keychain";
import { ProjectSettingsError, readProjectSettings } from "../../project/project";
import { ApiError, type ApiResults, type ConnectionInfo, type parseApiArgs } from "../api";
import type { ConnectionMethod } from "../api-methods";

export type ConnectionHandlers = {
  [M in ConnectionMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]>;
};

/** Opens a named connection of a project (app/ingest/db/open.ts). */
export type OpenConnection = typeof openConnection;

export interface ConnectionHandlerOptions extends SecretOptions {
  /** How a connection is opened (default: app/ingest/db/open.ts). */
  open?: OpenConnection;
  /** A preview that takes longer is stopped on the server (ms). */
  previewTimeoutMs?: number;
}

/** A cell's display text: at most this many characters. */
const CELL_CHARS = 1000;

/** HTTP-like status of each database error kind: the user's input, the server's state, or the way there. */
const STATUS = {
  "not-read-only": 400,
  "unmapped-type": 400,
  "not-found": 404,
  cursor: 409,
  cancelled: 409,
  auth: 502,
  other: 502,
  unreachable: 503,
  timeout: 503,
  dropped: 503,
} as const satisfies Record<DbError["kind"], ApiError["status"]>;

/** What to do about a wrong or missing password, unless the reader's message already says it. */
function withAdvice(e: DbError, name: string): string {
  if (e.kind !== "auth" || e.message.includes("DAGWOOD_SECRET_")) return e.message;
  return `${e.message} Set ${secretVariable(name)} to its password (or store it in the OS keychain: secret-tool store --label="dagwood ${name}" service dagwood connection ${name}) and try again.`;
}

/** A value as the reader normalises it (app/ingest/db/types.ts RowBatch), as text for the preview grid. */
export function displayValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const cut = (s: string) => (s.length > CELL_CHARS ? `${s.slice(0, CELL_CHARS)}…` : s);
  if (typeof v === "string") return cut(v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v instanceof Uint8Array) {
    const hex = Buffer.from(v.subarray(0, 64)).toString("hex");
    return `\\x${hex}${v.length > 64 ? `… (${v.length} bytes)` : ""}`;
  }
  if (Array.isArray(v))
    return cut(
      `[${v.map((x) => (typeof x === "string" ? JSON.stringify(x) : (displayValue(x) ?? "NULL"))).join(", ")}]`,
    );
  if (v instanceof Date) return v.toISOString();
  return cut(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v));
}

/** The handlers over whatever project `context()` returns at each call (it throws when none is open). */
export function createConnectionHandlers(
  context: () => { dir: string },
  opts: ConnectionHandlerOptions = {},
): ConnectionHandlers {
  const open = opts.open ?? openConnection;
  const secrets: SecretOptions = { env: opts.env, platform: opts.platform, run: opts.run };
  const previewTimeoutMs = opts.previewTimeoutMs ?? 60_000;

  /** dagwood.json is read at each call: the user edits it while the project is open. */
  const connections = () => {
    const { dir } = context();
    try {
      const settings = readProjectSettings(dir);
      const openOpts: OpenOptions = { ...secrets, dataFolders: settings.dataFolders };
      return { dir, all: settings.connections, openOpts };
    } catch (e) {
      if (e instanceof ProjectSettingsError) throw new ApiError(409, e.message);
      throw e;
    }
  };

  const settingsOf = (name: string) => {
    const { dir, all, openOpts } = connections();
    const settings = Object.hasOwn(all, name) ? all[name] : undefined;
    if (settings) return { dir, settings, openOpts };
    const names = Object.keys(all).sort();
    const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
    throw new ApiError(
      404,
      `No connection "${name}" in dagwood.json.${near ? ` Did you mean "${near}"?` : ""} ${
        names.length
          ? `Its connections: ${names.join(", ")}.`
          : 'It names none yet: add one under "connections", e.g. "warehouse": { "kind": "postgres", "host": "…", "database": "…", "user": "…" }.'
      }`,
    );
  };

  /** Opens the connection, runs `ask`, and closes it whatever happens; a DbError becomes an ApiError. */
  const withConnection = async <T>(name: string, ask: (c: DbConnection) => Promise<T>): Promise<T> => {
    const { dir, settings, openOpts } = settingsOf(name);
    let connection: DbConnection | null = null;
    try {
      connection = await open(dir, name, settings, openOpts);
      return await ask(connection);
    } catch (e) {
      if (e instanceof DbError) throw new ApiError(STATUS[e.kind], withAdvice(e, name));
      throw e;
    } finally {
      await connection?.close().catch(() => {});
    }
  };

  const secretOf = (name: string, kind: ConnectionSettings["kind"]): ConnectionInfo["secret"] => {
    if (kind === "sqlite") return "none";
    // As app/ingest/db/secrets.ts looks: the variable (when not empty), then the keychain.
    if ((secrets.env ?? process.env)[secretVariable(name)]) return "env";
    return keychainSecret("connection", name, secrets.platform, secrets.run) !== null ? "keychain" : "none";
  };

  return {
    async listConnections() {
      const { all } = connections();
      return Object.keys(all)
        .sort()
        .map((name): ConnectionInfo => {
          const s = all[name] as ConnectionSettings;
          const server = s.kind === "sqlite" ? null : s;
          return {
            name,
            kind: s.kind,
            host: server?.host ?? null,
            port: server?.port ?? null,
            database: server?.database ?? null,
            user: server?.user ?? null,
            path: s.kind === "sqlite" ? s.path : null,
            secret: secretOf(name, s.kind),
            secretVariable: secretVariable(name),
          };
        });
    },

    async testConnection({ connection }) {
      const { dir, settings, openOpts } = settingsOf(connection);
      const started = performance.now();
      let opened: DbConnection | null = null;
      try {
        opened = await open(dir, connection, settings, openOpts);
        const serverVersion = await opened.serverVersion();
        return { ok: true, serverVersion, elapsedMs: Math.round(performance.now() - started) };
      } catch (e) {
        if (!(e instanceof DbError)) throw e;
        return { ok: false, kind: e.kind, message: withAdvice(e, connection) };
      } finally {
        await opened?.close().catch(() => {});
      }
    },

    async browseConnection({ connection, schema, table }) {
      return withConnection(connection, async (c) => {
        if (table === undefined) {
          const [schemas, tables] = [await c.listSchemas(), await c.listTables(schema)];
          return { schemas, tables, columns: null };
        }
        const source = { table, ...(schema !== undefined ? { schema } : {}) };
        let columns: Awaited<ReturnType<DbConnection["describe"]>>;
        try {
          columns = await c.describe({ source });
        } catch (e) {
          // A column with no lossless mapping is shown as the text it would be read as; the type says so.
          if (!(e instanceof DbError && e.kind === "unmapped-type")) throw e;
          columns = await c.describe({ source, unmappedAsText: true });
        }
        return { schemas: null, tables: null, columns };
      });
    },

    async previewConnection({ connection, schema, table, columns, where, query, limit, unmapped }) {
      const { settings } = settingsOf(connection);
      // Refused before the connection is even opened: nothing that is not one SELECT is ever sent.
      try {
        if (query !== undefined) checkReadOnlyQuery(query, settings.kind);
        if (where !== undefined) checkWhere(where, settings.kind);
      } catch (e) {
        if (e instanceof DbError) throw new ApiError(STATUS[e.kind], e.message);
        throw e;
      }
      const spec: ReadSpec = {
        source:
          query !== undefined
            ? { query }
            : {
                table: table as string,
                ...(schema !== undefined ? { schema } : {}),
                ...(columns ? { columns } : {}),
                ...(where !== undefined ? { where } : {}),
              },
        // One row past the limit tells whether there are more.
        limit: limit + 1,
        unmappedAsText: unmapped === "text",
      };
      return withConnection(connection, async (c) => {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), previewTimeoutMs);
        let described: ConnectionPreviewColumns = [];
        const rows: (string | null)[][] = [];
        try {
          await c.read(spec, {
            batchRows: limit + 1,
            signal: controller.signal,
            onColumns: (cols) => {
              described = cols;
            },
            onBatch: async (batch) => {
              for (let r = 0; r < batch.rows && rows.length <= limit; r++)
                rows.push(batch.columns.map((col) => displayValue(col[r])));
            },
          });
        } catch (e) {
          if (controller.signal.aborted)
            throw new ApiError(
              503,
              `The preview took longer than ${Math.round(previewTimeoutMs / 1000)} s and was stopped on the server: narrow the query or the filter.`,
            );
          throw e;
        } finally {
          clearTimeout(timer);
        }
        return { columns: described, rows: rows.slice(0, limit), more: rows.length > limit };
      });
    },
  };
}

type ConnectionPreviewColumns = ApiResults["previewConnection"]["columns"];
