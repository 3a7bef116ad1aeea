/**
 * Opening a project's metadata store (tracking and registry) as dagwood.json says: the embedded
 * SQLite file `.dagwood/metadata.sqlite` (the default), or a team's PostgreSQL
 * (`"store": { "kind": "postgres", "url": "postgres://user@host:5432/db", "schema": "dagwood" }`).
 * Every production place that opens a project's store goes through `openProjectStore`.
 *
 * The password of the team store never lives in dagwood.json: `DAGWOOD_STORE_PASSWORD`, else the
 * OS keychain (the entry of service dagwood, attribute `store`, named by the URL; the mechanism
 * deploy targets use for their tokens, app/deploy/targets.ts), else libpq's own `PGPASSWORD` /
 * `PGPASSFILE` / `~/.pgpass`. It is passed to libpq only: never printed, never in an error,
 * never in a run's record.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type KeychainRun, keychainSecret } from "../project/keychain";
import { type ProjectSettings, STORE_PASSWORD_VARIABLE, type StoreSettings } from "../project/project";
import { isUnreachable, JOURNAL_FILE, JournalingStore } from "./journal";
import { type MetadataStore, SqliteMetadataStore } from "./metadata";
import { migratePostgres } from "./pg-schema";
// These load libpq only when a team store is opened (postgres.ts requires pg-native lazily).
import { openPostgres, postgresConninfo } from "./postgres";
import { openPostgresStore } from "./postgres-store";
import type { Sql } from "./sql";
import { SqliteSql } from "./sql";
import { openMetadataDatabase } from "./sqlite";

/** The SQLite store's file, relative to the project folder. */
export const SQLITE_STORE_FILE = join(".dagwood", "metadata.sqlite");

export type PasswordSource = "env" | "keychain" | "libpq";

/** Where the password is looked up (tests pass their own environment and keychain tool). */
export interface KeychainLookup {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  run?: KeychainRun;
}

export interface StoreOpenOptions extends KeychainLookup {
  /**
   * SQLite: never create the file; `openProjectStore` gives undefined when the project has none
   * yet (readers such as `dagwood runs list`). A team store always exists.
   */
  existingOnly?: boolean;
  /**
   * For a project that runs pipelines: the team store unreachable (at start or mid-run) keeps the
   * runs in the local journal (.dagwood/pending/journal.sqlite) with a warning, instead of failing.
   */
  journal?: boolean;
  /** Where the journal's warnings go (default: stderr). */
  onWarning?: (message: string) => void;
}

/**
 * The team store's password and where it came from: `DAGWOOD_STORE_PASSWORD`, else the keychain;
 * null leaves it to libpq (PGPASSWORD, ~/.pgpass, or none for trust/peer authentication).
 */
export function storePassword(
  url: string,
  opts: KeychainLookup = {},
): { password: string; source: Exclude<PasswordSource, "libpq"> } | null {
  // A URL carrying a password is refused before the keychain tool sees it on its command line (ps).
  postgresConninfo({ url, schema: "" });
  const env = opts.env ?? process.env;
  const fromEnv = env[STORE_PASSWORD_VARIABLE];
  if (fromEnv) return { password: fromEnv, source: "env" };
  const fromKeychain = keychainSecret("store", url, opts.platform ?? process.platform, opts.run);
  return fromKeychain === null ? null : { password: fromKeychain, source: "keychain" };
}

/** Where a password source is, as messages say it (never the password). */
export function passwordOrigin(source: PasswordSource, url: string): string {
  if (source === "env") return `the environment variable ${STORE_PASSWORD_VARIABLE}`;
  if (source === "keychain") return `the keychain (service dagwood, store ${url})`;
  return "libpq (PGPASSWORD, ~/.pgpass, or none)";
}

