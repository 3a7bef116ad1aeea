/**
 * The three databases the ingest tests run against, behind one shape: a real PostgreSQL
 * (app/store/pg-testing.ts) with a password-authenticated user, a real MariaDB
 * (mariadb-testing.ts), and a SQLite file in a temporary project. `admin` runs setup SQL with full
 * rights; `settings` is the connection a project would name; `env` holds its secret.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { startTestPostgres } from "../../store/pg-testing";
import { startTestMariadb } from "./mariadb-testing";
import { openConnection } from "./open";
import type { Dialect } from "./read-only";
import { secretVariable } from "./secrets";
import type { ConnectionSettings } from "./settings";
import type { DbConnection } from "./types";

export interface TestDatabase {
  kind: Dialect;
  projectDir: string;
  /** The connection's name in the project (its secret is DAGWOOD_SECRET_<NAME>). */
  name: string;
  settings: ConnectionSettings;
  /** The secret (null: SQLite), in `env` under DAGWOOD_SECRET_<NAME>. */
  secret: string | null;
  env: NodeJS.ProcessEnv;
  admin(sql: string): Promise<void>;
  /** Runs a query with full rights and returns its rows as objects. */
  adminQuery(sql: string): Promise<Record<string, unknown>[]>;
  open(
    overrides?: Partial<{ secret: string; port: number; host: string; connectTimeout: number }>,
  ): Promise<DbConnection>;
  /** Ends the server process at once (a connection dropping); SQLite: not applicable. */
  kill?(): void;
  stop(): Promise<void>;
}

const PG_PASSWORD = "pg-Secret-0a9c4e";

export async function startPostgresDatabase(): Promise<TestDatabase> {
  const cluster = await startTestPostgres();
  const admin = new pg.Client({ connectionString: cluster.url });
  admin.on("error", () => {});
  await admin.connect();
  // A password-authenticated user: the trust lines of the throw-away cluster stay for the admin.
  const hba = (await admin.query("SHOW hba_file")).rows[0].hba_file as string;
  writeFileSync(hba, `host all reader 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, "utf8")}`);
  await admin.query("SELECT pg_reload_conf()");
  await admin.query(`CREATE ROLE reader LOGIN SUPERUSER PASSWORD '${PG_PASSWORD}'`);
  const projectDir = mkdtempSync(join(tmpdir(), "dagwood-dbproj-"));
  const name = "warehouse";
  const base = {
    kind: "postgres" as const,
    host: "127.0.0.1",
    port: cluster.port,
    database: "postgres",
    user: "reader",
    ssl: "disable" as const,
    connectTimeout: 5,
  };
  return {
    kind: "postgres",
    projectDir,
    name,
    settings: base,
    secret: PG_PASSWORD,
    env: { [secretVariable(name)]: PG_PASSWORD },
    admin: async (sql) => void (await admin.query(sql)),
    adminQuery: async (sql) => (await admin.query(sql)).rows,
    open: (o = {}) =>
      openConnection(
        projectDir,
        name,
        {
          ...base,
          ...(o.port ? { port: o.port } : {}),
          ...(o.host ? { host: o.host } : {}),
          ...(o.connectTimeout ? { connectTimeout: o.connectTimeout } : {}),
        },
        {
          env: { [secretVariable(name)]: o.secret ?? PG_PASSWORD },
          run: () => {
            throw new Error("no keychain in tests");
          },
        },
      ),
    stop: async () => {
      await admin.end().catch(() => {});
      await cluster.stop();
      rmSync(projectDir, { recursive: true, force: true });
    },
  };
}

export async function startMariadbDatabase(): Promise<TestDatabase> {
  const server = await startTestMariadb();
  const projectDir = mkdtempSync(join(tmpdir(), "dagwood-dbproj-"));
  const name = "shop";
  const base = {
    kind: "mysql" as const,
    host: "127.0.0.1",
    port: server.port,
    database: server.database,
    user: server.user,
    ssl: false,
    connectTimeout: 5,
  };
  return {
    kind: "mysql",
    projectDir,
    name,
    settings: base,
    secret: server.password,
    env: { [secretVariable(name)]: server.password },
    admin: async (sql) => void (await server.root(sql)),
    adminQuery: async (sql) => (await server.root(sql)) as Record<string, unknown>[],
    open: (o = {}) =>
      openConnection(
        projectDir,
        name,
        {
          ...base,
          ...(o.port ? { port: o.port } : {}),
          ...(o.host ? { host: o.host } : {}),
          ...(o.connectTimeout ? { connectTimeout: o.connectTimeout } : {}),
        },
        {
          env: { [secretVariable(name)]: o.secret ?? server.password },
          run: () => {
            throw new Error("no keychain in tests");
          },
        },
      ),
    kill: () => server.kill(),
    stop: async () => {
      await server.stop();
      rmSync(projectDir, { recursive: true, force: true });
    },
  };
}

export async function startSqliteDatabase(): Promise<TestDatabase> {
  const projectDir = mkdtempSync(join(tmpdir(), "dagwood-dbproj-"));
  const file = join(projectDir, "data.sqlite");
  const db = new Database(file);
  const name = "local";
  const settings = { kind: "sqlite" as const, path: "data.sqlite" };
  return {
    kind: "sqlite",
    projectDir,
    name,
    settings,
    secret: null,
    env: {},
    admin: async (sql) => void db.exec(sql),
    adminQuery: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
    open: () => openConnection(projectDir, name, settings, { env: {} }),
    stop: async () => {
      db.close();
      rmSync(projectDir, { recursive: true, force: true });
    },
  };
}
