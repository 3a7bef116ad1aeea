/**
 * Opens a named connection of dagwood.json: its settings, its secret (app/ingest/db/secrets.ts) and
 * the reader for its kind. Each kind's module is imported only when it is used.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { connectionSecret, type SecretOptions } from "./secrets";
import type { ConnectionSettings } from "./settings";
import { type DbConnection, DbError } from "./types";

export interface OpenOptions extends SecretOptions {
  /** Folders (besides the project) an absolute SQLite path may be in: the project's data folders. */
  dataFolders?: string[];
}

/** The SQLite file a connection names: relative to the project, or absolute inside the project or a data folder. */
export function sqlitePath(projectDir: string, path: string, dataFolders: string[] = []): string {
  const full = resolve(projectDir, path);
  const roots = [projectDir, ...dataFolders.map((d) => resolve(projectDir, d))];
  const inside = (root: string) => {
    const rel = relative(root, full);
    return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
  };
  if (!roots.some(inside))
    throw new DbError(
      "not-found",
      `The SQLite file ${path} is outside the project and its data folders: move it into the project, or add its folder to dagwood.json's "dataFolders".`,
    );
  return full;
}

export async function openConnection(
  projectDir: string,
  name: string,
  settings: ConnectionSettings,
  opts: OpenOptions = {},
): Promise<DbConnection> {
  switch (settings.kind) {
    case "postgres": {
      const { openPostgres } = await import("./postgres");
      return openPostgres(name, settings, connectionSecret(name, opts));
    }
    case "mysql": {
      const { openMysql } = await import("./mysql");
      return openMysql(name, settings, connectionSecret(name, opts));
    }
    case "sqlite": {
      const { openSqlite } = await import("./sqlite");
      return openSqlite(name, sqlitePath(projectDir, settings.path, opts.dataFolders));
    }
  }
}

/** Where a connection points, for lists and messages (never the secret). */
export function describeConnection(settings: ConnectionSettings): string {
  return settings.kind === "sqlite"
    ? settings.path
    : `${settings.user}@${settings.host}:${settings.port}/${settings.database}`;
}