/** The store as messages and `dagwood store status` name it. */
export function describeStore(projectDir: string, store: StoreSettings): string {
  if (store.kind === "sqlite") return `SQLite file ${join(projectDir, SQLITE_STORE_FILE)}`;
  const u = new URL(store.url);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
  const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || "(the user's default)";
  return `PostgreSQL at ${host}:${u.port || "5432"}, database ${db}, schema ${store.schema}`;
}

/** Whether the project has a store to read (SQLite: its file exists; a team store: always). */
export function projectStoreExists(projectDir: string, settings: Pick<ProjectSettings, "store">): boolean {
  return settings.store.kind !== "sqlite" || existsSync(join(projectDir, SQLITE_STORE_FILE));
}

function openTeamStore(
  projectDir: string,
  store: Extract<StoreSettings, { kind: "postgres" }>,
  opts: StoreOpenOptions,
): MetadataStore {
  const found = storePassword(store.url, opts);
  return openPostgresStore({
    url: store.url,
    schema: store.schema,
    ...(found ? { password: found.password } : {}),
    projectDir,
  });
}

/**
 * The project's metadata store as dagwood.json says. SQLite: the file (created unless
 * `existingOnly`). PostgreSQL: the team store; with `journal`, wrapped so that it being
 * unreachable keeps runs in the local journal (at start: with a warning that names where and
 * what to check; mid-run: the run moves there), else the unreachable error itself.
 */
export function openProjectStore(
  projectDir: string,
  settings: Pick<ProjectSettings, "store">,
  opts: StoreOpenOptions & { existingOnly: true },
): MetadataStore | undefined;
export function openProjectStore(
  projectDir: string,
  settings: Pick<ProjectSettings, "store">,
  opts?: StoreOpenOptions,
): MetadataStore;
export function openProjectStore(
  projectDir: string,
  settings: Pick<ProjectSettings, "store">,
  opts: StoreOpenOptions = {},
): MetadataStore | undefined {
  const { store } = settings;
  if (store.kind === "sqlite") {
    const file = join(projectDir, SQLITE_STORE_FILE);
    if (opts.existingOnly && !existsSync(file)) return undefined;
    return new SqliteMetadataStore(file, { projectDir });
  }
  if (!opts.journal) return openTeamStore(projectDir, store, opts);
  const team = describeStore(projectDir, store);
  const reopen = () => openTeamStore(projectDir, store, opts);
  let primary: MetadataStore | null = null;
  let startError: string | undefined;
  try {
    primary = reopen();
  } catch (e) {
    if (!isUnreachable(e)) throw e;
    startError = unreachableAtStart(team, e as Error);
  }
  return new JournalingStore({
    primary,
    projectDir,
    team,
    ...(startError ? { startError } : {}),
    reopen,
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
}

/** The warning of a run that starts while the team store is unreachable. */
export function unreachableAtStart(team: string, e: Error): string {
  return (
    `The team store (${team}) is unreachable: ${e.message} ` +
    "Check that the server is up and reachable from this machine (host and port in store.url of dagwood.json, " +
    "VPN, firewall). Runs go on locally meanwhile: they are kept in " +
    `${JOURNAL_FILE} and \`dagwood store sync\` copies them to the team store once it is back.`
  );
}

/**
 * The team store's `Sql` (for `dagwood store sync` and `status`), migrated: PostgreSQL through
 * its driver, or, for a SQLite project, the file (which has nothing pending: it is local).
 */
export function openStoreSql(
  projectDir: string,
  settings: Pick<ProjectSettings, "store">,
  opts: KeychainLookup = {},
): Sql {
  const { store } = settings;
  if (store.kind === "sqlite")
    return new SqliteSql(openMetadataDatabase(join(projectDir, SQLITE_STORE_FILE)));
  const found = storePassword(store.url, opts);
  const sql = openPostgres({
    url: store.url,
    schema: store.schema,
    ...(found ? { password: found.password } : {}),
  });
  try {
    migratePostgres(sql);
  } catch (e) {
    sql.close();
    throw e;
  }
  return sql;
}
